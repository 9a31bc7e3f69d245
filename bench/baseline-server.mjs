// The baseline of every benchmark run: a bare node:http "hello world" on the same machine, measured in the same run
// with the same load generator, so the gateway's figures read as a fraction of what Node itself can do here.
import { createServer } from "node:http";

const body = JSON.stringify({ hello: "world" });
const server = createServer((_request, response) => {
  response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  response.end(body);
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
