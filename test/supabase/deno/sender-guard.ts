// Run by test/supabase/deno-sender.test.ts under Deno: does the webhook sender's connection-time SSRF guard (a
// `lookup` hook on node:http agents) hold on the Edge runtime too? Prints one JSON line with both outcomes.
import http from "node:http";
import { createHttpWebhookSender } from "../../../src/adapters/sender/http.ts";

const server = http.createServer((_request, response) => response.end("reached")).listen(0, "127.0.0.1");
await new Promise((resolve) => server.once("listening", resolve));
const { port } = server.address() as { port: number };

const isLoopback = (address: string) =>
  address.startsWith("127.") || address === "::1" ? `loopback ${address}` : null;
const guarded = createHttpWebhookSender({ checkAddress: isLoopback });
const open = createHttpWebhookSender({ checkAddress: () => null });
const request = { url: `http://localhost:${port}/hook`, headers: {}, body: "{}", timeoutMs: 5_000 };
const blocked = await guarded.send(request);
const allowed = await open.send(request);
await guarded.close();
await open.close();
server.close();
console.log(JSON.stringify({ blocked, allowed }));
