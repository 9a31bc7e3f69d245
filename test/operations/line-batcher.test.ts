import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it, vi } from "vitest";
import { LineBatcher } from "../../src/observability/line-batcher.ts";

/** A sink that keeps each block of bytes it is handed (decoded), to see how the lines were grouped. */
function recordingSink() {
  const writes: string[] = [];
  let syncFlushes = 0;
  let flushes = 0;
  return {
    writes,
    syncFlushes: () => syncFlushes,
    flushes: () => flushes,
    sink: {
      flush(callback?: (error?: Error | null) => void) {
        flushes++;
        callback?.();
      },
      write(chunk: Buffer) {
        writes.push(chunk.toString("utf8"));
      },
      flushSync() {
        syncFlushes++;
      },
    },
  };
}

/** Runs `script` (ESM, from the project root) in a child Node process; its exit code, stdout and stderr. */
async function runScript(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
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
  return { code, stdout, stderr };
}

/** The `n` field of each JSON line. */
function numbersOf(stdout: string): number[] {
  return stdout
    .trim()
    .split("\n")
    .map((line) => (JSON.parse(line) as { n: number }).n);
}

describe("LineBatcher", () => {
  it("holds its lines across turns until the oldest has waited 200 ms, then hands them over as one block, in order", () => {
    vi.useFakeTimers();
    try {
      const { writes, sink, flushes } = recordingSink();
      const batcher = new LineBatcher(sink, new EventEmitter() as unknown as NodeJS.Process);
      batcher.write("a\n");
      vi.advanceTimersByTime(150);
      batcher.write("b\n");
      batcher.write("c\n");
      vi.advanceTimersByTime(49);
      expect(writes).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(writes).toEqual(["a\nb\nc\n"]);
      // ... and asks the sink to write it now, not when sonic-boom's own block fills.
      expect(flushes()).toBe(1);
      batcher.write("d\n");
      vi.advanceTimersByTime(200);
      expect(writes).toEqual(["a\nb\nc\n", "d\n"]);
      vi.advanceTimersByTime(1000);
      expect(writes).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("hands a large batch over at once, without waiting", () => {
    const { writes, sink } = recordingSink();
    const batcher = new LineBatcher(sink, new EventEmitter() as unknown as NodeJS.Process);
    const line = `${"x".repeat(999)}\n`;
    for (let i = 0; i < 33; i++) batcher.write(line);
    expect(writes).toEqual([line.repeat(33)]);
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

  it("hands over the UTF-8 bytes of its lines, as writing the strings would, in batches of any size", () => {
    const blocks: Buffer[] = [];
    const batcher = new LineBatcher(
      { write: (chunk: Buffer) => blocks.push(chunk) },
      new EventEmitter() as unknown as NodeJS.Process,
    );
    // Multi-byte characters, a lone surrogate (written as U+FFFD), and lines longer than a batch's 32 Ki characters.
    const lines = [
      '{"msg":"ñandú, 東京, 😀"}\n',
      '{"msg":"\ud800"}\n',
      `${"é".repeat(30_000)}\n`,
      `${"x".repeat(100_000)}\n`,
      "last\n",
    ];
    for (let turn = 0; turn < 3; turn++) {
      for (const line of lines) batcher.write(line);
      batcher.drain();
    }
    // Bytes, which sonic-boom's buffer mode writes as they are, where a string would be measured and encoded twice.
    expect(blocks.every((block) => Buffer.isBuffer(block))).toBe(true);
    expect(Buffer.concat(blocks).equals(Buffer.from(lines.join("").repeat(3), "utf8"))).toBe(true);
  });

  it("never writes over bytes it has handed over, which the sink may still hold", () => {
    const blocks: Buffer[] = [];
    const batcher = new LineBatcher(
      { write: (chunk: Buffer) => blocks.push(chunk) },
      new EventEmitter() as unknown as NodeJS.Process,
    );
    const lines = Array.from({ length: 500 }, (_, i) => `${String(i).padStart(200, "0")}\n`);
    for (const line of lines) {
      batcher.write(line);
      batcher.drain();
    }
    expect(blocks.map((block) => block.toString("utf8"))).toEqual(lines);
  });

  it("keeps every line, in order, while stdout is a pipe that no one reads for a while", async () => {
    // The production logger on a non-blocking pipe (touching process.stdout makes it so on Linux): 3,000 lines of
    // 2 KiB, far more than the pipe holds, so sonic-boom's writes meet EAGAIN and are retried until the test reads.
    const script = `
      import { createLogger } from "./src/bootstrap.ts";
      import { loadConfig } from "./src/config.ts";
      void process.stdout;
      const logger = createLogger(loadConfig({ LOG_LEVEL: "info" }));
      const pad = "p".repeat(2048);
      let n = 0;
      const burst = () => {
        for (let i = 0; i < 100; i++) logger.info({ n: n++, pad }, "line");
        if (n < 3000) setImmediate(burst);
        else process.stderr.write("logged\\n");
      };
      burst();
      process.stdin.resume();
      process.stdin.on("end", () => process.exit(0));
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.stdout.pause();
    let stderr = "";
    const logged = new Promise<void>((resolve) => {
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
        if (stderr.includes("logged\n")) resolve();
      });
    });
    await logged;
    // Let the child's writes meet the full pipe a few times (sonic-boom retries every 100 ms).
    await new Promise((resolve) => setTimeout(resolve, 300));
    let stdout = "";
    const numbers: number[] = [];
    const all = new Promise<void>((resolve) => {
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
        const end = stdout.lastIndexOf("\n");
        if (end < 0) return;
        for (const line of stdout.slice(0, end).split("\n"))
          numbers.push((JSON.parse(line) as { n: number }).n);
        stdout = stdout.slice(end + 1);
        if (numbers.length >= 3000) resolve();
      });
    });
    child.stdout.resume();
    await all;
    child.stdin.end();
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    expect(stderr).toBe("logged\n");
    expect(numbers).toEqual(Array.from({ length: 3000 }, (_, i) => i));
  });

  it("loses no line of the production logger when the process ends by itself, its event loop empty", async () => {
    // No process.exit: the lines are still held (their timer does not keep the process alive) when the loop runs dry.
    const script = `
      import { createLogger } from "./src/bootstrap.ts";
      import { loadConfig } from "./src/config.ts";
      const logger = createLogger(loadConfig({ LOG_LEVEL: "info" }));
      for (let i = 0; i < 5; i++) logger.info({ n: i }, "line");
    `;
    const { code, stdout, stderr } = await runScript(script);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const numbers = numbersOf(stdout);
    expect(numbers).toEqual([0, 1, 2, 3, 4]);
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
    const { code, stdout, stderr } = await runScript(script);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const numbers = numbersOf(stdout);
    expect(numbers).toEqual(Array.from({ length: 3000 }, (_, i) => i));
  });
});
