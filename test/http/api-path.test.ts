import { RegExpRouter } from "hono/router/reg-exp-router";
import { TrieRouter } from "hono/router/trie-router";
import { describe, expect, it } from "vitest";
import { isApiPath } from "../../src/app.ts";

describe("the API's paths, where its guards apply", () => {
  it("are exactly the paths Hono's `/v1/*` pattern matches, with either of its routers", () => {
    const paths = [
      "/v1",
      "/v1/",
      "/v1/whoami",
      "/v1//x",
      "/v1/x/",
      "/v1x",
      "/v10/x",
      "/V1/x",
      "//v1/x",
      "/",
      "/healthz",
    ];
    for (const router of [new TrieRouter<string>(), new RegExpRouter<string>()]) {
      router.add("ALL", "/v1/*", "guards");
      for (const path of paths) {
        const matched = router.match("GET", path)[0].length > 0;
        expect(isApiPath(path), `${router.name} ${path}`).toBe(matched);
      }
    }
  });
});
