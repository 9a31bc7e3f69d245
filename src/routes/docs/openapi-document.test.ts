import { describe, expect, it } from "vitest";
import { patternWithoutFlags } from "./openapi-document.ts";
import { exampleFromSchema } from "./schema-example.ts";

describe("patternWithoutFlags", () => {
  it("spells out a case-insensitive flag as ECMA-262 classes", () => {
    const pattern = patternWithoutFlags("^[a-z0-9][a-z0-9-]{0,79}$/i");
    expect(pattern).toBe("^[a-zA-Z0-9][a-zA-Z0-9-]{0,79}$");
    expect(new RegExp(pattern).test("TiendaCafe")).toBe(true);
    expect(new RegExp(patternWithoutFlags("^ab\\d$/i")).test("AB1")).toBe(true);
  });

  it("leaves escapes and patterns without flags alone", () => {
    expect(patternWithoutFlags("^[\\x21-\\x7e]*$")).toBe("^[\\x21-\\x7e]*$");
    expect(patternWithoutFlags("^[\\x41-\\x5a]+$/i")).toBe("^[\\x41-\\x5a]+$");
    expect(patternWithoutFlags("^https://x/abc")).toBe("^https://x/abc");
  });
});

describe("exampleFromSchema", () => {
  const components = {
    Address: {
      type: "object",
      properties: { city: { type: "string", example: "Bogotá" }, note: { type: "string" } },
      required: ["city"],
    },
  };

  it("prefers declared examples, follows refs, and skips optional fields without one", () => {
    const example = exampleFromSchema(
      {
        type: "object",
        properties: {
          id: { type: "string", format: "uuid" },
          status: { type: "string", enum: ["CREATED", "DELIVERED"] },
          destination: { $ref: "#/components/schemas/Address" },
          origin: { allOf: [{ $ref: "#/components/schemas/Address" }], nullable: true, type: "object" },
          packages: {
            type: "array",
            items: { type: "object", properties: { kg: { type: "number", minimum: 0.5 } }, required: ["kg"] },
          },
          optional: { type: "string" },
        },
        required: ["id", "status", "destination", "origin", "packages"],
      },
      components,
    );
    expect(example).toEqual({
      id: "0b6f5d1e-3c2a-4f7e-9a51-2d7c8e9f0a1b",
      status: "CREATED",
      destination: { city: "Bogotá" },
      origin: { city: "Bogotá" },
      packages: [{ kg: 0.5 }],
    });
  });
});
