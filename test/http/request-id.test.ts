import { describe, expect, it } from "vitest";
import { newRequestId } from "../../src/http/request-id.ts";

describe("request ids", () => {
  it("are req_ and 32 hex digits, and distinct across the blocks of random bytes they are cut from", () => {
    // 256 ids per block of random bytes: 1,000 ids cross three block boundaries.
    const ids = Array.from({ length: 1000 }, () => newRequestId());
    for (const id of ids) expect(id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // No id shares a half with another: each one's bytes are drawn once.
    expect(new Set(ids.map((id) => id.slice(4, 20))).size).toBe(ids.length);
  });
});
