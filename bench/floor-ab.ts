import { loadavg } from "node:os";
import { option } from "./lib/args.ts";
import { median, round, runLoad } from "./lib/load.ts";
import { cpuTimesOf, type Managed, startBaseline } from "./lib/processes.ts";

/**
 * `npx tsx bench/floor-ab.ts --before sync --after middleware [--rounds 6] [--duration 4]`: the CPU per request of two
 * shapes of the framework floor (`bench/framework-floor-server.mjs`: sync, async, middleware, middleware2; or
 * `gateway`, `bench/gateway-shape-server.ts`, the gateway's shape without its duties, taken apart with
 * `gateway:LAYERS,held|none,whoami|small`) at
 * saturation (50 connections), alternating (A B, B A, ...), as bench/cpu-ab.ts does for two checkouts. What the
 * framework and its Node adapter charge for the shape of the gateway's chains (a promise, a middleware layer),
 * before any work of the gateway's own. Not part of `npm run bench`.
 */

const shapes = { before: option("before", "sync"), after: option("after", "middleware") };
const rounds = Number(option("rounds", "6"));
const durationS = Number(option("duration", "4"));

async function main(): Promise<void> {
  const sides: { name: string; shape: string; server: Managed }[] = [];
  for (const [name, shape] of Object.entries(shapes)) {
    const [kind, parts] = shape.split(":");
    const server =
      kind === "gateway"
        ? await startBaseline("bench/gateway-shape-server.ts", parts ? [parts] : [])
        : await startBaseline("bench/framework-floor-server.mjs", [shape]);
    sides.push({ name, shape, server });
  }
  try {
    const target = (side: (typeof sides)[number]) => ({
      url: `http://127.0.0.1:${side.server.port}`,
      path: "/",
      pid: side.server.child.pid,
      expect: [200],
    });
    for (const side of sides) await runLoad(target(side), { connections: 50, durationS: 2 });
    const cpu = new Map<string, number[]>(sides.map((side) => [side.name, []]));
    for (let round_ = 0; round_ < rounds; round_++) {
      for (const side of round_ % 2 === 0 ? sides : [...sides].reverse()) {
        const pid = side.server.child.pid ?? 0;
        const before = cpuTimesOf(pid);
        const run = await runLoad(target(side), { connections: 50, durationS });
        const after = cpuTimesOf(pid);
        const user = ((after.user - before.user) * 1e6) / run.total;
        const system = ((after.system - before.system) * 1e6) / run.total;
        cpu.get(side.name)?.push(user + system);
        console.log(
          `round ${round_ + 1} ${side.name} (${side.shape}): ${Math.round(run.requestsPerSecond)} req/s, CPU ${round(user + system, 1)} µs/req (user ${round(user, 1)}, system ${round(system, 1)}), unexpected ${run.unexpected}`,
        );
      }
    }
    const before = cpu.get("before") ?? [];
    const after = cpu.get("after") ?? [];
    const differences = after.map((value, index) => value - (before[index] ?? Number.NaN));
    console.log(
      JSON.stringify(
        {
          shapes,
          rounds,
          durationS,
          loadAverage: loadavg().map((value) => round(value)),
          cpuMicrosPerRequest: { before: round(median(before), 1), after: round(median(after), 1) },
          medianRoundDifference: round(median(differences), 2),
          roundsAfterLower: differences.filter((difference) => difference < 0).length,
        },
        null,
        2,
      ),
    );
  } finally {
    for (const side of sides) await side.server.stop();
  }
}

await main();
