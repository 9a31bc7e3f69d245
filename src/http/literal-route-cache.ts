import type { Result, Router } from "hono/router";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { SmartRouter } from "hono/router/smart-router";
import { TrieRouter } from "hono/router/trie-router";

/**
 * Whether a route path names one path only (`/v1/whoami`), not a pattern (`/v1/orders/:id`, `/v1/*`). The app's
 * 405 answers (src/app.ts) and this cache must agree on it.
 */
export function isLiteralPath(path: string): boolean {
  return !/[:*]/.test(path);
}

/** Methods whose results are kept: a client may send any method token, and each would be an entry. */
const cachedMethods = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * Hono's router (the one `new Hono()` builds: RegExpRouter, else TrieRouter, which is the one this app's routes
 * get) with the match of each registered literal path (`/v1/whoami`, not `/v1/orders/:id`) kept per method.
 *
 * The trie walks every request's path through the app's 180-odd routes and the wildcard middleware, and builds the
 * handler list anew: about 3-5 µs per request in process, the same for every request of a path. A router's
 * result depends on the method and path alone, and nothing in Hono changes a result once returned (the trie gives
 * each match fresh parameter objects), so one result per literal path and method is the same answer. Paths with
 * parameters, wildcards and unknown paths are matched every time, as before: the entries are bounded by the
 * registered paths, not by what clients send. A route added after a match empties the cache.
 */
export class LiteralRouteCache<T> implements Router<T> {
  private readonly literalPaths = new Set<string>();
  private readonly results = new Map<string, Map<string, Result<T>>>();

  constructor(
    private readonly inner: Router<T>,
    /** Applied to each result before it is kept or returned (the app joins each match into one handler). */
    private readonly prepare: (result: Result<T>) => Result<T> = (result) => result,
  ) {}

  get name(): string {
    return `${this.inner.name} (literal paths cached)`;
  }

  add(method: string, path: string, handler: T): void {
    this.inner.add(method, path, handler);
    this.results.clear();
    if (isLiteralPath(path)) this.literalPaths.add(path);
  }

  match(method: string, path: string): Result<T> {
    const byMethod = this.results.get(path);
    const kept = byMethod?.get(method);
    if (kept) return kept;
    const result = this.prepare(this.inner.match(method, path));
    if (cachedMethods.has(method) && this.literalPaths.has(path)) {
      if (byMethod) byMethod.set(method, result);
      else this.results.set(path, new Map([[method, result]]));
    }
    return result;
  }
}

/** The router `new Hono()` would build, with its literal paths' matches kept (see LiteralRouteCache). */
export function cachedDefaultRouter<T>(prepare?: (result: Result<T>) => Result<T>): Router<T> {
  return new LiteralRouteCache<T>(
    new SmartRouter({ routers: [new RegExpRouter(), new TrieRouter()] }),
    prepare,
  );
}
