import { readFileSync } from "node:fs";

/**
 * `npx tsx bench/perf-attribution.ts FILE [--per-request-us N] [--functions PATTERN]`: where a Node process's CPU
 * went, from a Linux `perf` recording of it, by layer: the kernel, garbage collection, and then the JavaScript
 * package whose code was running (the innermost JavaScript frame of each sample, so the V8 built-ins and Node's C++
 * that a function calls count for it: `JSON.stringify` for the handler that called it, a header check for Node's
 * `_http_outgoing`). Samples with no JavaScript on the stack (libuv, the HTTP parser, the microtask loop) are
 * counted apart. `--functions PATTERN` also lists the functions whose frames match PATTERN (a regular expression on
 * "JS:*name file:line"), the same way.
 *
 * Unlike V8's own sampling profiler (`--profile` of bench/cpu-ab.ts), perf samples the CPU only while the process
 * runs on it, so time spent waiting for the CPU is not charged to whatever ran last (BENCHMARKS.md, "A caution on
 * profiles"). Recording (Node's `--perf-basic-prof` names the JIT's code for perf):
 *
 *   npx tsx bench/cpu-ab.ts --before DIR --rate 0 --rounds 1 --duration 25 --after-env NODE_OPTIONS=--perf-basic-prof &
 *   perf record -F 2999 -g -p <the "after" gateway's pid> -o /tmp/perf.data -- sleep 12
 *   perf script -i /tmp/perf.data -F ip,sym,dso > /tmp/perf.txt
 *
 * `--per-request-us` is the process's CPU per request over the same stretch (cpu-ab prints it), to read each share
 * in microseconds. Not part of `npm run bench`.
 */

const args = process.argv.slice(2);
const option = (name: string) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? undefined : args[at + 1];
};
const file = args.find((arg, i) => !arg.startsWith("--") && !args[i - 1]?.startsWith("--"));
if (!file) throw new Error("FILE: the output of `perf script -F ip,sym,dso`");
const perRequest = Number(option("per-request-us") ?? Number.NaN);
const functions = option("functions");

interface Frame {
  symbol: string;
  object: string;
}

/** One frame line of `perf script -F ip,sym,dso`: `<ip> <symbol> (<object>)`. */
function parseFrame(line: string): Frame {
  const match = /^\s*[0-9a-f]+ (.*) \((.*)\)$/.exec(line);
  return match
    ? { symbol: match[1] as string, object: match[2] as string }
    : { symbol: line.trim(), object: "" };
}

/** The layer a JavaScript frame belongs to: Node's own, a package, or the app (anything else with a file). */
function layerOf(symbol: string): string | undefined {
  if (!symbol.startsWith("JS:")) return undefined;
  if (/ node:/.test(symbol)) return "node core (JS)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(symbol);
  if (pkg) return pkg[1];
  return / (file:\/\/|\/)/.test(symbol) ? "app" : "JavaScript, no file";
}

const byLayer = new Map<string, number>();
const byFunction = new Map<string, number>();
const pattern = functions === undefined ? undefined : new RegExp(functions);
let samples = 0;
for (const block of readFileSync(file, "utf8").split(/\n\s*\n/)) {
  const frames = block
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map(parseFrame);
  if (frames.length === 0) continue;
  samples++;
  let layer: string;
  const innermostJs = frames.find((frame) => frame.symbol.startsWith("JS:"));
  if (frames[0]?.object.includes("kernel.kallsyms")) layer = "kernel";
  else if (frames.some((frame) => /Heap::CollectGarbage|Scavenge/.test(frame.symbol)))
    layer = "garbage collection";
  else layer = (innermostJs && layerOf(innermostJs.symbol)) ?? "native, no JavaScript on the stack";
  byLayer.set(layer, (byLayer.get(layer) ?? 0) + 1);
  if (pattern && innermostJs && layer !== "kernel" && pattern.test(innermostJs.symbol)) {
    byFunction.set(innermostJs.symbol, (byFunction.get(innermostJs.symbol) ?? 0) + 1);
  }
}

function print(title: string, counts: Map<string, number>, limit: number): void {
  console.log(title);
  for (const [name, count] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
    const share = (100 * count) / samples;
    const us = Number.isNaN(perRequest) ? "" : `  ${((share * perRequest) / 100).toFixed(2).padStart(6)} µs`;
    console.log(`${share.toFixed(1).padStart(6)} %${us}  ${name}`);
  }
}

console.log(`${file}: ${samples} samples`);
print("by layer (the innermost JavaScript frame's package)", byLayer, 30);
if (pattern) print(`functions matching ${functions}`, byFunction, 30);
