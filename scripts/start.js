// `npm start`: the Node service as compiled JavaScript (dist/, see scripts/build.js), loaded into this process.
// When there is no build yet or a source file changed since the last one, scripts/build.js runs first as a child
// process, so that esbuild never occupies the server's memory. The bench harness and the tests that start the
// real server run this file too, so they measure and test what production runs.
import { execFileSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { builtServer } from "./build.js";

// V8 lets the old generation grow to several times its live size before a full collection. Under load that took
// the heap from about 40 to 110 MiB between collections, the whole margin to the 200 MB target (BENCHMARKS.md,
// scenario 6); growing by at most half kept it under about 50 MiB. V8 reads the factor at every collection, so
// setting it here works as on the command line, and a Node that no longer knows the flag only prints a warning.
setFlagsFromString("--heap-growing-percent=50");

let entry = builtServer();
if (!entry) {
  // The build's own messages (warnings, errors) go to stderr: stdout carries the service's JSON log lines.
  execFileSync(process.execPath, [fileURLToPath(new URL("build.js", import.meta.url))], {
    stdio: ["ignore", 2, 2],
  });
  // A source edited while building makes this build stale already; the next start rebuilds.
  entry = builtServer({ evenIfStale: true });
}
if (!entry) throw new Error("scripts/build.js wrote no build");
await import(pathToFileURL(entry).href);
