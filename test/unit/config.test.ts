import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";

describe("configuration", () => {
  it("has defaults that start an embedded service on port 8080", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ PORT: 8080, DATA_DIR: "./.data", LOG_LEVEL: "info" });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.publicBaseUrl).toBe("http://localhost:8080");
  });

  it("reads every documented variable", () => {
    const config = loadConfig({
      PORT: "9090",
      DATABASE_URL: "postgres://u@db:5432/cellvi",
      DATA_DIR: "/var/lib/cellvi",
      REDIS_URL: "redis://cache:6379",
      PUBLIC_BASE_URL: "https://api.cellvi.com/",
      LOG_LEVEL: "warn",
    });
    expect(config).toMatchObject({
      PORT: 9090,
      DATABASE_URL: "postgres://u@db:5432/cellvi",
      DATA_DIR: "/var/lib/cellvi",
      REDIS_URL: "redis://cache:6379",
      LOG_LEVEL: "warn",
      publicBaseUrl: "https://api.cellvi.com",
    });
  });

  it("bounds the webhook claim interval to a second, off by default", () => {
    expect(loadConfig({}).WEBHOOK_CLAIM_INTERVAL).toBe(0);
    expect(loadConfig({ WEBHOOK_CLAIM_INTERVAL: "5ms" }).WEBHOOK_CLAIM_INTERVAL).toBe(5);
    expect(() => loadConfig({ WEBHOOK_CLAIM_INTERVAL: "2s" })).toThrow(/WEBHOOK_CLAIM_INTERVAL.*at most 1s/);
  });

  it("treats empty values as unset", () => {
    expect(loadConfig({ DATABASE_URL: "", REDIS_URL: "" }).DATABASE_URL).toBeUndefined();
  });

  it("names every bad variable in one error", () => {
    let error: unknown;
    try {
      loadConfig({ PORT: "eighty", DATABASE_URL: "mysql://x", REDIS_URL: "http://x", LOG_LEVEL: "loud" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ["PORT", "DATABASE_URL", "REDIS_URL", "LOG_LEVEL"]) expect(message).toContain(name);
  });
});
