import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("production logger", () => {
  it("writes a line far smaller than its block while the process keeps running (the periodic flush)", async () => {
    // The service's own logger on real stdout: one line, then the process waits for stdin to close, which the test
    // does only once the line has arrived. A line held until a block fills or the process exits would never come.
    const script = `
      import { createLogger } from "./src/bootstrap.ts";
      import { loadConfig } from "./src/config.ts";
      const logger = createLogger(loadConfig({ LOG_LEVEL: "info" }));
      logger.info({ n: 1 }, "one line");
      process.stdin.resume();
      process.stdin.on("end", () => process.exit(0));
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const arrived = new Promise<void>((resolve) => {
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
        if (stdout.includes("\n")) resolve();
      });
    });
    const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
    await arrived;
    child.stdin.end();
    expect(await closed).toBe(0);
    expect(stderr).toBe("");
    expect(JSON.parse(stdout.trim())).toMatchObject({ n: 1, msg: "one line", service: "cellvi-connect" });
  });
});
