import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Runs a page's ```bash blocks in order, as written, in ONE bash session (so a block may set variables for the
 * next), the way a reader pastes them into one terminal. `set -eo pipefail` makes any failing command fail its
 * block, which a reader would see as an error too. Each block is announced with a marker on stderr, so a failure
 * names the block. Background jobs a page starts (a webhook receiver) are killed with the session's process group.
 */
export interface BlockTiming {
  index: number;
  ms: number;
}

export interface BashRun {
  ok: boolean;
  exitCode: number | null;
  /** 1-based index of the block that failed, if one did. */
  failedBlock: number | null;
  timings: BlockTiming[];
  output: string;
}

const marker = "::cellvi-docs-block::";

export function runBashBlocks(
  blocks: string[],
  options: { env: Record<string, string | undefined>; cwd?: string; timeoutMs?: number },
): Promise<BashRun> {
  const workDir = mkdtempSync(join(tmpdir(), "cellvi-docs-"));
  const script = [
    "set -eo pipefail",
    ...blocks.flatMap((block, i) => [
      `printf '%s %d %s\\n' '${marker}' ${i + 1} "$(date +%s%3N)" >&2`,
      block,
    ]),
    `printf '%s %s %s\\n' '${marker}' end "$(date +%s%3N)" >&2`,
  ].join("\n");
  const scriptPath = join(workDir, "page.sh");
  writeFileSync(scriptPath, `${script}\n`);
  return new Promise((resolveRun) => {
    const child = spawn("bash", ["--noprofile", "--norc", scriptPath], {
      cwd: options.cwd ?? workDir,
      env: options.env as NodeJS.ProcessEnv,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const starts: { index: number | "end"; at: number }[] = [];
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) {
        if (line.startsWith(marker)) {
          const [, index = "", at = "0"] = line.split(" ");
          starts.push({ index: index === "end" ? "end" : Number(index), at: Number(at) });
        } else if (line) {
          output += `${line}\n`;
        }
      }
    });
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        // the group is already gone
      }
    };
    const timer = setTimeout(() => {
      output += `\n[timed out after ${options.timeoutMs ?? 120_000} ms]\n`;
      killGroup();
    }, options.timeoutMs ?? 120_000);
    // "exit" fires when bash ends; "close" only once every holder of its output pipes (a background job) is gone,
    // so the group is killed at "exit" and the result taken at "close".
    let code: number | null = null;
    child.once("exit", (exitCode) => {
      code = exitCode;
      killGroup();
    });
    child.once("close", () => {
      clearTimeout(timer);
      rmSync(workDir, { recursive: true, force: true });
      const timings: BlockTiming[] = [];
      for (let i = 0; i < starts.length - 1; i++) {
        const current = starts[i]!;
        if (current.index !== "end")
          timings.push({ index: current.index, ms: starts[i + 1]!.at - current.at });
      }
      const last = starts.at(-1);
      const ok = code === 0 && last?.index === "end";
      resolveRun({
        ok,
        exitCode: code,
        failedBlock: ok ? null : typeof last?.index === "number" ? last.index : null,
        timings,
        output,
      });
    });
  });
}
