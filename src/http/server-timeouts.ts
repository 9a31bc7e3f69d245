import type { Server } from "node:http";

/**
 * The Node server's timeouts, set for an API that takes streamed imports.
 *
 * Node ends every request 300 s after it began by default (`requestTimeout`), however actively its body still
 * arrives: a CSV import, read and created as it streams in (a few thousand rows a second on PostgreSQL, fewer on the
 * embedded database), would be cut mid-file with a connection reset once it ran past five minutes. So a request has
 * no total time limit here, and what that limit guarded against (a client that holds a connection by trickling or
 * stalling its body) is bounded by inactivity instead: a connection that sends and receives nothing for
 * `idleTimeoutMs` is closed. `headersTimeout` (60 s, Node's default) still bounds the wait for a request's headers,
 * and `keepAliveTimeout` an idle kept-alive connection between requests.
 */
export function applyHttpTimeouts(server: Server, idleTimeoutMs: number): void {
  server.requestTimeout = 0;
  // Without a callback, Node destroys a socket when it times out.
  server.setTimeout(idleTimeoutMs);
}
