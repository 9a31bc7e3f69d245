/**
 * Builds an example value from an OpenAPI 3.0 schema, preferring the examples the Zod schemas declare. The
 * document generator uses it so that every request and response has an example even when its author gave
 * examples only field by field (which is how the `.openapi({ example })` calls in our schemas are written).
 */
export interface JsonSchema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  example?: unknown;
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  minItems?: number;
  minLength?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  [key: string]: unknown;
}

const formatExamples: Record<string, unknown> = {
  "date-time": "2026-11-28T14:03:11.512Z",
  date: "2026-11-28",
  uuid: "0b6f5d1e-3c2a-4f7e-9a51-2d7c8e9f0a1b",
  email: "valentina@example.com",
  uri: "https://example.com/webhooks/cellvi",
  url: "https://example.com/webhooks/cellvi",
};

/** Refs deeper than this are cut off, so a recursive schema still ends. */
const maxDepth = 8;

export function exampleFromSchema(
  schema: JsonSchema | undefined,
  components: Record<string, JsonSchema>,
  depth = 0,
): unknown {
  if (!schema || depth > maxDepth) return undefined;
  if (schema.$ref) {
    const name = schema.$ref.replace("#/components/schemas/", "");
    return exampleFromSchema(components[name], components, depth + 1);
  }
  if (schema.example !== undefined) return schema.example;
  if (schema.default !== undefined) return schema.default;
  if (schema.enum && schema.enum.length > 0) return schema.enum[0];
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives && alternatives.length > 0) {
    // A nullable field is often `anyOf: [X, {nullable}]`: the non-null branch makes the more useful example.
    const concrete = alternatives.find((branch) => !(branch.nullable && !branch.type && !branch.$ref));
    return exampleFromSchema(concrete ?? alternatives[0], components, depth + 1);
  }
  if (schema.allOf && schema.allOf.length > 0) {
    const parts = schema.allOf.map((part) => exampleFromSchema(part, components, depth + 1));
    if (parts.every((part) => isRecord(part))) return Object.assign({}, ...parts);
    return parts[0];
  }
  switch (schema.type) {
    case "object":
      return objectExample(schema, components, depth);
    case "array": {
      const item = exampleFromSchema(schema.items, components, depth + 1);
      return item === undefined ? [] : [item];
    }
    case "string":
      if (schema.format && schema.format in formatExamples) return formatExamples[schema.format];
      return "string";
    case "integer":
    case "number":
      return schema.minimum !== undefined && schema.minimum > 0 ? schema.minimum : 1;
    case "boolean":
      return true;
    default:
      if (schema.properties) return objectExample(schema, components, depth);
      return schema.nullable ? null : undefined;
  }
}

function objectExample(
  schema: JsonSchema,
  components: Record<string, JsonSchema>,
  depth: number,
): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  const required = new Set(schema.required ?? []);
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    // Optional fields without an example of their own would only add noise ("string") to the example.
    if (!required.has(name) && !hasOwnExample(property, components)) continue;
    const value = exampleFromSchema(property, components, depth + 1);
    if (value !== undefined) result[name] = value;
  }
  return result;
}

function hasOwnExample(schema: JsonSchema, components: Record<string, JsonSchema>): boolean {
  if (schema.example !== undefined || schema.default !== undefined) return true;
  if (schema.$ref) return true;
  if (schema.type === "object" || schema.type === "array") return true;
  const branches = schema.anyOf ?? schema.oneOf ?? schema.allOf;
  return branches ? branches.some((branch) => hasOwnExample(branch, components)) : false;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
