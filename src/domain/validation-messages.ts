import { z } from "@hono/zod-openapi";

/**
 * The wording of every validation problem the API reports (the `errors` of a 400 `validation_failed`, a batch item's
 * or an import row's errors, a connector's mapping errors), in one Zod error map.
 *
 * Zod's defaults ("Invalid input: expected string, received undefined", "Too small: expected string to have >=1
 * characters") read as a type checker's output. Each message here is a predicate of the field at the entry's `path`
 * ("must not be empty", "must be at least 0 (received -1)"), the same form as the schemas' own messages ("must be an
 * ISO 3166-1 alpha-2 country code"), which keep precedence: Zod uses this map only where a schema says nothing.
 *
 * A received value is quoted only when it cannot be a secret: numbers and booleans, and short strings at a path with
 * no secret-like segment (a `secret`, `token`, `password`, `key`, `credentials`...); otherwise its kind is said ("a
 * string", "a string of 3 characters"), never its content.
 */
export function validationMessage(issue: z.core.$ZodRawIssue): string | undefined {
  const path = issue.path ?? [];
  switch (issue.code) {
    case "invalid_type": {
      const expected = typeName(issue.expected);
      if (issue.input === undefined) return `required: expected ${expected}, but the field is missing`;
      if (issue.expected === "int" && typeof issue.input === "number" && Number.isFinite(issue.input)) {
        return `must be an integer${receivedNumber(issue.input, path)}`;
      }
      return `expected ${expected}, received ${describe(issue.input, path)}`;
    }
    case "too_small": {
      const minimum = Number(issue.minimum);
      if (issue.origin === "string") {
        if (minimum === 1 && !issue.exact) return "must not be empty";
        return `must be ${issue.exact ? "exactly" : "at least"} ${minimum} characters long${lengthOf(issue.input)}`;
      }
      if (issue.origin === "array" || issue.origin === "set") {
        if (minimum === 1 && !issue.exact) return "must contain at least one item (received none)";
        return `must contain ${issue.exact ? "exactly" : "at least"} ${minimum} items${sizeOf(issue.input)}`;
      }
      const bound = issue.exact ? "exactly" : issue.inclusive === false ? "greater than" : "at least";
      return `must be ${bound} ${String(issue.minimum)}${receivedNumber(issue.input, path)}`;
    }
    case "too_big": {
      const maximum = Number(issue.maximum);
      if (issue.origin === "string") {
        return `must be ${issue.exact ? "exactly" : "at most"} ${maximum} characters long${lengthOf(issue.input)}`;
      }
      if (issue.origin === "array" || issue.origin === "set") {
        return `must contain ${issue.exact ? "exactly" : "at most"} ${maximum} items${sizeOf(issue.input)}`;
      }
      const bound = issue.exact ? "exactly" : issue.inclusive === false ? "less than" : "at most";
      return `must be ${bound} ${String(issue.maximum)}${receivedNumber(issue.input, path)}`;
    }
    case "invalid_value": {
      const values = issue.values.map((value) => JSON.stringify(value) ?? String(value));
      const received = describe(issue.input, path);
      if (values.length === 1) return `must be ${values[0]} (received ${received})`;
      return `must be one of ${values.join(", ")} (received ${received})`;
    }
    case "invalid_format":
      return formatMessage(issue);
    case "not_multiple_of":
      return `must be a multiple of ${String(issue.divisor)}${receivedNumber(issue.input, path)}`;
    case "unrecognized_keys":
      return `unknown field${issue.keys.length === 1 ? "" : "s"} ${issue.keys.map((key) => JSON.stringify(key)).join(", ")}: check the name${issue.keys.length === 1 ? "" : "s"} in the API reference (objects are strict)`;
    case "invalid_union":
      return "matches none of the accepted forms: check it against the API reference";
    case "invalid_key":
      return "has a key that is not accepted";
    case "invalid_element":
      return "has a value that is not accepted";
    case "custom":
      return "is not valid";
    default:
      return undefined;
  }
}

/** Zod's type names as a sentence says them. */
function typeName(type: string): string {
  const names: Record<string, string> = {
    string: "a string",
    number: "a number",
    int: "an integer",
    boolean: "true or false",
    object: "an object",
    array: "an array",
    null: "null",
    date: "a date",
    bigint: "an integer",
    record: "an object",
    tuple: "an array",
  };
  return names[type] ?? type;
}

const secretLike = /secret|token|password|passwd|key|credential|authorization|signature|cookie/i;

/** The received value as a message may show it (see `validationMessage`). */
function describe(input: unknown, path: readonly PropertyKey[]): string {
  if (input === undefined) return "nothing";
  if (input === null) return "null";
  if (Array.isArray(input)) return "an array";
  const quotable = !isSecretLike(path);
  if (typeof input === "number") {
    if (Number.isNaN(input)) return "a value that is not a number";
    return quotable ? `the number ${input}` : "a number";
  }
  if (typeof input === "boolean") return quotable ? String(input) : "true or false";
  if (typeof input === "string") {
    return quotable && input.length <= 40 ? `the string ${JSON.stringify(input)}` : "a string";
  }
  if (typeof input === "object") return "an object";
  return typeof input;
}

function isSecretLike(path: readonly PropertyKey[]): boolean {
  return path.some((segment) => typeof segment === "string" && secretLike.test(segment));
}

function lengthOf(input: unknown): string {
  return typeof input === "string" ? ` (received ${input.length})` : "";
}

function sizeOf(input: unknown): string {
  if (Array.isArray(input)) return ` (received ${input.length})`;
  if (input instanceof Set) return ` (received ${input.size})`;
  return "";
}

function receivedNumber(input: unknown, path: readonly PropertyKey[]): string {
  if (isSecretLike(path)) return "";
  return typeof input === "number" || typeof input === "bigint" ? ` (received ${String(input)})` : "";
}

const formats: Record<string, string> = {
  email: "an email address, e.g. ana@example.com",
  url: "a URL, e.g. https://erp.example.com/webhooks/cellvi",
  uuid: "a UUID, e.g. 0b6f5d1e-3c2a-4f7e-9a51-2d7c8e9f0a1b",
  guid: "a UUID, e.g. 0b6f5d1e-3c2a-4f7e-9a51-2d7c8e9f0a1b",
  datetime:
    "a date and time in ISO 8601 with its offset, e.g. 2026-12-06T14:30:00Z or 2026-12-06T09:30:00-05:00",
  date: "a date in ISO 8601, e.g. 2026-12-06",
  time: "a time in ISO 8601, e.g. 14:30:00",
  duration: "an ISO 8601 duration, e.g. PT15M",
  ipv4: "an IPv4 address",
  ipv6: "an IPv6 address",
  base64: "base64",
  base64url: "base64url",
  e164: "a phone number in E.164, e.g. +573001234567",
};

function formatMessage(issue: z.core.$ZodRawIssue<z.core.$ZodIssueInvalidStringFormat>): string {
  switch (issue.format) {
    case "starts_with":
      return `must start with ${JSON.stringify(issue.prefix)}`;
    case "ends_with":
      return `must end with ${JSON.stringify(issue.suffix)}`;
    case "includes":
      return `must contain ${JSON.stringify(issue.includes)}`;
    case "regex":
      return `does not have the expected format (the pattern ${issue.pattern})`;
    default:
      return `must be ${formats[issue.format] ?? `a valid ${issue.format}`}`;
  }
}

// Zod's error map is process-wide by design (like its locales). Installing it where it is defined means every
// process that validates anything a client sees (the app, the CLI's connector worker, the Edge dispatcher) words
// issues the same way, with no entry point to forget: whatever reads these messages imports this module.
z.config({ customError: validationMessage });
