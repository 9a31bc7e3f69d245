import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, orderBody, serveOnNode, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

/** What Chromium and Firefox send when a person opens a link. */
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
const hostile = `<script>alert("x")</script>`;

describe.each(dbKinds)("the tracking URL as a page for people, on %s", (kind) => {
  let t: TestContext;
  let apiKey: string;
  let plain: { tracking_number: string; tracking_token: string; id: string };
  let eventful: { tracking_number: string; tracking_token: string; id: string };
  beforeAll(async () => {
    t = await createTestContext(kind);
    const tenant = await t.newTenant();
    const { tenantId } = tenant;
    apiKey = tenant.apiKey;
    const { apiKey: opsKey } = await t.newKey(tenantId, { scopes: ["ops"] });
    const create = async (city: string) =>
      (
        await t.request("/v1/orders/create", {
          method: "POST",
          key: apiKey,
          json: orderBody({ destination: { address_line1: "Calle Secreta 123", city, country: "CO" } }),
        })
      ).json();
    plain = await create("Medellín");
    // Integrators write the city and the driver's name: both reach the page.
    eventful = await create(hostile);
    const assign = await t.request(`/v1/orders/${eventful.id}/assign-driver`, {
      method: "POST",
      key: opsKey,
      json: { driver: { id: "drv_1", name: `${hostile} Pérez`, vehicle_plate: "KLM-482" } },
    });
    expect(assign.status).toBe(200);
    const exception = await t.request(`/v1/orders/${eventful.id}/exception`, {
      method: "POST",
      key: opsKey,
      json: { code: "DAMAGED", message: hostile },
    });
    expect(exception.status).toBe(200);
  });
  afterAll(() => t.close());

  const urlOf = (order: { tracking_number: string; tracking_token: string }) =>
    `/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`;

  it("answers programs exactly the JSON as before: no Accept, */*, application/json, with Vary: Accept", async () => {
    const bodies: string[] = [];
    for (const accept of [undefined, "*/*", "application/json", "application/json, text/html"]) {
      const res = await t.request(urlOf(plain), { headers: accept ? { accept } : {} });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("vary")).toBe("Accept");
      bodies.push(await res.text());
    }
    expect(new Set(bodies).size).toBe(1);
    const view = JSON.parse(bodies[0]!);
    // The serialisation of the view, compact, its keys in their order.
    expect(bodies[0]).toBe(JSON.stringify(view));
    expect(Object.keys(view)).toEqual([
      "tracking_number",
      "status",
      "destination_city",
      "estimated_delivery_at",
      "driver",
      "history",
      "updated_at",
    ]);
  });

  it("answers a browser an HTML page with the status, the timeline and the security headers", async () => {
    const res = await t.request(urlOf(eventful), { headers: { accept: browserAccept } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("vary")).toBe("Accept");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/]+=*'/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("script-src");
    const html = await res.text();
    expect(html).toContain('<meta name="robots" content="noindex, nofollow">');
    expect(html).toContain('<html lang="es">');
    expect(html).toContain('<h1 id="status" class="status-EXCEPTION">Novedad en la entrega</h1>');
    // The timeline, newest first: exception (with its reason), driver assigned, created; each with its time.
    const items = [...html.matchAll(/<li><strong>([^<]+)<\/strong>/g)].map((m) => m[1]);
    expect(items).toEqual(["Novedad en la entrega", "Conductor asignado", "Pedido recibido"]);
    expect(html).toContain("Paquete dañado");
    expect([...html.matchAll(/<li>[\s\S]*?<time datetime="[^"]+Z">/g)]).toHaveLength(3);
    expect(html).toContain("Última actualización");
    expect(html).not.toContain("<script");
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    // Nothing the JSON view does not show: no recipient, street, phone, exception message or order id.
    for (const secret of ["Valentina", "Calle Secreta", "+573001234567", "Pérez", eventful.id]) {
      expect(html).not.toContain(secret);
    }
  });

  it("speaks Spanish by default and English when the browser asks for it", async () => {
    const page = async (acceptLanguage?: string) =>
      (
        await t.request(urlOf(plain), {
          headers: {
            accept: browserAccept,
            ...(acceptLanguage ? { "accept-language": acceptLanguage } : {}),
          },
        })
      ).text();
    for (const spanish of [await page(), await page("es-CO,es;q=0.9"), await page("pt-BR")]) {
      expect(spanish).toContain('<html lang="es">');
      expect(spanish).toContain("Pedido recibido");
      expect(spanish).toContain("Destino");
    }
    for (const english of [await page("en-US,en;q=0.9"), await page("fr, en;q=0.5")]) {
      expect(english).toContain('<html lang="en">');
      expect(english).toContain("Order received");
      expect(english).toContain("Destination");
    }
  });

  it("shows times in the destination's zone (country and region), and the configured one elsewhere", async () => {
    const pageFor = async (destination: { country: string; region?: string }) => {
      const order = await (
        await t.request("/v1/orders/create", {
          method: "POST",
          key: apiKey,
          json: orderBody({ destination: { address_line1: "Calle 1", city: "Ciudad", ...destination } }),
        })
      ).json();
      const res = await t.request(urlOf(order), {
        headers: { accept: browserAccept, "accept-language": "en" },
      });
      expect(res.status).toBe(200);
      const html = await res.text();
      const created = /<span class="when"><time datetime="([^"]+)">([^<]+)<\/time>/.exec(html);
      return { html, iso: created?.[1], shown: created?.[2] };
    };
    const inZone = (iso: string, timeZone: string) =>
      new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeStyle: "short", timeZone }).format(
        new Date(iso),
      );
    const zoneOf = (iso: string, timeZone: string) =>
      new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "shortOffset" })
        .formatToParts(new Date(iso))
        .find((part) => part.type === "timeZoneName")?.value;
    for (const [destination, zone] of [
      [{ country: "CO" }, "America/Bogota"],
      [{ country: "MX", region: "Jalisco" }, "America/Mexico_City"],
      [{ country: "MX", region: "Baja California" }, "America/Tijuana"],
      [{ country: "AR" }, "America/Argentina/Buenos_Aires"],
      // Not placed by the table: the configured zone (America/Bogota by default).
      [{ country: "US", region: "CA" }, "America/Bogota"],
    ] as const) {
      const page = await pageFor(destination);
      expect(page.iso, JSON.stringify(destination)).toBeDefined();
      expect(page.shown, JSON.stringify(destination)).toBe(inZone(page.iso!, zone));
      expect(page.html, JSON.stringify(destination)).toContain(`(Times in ${zoneOf(page.iso!, zone)})`);
    }
  });

  it("answers a browser an HTML 404, the same for an unknown number, a wrong token and a missing one", async () => {
    const bodies = [];
    for (const path of [
      `/v1/tracking/CV0000000000000?token=${plain.tracking_token}`,
      `/v1/tracking/${plain.tracking_number}?token=trk_wrongwrongwrongwrongwron`,
      `/v1/tracking/${plain.tracking_number}`,
    ]) {
      const res = await t.request(path, { headers: { accept: browserAccept } });
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("vary")).toBe("Accept");
      expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
      bodies.push(await res.text());
    }
    expect(bodies[0]).toContain("No encontramos este envío");
    expect(bodies[1]).toBe(bodies[0]);
    expect(bodies[2]).toBe(bodies[0]);
    // Programs still get problem+json, now with Vary.
    const json = await t.request(`/v1/tracking/${plain.tracking_number}?token=nope`);
    expect(json.status).toBe(404);
    expect(json.headers.get("content-type")).toBe("application/problem+json");
    expect(json.headers.get("vary")).toBe("Accept");
    expect((await json.json()).code).toBe("not_found");
  });

  it("serves the same page and headers through a real Node server", async () => {
    const server = await serveOnNode(t.app);
    try {
      const res = await fetch(`${server.base}${urlOf(plain)}`, {
        headers: { accept: browserAccept, "accept-language": "en" },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("vary")).toBe("Accept");
      expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(await res.text()).toContain("Order received");
      const json = await fetch(`${server.base}${urlOf(plain)}`);
      expect(json.headers.get("content-type")).toBe("application/json");
      expect(json.headers.get("vary")).toBe("Accept");
    } finally {
      await server.close();
    }
  });
});

describe.each(dbKinds)("the tracking page past the rate limit, on %s", (kind) => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext(kind, { env: { TRACKING_RATE_LIMIT_PER_MINUTE: "1" } });
  });
  afterAll(() => t.close());

  it("answers a browser an HTML 429 with Retry-After, and programs problem+json", async () => {
    await t.request("/v1/tracking/CV0000000000000?token=x");
    const html = await t.request("/v1/tracking/CV0000000000000?token=x", {
      headers: { accept: browserAccept, "accept-language": "en" },
    });
    expect(html.status).toBe(429);
    expect(html.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(Number(html.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await html.text()).toContain("Too many requests");
    const json = await t.request("/v1/tracking/CV0000000000000?token=x");
    expect(json.status).toBe(429);
    expect(json.headers.get("content-type")).toBe("application/problem+json");
  });
});
