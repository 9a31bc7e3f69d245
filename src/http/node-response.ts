import {
  type IncomingMessage,
  type OutgoingHttpHeader,
  type OutgoingHttpHeaders,
  ServerResponse,
} from "node:http";
import { EndOfTurn } from "../end-of-turn.ts";

/**
 * The Node server's response class (`http.createServer({ ServerResponse })`, see `nodeServerOptions`): a
 * ServerResponse that can hold the envelope's headers (request id, security and RateLimit headers, CORS) until the
 * head is written, and then writes them with the response's own headers in one `writeHead`.
 *
 * Each `setHeader` validates its name and value and stores them in the response's header map; a `writeHead` after
 * any of them then sets the response's own headers the same way, one by one, before walking the map. With seven
 * envelope headers that was about 1.5-2 µs of a keyed request's CPU (a micro-benchmark on Node 20: about 3 µs for
 * the head against 1.4 µs when the same headers go to `writeHead` as one list, which validates each once too).
 *
 * The wire is the same: the held headers come first, in the order they were set, a later one of the same name
 * replacing the earlier value in its place; then the response's own headers, a name already held taking the
 * response's value and spelling in the held one's place, as `setHeader` then `writeHead` would have placed them.
 * Any other use of the header API (`setHeader`, `removeHeader`, `getHeaders`, ...) first sets the held headers
 * with `setHeader`, in order, so what it sees or changes is what it would have seen; `hasHeader` and `getHeader`
 * see them too. A held value is validated when the head is written (as every header given to `writeHead` is),
 * not when it is held: callers hold only names and values valid by construction.
 */
export class EnvelopeServerResponse<
  Request extends IncomingMessage = IncomingMessage,
> extends ServerResponse<Request> {
  /** Held headers as `[lower-case name, value, ...]`, in the order they were first set. */
  #held: string[] | undefined;

  /** Holds a header (a lower-case name) for the head, as `setHeader` would set it. */
  holdHeader(name: string, value: string): void {
    const held = this.#held;
    if (held === undefined) {
      this.#held = [name, value];
      return;
    }
    for (let i = 0; i < held.length; i += 2) {
      if (held[i] === name) {
        held[i + 1] = value;
        return;
      }
    }
    held.push(name, value);
  }

  /** Sets the held headers with `setHeader`, in order (before any other use of the header API). */
  #release(): void {
    const held = this.#held;
    if (held === undefined) return;
    this.#held = undefined;
    for (let i = 0; i < held.length; i += 2) super.setHeader(held[i] as string, held[i + 1] as string);
  }

  #heldValue(name: string): string | undefined {
    const held = this.#held;
    if (held === undefined) return undefined;
    const lower = name.toLowerCase();
    for (let i = 0; i < held.length; i += 2) if (held[i] === lower) return held[i + 1];
    return undefined;
  }

  override writeHead(
    statusCode: number,
    reasonOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
    headers?: OutgoingHttpHeaders | OutgoingHttpHeader[],
  ): this {
    const held = this.#held;
    const reason = typeof reasonOrHeaders === "string" ? reasonOrHeaders : undefined;
    const own = reason === undefined ? reasonOrHeaders : headers;
    // The single list only when nothing else is in the header map and the response's own headers are a record
    // (as the Hono adapter gives them); otherwise exactly what setHeader then writeHead do.
    if (held === undefined || Array.isArray(own) || super.getHeaderNames().length > 0) {
      this.#release();
      return super.writeHead(statusCode, reasonOrHeaders as string, headers as OutgoingHttpHeaders);
    }
    this.#held = undefined;
    const list: Array<string | number | readonly string[]> = held;
    if (own) {
      // The lower-case name of each pair of the list (held names are lower case already).
      const keys: string[] = [];
      for (let i = 0; i < held.length; i += 2) keys.push(held[i] as string);
      for (const name of Object.keys(own)) {
        if (!name) continue;
        const value = (own as OutgoingHttpHeaders)[name] as string | number | readonly string[];
        const lower = name.toLowerCase();
        const at = keys.indexOf(lower);
        if (at === -1) {
          keys.push(lower);
          list.push(name, value);
        } else {
          list[2 * at] = name;
          list[2 * at + 1] = value;
        }
      }
    }
    const flat = list as unknown as OutgoingHttpHeader[];
    return reason === undefined
      ? super.writeHead(statusCode, flat)
      : super.writeHead(statusCode, reason, flat);
  }

  /**
   * Ends the response at the end of the event-loop turn, as Node's `end` would now: the answers of a turn's
   * requests then leave together once every request that arrived in the turn has been read, however soon each was
   * ready. Ending each at once, with its own write in the middle of the turn, cost a keyed request about a quarter
   * more CPU at saturation than answering at the end of the turn (each write wakes the client on its own, and the
   * next request then arrives alone; BENCHMARKS.md, sessions 8 and 13). Node's `end` uncorks the socket whatever
   * holds it, so it is the call that waits. Until then the response is not ended (`writableEnded` is false); a
   * second `end` meanwhile does nothing, as a second `end` does.
   */
  // biome-ignore lint/suspicious/noExplicitAny: Node's own overloads of `end`, passed through as they came.
  override end(chunk?: any, encoding?: any, callback?: any): this {
    if (this.#ending) return this;
    if (this.writableEnded || this.socket === null) return super.end(chunk, encoding, callback);
    this.#ending = true;
    ends.add(() => super.end(chunk, encoding, callback));
    return this;
  }

  /** Whether `end` was called and waits for the end of the turn. */
  #ending = false;

  override setHeader(name: string, value: number | string | readonly string[]): this {
    this.#release();
    return super.setHeader(name, value);
  }

  override appendHeader(name: string, value: string | readonly string[]): this {
    this.#release();
    return super.appendHeader(name, value);
  }

  override setHeaders(headers: Headers | Map<string, number | string | readonly string[]>): this {
    this.#release();
    return super.setHeaders(headers);
  }

  override removeHeader(name: string): void {
    this.#release();
    super.removeHeader(name);
  }

  override getHeaders(): OutgoingHttpHeaders {
    this.#release();
    return super.getHeaders();
  }

  override getHeaderNames(): string[] {
    this.#release();
    return super.getHeaderNames();
  }

  /** Node's `getRawHeaderNames` (not in its type definitions). */
  getRawHeaderNames(): string[] {
    this.#release();
    const base = ServerResponse.prototype as unknown as { getRawHeaderNames(): string[] };
    return base.getRawHeaderNames.call(this);
  }

  override hasHeader(name: string): boolean {
    return this.#heldValue(name) !== undefined || super.hasHeader(name);
  }

  override getHeader(name: string): number | string | string[] | undefined {
    return this.#heldValue(name) ?? super.getHeader(name);
  }
}

/** Where `EnvelopeServerResponse.end` puts off the ends of a turn's responses. */
const ends = new EndOfTurn();

/** The options of the Node HTTP server that serves the app (`serve({ serverOptions })` of @hono/node-server). */
export const nodeServerOptions = { ServerResponse: EnvelopeServerResponse };
