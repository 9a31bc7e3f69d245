import type { Context } from "hono";
import type { AppEnv } from "./context.ts";
import { ApiError } from "./problem.ts";

/**
 * The 400 `invalid_json` for a JSON body that does not parse, saying which of the two mistakes it is: an empty body
 * (a client that sent the header but forgot the data: "not valid JSON" sent them looking for a syntax error that is
 * not there), or malformed JSON, with the line and column of the error when the parser gives its position. The
 * parser's own words are kept only in that form ("Expected double-quoted property name"): its other messages quote
 * the body, which may hold a secret, and nothing here echoes the body.
 */
export function unparsableJsonError(text: string | undefined): ApiError {
  if (text !== undefined && text.trim() === "") {
    return new ApiError(
      "invalid_json",
      "The request body is empty. Send a JSON object (at least {}) with the header Content-Type: application/json.",
    );
  }
  if (text !== undefined) {
    try {
      JSON.parse(text);
    } catch (error) {
      const message = (error as Error).message;
      const where = /^(.+) in JSON at position (\d+)/.exec(message);
      if (message.startsWith("Unexpected end of JSON input") || (where && Number(where[2]) >= text.length)) {
        return new ApiError(
          "invalid_json",
          "The request body is not valid JSON: it ends before the JSON is complete (a missing } or ], or a cut-off body).",
        );
      }
      if (where) {
        const position = Number(where[2]);
        const before = text.slice(0, position);
        const line = before.split("\n").length;
        const column = position - before.lastIndexOf("\n");
        const reason = where[1]!.charAt(0).toLowerCase() + where[1]!.slice(1);
        return new ApiError(
          "invalid_json",
          `The request body is not valid JSON: ${reason} at line ${line}, column ${column}.`,
        );
      }
    }
  }
  return new ApiError("invalid_json", "The request body is not valid JSON.");
}

/** The request body parsed as JSON, or the 400 of `unparsableJsonError`, for routes that parse their own body. */
export async function readJsonBody(c: Context<AppEnv>): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch {
    throw unparsableJsonError(text);
  }
}
