import type { Result, Router } from "hono/router";
import { TrieRouter } from "hono/router/trie-router";
import { describe, expect, it } from "vitest";
import { cachedDefaultRouter, LiteralRouteCache } from "./literal-route-cache.ts";

/** A trie router that counts its matches. */
function countingTrie(): { router: Router<string>; matches: () => number } {
  const inner = new TrieRouter<string>();
  let count = 0;
  const router: Router<string> = {
    name: inner.name,
    add: (method, path, handler) => inner.add(method, path, handler),
    match: (method, path) => {
      count++;
      return inner.match(method, path);
    },
  };
  return { router, matches: () => count };
}

function routes(router: Router<string>): void {
  router.add("ALL", "*", "envelope");
  router.add("ALL", "/v1/*", "guards");
  router.add("GET", "/v1/whoami", "whoami");
  router.add("POST", "/v1/orders/create", "create");
  router.add("GET", "/v1/orders/:id", "get-order");
}

/** A result as handlers with their parameters, whatever the router's result shape (RegExpRouter's: indexes). */
function handlers(result: Result<string>): Array<[string, Record<string, string>]> {
  const stash = result[1];
  return result[0].map(([handler, params]) => [
    handler,
    Object.fromEntries(
      Object.entries(params).map(([name, value]) => [
        name,
        stash ? (stash[value as number] as string) : value,
      ]),
    ),
  ]);
}

describe("LiteralRouteCache", () => {
  it("answers a registered literal path as the router does, matching it once per method", () => {
    const { router, matches } = countingTrie();
    const cache = new LiteralRouteCache(router);
    routes(cache);
    const plain = new TrieRouter<string>();
    routes(plain);
    for (let i = 0; i < 3; i++) {
      expect(handlers(cache.match("GET", "/v1/whoami"))).toEqual(handlers(plain.match("GET", "/v1/whoami")));
      // A literal path another route's pattern also fits: the same answer as the router's, per method.
      expect(handlers(cache.match("GET", "/v1/orders/create"))).toEqual(
        handlers(plain.match("GET", "/v1/orders/create")),
      );
      expect(handlers(cache.match("POST", "/v1/orders/create"))).toEqual(
        handlers(plain.match("POST", "/v1/orders/create")),
      );
    }
    expect(handlers(cache.match("GET", "/v1/whoami")).map(([name]) => name)).toEqual([
      "envelope",
      "guards",
      "whoami",
    ]);
    expect(matches()).toBe(3);
  });

  it("matches paths with parameters, unknown paths and unusual methods every time (nothing kept for them)", () => {
    const { router, matches } = countingTrie();
    const cache = new LiteralRouteCache(router);
    routes(cache);
    for (let i = 0; i < 2; i++) {
      expect(handlers(cache.match("GET", `/v1/orders/order-${i}`))).toEqual([
        ["envelope", {}],
        ["guards", {}],
        ["get-order", { id: `order-${i}` }],
      ]);
      expect(handlers(cache.match("GET", "/v1/no-such-path")).map(([name]) => name)).toEqual([
        "envelope",
        "guards",
      ]);
      cache.match("BREW", "/v1/whoami");
      cache.match("GET", "/v1/whoami/");
    }
    expect(matches()).toBe(8);
  });

  it("forgets what it kept when a route is added after a match", () => {
    const cache = new LiteralRouteCache(new TrieRouter<string>());
    routes(cache);
    expect(handlers(cache.match("GET", "/v1/whoami")).map(([name]) => name)).toEqual([
      "envelope",
      "guards",
      "whoami",
    ]);
    cache.add("GET", "/v1/whoami", "second");
    expect(handlers(cache.match("GET", "/v1/whoami")).map(([name]) => name)).toEqual([
      "envelope",
      "guards",
      "whoami",
      "second",
    ]);
  });

  it("wraps the router Hono builds by default", () => {
    const router = cachedDefaultRouter<string>();
    routes(router);
    expect(handlers(router.match("GET", "/v1/orders/42"))).toEqual([
      ["envelope", {}],
      ["guards", {}],
      ["get-order", { id: "42" }],
    ]);
    expect(router.name).toMatch(/^SmartRouter \+ \w+Router \(literal paths cached\)$/);
  });
});
