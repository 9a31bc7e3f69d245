import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import {
  edgeEnvironment,
  edgeStartupWarnings,
  onSupabaseEdge,
  withoutFunctionPrefix,
} from "../../supabase/functions/_shared/edge.ts";

// The Edge entries' runtime wiring, which the contract run exercises only through a plain `deno run`: what
// Supabase's own environment and routing look like is covered here.
describe("the Edge environment", () => {
  it("takes the database and the public address from what Supabase injects into every function", () => {
    const env = edgeEnvironment(
      {
        SUPABASE_URL: "https://abcdefghijklmnop.supabase.co/",
        SUPABASE_DB_URL: "postgresql://postgres:pw@db.abcdefghijklmnop.supabase.co:5432/postgres",
      },
      "api-gateway",
    );
    expect(env.DATABASE_URL).toBe("postgresql://postgres:pw@db.abcdefghijklmnop.supabase.co:5432/postgres");
    expect(env.PUBLIC_BASE_URL).toBe("https://abcdefghijklmnop.supabase.co/functions/v1/api-gateway");
    expect(env.DATABASE_POOL_MAX).toBe("3");
    // The transaction pooler cannot keep named prepared statements.
    expect(env.DATABASE_PREPARED_STATEMENTS).toBe("false");
  });

  it("lets explicit secrets win over Supabase's defaults", () => {
    const env = edgeEnvironment(
      {
        SUPABASE_URL: "https://abcdefghijklmnop.supabase.co",
        SUPABASE_DB_URL: "postgresql://direct",
        DATABASE_URL: "postgresql://pooler:6543/postgres",
        PUBLIC_BASE_URL: "https://api.example.com",
        DATABASE_POOL_MAX: "5",
      },
      "api-gateway",
    );
    expect(env).toMatchObject({
      DATABASE_URL: "postgresql://pooler:6543/postgres",
      PUBLIC_BASE_URL: "https://api.example.com",
      DATABASE_POOL_MAX: "5",
    });
  });

  it("knows it is not inside Supabase's Edge Runtime here", () => {
    expect(onSupabaseEdge).toBe(false);
  });
});

describe("the function's path prefix", () => {
  const strip = (url: string) => new URL(withoutFunctionPrefix(new Request(url), "api-gateway").url);

  it("is removed, keeping the rest of the path and the query", () => {
    const url = strip("https://abc.supabase.co/api-gateway/v1/tracking/CV123?token=trk_1");
    expect(url.pathname).toBe("/v1/tracking/CV123");
    expect(url.search).toBe("?token=trk_1");
    expect(strip("https://abc.supabase.co/api-gateway").pathname).toBe("/");
  });

  it("is left alone when absent, or when it is only the start of another name", () => {
    expect(strip("http://127.0.0.1:8000/v1/orders").pathname).toBe("/v1/orders");
    expect(strip("http://127.0.0.1:8000/api-gateway-2/v1").pathname).toBe("/api-gateway-2/v1");
  });

  it("keeps the method, headers and body of the request", async () => {
    const request = withoutFunctionPrefix(
      new Request("https://abc.supabase.co/api-gateway/v1/orders/create", {
        method: "POST",
        headers: { authorization: "Bearer cvk_test_x", "content-type": "application/json" },
        body: '{"external_id":"SO-1"}',
      }),
      "api-gateway",
    );
    expect(request.method).toBe("POST");
    expect(request.headers.get("authorization")).toBe("Bearer cvk_test_x");
    expect(await request.text()).toBe('{"external_id":"SO-1"}');
  });
});

describe("an Edge isolate's start", () => {
  const base = {
    DATABASE_URL: "postgresql://pooler:6543/postgres",
    PUBLIC_BASE_URL: "https://api.example.com",
  };
  it("warns that every caller is one address without TRUSTED_PROXY_HEADER, and that secrets need the key", () => {
    const warnings = edgeStartupWarnings(loadConfig(base));
    expect(warnings).toEqual([
      expect.stringMatching(/^TRUSTED_PROXY_HEADER is not set: every caller counts as one client address/),
      expect.stringMatching(/^CONNECTOR_ENCRYPTION_KEY is not set/),
    ]);
  });

  it("says nothing once both are set", () => {
    const config = loadConfig({
      ...base,
      TRUSTED_PROXY_HEADER: "x-forwarded-for",
      CONNECTOR_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"),
    });
    expect(edgeStartupWarnings(config)).toEqual([]);
  });
});
