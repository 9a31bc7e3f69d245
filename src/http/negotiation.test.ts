import { describe, expect, it } from "vitest";
import { prefersHtml } from "./negotiation.ts";

describe("prefersHtml", () => {
  it.each([
    ["text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", true],
    ["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true],
    ["text/html", true],
    ["TEXT/HTML", true],
    ["text/html, application/json;q=0.5", true],
    ["text/*;q=0.5, text/html, application/json;q=0.9", true],
  ])("HTML for %s", (accept, expected) => {
    expect(prefersHtml(accept)).toBe(expected);
  });

  it.each([
    [undefined],
    [""],
    ["*/*"],
    ["application/json"],
    ["application/json, text/plain, */*"],
    ["application/json, text/html"],
    ["text/html;q=0.5, application/json"],
    ["text/html;q=0, */*"],
    ["text/*;q=0.5, */*"],
    ["application/problem+json"],
    // Only a header naming text/html can mean HTML (the cheap check): no browser sends text/* alone.
    ["text/*, application/json;q=0.9"],
  ])("JSON for %s", (accept) => {
    expect(prefersHtml(accept)).toBe(false);
  });
});
