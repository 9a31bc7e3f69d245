import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvelopeServerResponse } from "../../src/http/node-response.ts";
import { rawExchange, stableHead } from "../support/raw-http.ts";

/**
 * EnvelopeServerResponse holds the envelope's headers and writes them with the response's own in one writeHead.
 * Each scenario below does the same things to a response on two servers, one with Node's ServerResponse (where a
 * held header is a setHeader) and one with EnvelopeServerResponse, and the heads must be the same bytes.
 */

type Scenario = (res: ServerResponse, hold: (name: string, value: string) => void) => void;

const scenarios: Record<string, Scenario> = {
  "held headers, then the response's own record": (res, hold) => {
    hold("ratelimit-policy", '"default";q=100;w=60');
    hold("x-request-id", "req_1");
    hold("x-frame-options", "DENY");
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": 2 });
    res.end("{}");
  },
  "a held header set again keeps its place and takes the later value": (res, hold) => {
    hold("x-one", "1");
    hold("x-two", "2");
    hold("x-one", "uno");
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  },
  "the response's own value and spelling win, in the held header's place": (res, hold) => {
    hold("cross-origin-resource-policy", "same-site");
    hold("x-content-type-options", "nosniff");
    res.writeHead(200, {
      "Cross-Origin-Resource-Policy": "cross-origin",
      "Content-Type": "text/html",
      "": "x",
    });
    res.end("<p>");
  },
  "own headers named twice in different case": (res, hold) => {
    hold("x-held", "h");
    res.writeHead(201, { "X-Own": "a", "x-own": "b", "content-type": "text/plain" });
    res.end("created");
  },
  "a reason phrase and a list of cookies": (res, hold) => {
    hold("x-held", "h");
    res.writeHead(200, "Fine", { "set-cookie": ["a=1", "b=2"], "content-type": "text/plain" });
    res.end("ok");
  },
  "no headers of the response's own": (res, hold) => {
    hold("x-held", "h");
    res.writeHead(204);
    res.end();
  },
  "the head written implicitly by end()": (res, hold) => {
    hold("x-held", "h");
    res.statusCode = 404;
    res.end("missing");
  },
  "setHeader between held headers keeps the order of the calls": (res, hold) => {
    hold("x-first", "1");
    res.setHeader("X-Second", "2");
    hold("x-third", "3");
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  },
  "getHeader and hasHeader see held headers; removeHeader removes one": (res, hold) => {
    hold("x-kept", "k");
    hold("x-gone", "g");
    res.setHeader(
      "x-seen",
      `${res.getHeader("x-kept")}/${res.hasHeader("X-Gone")}/${res.hasHeader("x-none")}`,
    );
    res.removeHeader("x-gone");
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  },
  "a list of the response's own headers": (res, hold) => {
    hold("x-held", "h");
    res.writeHead(200, ["X-Listed", "1", "content-type", "text/plain"]);
    res.end("ok");
  },
  "getHeaders lists held headers": (res, hold) => {
    hold("x-held", "h");
    res.setHeader("x-names", Object.keys(res.getHeaders()).join(","));
    res.end("ok");
  },
};

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

function serverWith(kind: "plain" | "envelope"): Server {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const scenario = scenarios[decodeURIComponent((req.url ?? "/").slice(1))];
    if (!scenario) throw new Error(`no scenario ${req.url}`);
    const hold =
      kind === "envelope"
        ? (name: string, value: string) => (res as EnvelopeServerResponse).holdHeader(name, value)
        : (name: string, value: string) => void res.setHeader(name, value);
    scenario(res, hold);
  };
  return kind === "envelope"
    ? createServer({ ServerResponse: EnvelopeServerResponse }, handler)
    : createServer(handler);
}

describe("EnvelopeServerResponse: held headers on the wire as setHeader would have put them", () => {
  const plain = serverWith("plain");
  const envelope = serverWith("envelope");
  let plainPort = 0;
  let envelopePort = 0;
  beforeAll(async () => {
    plainPort = await listen(plain);
    envelopePort = await listen(envelope);
  });
  afterAll(async () => {
    await new Promise((resolve) => plain.close(resolve));
    await new Promise((resolve) => envelope.close(resolve));
  });

  it.each(Object.keys(scenarios))("%s", async (name) => {
    const request = `GET /${encodeURIComponent(name)} HTTP/1.1\r\nHost: test\r\n\r\n`;
    const before = await rawExchange(plainPort, request);
    const after = await rawExchange(envelopePort, request);
    expect(stableHead(after.head)).toEqual(stableHead(before.head));
    expect(after.body).toBe(before.body);
  });

  it("writes held headers with writeHead's own list, leaving the response's header map empty", async () => {
    const seen = new Promise<string[]>((resolve) => {
      const server = createServer({ ServerResponse: EnvelopeServerResponse }, (_req, res) => {
        (res as EnvelopeServerResponse).holdHeader("x-held", "h");
        res.writeHead(200, { "content-type": "text/plain" });
        // Node keeps headers given to writeHead as a list out of its header map.
        const names = Object.keys(
          (res as unknown as { [key: symbol]: Record<string, unknown> | null })[
            Object.getOwnPropertySymbols(res).find((symbol) => symbol.description === "kOutHeaders") as symbol
          ] ?? {},
        );
        res.end("ok");
        server.close();
        resolve(names);
      });
      void listen(server).then((port) => rawExchange(port, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    });
    expect(await seen).toEqual([]);
  });
});
