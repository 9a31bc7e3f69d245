import type { Context } from "hono";

/**
 * Header access on the hot path. On Node, `@hono/node-server` hands the app the IncomingMessage and the
 * ServerResponse (`c.env.incoming`, `c.env.outgoing`). Reading a request header through `c.req.header()` first
 * builds a WHATWG `Headers` of the whole request, and a header set on `c.res.headers` turns the response's plain
 * header record into one, validating each name and value through WebIDL, and the adapter then iterates it back
 * into a record for `writeHead`. Together that was the largest single cost of a keyed request after the socket
 * writes (BENCHMARKS.md). So on Node these helpers read and write Node's own header objects; elsewhere (Deno, the
 * tests' `app.request`) they use the standard objects. Both give the same headers on the wire (a test serves one
 * app both ways and compares them).
 */

interface NodeIncoming {
  headers: Record<string, string | string[] | undefined>;
}

interface NodeOutgoing {
  headersSent: boolean;
  setHeader(name: string, value: string): unknown;
  /** The Node server's own response class has it (src/http/node-response.ts): setHeader, held for writeHead. */
  holdHeader?(name: string, value: string): void;
}

function nodeIncoming(c: Context): NodeIncoming | undefined {
  const incoming = (c.env as { incoming?: NodeIncoming } | undefined)?.incoming;
  return incoming && typeof incoming.headers === "object" ? incoming : undefined;
}

function nodeOutgoing(c: Context): NodeOutgoing | undefined {
  const outgoing = (c.env as { outgoing?: NodeOutgoing } | undefined)?.outgoing;
  return outgoing && typeof outgoing.setHeader === "function" && !outgoing.headersSent ? outgoing : undefined;
}

/**
 * A request header (`name` in lower case), or undefined. Repeated fields are joined with ", " as `Headers.get`
 * does (Node keeps only the first of a repeated Authorization, Host or User-Agent, which HTTP forbids repeating).
 */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = nodeIncoming(c);
  if (!incoming) return c.req.header(name) ?? undefined;
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/**
 * Adds headers (names in lower case) to the response the app is about to send, whatever produced it (a handler or
 * the error handler), without replacing a header the response already has: the response's own value wins (so a
 * route can, say, set its own Cross-Origin-Resource-Policy). Called by middleware after `await next()`.
 *
 * On Node they go onto the ServerResponse with `setHeader`: `writeHead`, which the adapter calls with the
 * response's own headers once the app has answered, merges both, its own taking precedence. The Node server's
 * response class (`EnvelopeServerResponse`) holds them instead and writes them with the response's own in one
 * `writeHead`, in the same order and with the same precedence.
 */
export function addResponseHeaders(c: Context, headers: Record<string, string>): void {
  const outgoing = nodeOutgoing(c);
  if (outgoing) {
    if (outgoing.holdHeader) for (const name in headers) outgoing.holdHeader(name, headers[name]!);
    else for (const name in headers) outgoing.setHeader(name, headers[name]!);
    return;
  }
  const target = c.res.headers;
  for (const name in headers) if (!target.has(name)) target.set(name, headers[name]!);
}

/** One header, as addResponseHeaders. */
export function addResponseHeader(c: Context, name: string, value: string): void {
  const outgoing = nodeOutgoing(c);
  if (outgoing) {
    if (outgoing.holdHeader) outgoing.holdHeader(name, value);
    else outgoing.setHeader(name, value);
  } else if (!c.res.headers.has(name)) c.res.headers.set(name, value);
}
