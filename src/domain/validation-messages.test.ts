import { z } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import "./validation-messages.ts";

function messages(schema: z.ZodType, input: unknown): Record<string, string> {
  const result = schema.safeParse(input);
  if (result.success) throw new Error("expected a failure");
  return Object.fromEntries(result.error.issues.map((issue) => [`/${issue.path.join("/")}`, issue.message]));
}

describe("validation messages (the API's Zod error map)", () => {
  const schema = z.strictObject({
    name: z.string().trim().min(1).max(5),
    code: z.string().min(3),
    count: z.number().int().min(0).max(10),
    weight: z.number().positive(),
    level: z.enum(["standard", "express"]),
    items: z.array(z.string()).min(1).max(2),
    email: z.email(),
    at: z.iso.datetime(),
    country: z
      .string()
      .regex(/^[A-Z]{2}$/, "must be an ISO 3166-1 alpha-2 country code in capitals, e.g. CO"),
  });

  it("says what was expected and what was received, as a predicate of the field", () => {
    expect(
      messages(schema, {
        name: "  ",
        code: "ab",
        count: 2.5,
        weight: -1,
        level: "fast",
        items: [],
        email: "nope",
        at: "yesterday",
        country: "Colombia",
      }),
    ).toEqual({
      "/name": "must not be empty",
      "/code": "must be at least 3 characters long (received 2)",
      "/count": "must be an integer (received 2.5)",
      "/weight": "must be greater than 0 (received -1)",
      "/level": 'must be one of "standard", "express" (received the string "fast")',
      "/items": "must contain at least one item (received none)",
      "/email": "must be an email address, e.g. ana@example.com",
      "/at":
        "must be a date and time in ISO 8601 with its offset, e.g. 2026-12-06T14:30:00Z or 2026-12-06T09:30:00-05:00",
      // A schema's own message keeps precedence.
      "/country": "must be an ISO 3166-1 alpha-2 country code in capitals, e.g. CO",
    });
  });

  it("names a missing field, a wrong type and upper bounds", () => {
    expect(
      messages(schema, { name: "toolong", count: 11, level: 3, items: ["a", "b", "c"], weight: "1.2" }),
    ).toMatchObject({
      "/name": "must be at most 5 characters long (received 7)",
      "/code": "required: expected a string, but the field is missing",
      "/count": "must be at most 10 (received 11)",
      "/level": 'must be one of "standard", "express" (received the number 3)',
      "/items": "must contain at most 2 items (received 3)",
      "/weight": 'expected a number, received the string "1.2"',
    });
    expect(messages(schema, null)).toEqual({ "/": "expected an object, received null" });
  });

  it("never quotes a value at a secret-like path", () => {
    const secrets = z.strictObject({
      hook_token: z.enum(["a", "b"]),
      api_key: z.number(),
      credentials: z.strictObject({ pin: z.number().max(10) }),
    });
    const found = messages(secrets, {
      hook_token: "tok_live_supersecret",
      api_key: "sk_live_abcdef",
      credentials: { pin: 987654 },
    });
    expect(found).toEqual({
      "/hook_token": 'must be one of "a", "b" (received a string)',
      "/api_key": "expected a number, received a string",
      "/credentials/pin": "must be at most 10",
    });
  });
});
