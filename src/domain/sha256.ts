import * as nodeCrypto from "node:crypto";

/**
 * SHA-256 of a string, for the per-request hashes (the presented API key, the tracking token). Node's one-shot
 * `crypto.hash` (Node 20.12+) costs about a third of `createHash().update().digest()`, which builds a Hash
 * object and a stream for every call: measured 1.7-2.0 µs against 4.7-5.7 µs here. Runtimes without it (older
 * Deno) get the same digest the long way.
 */
type OneShot = (algorithm: string, data: string, outputEncoding: "hex" | "buffer") => string | Buffer;
const oneShot = (nodeCrypto as unknown as { hash?: OneShot }).hash;

export function sha256Hex(data: string): string {
  return oneShot
    ? (oneShot("sha256", data, "hex") as string)
    : nodeCrypto.createHash("sha256").update(data).digest("hex");
}

export function sha256Bytes(data: string): Buffer {
  return oneShot
    ? (oneShot("sha256", data, "buffer") as Buffer)
    : nodeCrypto.createHash("sha256").update(data).digest();
}
