-- Performance (issue 9): of the event transactions committing at the same moment, only one wakes the webhook
-- dispatchers.
--
-- 0003's fan-out trigger sent `NOTIFY cellvi_webhooks` from every transaction that queued a delivery. A transaction
-- that has notified takes a cluster-wide lock at commit and holds it while its commit record is flushed, so those
-- commits ran one after the other with no group commit: 690 commits/s against 1,550-2,500 without a NOTIFY
-- (10 writers), and the webhook benchmark's producer reached 735 of the 1,000 events/s asked.
--
-- Now the fan-out only queues deliveries. A deferred constraint trigger on the deliveries runs when the
-- transaction commits (once per transaction) and notifies only if it gets a transaction-scoped advisory lock
-- without waiting. The winner holds that lock until its commit is done; every transaction that reaches its commit
-- meanwhile skips the NOTIFY and commits in the same group as the others, because a notification is already on its
-- way. Deferring the check to commit time matters: a lock taken at the first insert would be held for a whole
-- long transaction (an import chunk), and every other writer would skip its NOTIFY all that time.
--
-- A skipped transaction can become visible just after the dispatcher's claim that the winner's NOTIFY caused (its
-- commit record may be flushed a moment later). The dispatcher covers that: after a round of claims that found
-- deliveries it looks once more WEBHOOK_RECHECK_INTERVAL (20 ms) later, and again only if that look found some
-- (src/domain/webhooks/dispatcher.ts). A transaction whose commit takes longer than that is still delivered, by the
-- next NOTIFY or the safety poll: never lost, only later.
--
-- Measured on the benchmark machine (2 vCPUs, PostgreSQL 15; pgbench, medians of 3 interleaved 10 s runs; each
-- transaction one order and its CREATED history row, one subscription to every event), commits/s:
--   writers   0003 (NOTIFY in each)   0007     no subscriber (no delivery, no NOTIFY)
--   10          529                   1,590    2,048
--   32          837                   1,988    2,294
--   64          784                   1,838    2,252
-- (docs/decisions/webhook-delivery.md has these and the webhook latency figures).
--
-- Raw SQL writers (any role, any process) still wake the dispatchers: both triggers are in the database. On
-- Supabase the pg_net poke of 0090 is a separate trigger on the same inserts and is not changed.
--
-- On a database already past 0090 (its version is higher) the Node migrator still applies this file: it applies
-- every version it has not recorded, in order. `supabase db push` refuses a version lower than the remote's latest
-- unless given `--include-all` (as for 0006). Nothing here needs 0090's RLS treatment: no table is created.
--
-- Advisory lock (74220511, 1): the two-integer form, whose key space is separate from the one-bigint form that
-- the migration runner (74220511) and the subscription quota (hashtext) use. No other two-integer lock may use
-- class 74220511.

create or replace function cellvi_webhook_fan_out() returns trigger
language plpgsql as $$
declare
  body text;
  fanned integer;
begin
  if not exists (
    select 1 from webhook_subscriptions s
     where s.tenant_id = new.tenant_id and s.mode = new.mode and s.enabled
  ) then
    return new;
  end if;
  body := '{"type":' || to_json(new.type)::text
       || ',"timestamp":' || to_json(to_char(new.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text
       || ',"data":' || new.payload::text || '}';
  -- The wake-up is the deliveries' own deferred trigger (below), not a NOTIFY here.
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

-- Runs at commit. `cellvi.webhook_wake`, local to the transaction (a rolled-back savepoint resets it along with the
-- trigger events it queued): unset or '' = no wake-up queued yet, 'queued' = one is, 'done' = this transaction
-- has decided whether to notify.
create function cellvi_webhook_wake() returns trigger
language plpgsql as $$
begin
  if current_setting('cellvi.webhook_wake', true) = 'done' then
    return null;
  end if;
  perform set_config('cellvi.webhook_wake', 'done', true);
  if pg_try_advisory_xact_lock(74220511, 1) then
    perform pg_notify('cellvi_webhooks', '');
  end if;
  return null;
end;
$$;

-- A delivery that is due to whoever claims it: every row the fan-out writes, and any a raw writer inserts (a test
-- send is inserted already claimed, by the process that sends it). A constraint trigger's WHEN is evaluated at
-- insert time, so a transaction that fans out thousands of events queues trigger events for its first event's
-- deliveries only; a raw multi-row insert queues one per row, and all but the first return at once.
create constraint trigger webhook_deliveries_wake_dispatchers
after insert on webhook_deliveries
deferrable initially deferred
for each row
when (new.status = 'pending' and new.lease_token is null
      and coalesce(current_setting('cellvi.webhook_wake', true), '') = '')
execute function cellvi_webhook_wake();
