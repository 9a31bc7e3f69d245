import { describe, expect, it } from "vitest";
import {
  crc32,
  crc32ByTable,
  displayPrefix,
  generateApiKey,
  hashApiKey,
  parseApiKey,
} from "../../src/domain/keys/format.ts";

describe("API key format", () => {
  it("computes the standard CRC32", () => {
    expect(crc32("123456789")).toBe(0xcbf43926);
    expect(crc32ByTable("123456789")).toBe(0xcbf43926);
  });

  it("gets the same CRC32 from zlib and from the JavaScript table, over UTF-8 bytes", () => {
    for (const text of ["", "cvk_live_abc", generateApiKey("test").slice(0, -6), "Bogotá ñ 🚚"]) {
      expect(crc32(text)).toBe(crc32ByTable(text));
    }
  });

  it("generates keys with the mode prefix, 32 random characters and a checksum", () => {
    const live = generateApiKey("live");
    expect(live).toMatch(/^cvk_live_[0-9A-Za-z]{38}$/);
    expect(parseApiKey(live)).toEqual({ mode: "live" });
    expect(parseApiKey(generateApiKey("test"))).toEqual({ mode: "test" });
    expect(new Set(Array.from({ length: 1000 }, () => generateApiKey("test"))).size).toBe(1000);
  });

  it("rejects any single-character typo without a lookup", () => {
    const key = generateApiKey("live");
    for (let i = 9; i < key.length; i++) {
      const replacement = key[i] === "a" ? "b" : "a";
      expect(parseApiKey(key.slice(0, i) + replacement + key.slice(i + 1))).toBeNull();
    }
    expect(parseApiKey(key.slice(0, -1))).toBeNull();
    expect(parseApiKey(key.replace("cvk_live_", "cvk_prod_"))).toBeNull();
  });

  it("hashes with SHA-256 and shows only a short prefix", () => {
    const key = generateApiKey("test");
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(displayPrefix(key)).toBe(key.slice(0, 13));
  });
});
