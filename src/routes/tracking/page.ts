import { createHash } from "node:crypto";
import type { OrderStatus } from "../../domain/orders/schemas.ts";
import type { TrackingView } from "../../domain/orders/tracking.ts";
import type { ApiError } from "../../http/problem.ts";
import type { Language } from "../../portal/i18n.ts";
import { escapeHtml } from "../../portal/layout.ts";

/**
 * The tracking page: what a recipient's browser gets at the order's `tracking_url` (the same URL answers JSON to
 * programs; see get.ts). Server-rendered, no JavaScript, no resource from anywhere (one inline stylesheet allowed
 * by its hash), only what the JSON view already shows, every value escaped (cities and driver names come from
 * integrators).
 */

const style = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;background:#f5f7fa}
main{max-width:34rem;margin:0 auto;padding:1rem}
.card{background:#fff;border-radius:12px;padding:1rem 1.25rem;margin:0 0 1rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.brand{font-size:.85rem;color:#5b6574;margin:.25rem 0 .75rem}
h1{font-size:1.5rem;line-height:1.25;margin:.25rem 0}
h2{font-size:1.05rem;margin:0 0 .5rem}
.number{font-size:.85rem;color:#5b6574;word-break:break-all}
h1.status-DELIVERED{color:#186b34}
h1.status-EXCEPTION{color:#a12622}
dl{margin:.5rem 0 0;display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}
dt{color:#5b6574}
dd{margin:0;font-weight:600}
ol{list-style:none;margin:0;padding:0}
li{position:relative;padding:0 0 1rem 1.5rem;border-left:2px solid #d5dbe3;margin-left:.4rem}
li:last-child{border-left-color:transparent;padding-bottom:0}
li::before{content:"";position:absolute;left:-.45rem;top:.3rem;width:.75rem;height:.75rem;border-radius:50%;background:#9aa5b4}
li:first-child::before{background:#1747a6}
.when,.where,.updated{display:block;font-size:.85rem;color:#5b6574}
@media (min-width:40rem){main{padding:2rem 1rem}h1{font-size:1.75rem}}
`.trim();

/**
 * The page's headers. The Content-Security-Policy allows nothing but the inline stylesheet above (by its hash, so
 * even an injected `<style>` would not apply) and no framing: the page is for the person who opened the link, and
 * shops that embed tracking use the JSON view (CORS is open for that). A page of ours inside anybody's frame
 * would lend a look of authenticity to whatever surrounds it. No referrer, so the token never leaves in one.
 */
export const trackingPageHeaders: Readonly<Record<string, string>> = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": [
    "default-src 'none'",
    `style-src 'sha256-${createHash("sha256").update(style).digest("base64")}'`,
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; "),
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
  vary: "Accept",
};

const text = {
  es: {
    title: "Seguimiento de tu envío",
    number: "Número de guía",
    destination: "Destino",
    eta: "Llegada estimada",
    driver: "Conductor",
    history: "Historial",
    updated: "Última actualización",
    timeZone: "Horas en",
    status: {
      CREATED: "Pedido recibido",
      DRIVER_ASSIGNED: "Conductor asignado",
      NEARBY: "El conductor está cerca",
      DELIVERED: "Entregado",
      EXCEPTION: "Novedad en la entrega",
    } satisfies Record<OrderStatus, string>,
    notFoundTitle: "No encontramos este envío",
    notFoundText:
      "El enlace no corresponde a ningún envío o está incompleto. Ábrelo de nuevo desde el mensaje que recibiste, o pide uno nuevo a la tienda.",
    tooManyTitle: "Demasiadas consultas",
    tooManyText: (seconds: number) => `Espera ${seconds} s y vuelve a cargar la página.`,
    errorTitle: "No pudimos mostrar tu envío",
    errorText: "Vuelve a intentarlo en unos minutos.",
  },
  en: {
    title: "Your shipment",
    number: "Tracking number",
    destination: "Destination",
    eta: "Estimated arrival",
    driver: "Driver",
    history: "History",
    updated: "Last updated",
    timeZone: "Times in",
    status: {
      CREATED: "Order received",
      DRIVER_ASSIGNED: "Driver assigned",
      NEARBY: "The driver is nearby",
      DELIVERED: "Delivered",
      EXCEPTION: "Delivery issue",
    } satisfies Record<OrderStatus, string>,
    notFoundTitle: "We can't find this shipment",
    notFoundText:
      "The link matches no shipment or is incomplete. Open it again from the message you received, or ask the shop for a new one.",
    tooManyTitle: "Too many requests",
    tooManyText: (seconds: number) => `Wait ${seconds} s and reload the page.`,
    errorTitle: "We couldn't show your shipment",
    errorText: "Please try again in a few minutes.",
  },
} as const;

/**
 * The history's descriptions are the service's own English texts (src/domain/orders/lifecycle/operations.ts);
 * for an EXCEPTION they say what went wrong, which the recipient needs. Spanish for the known ones; any other text
 * is shown as it is (escaped).
 */
const exceptionTexts: Record<string, string> = {
  "Delivery attempt failed": "Intento de entrega fallido",
  "Address not found": "No se encontró la dirección",
  "Recipient not available": "El destinatario no estaba disponible",
  "Package damaged": "Paquete dañado",
  "Delivery refused": "Entrega rechazada",
  "Delivery exception": "Novedad en la entrega",
  "Cancelled by the shipper": "Cancelado por el remitente",
};

function exceptionText(description: string, lang: Language): string {
  if (lang === "en") return description;
  const closed = /^Closed: (.*)$/.exec(description);
  if (closed) {
    const reason = Object.keys(exceptionTexts).find((key) => key.toLowerCase() === closed[1]);
    return reason ? `Cerrado: ${exceptionTexts[reason]!.toLowerCase()}` : description;
  }
  return exceptionTexts[description] ?? description;
}

// Intl formatters are costly to build: one per language and zone, kept.
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(lang: Language, timeZone: string): Intl.DateTimeFormat {
  const key = `${lang} ${timeZone}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(lang === "es" ? "es-CO" : "en-US", {
      dateStyle: "medium",
      timeStyle: "short",
      timeZone,
    });
    formatters.set(key, formatter);
  }
  return formatter;
}

const zoneFormatters = new Map<string, Intl.DateTimeFormat>();
function zoneName(lang: Language, timeZone: string, at: Date): string {
  const key = `${lang} ${timeZone}`;
  let formatter = zoneFormatters.get(key);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(lang === "es" ? "es-CO" : "en-US", {
      timeZone,
      timeZoneName: "shortOffset",
    });
    zoneFormatters.set(key, formatter);
  }
  const part = formatter.formatToParts(at).find((p) => p.type === "timeZoneName");
  return part?.value ?? timeZone;
}

function time(iso: string, lang: Language, timeZone: string): string {
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(formatterFor(lang, timeZone).format(new Date(iso)))}</time>`;
}

function document(lang: Language, title: string, body: string): string {
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · CELLVI</title>
<style>${style}</style>
</head>
<body>
<main>
<p class="brand">CELLVI</p>
${body}
</main>
</body>
</html>
`;
}

/** The page for a tracking view, in the recipient's language, times in `timeZone`. */
export function renderTrackingPage(view: TrackingView, lang: Language, timeZone: string): string {
  const t = text[lang];
  const statusWords = t.status[view.status];
  const facts = [
    `<dt>${t.destination}</dt><dd>${escapeHtml(view.destination_city)}</dd>`,
    view.estimated_delivery_at
      ? `<dt>${t.eta}</dt><dd>${time(view.estimated_delivery_at, lang, timeZone)}</dd>`
      : "",
    view.driver
      ? `<dt>${t.driver}</dt><dd>${escapeHtml(view.driver.first_name)}${view.driver.vehicle_plate ? ` · ${escapeHtml(view.driver.vehicle_plate)}` : ""}</dd>`
      : "",
  ].join("");
  // Newest first: what happened last is what the recipient opened the page for.
  const entries = [...view.history]
    .reverse()
    .map((entry) => {
      const detail =
        entry.status === "EXCEPTION"
          ? `<span class="detail">${escapeHtml(exceptionText(entry.description, lang))}</span>`
          : "";
      const where = entry.city ? `<span class="where">${escapeHtml(entry.city)}</span>` : "";
      return `<li><strong>${t.status[entry.status]}</strong>${detail ? `<br>${detail}` : ""}<span class="when">${time(entry.occurred_at, lang, timeZone)}</span>${where}</li>`;
    })
    .join("\n");
  const body = `<section class="card" aria-labelledby="status">
<h1 id="status" class="status-${view.status}">${statusWords}</h1>
<p class="number">${t.number}: ${escapeHtml(view.tracking_number)}</p>
<dl>${facts}</dl>
</section>
<section class="card" aria-labelledby="history">
<h2 id="history">${t.history}</h2>
<ol>
${entries}
</ol>
</section>
<p class="updated">${t.updated}: ${time(view.updated_at, lang, timeZone)} (${t.timeZone} ${escapeHtml(zoneName(lang, timeZone, new Date(view.updated_at)))})</p>`;
  return document(lang, `${t.title}: ${statusWords}`, body);
}

/**
 * The page for an error of the tracking URL: the same text for an unknown number, a wrong token and a missing one
 * (no oracle), and nothing from the request in it.
 */
export function renderTrackingErrorPage(error: ApiError, lang: Language): string {
  const t = text[lang];
  let title: string;
  let message: string;
  if (error.status === 404) {
    title = t.notFoundTitle;
    message = t.notFoundText;
  } else if (error.status === 429) {
    const seconds = Number(error.extra.retry_after_seconds) || 1;
    title = t.tooManyTitle;
    message = t.tooManyText(seconds);
  } else {
    title = t.errorTitle;
    message = t.errorText;
  }
  return document(
    lang,
    title,
    `<section class="card"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></section>`,
  );
}
