import autocannon from "autocannon";
import { median, round } from "../lib/load.ts";
import { memoryOf } from "../lib/processes.ts";
import type { BenchTenant } from "../lib/setup.ts";
import { createOrderBody } from "../lib/setup.ts";

export interface SoakSample {
  atS: number;
  rssMiB: number;
  heapUsedMiB: number | null;
}

export interface MemoryResult {
  /** The gateway's peak RSS (VmHWM) over every scenario it served, soak included. */
  peakRssMiB: number;
  soak: {
    durationS: number;
    ratePerSecond: number;
    requests: number;
    unexpected: number;
    samples: SoakSample[];
    /** Median RSS of the soak's second sixth (after warm-up) and of its last sixth. */
    rssEarlyMiB: number;
    rssLateMiB: number;
    heapEarlyMiB: number | null;
    heapLateMiB: number | null;
    /** Least-squares slope of RSS over the second half of the soak. */
    rssSlopeMiBPerMinute: number;
  };
  target: string;
  met: boolean;
}

async function heapUsedMiB(metricsUrl: string): Promise<number | null> {
  try {
    const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(2_000) })).text();
    const match = /^cellvi_nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
    return match ? Number(match[1]) / 1024 / 1024 : null;
  } catch {
    return null;
  }
}

function slopePerMinute(points: { x: number; y: number }[]): number {
  if (points.length < 2) return 0;
  const mx = points.reduce((sum, p) => sum + p.x, 0) / points.length;
  const my = points.reduce((sum, p) => sum + p.y, 0) / points.length;
  const num = points.reduce((sum, p) => sum + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((sum, p) => sum + (p.x - mx) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60;
}

/**
 * Scenario 6: a soak at a steady mixed load (the keyed no-op, tracking reads, order creations in equal parts) with the
 * gateway's RSS and V8 heap sampled every few seconds, to show whether memory grows with traffic.
 */
export async function scenarioMemory(options: {
  gatewayUrl: string;
  gatewayPid: number;
  metricsUrl: string;
  tenant: BenchTenant;
  tracked: { number: string; token: string }[];
  /** The keyed no-op of scenario 1. */
  noopPath: string;
  durationS: number;
  ratePerSecond: number;
  log(line: string): void;
}): Promise<MemoryResult> {
  const auth = { authorization: `Bearer ${options.tenant.apiKey}` };
  const samples: SoakSample[] = [];
  const started = Date.now();
  const sampleEveryMs = Math.max(1_000, Math.round((options.durationS * 1000) / 60));
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push({
        atS: (Date.now() - started) / 1000,
        rssMiB: round(memoryOf(options.gatewayPid).rssMiB, 1),
        heapUsedMiB: await heapUsedMiB(options.metricsUrl).then((v) => (v === null ? null : round(v, 1))),
      });
      await new Promise((resolve) => setTimeout(resolve, sampleEveryMs));
    }
  })();
  const tracked = options.tracked[0]!;
  const result = await autocannon({
    url: options.gatewayUrl,
    connections: 20,
    duration: options.durationS,
    overallRate: options.ratePerSecond,
    idReplacement: true,
    timeout: 10,
    requests: [
      { method: "GET", path: options.noopPath, headers: auth },
      { method: "GET", path: `/v1/tracking/${tracked.number}?token=${tracked.token}` },
      {
        method: "POST",
        path: "/v1/orders/create",
        headers: { ...auth, "content-type": "application/json", "idempotency-key": "soak-[<id>]" },
        body: createOrderBody,
      },
    ],
  });
  sampling = false;
  await sampler;
  const answered = Object.values(result.statusCodeStats).reduce((sum, { count }) => sum + count, 0);
  const good = ["200", "201", "404"].reduce(
    (sum, code) => sum + (result.statusCodeStats[code]?.count ?? 0),
    0,
  );
  const sixth = Math.max(1, Math.floor(samples.length / 6));
  const early = samples.slice(sixth, 2 * sixth);
  const late = samples.slice(-sixth);
  const heap = (list: SoakSample[]) => {
    const values = list.map((s) => s.heapUsedMiB).filter((v): v is number => v !== null);
    return values.length ? round(median(values), 1) : null;
  };
  const secondHalf = samples.slice(Math.floor(samples.length / 2));
  const peakRssMiB = round(memoryOf(options.gatewayPid).peakMiB, 1);
  const soak = {
    durationS: options.durationS,
    ratePerSecond: options.ratePerSecond,
    requests: answered,
    unexpected: answered - good + result.errors + result.timeouts,
    samples,
    rssEarlyMiB: round(median(early.map((s) => s.rssMiB)), 1),
    rssLateMiB: round(median(late.map((s) => s.rssMiB)), 1),
    heapEarlyMiB: heap(early),
    heapLateMiB: heap(late),
    rssSlopeMiBPerMinute: round(slopePerMinute(secondHalf.map((s) => ({ x: s.atS, y: s.rssMiB }))), 2),
  };
  options.log(
    `  soak: RSS ${soak.rssEarlyMiB} -> ${soak.rssLateMiB} MiB (slope ${soak.rssSlopeMiBPerMinute} MiB/min over the second half), heap ${soak.heapEarlyMiB} -> ${soak.heapLateMiB} MiB, peak ${peakRssMiB} MiB`,
  );
  // "No growth": the second half's trend stays under 1 MiB per minute (a leak of a few bytes per request at
  // these rates would show as several MiB per minute).
  return {
    peakRssMiB,
    soak,
    target: "peak RSS < 200 MB, no growth over the soak",
    met: peakRssMiB * 1.048576 < 200 && soak.rssSlopeMiBPerMinute < 1,
  };
}
