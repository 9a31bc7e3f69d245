/**
 * Whether an `Accept` header prefers `text/html` to `application/json` (RFC 9110 §12.5.1): each type's weight is
 * that of its most specific matching range (`text/html`, then `text/*`, then `*\/*`), and a tie goes to JSON, so
 * `*\/*`, `application/json, text/html` and an absent header all mean JSON. Browsers navigating to a URL send
 * `text/html,application/xhtml+xml,...,*\/*;q=0.8`, which means HTML.
 *
 * The common API case costs one substring search: a header that does not name `text/html` is taken to mean JSON
 * (so a lone `text/*` does too; browsers name `text/html`).
 *
 * @example prefersHtml("text/html,application/xhtml+xml,application/xml;q=0.9,*\/*;q=0.8") // true
 * @example prefersHtml("application/json") // false
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined || !accept.toLowerCase().includes("text/html")) return false;
  let html = { specificity: -1, q: 0 };
  let json = { specificity: -1, q: 0 };
  for (const part of accept.split(",")) {
    const [range = "", ...params] = part.trim().toLowerCase().split(";");
    const mediaRange = range.trim();
    let q = 1;
    for (const param of params) {
      const match = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(param);
      if (match) q = Math.min(1, Number(match[1]) || 0);
    }
    const forHtml = specificityFor(mediaRange, "text", "html");
    if (forHtml > html.specificity) html = { specificity: forHtml, q };
    const forJson = specificityFor(mediaRange, "application", "json");
    if (forJson > json.specificity) json = { specificity: forJson, q };
  }
  return html.q > json.q;
}

/** 2 for an exact match, 1 for `type/*`, 0 for `*\/*`, -1 for no match. */
function specificityFor(range: string, type: string, subtype: string): number {
  if (range === `${type}/${subtype}`) return 2;
  if (range === `${type}/*`) return 1;
  if (range === "*/*") return 0;
  return -1;
}
