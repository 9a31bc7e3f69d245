// The framework floor of scenario 1: Hono on @hono/node-server (the gateway's own stack) answering a small JSON
// body with no middleware at all. Measured beside the bare node:http baseline, it shows how much of the gap between
// the baseline and the gateway is the framework and its Node adapter, before any of the gateway's own work.
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const app = new Hono();
app.get("/", (c) => c.json({ hello: "world" }));
const server = serve(
  { fetch: app.fetch, port: Number(process.argv[2] ?? 0), hostname: "127.0.0.1" },
  (info) => {
    process.stdout.write(`${JSON.stringify({ port: info.port })}\n`);
  },
);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
