import { type OperationId, type Operations, operations } from "./schema.ts";

/**
 * A typed client for the CELLVI Connect API. Every operation of the OpenAPI document is a method named by its
 * operationId (`createOrder`, `getOrder`, `listOrders`, `subscribeWebhook`, ...), with the input and output types
 * generated from the document (`npm run openapi` regenerates ./schema.ts), so a new endpoint appears here with
 * no hand-written code.
 *
 * @example
 * const cellvi = createClient({ apiKey: process.env.CELLVI_API_KEY!, baseUrl: "https://api.cellvi.com" });
 * const order = await cellvi.createOrder({ body: { external_id: "SO-1", ... } });
 * for await (const o of cellvi.paginate("listOrders", { query: { status: "DELIVERED" } })) console.log(o.id);
 */

export interface ClientOptions {
  /** Your API key (`cvk_live_...` or `cvk_test_...`). */
  apiKey: string;
  /** Default `https://api.cellvi.com`. */
  baseUrl?: string;
  /** Retries of retryable failures (network errors, 409 in progress, 429, 5xx) of safe requests. Default 2. */
  maxRetries?: number;
  /** Per attempt. Default 30 s. */
  timeoutMs?: number;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
}

/** Per-call options, next to the operation's own input. */
export interface CallOptions {
  /**
   * For operations that take one. When omitted, the client generates a key per call, so its own retries can never
   * create twice; pass your own to make retries across process restarts safe too.
   */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

type Input<K extends OperationId> = Operations[K]["input"] & CallOptions;
export type CallArgs<K extends OperationId> = Operations[K]["inputRequired"] extends true
  ? [input: Input<K>]
  : [input?: Input<K>];
export type Output<K extends OperationId> = Operations[K]["output"];

/** One method per operation. */
export type OperationMethods = {
  [K in OperationId]: (...args: CallArgs<K>) => Promise<Output<K>>;
};

type Page = { data: unknown[]; has_more: boolean; next_cursor: string | null };
/** The operations that return a cursor-paginated list. */
export type ListOperationId = {
  [K in OperationId]: Output<K> extends Page ? K : never;
}[OperationId];
type ItemOf<K extends ListOperationId> = Output<K> extends { data: (infer Item)[] } ? Item : never;

/** A problem+json error answered by the API (or a network failure, with status 0 and code `network_error`). */
export class CellviError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | undefined;
  /** Seconds, from `Retry-After`. */
  readonly retryAfter: number | undefined;
  /** The whole problem body: `errors` for validation failures, `existing_order_id` for duplicates, ... */
  readonly problem: Record<string, unknown>;

  constructor(status: number, problem: Record<string, unknown>, retryAfter?: number) {
    const code = typeof problem.code === "string" ? problem.code : "unknown_error";
    super(String(problem.detail ?? problem.title ?? `HTTP ${status}`));
    this.name = "CellviError";
    this.status = status;
    this.code = code;
    this.requestId = typeof problem.request_id === "string" ? problem.request_id : undefined;
    this.retryAfter = retryAfter;
    this.problem = problem;
  }
}

const retryableStatuses = new Set([409, 429, 500, 502, 503, 504]);

function isRetryable(error: CellviError): boolean {
  if (error.status === 0) return true;
  // Of the 409s only "still in progress" resolves by itself; the others need a change first.
  if (error.status === 409) return error.code === "idempotency_in_progress";
  return retryableStatuses.has(error.status);
}

function backoffMs(attempt: number, retryAfter: number | undefined): number {
  if (retryAfter !== undefined) return Math.min(retryAfter, 60) * 1000;
  const base = Math.min(500 * 2 ** attempt, 8000);
  return base / 2 + Math.random() * (base / 2);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

function appendQuery(url: URL, query: Record<string, unknown> | undefined): void {
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, String(item));
  }
}

export class CellviClient {
  readonly baseUrl: string;
  readonly #apiKey: string;
  readonly #maxRetries: number;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: ClientOptions) {
    if (!options.apiKey) throw new TypeError("apiKey is required");
    this.#apiKey = options.apiKey;
    this.baseUrl = (options.baseUrl ?? "https://api.cellvi.com").replace(/\/+$/, "");
    this.#maxRetries = options.maxRetries ?? 2;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Calls an operation by its operationId. */
  async request<K extends OperationId>(operationId: K, ...args: CallArgs<K>): Promise<Output<K>> {
    const operation = operations[operationId];
    if (!operation) throw new TypeError(`Unknown operation ${String(operationId)}`);
    const input = (args[0] ?? {}) as {
      params?: Record<string, unknown>;
      query?: Record<string, unknown>;
      headers?: Record<string, unknown>;
      body?: unknown;
    } & CallOptions;
    const path = operation.path.replace(/\{([^}]+)\}/g, (_whole, name: string) => {
      const value = input.params?.[name];
      if (value === undefined || value === null) throw new TypeError(`params.${name} is required`);
      return encodeURIComponent(String(value));
    });
    const url = new URL(`${this.baseUrl}${path}`);
    appendQuery(url, input.query);
    const headers = new Headers({ authorization: `Bearer ${this.#apiKey}`, accept: "application/json" });
    for (const [name, value] of Object.entries(input.headers ?? {})) {
      if (value !== undefined && value !== null) headers.set(name, String(value));
    }
    if (operation.acceptsIdempotencyKey && !headers.has("idempotency-key")) {
      headers.set("idempotency-key", input.idempotencyKey ?? globalThis.crypto.randomUUID());
    }
    const body = input.body === undefined ? undefined : JSON.stringify(input.body);
    if (body !== undefined) headers.set("content-type", "application/json");
    // A request is safe to repeat when the method is, or when the server deduplicates it by Idempotency-Key.
    const safe = operation.idempotent || headers.has("idempotency-key");

    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.#send(operation.method, url, headers, body, input.signal)) as Output<K>;
      } catch (error) {
        if (!(error instanceof CellviError) || !safe || attempt >= this.#maxRetries || !isRetryable(error)) {
          throw error;
        }
        await sleep(backoffMs(attempt, error.retryAfter), input.signal);
      }
    }
  }

  /** Every item of a list operation, page after page (`next_cursor` as `cursor`), lazily. */
  async *paginate<K extends ListOperationId>(
    operationId: K,
    ...args: CallArgs<K>
  ): AsyncGenerator<ItemOf<K>> {
    const input = (args[0] ?? {}) as { query?: Record<string, unknown> } & Record<string, unknown>;
    let cursor: string | null | undefined;
    do {
      const query = { ...input.query, ...(cursor ? { cursor } : {}) };
      const page = (await this.request(operationId, ...([{ ...input, query }] as CallArgs<K>))) as Page;
      for (const item of page.data) yield item as ItemOf<K>;
      cursor = page.has_more ? page.next_cursor : null;
    } while (cursor);
  }

  async #send(
    method: string,
    url: URL,
    headers: Headers,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new CellviError(0, {
        code: "network_error",
        title: "The request did not reach CELLVI or its answer was lost",
        detail: (error as Error).message,
      });
    }
    const text = await response.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { title: text.slice(0, 200) };
      }
    }
    if (response.ok) return parsed;
    const retryAfter = Number(response.headers.get("retry-after"));
    const problem =
      parsed && typeof parsed === "object"
        ? (parsed as Record<string, unknown>)
        : { title: response.statusText };
    throw new CellviError(
      response.status,
      { request_id: response.headers.get("x-request-id") ?? undefined, ...problem },
      Number.isFinite(retryAfter) && response.headers.has("retry-after") ? retryAfter : undefined,
    );
  }
}

/** A client with one method per operation: `client.createOrder(...)`, `client.getOrder(...)`, ... */
export function createClient(options: ClientOptions): CellviClient & OperationMethods {
  const client = new CellviClient(options);
  for (const operationId of Object.keys(operations) as OperationId[]) {
    Object.defineProperty(client, operationId, {
      value: (input?: unknown) => client.request(operationId, ...([input] as CallArgs<typeof operationId>)),
      enumerable: false,
    });
  }
  return client as CellviClient & OperationMethods;
}
