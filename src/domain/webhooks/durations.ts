/**
 * Durations in configuration are written with a unit (`250ms`, `5s`, `2m`, `1h`, `5d`), so nobody has to guess
 * whether `30` meant seconds or milliseconds.
 */
const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of one duration, or null when it is not `<number><unit>`. */
export function parseDuration(text: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(text);
  if (!match) return null;
  return Math.round(Number(match[1]) * units[match[2]!]!);
}

/** Milliseconds of each comma-separated duration, or null when any is malformed or the list is empty. */
export function parseDurationList(text: string): number[] | null {
  const parts = text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  if (parts.length === 0) return null;
  const values = parts.map(parseDuration);
  return values.every((value): value is number => value !== null) ? values : null;
}

/** The largest whole unit that fits: 300000 -> "5m", 1500 -> "1500ms". For messages and docs. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
