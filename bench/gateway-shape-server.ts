// Scenario 1's third reference point: the gateway's shape with none of its duties. Hono on @hono/node-server with
// the gateway's Node response class (src/http/node-response.ts: headers held, each response ended at the end of its
// event-loop turn), one handler answering at once (as the gateway's router hands Hono a keyed route admitted from
// its key's reserve since session 13: the envelope and `authenticate` joined into one handler, src/app.ts), the
// headers a keyed answer carries (request id, security and RateLimit headers) held as the envelope holds them, but
// fixed, and a fixed body of the size and shape of `GET /v1/whoami`'s. No key check, no limiter, no request id
// drawn, no log line, no metrics. What it costs above the framework floor is what the shape alone costs, so the
// keyed no-op's distance from it is all that its duties cost.
//
// Run as `node --import tsx bench/gateway-shape-server.ts PORT [layers,headers,body]`: the optional second argument
// takes a shape apart for `bench/floor-ab.ts` (`--after gateway:2,none,small`): the number of async middleware
// layers (0, the default; sessions 12 and before: 2, the envelope and `authenticate` as Hono ran them), `held` or
// `none`, `whoami` or `small` (`{"hello":"world"}`).
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { type EnvelopeServerResponse, nodeServerOptions } from "../src/http/node-response.ts";

const [layers = "0", headers = "held", body = "whoami"] = (process.argv[3] ?? "").split(",").filter(Boolean);
if (!/^\d$/.test(layers) || !["held", "none"].includes(headers) || !["whoami", "small"].includes(body)) {
  throw new Error(`unknown shape ${process.argv[3]}: layers,held|none,whoami|small`);
}

/** What a keyed answer's envelope holds (values of the same length as the gateway's). */
const held: [string, string][] = [
  ["ratelimit-policy", '"starter";q=1000000000;w=60'],
  ["ratelimit", '"starter";r=999999999;t=1'],
  ["x-request-id", "req_0123456789abcdef0123456789abcdef"],
  ["x-content-type-options", "nosniff"],
  ["x-frame-options", "DENY"],
  ["referrer-policy", "no-referrer"],
  ["cross-origin-resource-policy", "same-site"],
];
const whoami = {
  key_id: "0b6f5d1e-3c2a-4f7e-9a51-2d7c8e9f0a1b",
  tenant_id: "7d1c2f3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
  mode: "test",
  scopes: [
    "orders:read",
    "orders:write",
    "tracking:read",
    "webhooks:read",
    "webhooks:write",
    "keys:read",
    "keys:write",
  ],
  plan: "starter",
  rate_limit: { limit: 1_000_000_000, window_seconds: 60 },
};

const app = new Hono<{ Bindings: { outgoing: EnvelopeServerResponse } }>();
for (let i = 0; i < Number(layers); i++) {
  app.use("*", async (c, next) => {
    c.set(`layer${i}` as never, true as never);
    await next();
  });
}
app.get("/", (c) => {
  if (headers === "held") for (const [name, value] of held) c.env.outgoing.holdHeader(name, value);
  return c.json(body === "whoami" ? whoami : { hello: "world" });
});
const server = serve(
  {
    fetch: app.fetch,
    port: Number(process.argv[2] ?? 0),
    hostname: "127.0.0.1",
    serverOptions: nodeServerOptions,
  },
  (info) => {
    process.stdout.write(`${JSON.stringify({ port: info.port })}\n`);
  },
);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
