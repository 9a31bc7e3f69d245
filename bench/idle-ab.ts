import { loadavg } from "node:os";
import { startAbSides } from "./lib/ab.ts";
import { option, twoCheckouts } from "./lib/args.ts";
import { median, round, runLoad } from "./lib/load.ts";
import { cpuTimesOf, memoryOf, sleep } from "./lib/processes.ts";
import { keyedNoopTarget } from "./scenarios/http.ts";

/**
 * `npx tsx bench/idle-ab.ts --before DIR --after DIR [--idle 60] [--cycles 4] [--duration 4]`: what a burst costs
 * after a quiet spell. Two checkouts' gateways (each on a database shaped by its own migrations) idle side by side
 * for `--idle` seconds, then each serves the keyed no-op at saturation for `--duration` seconds, twice (the first
 * seconds after the idle spell, then the next), in alternating order from cycle to cycle. Printed: the CPU per
 * request of each run, each side's resident memory at the end of each idle spell, and the medians. Found in session
 * 12: V8's memory reducer shrinks the heap of a process that allocates little for a few seconds, and the next burst
 * paid for it (docs/decisions/compiled-start.md). Not part of `npm run bench`.
 */

const { before, after } = twoCheckouts();
const idleS = Number(option("idle", "60"));
const cycles = Number(option("cycles", "4"));
const durationS = Number(option("duration", "4"));

async function main(): Promise<void> {
  const pair = await startAbSides({
    dirs: { before, after },
    adminUrl: process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    redisUrl: process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379",
    redisPrefix: `cellvi:bench-idle:${process.pid}:`,
  });
  try {
    const cpu = new Map<string, { first: number[]; next: number[]; rssMiB: number[] }>(
      pair.sides.map((side) => [side.name, { first: [], next: [], rssMiB: [] }]),
    );
    const serve = async (side: (typeof pair.sides)[number], label: string): Promise<number> => {
      const target = keyedNoopTarget({
        gatewayUrl: side.url,
        gatewayPid: side.pid,
        tenant: side.tenant,
        noopPath: "/v1/whoami",
      });
      const cpu0 = cpuTimesOf(side.pid);
      const run = await runLoad(target, { connections: 50, durationS });
      const cpu1 = cpuTimesOf(side.pid);
      const micros = ((cpu1.user - cpu0.user + cpu1.system - cpu0.system) * 1e6) / run.total;
      console.log(
        `${label} ${side.name}: ${Math.round(run.requestsPerSecond)} req/s, CPU ${round(micros, 1)} µs/req, p99 ${run.p99} ms, unexpected ${run.unexpected}`,
      );
      return micros;
    };
    // Warm-up, unrecorded: JIT, caches, pools.
    for (const side of pair.sides) await serve(side, "warm-up");
    for (let cycle = 0; cycle < cycles; cycle++) {
      await sleep(idleS * 1000);
      for (const side of pair.sides) cpu.get(side.name)?.rssMiB.push(round(memoryOf(side.pid).rssMiB, 1));
      const order = cycle % 2 === 0 ? pair.sides : [...pair.sides].reverse();
      for (const side of order)
        cpu.get(side.name)?.first.push(await serve(side, `cycle ${cycle + 1}, first`));
      for (const side of order) cpu.get(side.name)?.next.push(await serve(side, `cycle ${cycle + 1}, next`));
    }
    const b = cpu.get("before");
    const a = cpu.get("after");
    const differences = (key: "first" | "next") =>
      (a?.[key] ?? []).map((value, i) => value - (b?.[key][i] ?? 0));
    console.log(
      JSON.stringify(
        {
          before,
          after,
          idleS,
          cycles,
          durationS,
          loadAverage: loadavg().map((value) => round(value)),
          firstAfterIdle: {
            before: round(median(b?.first ?? []), 1),
            after: round(median(a?.first ?? []), 1),
            medianCycleDifference: round(median(differences("first")), 2),
            cyclesAfterLower: differences("first").filter((d) => d < 0).length,
          },
          next: {
            before: round(median(b?.next ?? []), 1),
            after: round(median(a?.next ?? []), 1),
            medianCycleDifference: round(median(differences("next")), 2),
            cyclesAfterLower: differences("next").filter((d) => d < 0).length,
          },
          rssMiBAfterIdle: { before: b?.rssMiB, after: a?.rssMiB },
        },
        null,
        2,
      ),
    );
  } finally {
    await pair.stop();
  }
}

await main();
