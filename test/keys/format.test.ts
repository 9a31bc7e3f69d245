import { describe, expect, it } from "vitest";
import { displayPrefix, generateApiKey, hashApiKey, parseApiKey } from "../../src/domain/keys/format.ts";

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** What a secret scanner would look for. */
const scannerPattern = /\bcvk_(live|test)_[0-9A-Za-z]{38}\b/;

describe("API key format", () => {
  it("is cvk_<mode>_ + 32 base62 random + 6 base62 checksum, recognisable by a scanner", () => {
    for (const mode of ["live", "test"] as const) {
      const key = generateApiKey(mode);
      expect(key).toMatch(new RegExp(`^cvk_${mode}_[0-9A-Za-z]{38}$`));
      expect(`leaked in a log: ${key}.`).toMatch(scannerPattern);
      expect(parseApiKey(key)).toEqual({ mode });
    }
  });

  it("draws the random part uniformly enough and never repeats", () => {
    const keys = Array.from({ length: 2000 }, () => generateApiKey("test"));
    expect(new Set(keys).size).toBe(keys.length);
    const counts = new Map<string, number>();
    for (const key of keys)
      for (const char of key.slice(9, 41)) counts.set(char, (counts.get(char) ?? 0) + 1);
    // 64,000 characters over 62 symbols: about 1,032 each; every symbol appears, none is far off.
    expect(counts.size).toBe(62);
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(800);
      expect(count).toBeLessThan(1300);
    }
  });

  it("rejects every single-character typo and every adjacent swap without a lookup", () => {
    const key = generateApiKey("live");
    let checked = 0;
    for (let i = 9; i < key.length; i++) {
      for (const char of alphabet) {
        if (char === key[i]) continue;
        expect(parseApiKey(key.slice(0, i) + char + key.slice(i + 1))).toBeNull();
        checked++;
      }
      if (i + 1 < key.length && key[i] !== key[i + 1]) {
        expect(parseApiKey(key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2))).toBeNull();
      }
    }
    expect(checked).toBe(38 * 61);
  });

  it("rejects truncated, padded, wrong-prefix and mode-swapped keys", () => {
    const key = generateApiKey("live");
    expect(parseApiKey(key.slice(0, -1))).toBeNull();
    expect(parseApiKey(`${key}A`)).toBeNull();
    expect(parseApiKey(` ${key}`)).toBeNull();
    expect(parseApiKey(key.replace("cvk_", "cvx_"))).toBeNull();
    // The mode is covered by the checksum: turning a test key into a live one does not pass.
    expect(parseApiKey(key.replace("cvk_live_", "cvk_test_"))).toBeNull();
    expect(parseApiKey("")).toBeNull();
  });

  it("stores a SHA-256 hex of the whole key and shows only a short prefix", () => {
    const key = generateApiKey("test");
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey(key)).not.toBe(hashApiKey(generateApiKey("test")));
    const prefix = displayPrefix(key);
    expect(key.startsWith(prefix)).toBe(true);
    // 4 random characters: enough to tell keys apart, 24 bits of 190, useless to an attacker.
    expect(prefix).toHaveLength("cvk_test_".length + 4);
  });
});
