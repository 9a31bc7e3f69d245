// `npm start`: the Node service as compiled JavaScript (dist/, see scripts/build.js), loaded into this process.
// When there is no build yet or a source file changed since the last one, scripts/build.js runs first as a child
// process, so that esbuild never occupies the server's memory. The bench harness and the tests that start the
// real server run this file too, so they measure and test what production runs.
import { execFileSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { builtServer } from "./build.js";

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
