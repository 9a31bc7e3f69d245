/**
 * `npm run quickstart:check [-- --lang es] [--port N]`: follows the quickstart page verbatim from a fresh start, as a
 * newcomer would. It starts the service the way the page says (`WEBHOOK_ALLOW_PRIVATE_URLS=true npm start`, on a
 * brand-new embedded database), then runs the page's ```bash blocks in order in one bash session, in the
 * repository (step 1 creates the tenant and key with the CLI, which reaches the running service). No variable is
 * given to the page except CELLVI_URL when port 8080 is taken. It prints how many copy-paste steps it took and how
 * long, and fails if a step fails, if no verified webhook arrives, if it arrived only on a retry (the page's receiver
 * was not listening yet when the event was sent: the reader waited 5 s and saw a failure in the delivery log), or if
 * the page needs more than 6 steps.
 */
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GuideLibrary } from "../src/portal/guides.ts";
import { isLanguage } from "../src/portal/i18n.ts";
import { runBashBlocks } from "../test/docs/run-bash.ts";
import { freePort, repoRoot } from "../test/docs/server.ts";

const maxSteps = 6;

/**
 * Run after the page's blocks, in the same session: the delivery the receiver verified succeeded at its first
 * attempt. It reads the page's own variables (the subscribe response in WEBHOOK), so renaming them fails here. The
 * delivery log shows an answered attempt once the dispatcher has written its outcome, which it gathers with others
 * for up to 100 ms (docs/decisions/webhook-delivery.md), so the log is read until it shows one (at most 5 s), as the
 * webhooks guide's own example does.
 */
const firstAttemptCheck = `
for _ in $(seq 1 50); do
  DELIVERIES=$(curl -sS --fail-with-body "$CELLVI_URL/v1/webhooks/$(echo "$WEBHOOK" | jq -r .id)/deliveries?status=succeeded" \
    -H "Authorization: Bearer $CELLVI_API_KEY")
  echo "$DELIVERIES" | jq -e '(.data | length) > 0' > /dev/null && break
  sleep 0.1
done
echo "$DELIVERIES" | jq -r '.data[] | "delivery of \\(.event_type): \\(.attempt_count) attempt(s)"'
echo "$DELIVERIES" | jq -e '(.data | length) > 0 and all(.data[]; .attempt_count == 1)' > /dev/null
`;

async function portIsFree(port: number): Promise<boolean> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
  });
}

async function main(): Promise<number> {
  const langArg = process.argv[process.argv.indexOf("--lang") + 1];
  const lang = process.argv.includes("--lang") && langArg && isLanguage(langArg) ? langArg : "en";
  const guide = new GuideLibrary().get(lang, "quickstart");
  if (!guide) {
    console.error(`No quickstart page in ${lang}.`);
    return 1;
  }
  const blocks = guide.codeBlocks.filter((block) => block.lang === "bash").map((block) => block.code);

  const dataDir = mkdtempSync(join(tmpdir(), "cellvi-quickstart-"));
  // --port keeps the check off 8080 on a machine shared with someone who may start a service there.
  const portArg = Number(process.argv[process.argv.indexOf("--port") + 1]);
  const port =
    process.argv.includes("--port") && Number.isInteger(portArg) && portArg > 0
      ? portArg
      : (await portIsFree(8080))
        ? 8080
        : await freePort();
  const url = `http://localhost:${port}`;
  mkdirSync(join(repoRoot, "test-results"), { recursive: true });
  const log = createWriteStream(join(repoRoot, "test-results/quickstart-server.log"));
  const started = performance.now();
  const serviceEnv = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    DATA_DIR: dataDir,
    PORT: String(port),
  };
  const server = spawn(process.execPath, ["scripts/start.js"], {
    cwd: repoRoot,
    env: { ...serviceEnv, WEBHOOK_ALLOW_PRIVATE_URLS: "true", LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout.pipe(log);
  server.stderr.pipe(log);
  const stopped = new Promise<void>((resolve) => server.once("exit", () => resolve()));

  try {
    let ready = false;
    for (let i = 0; i < 300 && !ready && server.exitCode === null; i++) {
      ready = await fetch(`${url}/readyz`).then(
        (response) => response.ok,
        () => false,
      );
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (!ready) {
      console.error("The service did not start: see test-results/quickstart-server.log");
      return 1;
    }
    const startSeconds = (performance.now() - started) / 1000;
    console.log(`Fresh service on ${url} (new embedded database) ready in ${startSeconds.toFixed(1)} s.`);

    const run = await runBashBlocks([...blocks, firstAttemptCheck], {
      cwd: repoRoot,
      // What a newcomer's terminal has: no key, no tenant. DATA_DIR points the CLI at the service just started.
      env: { ...serviceEnv, LANG: "C.UTF-8", ...(port === 8080 ? {} : { CELLVI_URL: url }) },
      timeoutMs: 180_000,
    });
    process.stdout.write(run.output.replace(/^/gm, "  | "));
    console.log("");
    const headings = guide.headings.map((heading) => heading.text);
    for (const timing of run.timings.filter((timing) => timing.index <= blocks.length)) {
      console.log(
        `  step ${timing.index}: ${(timing.ms / 1000).toFixed(1)} s  ${headings[timing.index - 1] ?? ""}`,
      );
    }
    const stepSeconds =
      run.timings
        .filter((timing) => timing.index <= blocks.length)
        .reduce((sum, timing) => sum + timing.ms, 0) / 1000;
    const verified = /Verified [A-Z_]+ webhook evt_/.test(run.output);
    if (run.failedBlock === blocks.length + 1) {
      console.error(
        `Quickstart (${lang}) FAILED: the webhook arrived only on a retry (see the attempts above); the receiver ` +
          "must be listening before step 6 sends the event.",
      );
      return 1;
    }
    if (!run.ok || !verified) {
      console.error(
        `Quickstart (${lang}) FAILED at step ${run.failedBlock ?? "?"} of ${blocks.length}${verified ? "" : " (no verified webhook)"}.`,
      );
      return 1;
    }
    console.log(
      `Quickstart (${lang}): ${blocks.length} copy-paste steps from a fresh start to a verified webhook in ` +
        `${stepSeconds.toFixed(1)} s (plus ${startSeconds.toFixed(1)} s to start the service).`,
    );
    if (blocks.length > maxSteps) {
      console.error(`That is more than ${maxSteps} steps: shorten the page.`);
      return 1;
    }
    return 0;
  } finally {
    server.kill("SIGTERM");
    const timer = setTimeout(() => server.kill("SIGKILL"), 10_000);
    await stopped;
    clearTimeout(timer);
    log.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
