import type { Context, MiddlewareHandler } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "../../src/http/problem.ts";
import { createTestContext, serveOnNode, type TestContext } from "../support/app.ts";

/**
 * The router hands Hono each match as one handler, which runs the envelope around the route's layers itself,
 * synchronously while they answer at once (src/app.ts, `joinMatch`). Whatever the layers do, the answer must be the
 * one Hono's own chain gives: each case below states what `compose` does with it, and the app is asked in process
 * and over a Node server (where answers leave at the end of the turn, src/http/node-response.ts).
 */
describe("a match run as one handler answers as Hono's chain would", () => {
  let t: TestContext;
  let node: Awaited<ReturnType<typeof serveOnNode>>;
  const trail: string[] = [];

  const layer =
    (
      name: string,
      options: { before?: "throw" | "answer"; after?: "throw" | "replace" } = {},
    ): MiddlewareHandler =>
    async (c: Context, next) => {
      trail.push(`${name} in ${c.req.param("id") ?? "-"}`);
      if (options.before === "throw") throw new ApiError("conflict", `${name} refused`);
      if (options.before === "answer") return c.text(`${name} answered`, 202);
      await next();
      trail.push(`${name} out ${c.res.status}`);
      if (options.after === "throw") throw new Error(`${name} failed after`);
      if (options.after === "replace") c.res = c.text(`${name} replaced`, 203);
    };

  beforeAll(async () => {
    t = await createTestContext("embedded");
    const app = t.app;
    app.get("/v1/_chain/sync/:id", layer("a"), (c) => c.text(`sync ${c.req.param("id")}`));
    app.get("/v1/_chain/async/:id", layer("a"), async (c) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return c.text(`async ${c.req.param("id")}`);
    });
    app.get("/v1/_chain/handler-throws", layer("a"), () => {
      throw new ApiError("not_found", "nothing here");
    });
    app.get("/v1/_chain/handler-rejects", layer("a"), async () => {
      await Promise.resolve();
      throw new Error("rejected");
    });
    app.get("/v1/_chain/refused", layer("a", { before: "throw" }), (c) => c.text("never"));
    app.get("/v1/_chain/short", layer("a", { before: "answer" }), (c) => c.text("never"));
    app.get("/v1/_chain/after-throws", layer("a", { after: "throw" }), layer("b"), (c) => c.text("made"));
    app.get("/v1/_chain/after-replaces", layer("a", { after: "replace" }), (c) => c.text("made"));
    app.get("/v1/_chain/nothing", layer("a"), (() => undefined) as never);
    app.get("/v1/_chain/next", layer("a"), async (_c, next) => {
      await next();
    });
    app.get(
      "/v1/_chain/next-twice",
      async (_c, next) => {
        trail.push("t in");
        await next();
        trail.push("t again");
        await next();
        trail.push("t never");
      },
      (c) => {
        trail.push("handler");
        return c.text("made once");
      },
    );
    app.get("/_chain/outside/:id", layer("a"), (c) => c.text(`outside ${c.req.param("id")}`));
    // Two routes of one path, each with parameters of its own (as the portal's `/developers/:slug` and
    // `/developers/*`): the first passes on with next().
    app.get("/v1/_chain/two/:name", layer("a"), (c, next) =>
      c.req.param("name") === "skip" ? next() : c.text(`first ${c.req.param("name")}`),
    );
    app.get("/v1/_chain/two/*", (c) => c.text(`second ${c.req.param("name") ?? "-"}`));
    node = await serveOnNode(app);
  });
  afterAll(async () => {
    await node.close();
    await t.close();
  });

  const cases: { path: string; status: number; body: RegExp; trail: string[] }[] = [
    { path: "/v1/_chain/sync/7", status: 200, body: /^sync 7$/, trail: ["a in 7", "a out 200"] },
    { path: "/v1/_chain/async/8", status: 200, body: /^async 8$/, trail: ["a in 8", "a out 200"] },
    // A layer's error is answered as that layer's answer by the error handler; the layers around it go on.
    { path: "/v1/_chain/handler-throws", status: 404, body: /nothing here/, trail: ["a in -", "a out 404"] },
    {
      path: "/v1/_chain/handler-rejects",
      status: 500,
      body: /internal_error/,
      trail: ["a in -", "a out 500"],
    },
    { path: "/v1/_chain/refused", status: 409, body: /a refused/, trail: ["a in -"] },
    { path: "/v1/_chain/short", status: 202, body: /^a answered$/, trail: ["a in -"] },
    {
      path: "/v1/_chain/after-throws",
      status: 500,
      body: /internal_error/,
      trail: ["a in -", "b in -", "b out 200", "a out 200"],
    },
    { path: "/v1/_chain/after-replaces", status: 203, body: /^a replaced$/, trail: ["a in -", "a out 200"] },
    // No layer answered: Hono's "Context is not finalized", answered by the error handler (the layer saw the
    // context's default answer).
    { path: "/v1/_chain/nothing", status: 500, body: /internal_error/, trail: ["a in -", "a out 200"] },
    // The chain's end reached by next(): the app's not-found answer (a 405 here, since the path has a GET route).
    { path: "/v1/_chain/next", status: 405, body: /method_not_allowed/, trail: ["a in -", "a out 405"] },
    // A second next() is refused ("next() called multiple times"): the handler below runs once, and the layer's
    // rejection is answered by the error handler.
    {
      path: "/v1/_chain/next-twice",
      status: 500,
      body: /internal_error/,
      trail: ["t in", "handler", "t again"],
    },
    { path: "/_chain/outside/9", status: 200, body: /^outside 9$/, trail: ["a in 9", "a out 200"] },
    { path: "/v1/_chain/two/x", status: 200, body: /^first x$/, trail: ["a in -", "a out 200"] },
    { path: "/v1/_chain/two/skip", status: 200, body: /^second -$/, trail: ["a in -", "a out 200"] },
  ];

  for (const { path, status, body, trail: expected } of cases) {
    it(`${path}: ${status}, in process and over a socket`, async () => {
      for (const send of [() => t.request(path), () => fetch(`${node.base}${path}`)]) {
        trail.length = 0;
        const res = await send();
        expect(res.status).toBe(status);
        expect(await res.text()).toMatch(body);
        expect(trail).toEqual(expected);
        // The envelope wraps every answer, whatever produced it.
        expect(res.headers.get("x-request-id")).toMatch(/^req_/);
        expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      }
    });
  }

  it("answers a burst over one server in order, each request its own answer", async () => {
    const answers = await Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        fetch(`${node.base}/v1/_chain/sync/${i}`).then(async (res) => [res.status, await res.text()]),
      ),
    );
    expect(answers).toEqual(Array.from({ length: 64 }, (_, i) => [200, `sync ${i}`]));
  });
});
