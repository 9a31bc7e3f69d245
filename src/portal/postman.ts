import { httpMethods, type OpenApiDocument, type Operation } from "../routes/docs/openapi-document.ts";

/**
 * A Postman collection (format v2.1) generated from the OpenAPI document: one folder per tag, one request per
 * operation with its example body, and the success example as a saved response. Variables `baseUrl` and `apiKey`
 * are set once for the whole collection. Deterministic (no random ids), so the committed copy can be checked for
 * staleness like the document itself.
 */
interface PostmanItem {
  name: string;
  request: Record<string, unknown>;
  response: Record<string, unknown>[];
}

const schemaUrl = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

function exampleOf(media: { example?: unknown; examples?: Record<string, { value: unknown }> } | undefined) {
  if (!media) return undefined;
  if (media.example !== undefined) return media.example;
  const first = Object.values(media.examples ?? {})[0];
  return first?.value;
}

function requestItem(method: string, path: string, operation: Operation): PostmanItem {
  const parameters = operation.parameters ?? [];
  const pathSegments = path
    .split("/")
    .filter(Boolean)
    .map((segment) => segment.replace(/^\{(.+)\}$/, ":$1"));
  const query = parameters
    .filter((p) => p.in === "query")
    .map((p) => ({
      key: p.name,
      value: String(p.example ?? p.schema?.example ?? ""),
      description: p.description ?? "",
      disabled: !p.required,
    }));
  const header: { key: string; value: string; description?: string }[] = parameters
    .filter((p) => p.in === "header")
    .map((p) => ({
      key: p.name,
      // A fresh idempotency key per send: the point of the header is that retries reuse it, not every request.
      value: p.name.toLowerCase() === "idempotency-key" ? "{{$guid}}" : String(p.schema?.example ?? ""),
      description: p.description ?? "",
    }));
  const bodyMedia = operation.requestBody?.content["application/json"];
  const body = exampleOf(bodyMedia);
  if (body !== undefined) header.push({ key: "Content-Type", value: "application/json" });
  const queryString = query
    .filter((q) => !q.disabled)
    .map((q) => `${q.key}=${q.value}`)
    .join("&");
  const url = {
    raw: `{{baseUrl}}/${pathSegments.join("/")}${queryString ? `?${queryString}` : ""}`,
    host: ["{{baseUrl}}"],
    path: pathSegments,
    ...(query.length > 0 ? { query } : {}),
    variable: parameters
      .filter((p) => p.in === "path")
      .map((p) => ({
        key: p.name,
        value: String(p.example ?? p.schema?.example ?? ""),
        description: p.description ?? "",
      })),
  };
  const isPublic = (operation.security ?? []).every((requirement) => Object.keys(requirement).length === 0);
  const request: Record<string, unknown> = {
    method: method.toUpperCase(),
    header,
    url,
    description: operation.description ?? "",
    ...(isPublic ? { auth: { type: "noauth" } } : {}),
    ...(body !== undefined
      ? { body: { mode: "raw", raw: JSON.stringify(body, null, 2), options: { raw: { language: "json" } } } }
      : {}),
  };
  const response: Record<string, unknown>[] = [];
  const success = Object.entries(operation.responses).find(([status]) => /^2\d\d$/.test(status));
  if (success) {
    const [status, definition] = success;
    const [mediaType, media] = Object.entries(definition.content ?? {})[0] ?? [];
    const example = exampleOf(media);
    if (mediaType && example !== undefined) {
      response.push({
        name: definition.description,
        originalRequest: { method: method.toUpperCase(), header, url },
        status: definition.description,
        code: Number(status),
        _postman_previewlanguage: "json",
        header: [{ key: "Content-Type", value: mediaType }],
        body: JSON.stringify(example, null, 2),
      });
    }
  }
  return { name: operation.summary ?? `${method.toUpperCase()} ${path}`, request, response };
}

export function postmanCollection(document: OpenApiDocument): Record<string, unknown> {
  const folders = new Map<string, PostmanItem[]>();
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of httpMethods) {
      const operation = item[method];
      if (!operation) continue;
      const folder = operation.tags?.[0] ?? "Other";
      folders.set(folder, [...(folders.get(folder) ?? []), requestItem(method, path, operation)]);
    }
  }
  const tagDescriptions = new Map((document.tags ?? []).map((tag) => [tag.name, tag.description]));
  const info = document.info as { title: string; version: string; description?: string };
  return {
    info: {
      name: info.title,
      description: `${info.description ?? ""}\n\nSet the collection variable \`apiKey\` to your test key (\`cvk_test_...\`). Version ${info.version}.`,
      schema: schemaUrl,
    },
    auth: { type: "bearer", bearer: [{ key: "token", value: "{{apiKey}}", type: "string" }] },
    variable: [
      { key: "baseUrl", value: document.servers?.[0]?.url ?? "http://localhost:8080", type: "string" },
      { key: "apiKey", value: "cvk_test_replace_me", type: "string" },
    ],
    item: [...folders].map(([name, items]) => ({
      name,
      description: tagDescriptions.get(name) ?? "",
      item: items,
    })),
  };
}
