import { connect } from "node:net";

/**
 * Sends one raw HTTP/1.1 request and returns the response's head as its lines, exactly as they came off the socket
 * (header order and spelling included), and the body bytes that followed (by Content-Length, when there is one).
 */
export function rawExchange(port: number, request: string): Promise<{ head: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf("\r\n\r\n");
      if (end === -1) return;
      const head = received.subarray(0, end).toString("latin1").split("\r\n");
      const lengthLine = head.find((line) => /^content-length:/i.test(line));
      const length = lengthLine ? Number(lengthLine.split(":")[1]) : 0;
      const isHead = request.startsWith("HEAD ");
      if (!isHead && received.length < end + 4 + length) return;
      socket.destroy();
      resolve({ head, body: isHead ? "" : received.subarray(end + 4, end + 4 + length).toString("utf8") });
    });
    socket.on("error", reject);
    socket.write(request);
  });
}

/** A head's lines with what changes from one response to the next made fixed: the date, the RateLimit state. */
export function stableHead(head: string[]): string[] {
  return head.map((line) =>
    line.replace(/^(date): .*$/i, "$1: <date>").replace(/^(ratelimit: .*);r=\d+;t=\d+$/i, "$1;r=<n>;t=<n>"),
  );
}
