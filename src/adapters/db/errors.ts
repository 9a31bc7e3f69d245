/**
 * The database cannot be reached right now: refused or dropped connections, a server shutting down or starting up,
 * no free connection in time. The adapter turns those into this one error so the HTTP layer can answer 503 with
 * Retry-After (the caller should simply retry) instead of a 500 (a bug of ours). Query errors (constraint
 * violations, bad SQL) are never wrapped: domain code still sees their SQLSTATE.
 */
export class DatabaseUnavailableError extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`database unavailable: ${reason}`, options);
    this.name = "DatabaseUnavailableError";
  }
}

// Socket-level failures (node:net / DNS).
const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

// SQLSTATEs that mean "this connection or this server is going away or not there yet", not "your query is wrong".
const unavailableStates = new Set([
  "57P01", // admin_shutdown: the server is stopping (pg_ctl stop -m fast)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now: starting up, shutting down, or in recovery
  "57P05", // idle_session_timeout
  "53300", // too_many_connections
]);

// node-postgres reports a lost or never-made connection with plain Errors: their messages are its API.
const pgClientMessages = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /is not queryable/,
  /^Cannot use a pool after calling end on the pool/,
  /^Client was closed/,
];

/** A short, host-free reason for a connection-class error, or null when the error is about the query itself. */
export function connectionFailureReason(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  if (error instanceof DatabaseUnavailableError) return error.message;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (networkCodes.has(code) || unavailableStates.has(code) || code.startsWith("08")) return code;
  }
  if (pgClientMessages.some((pattern) => pattern.test(error.message))) return error.message;
  // A failed connect can surface as an AggregateError (one entry per resolved address).
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const reason = connectionFailureReason(inner);
      if (reason) return reason;
    }
  }
  return null;
}

/** Rethrows a connection-class error as `DatabaseUnavailableError`; anything else unchanged. */
export function asDatabaseError(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError) return error;
  const reason = connectionFailureReason(error);
  return reason ? new DatabaseUnavailableError(reason, { cause: error }) : error;
}
