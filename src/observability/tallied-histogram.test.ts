import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { TalliedHistogram } from "./tallied-histogram.ts";

const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The same histogram both ways, each in a registry of its own. */
function pair() {
  const theirsRegistry = new Registry();
  const oursRegistry = new Registry();
  const theirs = new Histogram({
    name: "x_duration_seconds",
    help: "A duration, by route and method.",
    labelNames: ["route", "method"] as const,
    buckets,
    registers: [theirsRegistry],
  });
  const ours = new TalliedHistogram(
    "x_duration_seconds",
    "A duration, by route and method.",
    ["route", "method"] as const,
    buckets,
    oursRegistry,
  );
  return { theirs, ours, theirsRegistry, oursRegistry };
}

describe("TalliedHistogram", () => {
  it("is exposed exactly as prom-client's Histogram fed the same observations", async () => {
    const { theirs, ours, theirsRegistry, oursRegistry } = pair();
    const observations: [string, string, number][] = [
      ["/v1/whoami", "GET", 0.0004],
      ["/v1/orders/:id", "GET", 0.003],
      ["/v1/whoami", "GET", 0.001],
      ["/v1/orders/create", "POST", 42],
      ["/v1/whoami", "GET", 0.0123],
      ["unmatched", "GET", 0.25],
      ['a "quoted"\\ route\n', "GET", 0],
    ];
    const observers = new Map<string, (value: number) => void>();
    for (const [route, method, value] of observations) {
      theirs.labels(route, method).observe(value);
      const key = `${route} ${method}`;
      if (!observers.has(key)) observers.set(key, ours.series({ route, method }));
      observers.get(key)!(value);
    }
    expect(await oursRegistry.metrics()).toBe(await theirsRegistry.metrics());
    expect(await oursRegistry.getMetricsAsJSON()).toEqual(await theirsRegistry.getMetricsAsJSON());
  });

  it("lists a series from its first observation, not from when its observer was made", async () => {
    const { theirs, ours, theirsRegistry, oursRegistry } = pair();
    const later = ours.series({ route: "/later", method: "GET" });
    const first = ours.series({ route: "/first", method: "GET" });
    theirs.labels("/later", "GET");
    expect(await oursRegistry.metrics()).toBe(await theirsRegistry.metrics());
    first(0.002);
    later(0.002);
    theirs.labels("/first", "GET").observe(0.002);
    theirs.labels("/later", "GET").observe(0.002);
    expect(await oursRegistry.metrics()).toBe(await theirsRegistry.metrics());
  });

  it("starts over after a reset, with the observers already handed out", async () => {
    const { theirs, ours, theirsRegistry, oursRegistry } = pair();
    const observe = ours.series({ route: "/v1/whoami", method: "GET" });
    observe(0.5);
    theirs.labels("/v1/whoami", "GET").observe(0.5);
    oursRegistry.resetMetrics();
    theirsRegistry.resetMetrics();
    expect(await oursRegistry.metrics()).toBe(await theirsRegistry.metrics());
    observe(0.003);
    theirs.labels("/v1/whoami", "GET").observe(0.003);
    expect(await oursRegistry.metrics()).toBe(await theirsRegistry.metrics());
  });

  it("refuses a value that is not a finite number, as prom-client does", () => {
    const { ours } = pair();
    const observe = ours.series({ route: "/v1/whoami", method: "GET" });
    expect(() => observe(Number.NaN)).toThrow(TypeError);
    expect(() => observe(Number.POSITIVE_INFINITY)).toThrow(TypeError);
  });
});
