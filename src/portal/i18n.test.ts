import { describe, expect, it } from "vitest";
import { preferredLanguage } from "./i18n.ts";

describe("preferredLanguage", () => {
  it("picks the first supported language by q value, Spanish by default", () => {
    expect(preferredLanguage(undefined)).toBe("es");
    expect(preferredLanguage("")).toBe("es");
    expect(preferredLanguage("en-US,en;q=0.9")).toBe("en");
    expect(preferredLanguage("es-CO,es;q=0.9,en;q=0.8")).toBe("es");
    expect(preferredLanguage("fr-FR,en;q=0.5,es;q=0.7")).toBe("es");
    expect(preferredLanguage("de,en;q=0")).toBe("es");
    expect(preferredLanguage("pt-BR")).toBe("es");
  });
});
