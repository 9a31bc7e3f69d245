import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { errorCatalog } from "../../src/http/problem.ts";
import { postmanCollection } from "../../src/portal/postman.ts";
import { apiVersion } from "../../src/routes/docs/document-cache.ts";
import {
  buildOpenApiDocument,
  httpMethods,
  type OpenApiDocument,
  type Operation,
} from "../../src/routes/docs/openapi-document.ts";
import { deliveredEventTypes } from "../../src/routes/docs/webhook-events.ts";
import { createTestContext, type TestContext } from "../support/app.ts";

/** What the issue asks of every operation, checked on the document the running app serves. */
describe("the OpenAPI document", () => {
  let ctx: TestContext;
  let document: OpenApiDocument;
  const operations: { method: string; path: string; operation: Operation }[] = [];
  beforeAll(async () => {
    ctx = await createTestContext("embedded");
    const response = await ctx.request("/openapi.json");
    expect(response.status).toBe(200);
    document = (await response.json()) as OpenApiDocument;
    for (const [path, item] of Object.entries(document.paths)) {
      for (const method of httpMethods) {
        const operation = item[method];
        if (operation) operations.push({ method, path, operation });
      }
    }
  }, 60_000);
  afterAll(async () => {
    await ctx?.close();
  });

  it("is OpenAPI 3.0.3 for this deployment's base URL, built from the app's routes", () => {
    expect(document.openapi).toBe("3.0.3");
    expect(document.info.version).toBe(apiVersion);
    expect(document.servers?.[0]?.url).toBe(ctx.services.config.publicBaseUrl);
    expect(document).toEqual(
      JSON.parse(
        JSON.stringify(buildOpenApiDocument(ctx.app, { baseUrl: "http://cellvi.test", version: apiVersion })),
      ),
    );
    for (const path of [
      "/v1/orders/create",
      "/v1/orders",
      "/v1/orders/{id}",
      "/v1/tracking/{tracking_number}",
    ]) {
      expect(Object.keys(document.paths)).toContain(path);
    }
  });

  it("serves the same document as YAML", async () => {
    const response = await ctx.request("/openapi.yaml");
    expect(response.headers.get("content-type")).toContain("application/yaml");
    expect(parse(await response.text())).toEqual(document);
  });

  it("gives every operation an id, summary, description, security and examples", () => {
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { method, path, operation } of operations) {
      const name = `${method.toUpperCase()} ${path}`;
      expect(operation.operationId, name).toMatch(/^[a-zA-Z][a-zA-Z0-9]*$/);
      expect(operation.summary?.length, `${name} summary`).toBeGreaterThan(3);
      expect(operation.description?.length, `${name} description`).toBeGreaterThan(10);
      expect(Array.isArray(operation.security), `${name} security`).toBe(true);
      for (const [mediaType, media] of Object.entries(operation.requestBody?.content ?? {})) {
        expect(media.example ?? media.examples, `${name} request example (${mediaType})`).toBeDefined();
      }
      expect(
        Object.keys(operation.responses).some((status) => /^2\d\d$/.test(status)),
        `${name} has a success response`,
      ).toBe(true);
      for (const [status, response] of Object.entries(operation.responses)) {
        expect(response.headers?.["X-Request-Id"], `${name} ${status} X-Request-Id`).toBeDefined();
        for (const [mediaType, media] of Object.entries(response.content ?? {})) {
          expect(media.example ?? media.examples, `${name} ${status} example (${mediaType})`).toBeDefined();
        }
      }
    }
  });

  it("documents errors as problem+json, with one example per declared code", () => {
    for (const { method, path, operation } of operations) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (!/^[45]\d\d$/.test(status) || path === "/readyz") continue;
        const media = response.content?.["application/problem+json"];
        expect(media, `${method} ${path} ${status} is problem+json`).toBeDefined();
        const examples = Object.entries(media?.examples ?? {});
        expect(examples.length, `${method} ${path} ${status} examples`).toBeGreaterThan(0);
        for (const [code, example] of examples) {
          const value = example.value as { status: number; code: string; type: string };
          expect(errorCatalog[code as keyof typeof errorCatalog]?.status).toBe(Number(status));
          expect(value.code).toBe(code);
          expect(value.type).toBe(`http://cellvi.test/developers/errors#${code.replaceAll("_", "-")}`);
        }
      }
    }
  });

  it("puts the rate-limit headers on every keyed operation, and Retry-After on its 429", () => {
    const keyed = operations.filter(({ operation }) =>
      (operation.security ?? []).some((requirement) => Object.keys(requirement).length > 0),
    );
    expect(keyed.length).toBeGreaterThan(3);
    for (const { method, path, operation } of keyed) {
      const name = `${method.toUpperCase()} ${path}`;
      const tooMany = operation.responses["429"];
      expect(tooMany, `${name} documents 429`).toBeDefined();
      expect(tooMany?.headers?.["Retry-After"], `${name} 429 Retry-After`).toBeDefined();
      for (const [status, response] of Object.entries(operation.responses)) {
        if (status === "401") continue;
        expect(response.headers?.RateLimit, `${name} ${status} RateLimit`).toBeDefined();
        expect(response.headers?.["RateLimit-Policy"], `${name} ${status} RateLimit-Policy`).toBeDefined();
      }
    }
    for (const name of ["RateLimit", "RateLimit-Policy", "Retry-After", "X-Request-Id"]) {
      expect(document.components.headers?.[name]).toBeDefined();
    }
  });

  it("sends the documented headers on a real keyed response", async () => {
    const { apiKey } = await ctx.newTenant();
    const response = await ctx.request("/v1/orders?limit=1", { key: apiKey });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toMatch(/^req_/);
    expect(response.headers.get("ratelimit")).toMatch(/;r=\d+;t=\d+$/);
    expect(response.headers.get("ratelimit-policy")).toMatch(/;q=\d+;w=\d+$/);
  });

  it("documents every webhook event type with a schema and an example, and the subscribe callback", () => {
    const webhooks = document["x-webhooks"] ?? {};
    expect(Object.keys(webhooks).sort()).toEqual([...deliveredEventTypes].sort());
    for (const type of deliveredEventTypes) {
      const body = webhooks[type]?.post?.requestBody?.content["application/json"];
      expect(body?.schema?.$ref, type).toMatch(/^#\/components\/schemas\/WebhookEvent/);
      expect((body?.example as { type?: string } | undefined)?.type).toBe(type);
      const schemaName = body!.schema!.$ref!.split("/").pop()!;
      expect(document.components.schemas?.[schemaName]).toBeDefined();
      const headers = (webhooks[type]?.post?.parameters ?? []).map((parameter) => parameter.name);
      expect(headers).toEqual(["webhook-id", "webhook-timestamp", "webhook-signature"]);
    }
    const subscribe = document.paths["/v1/webhooks/subscribe"]?.post;
    expect(subscribe?.callbacks?.webhookEvent).toBeDefined();
  });

  it("converts to a Postman collection with every operation", async () => {
    const collection = postmanCollection(document) as { item: { item: { request: { method: string } }[] }[] };
    const requests = collection.item.flatMap((folder) => folder.item);
    expect(requests.length).toBe(operations.length);
    const response = await ctx.request("/developers/postman.json");
    expect(response.headers.get("content-disposition")).toContain("attachment");
    expect(await response.json()).toEqual(collection);
  });
});
