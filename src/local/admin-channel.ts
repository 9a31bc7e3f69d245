import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { executeCommand } from "../cli/execute.ts";
import type { App } from "../http/context.ts";
import type { Services } from "../services.ts";

/**
 * How the CLI reaches a service that owns the embedded database. The service writes `DATA_DIR/server.json`
 * (mode 0600: only the same OS user can read it) with its port and a random token; the CLI posts its argv to
 * `POST /_local/cli` on 127.0.0.1 with that token, and the service runs the command with its own services.
 * With DATABASE_URL set there is no such channel: every process connects to PostgreSQL itself.
 */
export interface ServerInfo {
  pid: number;
  port: number;
  token: string;
}

export const localCliPath = "/_local/cli";

export function serverInfoPath(dataDir: string): string {
  return resolve(dataDir, "server.json");
}

export function readServerInfo(dataDir: string): ServerInfo | null {
  try {
    const info = JSON.parse(readFileSync(serverInfoPath(dataDir), "utf8")) as ServerInfo;
    return typeof info.port === "number" && typeof info.token === "string" ? info : null;
  } catch {
    return null;
  }
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/**
 * Mounts the local CLI channel on the Node server's app (before it serves its first request: Hono builds its router
 * then). `publish` writes where to reach it once the port is known; the returned function removes the file.
 */
export function mountLocalChannel(
  app: App,
  services: Services,
): { publish(dataDir: string, port: number): () => void } {
  const token = randomBytes(32).toString("base64url");
  app.post(localCliPath, async (c) => {
    const presented = c.req.header("authorization")?.replace(/^Bearer /, "") ?? "";
    if (!timingSafeEqual(digest(presented), digest(token))) return c.json({ error: "forbidden" }, 403);
    const body = (await c.req.json().catch(() => null)) as { argv?: unknown } | null;
    if (!body || !Array.isArray(body.argv) || !body.argv.every((a) => typeof a === "string")) {
      return c.json({ error: "argv must be an array of strings" }, 400);
    }
    return c.json(await executeCommand(services, body.argv as string[]));
  });
  return {
    publish(dataDir, port) {
      const path = serverInfoPath(dataDir);
      writeFileSync(path, JSON.stringify({ pid: process.pid, port, token } satisfies ServerInfo), {
        mode: 0o600,
      });
      return () => rmSync(path, { force: true });
    },
  };
}

/** Sends argv to the running service. Returns null when no service answers (then the CLI opens the db itself). */
export async function forwardToServer(
  info: ServerInfo,
  argv: string[],
): Promise<{ exitCode: number; stdout: string; stderr: string } | null> {
  try {
    const response = await fetch(`http://127.0.0.1:${info.port}${localCliPath}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${info.token}` },
      body: JSON.stringify({ argv }),
    });
    if (!response.ok) return null;
    return (await response.json()) as { exitCode: number; stdout: string; stderr: string };
  } catch {
    return null;
  }
}
