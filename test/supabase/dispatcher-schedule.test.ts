import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../src/adapters/db/migrate.ts";
import { openPostgresDb } from "../../src/adapters/db/postgres.ts";
import type { Db } from "../../src/adapters/db/types.ts";
import { createOrder } from "../../src/domain/orders/store.ts";
import { createTenant } from "../../src/domain/tenants/store.ts";
import { dbKinds, openTestDb, type TestDb } from "../support/db.ts";
import { createScratchDatabase, ensureSupabaseRoles } from "./roles.ts";

// Migration 0090 schedules the webhook-dispatcher Edge Function with pg_cron and pokes it through pg_net. Neither
// extension exists on PGlite or on the machine's PostgreSQL, so two things are tested: that the migration is a no-op
// there, and, on a database given the exact SQL surface Supabase's extensions have (cron.schedule, net.http_post,
// vault.decrypted_secrets, with the documented signatures, recording their calls), that it schedules and pokes
// what it should. The stand-ins only record; what they record is what Supabase would execute.

const supabaseSurface = `
  create schema cron;
  create table cron.recorded_jobs (jobname text primary key, schedule text not null, command text not null);
  create function cron.schedule(job_name text, schedule text, command text) returns bigint
  language sql as $$
    insert into cron.recorded_jobs values (job_name, schedule, command)
    on conflict (jobname) do update set schedule = excluded.schedule, command = excluded.command;
    select 1::bigint;
  $$;

  create schema net;
  create table net.recorded_requests (id bigserial primary key, url text, body jsonb, params jsonb, headers jsonb,
                                      timeout_milliseconds int);
  create function net.http_post(url text, body jsonb default '{}'::jsonb, params jsonb default '{}'::jsonb,
                                headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
                                timeout_milliseconds int default 5000) returns bigint
  language sql as $$
    insert into net.recorded_requests (url, body, params, headers, timeout_milliseconds)
    values (url, body, params, headers, timeout_milliseconds) returning id;
  $$;

  create schema vault;
  create table vault.decrypted_secrets (name text primary key, decrypted_secret text not null);
`;

describe.each(dbKinds)("dispatcher scheduling without pg_cron/pg_net (%s)", (kind) => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await openTestDb(kind);
  });
  afterAll(async () => {
    await testDb?.close();
  });

  it("is a no-op: no schedule, no poke trigger, and the function says why", async () => {
    const { rows } = await testDb.db.query<{ outcome: string }>(
      "select cellvi_schedule_webhook_dispatcher() as outcome",
    );
    expect(rows[0]!.outcome).toMatch(/^not scheduled/);
    const triggers = await testDb.db.query(
      "select tgname from pg_trigger where tgname = 'webhook_deliveries_poke_dispatcher'",
    );
    expect(triggers.rows).toEqual([]);
    const invoked = await testDb.db.query<{ id: number | null }>(
      "select cellvi_invoke_webhook_dispatcher('manual') as id",
    );
    expect(invoked.rows[0]!.id).toBeNull();
  });
});

describe("dispatcher scheduling with Supabase's pg_cron, pg_net and Vault", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let db: Db;
  let tenantId: string;

  const requests = async () =>
    (
      await db.query<{ url: string; body: { reason: string }; headers: Record<string, string> }>(
        "select url, body, headers from net.recorded_requests order by id",
      )
    ).rows;
  const newOrder = (externalId: string) =>
    createOrder(db, { tenantId, mode: "test" }, {
      external_id: externalId,
      recipient: { name: "Andrés Rojas", phone: "+573001234567" },
      destination: { address_line1: "Calle 10 # 5-51", city: "Medellín", country: "CO" },
      packages: [{ weight_kg: 2 }],
    } as Parameters<typeof createOrder>[2]);

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    const setup = new pg.Client({ connectionString: scratch.url });
    await setup.connect();
    await setup.query(supabaseSurface);
    await setup.end();
    db = await openPostgresDb(scratch.url, { poolMax: 3 });
    await migrate(db);
    ({
      tenant: { id: tenantId },
    } = await createTenant(db, { name: "Scheduling Tenant", mode: "test" }));
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it("schedules the dispatcher every 10 seconds under one stable job name", async () => {
    const { rows } = await db.query("select jobname, schedule, command from cron.recorded_jobs");
    expect(rows).toEqual([
      {
        jobname: "cellvi-webhook-dispatcher",
        schedule: "10 seconds",
        command: "select public.cellvi_invoke_webhook_dispatcher('schedule')",
      },
    ]);
  });

  it("calls nothing until the project URL and the dispatcher secret are in Vault", async () => {
    await db.exec("select public.cellvi_invoke_webhook_dispatcher('schedule')");
    expect(await requests()).toEqual([]);
  });

  it("posts to the webhook-dispatcher function with its secret once Vault has both", async () => {
    await db.exec(`insert into vault.decrypted_secrets values
      ('cellvi_project_url', 'https://abcdefghijklmnop.supabase.co/'),
      ('cellvi_dispatcher_secret', 'dispatch-secret-123')`);
    await db.exec("select public.cellvi_invoke_webhook_dispatcher('schedule')");
    expect(await requests()).toEqual([
      {
        url: "https://abcdefghijklmnop.supabase.co/functions/v1/webhook-dispatcher",
        body: { reason: "schedule" },
        headers: { "content-type": "application/json", "x-dispatcher-secret": "dispatch-secret-123" },
      },
    ]);
    await db.exec("delete from net.recorded_requests");
  });

  it("pokes the dispatcher when an outbox event queues a delivery, at most once a second", async () => {
    await db.query(
      `insert into webhook_subscriptions (tenant_id, mode, url, events, secret)
       values ($1, 'test', 'https://hooks.example.com/cellvi', '{*}', 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0')`,
      [tenantId],
    );
    await newOrder("POKE-1");
    expect((await requests()).map((r) => r.body.reason)).toEqual(["queued"]);

    const mark = await db.query<{ poked_at: Date }>("select poked_at from cellvi_dispatcher_pokes");
    expect(mark.rows[0]!.poked_at.getTime()).toBeGreaterThan(Date.now() - 3_600_000);

    // While the last poke is recent (pinned in the future here, so the test cannot depend on how fast it runs),
    // another delivery adds no request: the pending invocation drains it.
    await db.exec("update cellvi_dispatcher_pokes set poked_at = 'infinity'");
    await newOrder("POKE-2");
    expect(await requests()).toHaveLength(1);

    // Once the dispatcher has started (it resets the mark), the next delivery pokes again.
    await db.exec("update cellvi_dispatcher_pokes set poked_at = '-infinity'");
    await newOrder("POKE-3");
    expect(await requests()).toHaveLength(2);
  });

  it("does not poke for an event nobody subscribed to, nor for a delivery being claimed", async () => {
    await db.exec("delete from net.recorded_requests");
    await db.exec("update webhook_subscriptions set enabled = false");
    await db.exec("update cellvi_dispatcher_pokes set poked_at = '-infinity'");
    await newOrder("POKE-4");
    expect(await requests()).toEqual([]);

    // A claim moves next_attempt_at to the end of a lease and sets lease_token: not a reason to poke.
    await db.exec(`update webhook_deliveries set lease_token = gen_random_uuid(),
                          next_attempt_at = now() + interval '30 seconds' where status = 'pending'`);
    expect(await requests()).toEqual([]);
  });

  it("pokes on behalf of any writer: the writer needs no rights on the poke table, Vault or pg_net", async () => {
    await ensureSupabaseRoles();
    // service_role as Supabase sets it up (every table privilege, BYPASSRLS), minus everything the poke touches.
    await db.exec(`grant usage on schema public to service_role;
      grant all on all tables in schema public to service_role;
      grant all on all sequences in schema public to service_role;
      revoke all on cellvi_dispatcher_pokes from service_role;
      revoke execute on function cellvi_invoke_webhook_dispatcher(text) from service_role;
      update webhook_subscriptions set enabled = true;
      update cellvi_dispatcher_pokes set poked_at = '-infinity';
      delete from net.recorded_requests`);
    // Another component writing an event straight into the outbox, as service_role.
    await db.transaction(async (tx) => {
      await tx.query("set local role service_role");
      await tx.query(
        `insert into events (tenant_id, mode, type, occurred_at, payload)
         values ($1, 'test', 'ORDER_CREATED', now(), '{"note": "written by another component"}')`,
        [tenantId],
      );
    });
    expect((await requests()).map((r) => r.body.reason)).toEqual(["queued"]);
  });

  it("leaves the stand-in extension schemas alone (no RLS forced onto them)", async () => {
    const { rows } = await db.query<{ relname: string; relrowsecurity: boolean }>(
      `select c.relname, c.relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('cron', 'net', 'vault') and c.relkind = 'r' order by 1`,
    );
    expect(rows.every((row) => !row.relrowsecurity)).toBe(true);
    expect(rows.length).toBe(3);
  });
});
