-- Performance (issue 9): fewer statements in the transaction that writes an event, with the same rows, bodies and
-- wake-ups.
--
-- 1. The fan-out (0003, 0007) asked whether the tenant had any enabled subscription before it built the body and
--    inserted the deliveries: two statements for a tenant that subscribes. Now it builds the body (a string, no
--    statement) and inserts in one statement, which finds no subscription for a tenant that has none.
-- 2. Two foreign keys whose checks each ran a query per row and locked the tenant's row again (the order's own
--    foreign key has locked it already, usually as a MultiXact shared with the tenant's other writers, whose
--    members each further lock reads) are dropped because other constraints already imply them:
--      order_status_history.tenant_id: the history trigger (0008) rejects a row whose tenant is not its order's,
--        and the order's own foreign key holds that tenant; deleting the tenant deletes the order and so the row.
--      webhook_deliveries.tenant_id: every delivery belongs to a subscription (its foreign key, not null), written
--        with that subscription's tenant (the fan-out from the event's, which is the subscription's; a test send
--        from the subscription's scope); deleting the tenant deletes its subscriptions and so their deliveries.
--    `events.tenant_id` keeps its foreign key: `events.order_id` may be null, and then nothing else ties the event
--    to a tenant that exists.
--
-- Measured (session 15, 2 vCPUs; BENCHMARKS.md, "Session 15"): the producer's transaction under contention
-- (bench/producer-cpu-ab.ts --concurrent 8: pgbench with bench/producer-pgbench.sql, both schemas at once),
-- PostgreSQL CPU per commit. Before this file, as scratch variants of it against 0015: the fan-out in one statement
-- 0.980-0.990 of before in 4 of 4 rounds; dropping the three tenant foreign keys of history, events and deliveries
-- 0.941-0.955 (all seven foreign keys, the most any such change could give: 0.852-0.876).
--
-- On a database already past 0090 the Node migrator applies this file as it did 0006 to 0015; `supabase db push`
-- needs `--include-all`. No table is created, so nothing needs 0090's treatment.

create or replace function cellvi_webhook_fan_out() returns trigger
language plpgsql as $$
declare
  body text;
  fanned integer;
begin
  -- Built once per event ({"type", "timestamp", "data"}; data is the outbox payload verbatim), never again.
  body := '{"type":' || to_json(new.type)::text
       || ',"timestamp":' || to_json(to_char(new.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text
       || ',"data":' || new.payload::text || '}';
  -- The wake-up is the deliveries' own deferred trigger (0007), not a NOTIFY here.
  insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, next_attempt_at)
  select new.tenant_id, new.mode, s.id, new.id, new.type, body, now()
    from webhook_subscriptions s
   where s.tenant_id = new.tenant_id and s.mode = new.mode and s.enabled
     and (s.events @> array[new.type] or s.events @> array['*']);
  get diagnostics fanned = row_count;
  -- The rows just inserted have queued their wake-up: later deliveries of this transaction need not queue one more.
  if fanned > 0 and current_setting('cellvi.webhook_wake', true) is distinct from 'done' then
    perform set_config('cellvi.webhook_wake', 'queued', true);
  end if;
  return new;
end;
$$;

alter table order_status_history drop constraint order_status_history_tenant_id_fkey;
alter table webhook_deliveries drop constraint webhook_deliveries_tenant_id_fkey;
