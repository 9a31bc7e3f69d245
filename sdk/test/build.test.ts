import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/** The SDK compiles to plain JavaScript + declarations (`npm run build` in sdk/) that Node runs without tsx. */
const sdkRoot = resolve(fileURLToPath(new URL("..", import.meta.url)));
const outDir = mkdtempSync(join(tmpdir(), "cellvi-sdk-dist-"));

describe("the SDK build", () => {
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it("emits JavaScript that plain Node imports and uses", () => {
    execFileSync(
      resolve(sdkRoot, "../node_modules/.bin/tsc"),
      ["-p", join(sdkRoot, "tsconfig.build.json"), "--outDir", outDir],
      { stdio: "pipe" },
    );
    writeFileSync(join(outDir, "package.json"), '{"type":"module"}');
    const script = `
      const sdk = await import(${JSON.stringify(join(outDir, "index.js"))});
      const client = sdk.createClient({ apiKey: "cvk_test_x", baseUrl: "http://127.0.0.1:9" });
      console.log(JSON.stringify({
        exports: Object.keys(sdk).sort(),
        createOrder: typeof client.createOrder,
        operations: Object.keys(sdk.operations).length,
      }));`;
    const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    const result = JSON.parse(output) as { exports: string[]; createOrder: string; operations: number };
    expect(result.exports).toEqual(
      expect.arrayContaining(["createClient", "verifyWebhook", "CellviError", "WebhookVerificationError"]),
    );
    expect(result.createOrder).toBe("function");
    expect(result.operations).toBeGreaterThan(5);
  }, 60_000);
});
