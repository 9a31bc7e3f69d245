import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { projectPath } from "./project-root.ts";

describe("projectPath", () => {
  it("resolves from the checkout's root, where the service's run-time files are", () => {
    const manifest = JSON.parse(readFileSync(projectPath("package.json"), "utf8")) as { name: string };
    expect(manifest.name).toBe("cellvi-connect");
    expect(existsSync(projectPath("supabase/migrations/0001_foundation.sql"))).toBe(true);
    expect(existsSync(projectPath("src/portal/assets/portal.css"))).toBe(true);
  });
});
