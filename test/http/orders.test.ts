import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, orderBody, type TestContext } from "../support/app.ts";
import { dbKinds } from "../support/db.ts";

describe.each(dbKinds)("orders on %s", (kind) => {
  let t: TestContext;
  let tenantId: string;
  let key: string;
  beforeAll(async () => {
    t = await createTestContext(kind);
    ({ tenantId, apiKey: key } = await t.newTenant());
  });
  afterAll(() => t.close());

  const create = (body: unknown, headers: Record<string, string> = {}, path = "/v1/orders/create") =>
    t.request(path, { method: "POST", key, json: body, headers });

  it("creates an order with everything it was given and a tracking link", async () => {
    const input = orderBody({
      origin: { address_line1: "Calle 13 # 68-45", city: "Bogotá", country: "CO" },
      packages: [
        {
          weight_kg: 2.5,
          length_cm: 30,
          width_cm: 20,
          height_cm: 10,
          description: "Libros",
          declared_value: 90000,
        },
      ],
      cod_amount: 185000,
      currency: "COP",
      service_level: "express",
      notes: "Dejar en portería",
      metadata: { channel: "erp" },
    });
    const res = await create(input);
    expect(res.status).toBe(201);
    const order = await res.json();
    expect(order).toMatchObject({
      object: "order",
      mode: "test",
      status: "CREATED",
      external_id: input.external_id,
      recipient: input.recipient,
      destination: input.destination,
      origin: input.origin,
      packages: input.packages,
      cod_amount: 185000,
      currency: "COP",
      service_level: "express",
      notes: "Dejar en portería",
      metadata: { channel: "erp" },
    });
    expect(order.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(order.tracking_number).toMatch(/^CV[0-9A-HJKMNP-TV-Z]{12}$/);
    expect(order.tracking_token).toMatch(/^trk_[0-9A-Za-z]{24}$/);
    expect(order.tracking_url).toBe(
      `http://cellvi.test/v1/tracking/${order.tracking_number}?token=${order.tracking_token}`,
    );
    expect(new Date(order.created_at).toISOString()).toBe(order.created_at);

    const fetched = await t.request(`/v1/orders/${order.id}`, { key });
    expect(fetched.status).toBe(200);
    expect(await fetched.json()).toEqual(order);
  });

  it("also accepts POST /v1/orders", async () => {
    const res = await create(orderBody(), {}, "/v1/orders");
    expect(res.status).toBe(201);
  });

  it("writes the order, its first history row and its ORDER_CREATED event together", async () => {
    const order = await (await create(orderBody())).json();
    const history = await t.services.db.query("select status from order_status_history where order_id = $1", [
      order.id,
    ]);
    expect(history.rows).toEqual([{ status: "CREATED" }]);
    const events = await t.services.db.query<{ type: string; id: string; payload: Record<string, unknown> }>(
      "select id, type, payload from events where order_id = $1",
      [order.id],
    );
    expect(events.rows).toHaveLength(1);
    expect(events.rows[0]!.type).toBe("ORDER_CREATED");
    expect(events.rows[0]!.id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(events.rows[0]!.payload).toMatchObject({
      order_id: order.id,
      external_id: order.external_id,
      tracking_number: order.tracking_number,
      status: "CREATED",
    });
  });

  it("leaves nothing behind when part of the creation fails", async () => {
    const db = t.services.db;
    await db.exec(`create function fail_history() returns trigger language plpgsql as $$
      begin raise exception 'history is down'; end $$;
      create trigger fail_history before insert on order_status_history
      for each row execute function fail_history();`);
    try {
      const input = orderBody();
      const res = await create(input);
      expect(res.status).toBe(500);
      const { rows } = await db.query("select id from orders where external_id = $1", [input.external_id]);
      expect(rows).toHaveLength(0);
    } finally {
      await db.exec("drop trigger fail_history on order_status_history; drop function fail_history();");
    }
  });

  it("refuses a second order with the same external_id and names the first", async () => {
    const input = orderBody();
    const first = await (await create(input)).json();
    const res = await create({ ...input, notes: "different" });
    expect(res.status).toBe(409);
    const body = await res.json();
    expect(body.code).toBe("duplicate_external_id");
    expect(body.existing_order_id).toBe(first.id);
  });

  describe("Idempotency-Key", () => {
    it("replays the first response for the same key and body", async () => {
      const input = orderBody();
      const headers = { "idempotency-key": `k-${Math.random()}` };
      const first = await create(input, headers);
      expect(first.status).toBe(201);
      const firstBody = await first.json();
      // Same body with keys in another order is the same request.
      const reordered = Object.fromEntries(Object.entries(input).reverse());
      const second = await create(reordered, headers);
      expect(second.status).toBe(201);
      expect(second.headers.get("idempotent-replayed")).toBe("true");
      expect(await second.json()).toEqual(firstBody);
      const { rows } = await t.services.db.query("select id from orders where external_id = $1", [
        input.external_id,
      ]);
      expect(rows).toHaveLength(1);
    });

    it("answers 422 when the key is reused with another body", async () => {
      const headers = { "idempotency-key": `k-${Math.random()}` };
      expect((await create(orderBody(), headers)).status).toBe(201);
      const res = await create(orderBody(), headers);
      expect(res.status).toBe(422);
      expect((await res.json()).code).toBe("idempotency_key_reused");
    });

    it("answers 409 while the first request with the key is still running", async () => {
      const idempotencyKey = `k-${Math.random()}`;
      const input = orderBody();
      const { requestFingerprint } = await import("../../src/domain/idempotency/run.ts");
      // A first request that has claimed the key and not finished yet.
      await t.services.db.query(
        `insert into idempotency_keys (tenant_id, mode, key, request_fingerprint, locked_until)
         values ($1, 'test', $2, $3, now() + interval '1 minute')`,
        [tenantId, idempotencyKey, requestFingerprint("POST", "/v1/orders", input)],
      );
      const res = await create(input, { "idempotency-key": idempotencyKey });
      expect(res.status).toBe(409);
      expect((await res.json()).code).toBe("idempotency_in_progress");
      expect(res.headers.get("retry-after")).toBe("1");
    });

    it("runs concurrent requests with one key exactly once", async () => {
      const input = orderBody();
      const headers = { "idempotency-key": `k-${Math.random()}` };
      const responses = await Promise.all(Array.from({ length: 5 }, () => create(input, headers)));
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
      expect(statuses).toContain(201);
      const { rows } = await t.services.db.query("select id from orders where external_id = $1", [
        input.external_id,
      ]);
      expect(rows).toHaveLength(1);
    });

    it("answers what GET answers, and replays exactly that, for orders created with a key", async () => {
      // The keyed creation renders its response in SQL (createOrderOnce); it must be toOrder's JSON.
      for (const overrides of [
        {},
        {
          origin: { address_line1: "Calle 13 # 68-45", city: "Bogotá", country: "CO" },
          packages: [{ weight_kg: 2.25, description: "Libros", declared_value: 90000.5 }],
          cod_amount: 1234.5,
          currency: "COP",
          service_level: "express",
          notes: "Dejar en portería",
          metadata: { channel: "erp", "z-last": "1", a: "2" },
        },
        { cod_amount: 0.1, currency: "USD", metadata: {} },
      ]) {
        const input = orderBody(overrides);
        const headers = { "idempotency-key": `k-${Math.random()}` };
        const first = await create(input, headers);
        expect(first.status).toBe(201);
        const text = await first.text();
        const body = JSON.parse(text);
        const fetched = await t.request(`/v1/orders/${body.id}`, { key });
        expect(body).toEqual(await fetched.json());
        const replay = await create(input, headers);
        expect(replay.headers.get("idempotent-replayed")).toBe("true");
        // Byte for byte, the fields in the same order.
        expect(await replay.text()).toBe(text);
      }
    });

    it("keeps order, history, event and recorded key together when the creation fails", async () => {
      const db = t.services.db;
      const input = orderBody();
      const headers = { "idempotency-key": `k-${Math.random()}` };
      await db.exec(`create function fail_event() returns trigger language plpgsql as $$
        begin raise exception 'events are down'; end $$;
        create trigger fail_event before insert on events for each row execute function fail_event();`);
      try {
        expect((await create(input, headers)).status).toBe(500);
      } finally {
        await db.exec("drop trigger fail_event on events; drop function fail_event();");
      }
      for (const table of ["orders", "idempotency_keys"]) {
        const column = table === "orders" ? "external_id" : "key";
        const value = table === "orders" ? input.external_id : headers["idempotency-key"];
        const { rows } = await db.query(`select 1 from ${table} where ${column} = $1`, [value]);
        expect(rows).toHaveLength(0);
      }
      // Nothing was claimed, so the retry runs at once.
      const retry = await create(input, headers);
      expect(retry.status).toBe(201);
      expect(retry.headers.get("idempotent-replayed")).toBeNull();
      const { rows } = await db.query<{ response_status: number }>(
        "select response_status from idempotency_keys where key = $1",
        [headers["idempotency-key"]],
      );
      expect(rows).toEqual([{ response_status: 201 }]);
    });

    it("takes over a claim its crashed first attempt left (older services committed the claim first)", async () => {
      const idempotencyKey = `k-${Math.random()}`;
      const input = orderBody();
      const { requestFingerprint } = await import("../../src/domain/idempotency/run.ts");
      await t.services.db.query(
        `insert into idempotency_keys (tenant_id, mode, key, request_fingerprint, locked_until)
         values ($1, 'test', $2, $3, now() - interval '1 second')`,
        [tenantId, idempotencyKey, requestFingerprint("POST", "/v1/orders", input)],
      );
      // Another request still may not use it...
      const other = await create(orderBody(), { "idempotency-key": idempotencyKey });
      expect(other.status).toBe(422);
      // ...but the same request runs.
      const res = await create(input, { "idempotency-key": idempotencyKey });
      expect(res.status).toBe(201);
      expect(res.headers.get("idempotent-replayed")).toBeNull();
    });

    it("lets a key past its 24-hour replay window be used again", async () => {
      const idempotencyKey = `k-${Math.random()}`;
      await t.services.db.query(
        `insert into idempotency_keys (tenant_id, mode, key, request_fingerprint, response_status, response_body,
                                       created_at)
         values ($1, 'test', $2, 'old', 201, '{}', now() - interval '25 hours')`,
        [tenantId, idempotencyKey],
      );
      const res = await create(orderBody(), { "idempotency-key": idempotencyKey });
      expect(res.status).toBe(201);
      expect(res.headers.get("idempotent-replayed")).toBeNull();
      expect((await res.json()).object).toBe("order");
    });

    it.runIf(kind === "postgres")(
      "answers 409 at once while another transaction runs the key, and runs it once that one is gone",
      async () => {
        const pg = (await import("pg")).default;
        const { idempotencyTryLockSql } = await import("../../src/domain/idempotency/run.ts");
        const input = orderBody();
        const headers = { "idempotency-key": `k-${Math.random()}` };
        // A first request in the middle of its transaction holds the key's advisory lock.
        const first = new pg.Client({ connectionString: t.testDb.url });
        await first.connect();
        try {
          await first.query("begin");
          const { rows } = await first.query(`select ${idempotencyTryLockSql("$1", "$2", "$3")} as held`, [
            tenantId,
            "test",
            headers["idempotency-key"],
          ]);
          expect(rows[0].held).toBe(true);
          const started = Date.now();
          const res = await create(input, headers);
          expect(res.status).toBe(409);
          expect((await res.json()).code).toBe("idempotency_in_progress");
          expect(res.headers.get("retry-after")).toBe("1");
          expect(Date.now() - started).toBeLessThan(2_000); // refused, not queued behind the first
          await first.query("rollback");
        } finally {
          await first.end();
        }
        expect((await create(input, headers)).status).toBe(201);
      },
    );

    it.runIf(kind === "postgres")("runs 20 concurrent requests with one key exactly once", async () => {
      const input = orderBody();
      const headers = { "idempotency-key": `k-${Math.random()}` };
      const responses = await Promise.all(Array.from({ length: 20 }, () => create(input, headers)));
      const created = responses.filter((r) => r.status === 201);
      expect(responses.every((r) => r.status === 201 || r.status === 409)).toBe(true);
      const bodies = await Promise.all(created.map((r) => r.json()));
      // One creation; any other 201 is its replay.
      expect(created.filter((r) => r.headers.get("idempotent-replayed") === null)).toHaveLength(1);
      for (const body of bodies) expect(body).toEqual(bodies[0]);
      const { rows } = await t.services.db.query("select id from orders where external_id = $1", [
        input.external_id,
      ]);
      expect(rows).toHaveLength(1);
      const events = await t.services.db.query("select 1 from events where order_id = $1", [rows[0]!.id]);
      expect(events.rows).toHaveLength(1);
    });

    it("lets a retry through after a failed first attempt", async () => {
      const input = orderBody();
      const headers = { "idempotency-key": `k-${Math.random()}` };
      const other = await create(orderBody({ external_id: input.external_id }));
      expect(other.status).toBe(201);
      expect((await create(input, headers)).status).toBe(409); // duplicate external_id: nothing recorded
      const { rows } = await t.services.db.query("select * from idempotency_keys where key = $1", [
        headers["idempotency-key"],
      ]);
      expect(rows).toHaveLength(0);
    });
  });

  describe("listing", () => {
    let listKey: string;
    const created: { id: string; external_id: string }[] = [];
    beforeAll(async () => {
      listKey = (await t.newTenant({ name: "Lister" })).apiKey;
      for (let i = 0; i < 7; i++) {
        const res = await t.request("/v1/orders/create", { method: "POST", key: listKey, json: orderBody() });
        created.push(await res.json());
      }
    });

    it("pages newest first with a cursor until has_more is false", async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const qs: string = cursor ? `?limit=3&cursor=${cursor}` : "?limit=3";
        const res = await t.request(`/v1/orders${qs}`, { key: listKey });
        expect(res.status).toBe(200);
        const page = await res.json();
        expect(page.object).toBe("list");
        seen.push(...page.data.map((o: { id: string }) => o.id));
        cursor = page.has_more ? page.next_cursor : null;
        if (!page.has_more) expect(page.next_cursor).toBeNull();
        pages++;
      } while (cursor && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(created.map((o) => o.id).reverse());
    });

    it("filters by external_id and status", async () => {
      const target = created[2]!;
      const byExternal = await (
        await t.request(`/v1/orders?external_id=${target.external_id}`, { key: listKey })
      ).json();
      expect(byExternal.data.map((o: { id: string }) => o.id)).toEqual([target.id]);
      const byStatus = await (await t.request("/v1/orders?status=DELIVERED", { key: listKey })).json();
      expect(byStatus.data).toEqual([]);
    });

    it("rejects a bad cursor, limit or status", async () => {
      for (const qs of ["?cursor=garbage", "?limit=0", "?limit=101", "?status=LOST"]) {
        const res = await t.request(`/v1/orders${qs}`, { key: listKey });
        expect(res.status).toBe(400);
        expect((await res.json()).code).toBe("validation_failed");
      }
    });

    it("never shows another tenant's orders, nor lets it fetch one", async () => {
      const mine = await (await t.request("/v1/orders?limit=100", { key })).json();
      const ids = new Set(mine.data.map((o: { id: string }) => o.id));
      for (const order of created) expect(ids.has(order.id)).toBe(false);
      const res = await t.request(`/v1/orders/${created[0]!.id}`, { key });
      expect(res.status).toBe(404);
      expect((await t.request("/v1/orders/not-a-uuid", { key })).status).toBe(404);
    });

    it("keeps live and test orders apart", async () => {
      const liveKey = (await t.newKey(tenantId, { mode: "live" })).apiKey;
      const live = await (
        await t.request("/v1/orders/create", { method: "POST", key: liveKey, json: orderBody() })
      ).json();
      expect(live.mode).toBe("live");
      expect((await t.request(`/v1/orders/${live.id}`, { key })).status).toBe(404);
      const testList = await (await t.request("/v1/orders?limit=100", { key })).json();
      expect(testList.data.some((o: { id: string }) => o.id === live.id)).toBe(false);
      // The same external_id may exist once per mode.
      const again = await t.request("/v1/orders/create", {
        method: "POST",
        key,
        json: orderBody({ external_id: live.external_id }),
      });
      expect(again.status).toBe(201);
    });
  });
});
