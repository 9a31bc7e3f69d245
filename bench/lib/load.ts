import autocannon, { type AutocannonRequest } from "autocannon";
import { cpuSecondsOf } from "./processes.ts";

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The p-th percentile (0..100) of raw samples, nearest-rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

export interface LoadTarget {
  /** Base URL of the server (the path comes from `path` or `requests`). */
  url: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  /** A sequence each connection cycles through (e.g. several tracking numbers). */
  requests?: AutocannonRequest[];
  /** Replace `[<id>]` in the request (headers and body) with a unique id per request. */
  idReplacement?: boolean;
  /** Status codes that count as the expected answer (2xx if not given). */
  expect?: number[];
  /** The server's process id, to measure the CPU it spends per request. */
  pid?: number;
}

export interface LoadRun {
  requestsPerSecond: number;
  /** Latency percentiles in ms as autocannon measures them (1 ms resolution). */
  p50: number;
  p99: number;
  total: number;
  /** Responses with a status outside `expect`, plus socket errors and timeouts. */
  unexpected: number;
  statusCodes: Record<string, number>;
  /** CPU time (user + system) of the server process per answered request, in µs. */
  cpuMicrosPerRequest: number | null;
}

/**
 * One autocannon run from this process (the driver, not the server under test) over loopback. Latency is measured
 * per request by autocannon; with `overallRate` it corrects for coordinated omission.
 */
export async function runLoad(
  target: LoadTarget,
  options: { connections: number; durationS: number; overallRate?: number },
): Promise<LoadRun> {
  const cpuBefore = target.pid ? cpuSecondsOf(target.pid) : 0;
  const result = await autocannon({
    url: `${target.url}${target.path ?? ""}`,
    connections: options.connections,
    duration: options.durationS,
    pipelining: 1,
    timeout: 10,
    ...(target.method ? { method: target.method } : {}),
    ...(target.headers ? { headers: target.headers } : {}),
    ...(target.body !== undefined ? { body: target.body } : {}),
    ...(target.requests ? { requests: target.requests } : {}),
    ...(target.idReplacement ? { idReplacement: true } : {}),
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
  });
  const cpuSeconds = target.pid ? cpuSecondsOf(target.pid) - cpuBefore : null;
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count;
  const expected = new Set((target.expect ?? [200, 201, 204]).map(String));
  const answered = Object.values(statusCodes).reduce((sum, count) => sum + count, 0);
  const good = Object.entries(statusCodes)
    .filter(([code]) => expected.has(code))
    .reduce((sum, [, count]) => sum + count, 0);
  return {
    requestsPerSecond: answered / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: answered,
    unexpected: answered - good + result.errors + result.timeouts,
    statusCodes,
    cpuMicrosPerRequest:
      cpuSeconds === null || answered === 0 ? null : round((cpuSeconds * 1e6) / answered, 0),
  };
}

export interface PairedResult {
  runs: { baseline: LoadRun; scenario: LoadRun }[];
  baseline: { requestsPerSecond: number; p50: number; p99: number; cpuMicrosPerRequest: number | null };
  scenario: { requestsPerSecond: number; p50: number; p99: number; cpuMicrosPerRequest: number | null };
  /** median(scenario req/s) / median(baseline req/s) */
  ratio: number;
  /** The ratio of each pair, to show the spread. */
  pairRatios: number[];
  unexpected: number;
}

/**
 * Alternates baseline and scenario runs (B S, S B, B S, ...) so that a noisy neighbour on the shared machine weighs
 * on both sides alike, after one unrecorded warm-up of each. Reports medians.
 */
export async function pairedRuns(
  baseline: LoadTarget,
  scenario: LoadTarget,
  options: { runs: number; durationS: number; warmupS: number; connections: number },
  log: (line: string) => void,
): Promise<PairedResult> {
  const load = { connections: options.connections, durationS: options.durationS };
  await runLoad(baseline, { ...load, durationS: options.warmupS });
  await runLoad(scenario, { ...load, durationS: options.warmupS });
  const runs: PairedResult["runs"] = [];
  for (let i = 0; i < options.runs; i++) {
    let b: LoadRun;
    let s: LoadRun;
    if (i % 2 === 0) {
      b = await runLoad(baseline, load);
      s = await runLoad(scenario, load);
    } else {
      s = await runLoad(scenario, load);
      b = await runLoad(baseline, load);
    }
    runs.push({ baseline: b, scenario: s });
    log(
      `  run ${i + 1}/${options.runs}: baseline ${Math.round(b.requestsPerSecond)} req/s (${b.cpuMicrosPerRequest} µs CPU/req), scenario ${Math.round(s.requestsPerSecond)} req/s (${s.cpuMicrosPerRequest} µs CPU/req, p50 ${s.p50} ms, p99 ${s.p99} ms, unexpected ${s.unexpected})`,
    );
  }
  const summary = (pick: (run: { baseline: LoadRun; scenario: LoadRun }) => LoadRun) => ({
    requestsPerSecond: round(median(runs.map((run) => pick(run).requestsPerSecond)), 0),
    p50: median(runs.map((run) => pick(run).p50)),
    p99: median(runs.map((run) => pick(run).p99)),
    cpuMicrosPerRequest: runs.some((run) => pick(run).cpuMicrosPerRequest === null)
      ? null
      : median(runs.map((run) => pick(run).cpuMicrosPerRequest ?? 0)),
  });
  const b = summary((run) => run.baseline);
  const s = summary((run) => run.scenario);
  return {
    runs,
    baseline: b,
    scenario: s,
    ratio: round(s.requestsPerSecond / b.requestsPerSecond, 3),
    pairRatios: runs.map((run) => round(run.scenario.requestsPerSecond / run.baseline.requestsPerSecond, 3)),
    unexpected: runs.reduce((sum, run) => sum + run.scenario.unexpected, 0),
  };
}
