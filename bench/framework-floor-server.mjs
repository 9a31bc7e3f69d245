// The framework floor of scenario 1: Hono on @hono/node-server (the gateway's own stack) answering a small JSON
// body with no middleware at all. Measured beside the bare node:http baseline, it shows how much of the gap between
// the baseline and the gateway is the framework and its Node adapter, before any of the gateway's own work.
//
// An optional second argument gives the floor the shape of the gateway's chains, with nothing in them, for
// `bench/floor-ab.ts`: `async` (the handler answers through a promise, as any app with an async middleware does:
// @hono/node-server then takes its promise path), `middleware` (one async middleware layer before the handler, as
// the envelope is: `/healthz`'s chain) or `middleware2` (two, as the envelope and `authenticate` are: a keyed route's).
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const shape = process.argv[3] ?? "sync";
const app = new Hono();
const layers = { sync: 0, async: 0, middleware: 1, middleware2: 2 }[shape];
if (layers === undefined) throw new Error(`unknown shape ${shape}: sync, async, middleware or middleware2`);
for (let i = 0; i < layers; i++) {
  app.use("*", async (c, next) => {
    c.set(`layer${i}`, true);
    await next();
  });
}
if (shape === "async") app.get("/", async (c) => c.json({ hello: "world" }));
else app.get("/", (c) => c.json({ hello: "world" }));
const server = serve(
  { fetch: app.fetch, port: Number(process.argv[2] ?? 0), hostname: "127.0.0.1" },
  (info) => {
    process.stdout.write(`${JSON.stringify({ port: info.port })}\n`);
  },
);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
