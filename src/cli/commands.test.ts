import { describe, expect, it } from "vitest";
import { usage } from "./commands.ts";

describe("the CLI's usage text", () => {
  it("lists every command with its summary in a column a terminal can show", () => {
    const text = usage();
    expect(text).toContain("tenants create --name");
    expect(text).toContain("Apply pending database migrations");
    // Padded to the longest usage (connectors create, about 190 characters), a short command's summary started
    // past column 190: the help wrapped into an unreadable block in any terminal.
    for (const line of text.split("\n")) expect(line, line).not.toMatch(/ {61}/);
  });
});
