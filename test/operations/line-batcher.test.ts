import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { LineBatcher } from "../../src/observability/line-batcher.ts";

/** A sink that keeps each string it is handed, to see how the lines were grouped. */
function recordingSink() {
  const writes: string[] = [];
  let syncFlushes = 0;
  return {
    writes,
    syncFlushes: () => syncFlushes,
    sink: {
      write(chunk: string) {
        writes.push(chunk);
      },
      flushSync() {
        syncFlushes++;
      },
    },
  };
}

describe("LineBatcher", () => {
  it("hands the lines of one turn to the sink as one string, in order, and the next turn's apart", async () => {
    const { writes, sink } = recordingSink();
    const batcher = new LineBatcher(sink, new EventEmitter() as unknown as NodeJS.Process);
    batcher.write("a\n");
    batcher.write("b\n");
    batcher.write("c\n");
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual(["a\nb\nc\n"]);
    batcher.write("d\n");
    await nextTurn();
    expect(writes).toEqual(["a\nb\nc\n", "d\n"]);
  });

  it("hands a large batch over at once, without waiting for the end of the turn", () => {
    const { writes, sink } = recordingSink();
    const batcher = new LineBatcher(sink, new EventEmitter() as unknown as NodeJS.Process);
    const line = `${"x".repeat(999)}\n`;
    for (let i = 0; i < 17; i++) batcher.write(line);
    expect(writes).toEqual([line.repeat(17)]);
  });

  it("hands its lines over on flush and flushSync, and when the process exits", async () => {
    const { writes, sink, syncFlushes } = recordingSink();
    const exit = new EventEmitter();
    const batcher = new LineBatcher(sink, exit as unknown as NodeJS.Process);
    batcher.write("a\n");
    batcher.flushSync();
    expect(writes).toEqual(["a\n"]);
    expect(syncFlushes()).toBe(1);
    batcher.write("b\n");
    await new Promise<void>((resolve, reject) =>
      batcher.flush((error) => (error ? reject(error) : resolve())),
    );
    expect(writes).toEqual(["a\n", "b\n"]);
    batcher.write("c\n");
    exit.emit("exit", 0);
    expect(writes).toEqual(["a\n", "b\n", "c\n"]);
    await nextTurn();
    expect(writes).toHaveLength(3);
  });

  it("loses no line of the production logger when the process exits in the turn that logged them", async () => {
    // The service's own logger on real stdout (a pipe): 3,000 lines, then process.exit in the same turn.
    const script = `
      import { createLogger } from "./src/bootstrap.ts";
      import { loadConfig } from "./src/config.ts";
      const logger = createLogger(loadConfig({ LOG_LEVEL: "info" }));
      for (let i = 0; i < 3000; i++) logger.info({ n: i }, "line");
      process.exit(0);
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const numbers = stdout
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as { n: number }).n);
    expect(numbers).toEqual(Array.from({ length: 3000 }, (_, i) => i));
  });
});
