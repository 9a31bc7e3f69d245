import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sha256Bytes, sha256Hex } from "../../src/domain/sha256.ts";

describe("sha256Hex and sha256Bytes", () => {
  it.each([
    ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  ])("digest the known vector of %j", (input, digest) => {
    expect(sha256Hex(input)).toBe(digest);
    expect(sha256Bytes(input).toString("hex")).toBe(digest);
  });

  it("agree with createHash on API keys, tokens and non-ASCII text (hashed as UTF-8)", () => {
    for (const input of ["cvk_test_0123456789abcdefghijABCDEFGHIJ0123456789", "trk_x", "Bogotá ñ 🚚"]) {
      const expected = createHash("sha256").update(input).digest();
      expect(sha256Hex(input)).toBe(expected.toString("hex"));
      expect(sha256Bytes(input).equals(expected)).toBe(true);
    }
  });
});
