-- Performance: the webhook claim (src/domain/webhooks/queue.ts, claimDueDeliveries) as a function with its own plan
-- settings, so that what one claim reads is bounded by its scan limit whatever plan is cached and whatever the
-- statistics say.
--
-- Sent as a statement, the claim's plan depended on the deliveries table's statistics: a named prepared statement
-- keeps the generic plan made from its first executions, and made while the table was empty (a new database, or a
-- server without autovacuum, where nothing analyses the table) that plan locked through a nested-loop semi join
-- that walks the whole due index in due order. A claim that found fewer allowed rows than its limit (one
-- subscription's backlog filling the scan) then read every due row: 12-28 ms instead of about 1 ms per claim with
-- 30,000 due rows on the benchmark machine. PGlite, planning each statement afresh, chose the same walk.
--
-- Here every step is shaped so that no plan can read more than it must, and the settings take away the plans
-- that could:
--   1. the scan: the first `scan_limit` due rows in due order (the due index, stopped by the limit);
--   2. the allowed rows: at most as many per subscription as its free slots (the per-endpoint bound);
--   3. the locks: for each allowed row in due order, its own row by primary key (LATERAL: the allowed rows always
--      drive, so the due index is never walked again), FOR UPDATE SKIP LOCKED with the due condition repeated, so
--      that a row another worker claimed after our snapshot is re-checked against its new version and skipped;
--      at most `claim_limit` locks;
--   4. the update of exactly the locked rows, by primary key, with their subscriptions by primary key: a disabled
--      subscription's deliveries are failed here instead of being sent.
-- force_generic_plan: PL/pgSQL keeps each statement's plan for the session, made once, never planned per claim
-- (planning the outcome write cost as much as running it; see outcomeWritePlanSettings). Sequential and bitmap
-- scans, hash and merge joins off: a table is only reached through an index condition, and joins are nested loops
-- driven by the few rows already chosen. The settings end with the function.
create function cellvi_claim_webhook_deliveries(
  claim_now timestamptz,
  skipped_subscriptions text[],
  scan_limit integer,
  busy_subscriptions text[],
  busy_counts integer[],
  per_endpoint integer,
  claim_limit integer,
  claim_lease uuid,
  lease_ms double precision
) returns table (
  id text,
  tenant_id uuid,
  subscription_id text,
  event_id text,
  event_type text,
  body text,
  attempts integer,
  max_attempts integer,
  created_at timestamptz,
  lease_token uuid,
  claimed_status text,
  url text,
  secret text,
  previous_secret text,
  previous_secret_expires_at timestamptz,
  failing_since timestamptz
)
language plpgsql
set search_path = pg_catalog, public
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set enable_bitmapscan = off
set enable_hashjoin = off
set enable_mergejoin = off
as $$
#variable_conflict use_column
declare
  locked_ids text[];
begin
  with scanned as materialized (
    select due.id, due.subscription_id, due.next_attempt_at, due.seq,
           row_number() over (partition by due.subscription_id order by due.next_attempt_at, due.seq) as rank
      from (select d.id, d.subscription_id, d.next_attempt_at, d.seq
              from webhook_deliveries d
             where d.status = 'pending' and d.next_attempt_at <= claim_now
               and d.subscription_id <> all(skipped_subscriptions)
             order by d.next_attempt_at
             limit scan_limit) due
  ),
  allowed as materialized (
    select s.id, s.next_attempt_at, s.seq from scanned s
      left join unnest(busy_subscriptions, busy_counts) as busy(subscription_id, in_flight)
        on busy.subscription_id = s.subscription_id
     where s.rank <= per_endpoint - coalesce(busy.in_flight, 0)
  )
  select array_agg(first.id order by first.next_attempt_at, first.seq)
    into locked_ids
    from (select locked.id, a.next_attempt_at, a.seq
            from (select a.id, a.next_attempt_at, a.seq from allowed a order by a.next_attempt_at, a.seq) a
            cross join lateral (
              select d.id, d.status, d.next_attempt_at from webhook_deliveries d
               where d.id = a.id
               limit 1
                 for update skip locked
            ) locked
           where locked.status = 'pending' and locked.next_attempt_at <= claim_now
           order by a.next_attempt_at, a.seq
           limit claim_limit) first;
  if locked_ids is null then
    return;
  end if;

  return query
    with claimed as (
      update webhook_deliveries d set
        (attempts, status, lease_token, next_attempt_at, last_error, completed_at) = (
          select case when s.enabled then d.attempts + 1 else d.attempts end,
                 case when s.enabled then 'pending' else 'failed' end,
                 case when s.enabled then claim_lease end,
                 case when s.enabled then claim_now + lease_ms * interval '1 millisecond' end,
                 case when s.enabled then d.last_error
                      else 'The subscription was disabled before this delivery was sent.' end,
                 case when s.enabled then null else claim_now end
            from webhook_subscriptions s
           where s.id = d.subscription_id)
       where d.id = any(locked_ids)
      returning d.id, d.tenant_id, d.subscription_id, d.event_id, d.event_type, d.body, d.attempts, d.max_attempts,
                d.created_at, d.lease_token, d.status
    )
    select c.id, c.tenant_id, c.subscription_id, c.event_id, c.event_type, c.body, c.attempts, c.max_attempts,
           c.created_at, c.lease_token, c.status, s.url, s.secret, s.previous_secret, s.previous_secret_expires_at,
           s.failing_since
      from claimed c
      cross join lateral (
        select s.url, s.secret, s.previous_secret, s.previous_secret_expires_at, s.failing_since
          from webhook_subscriptions s
         where s.id = c.subscription_id
      ) s
     -- Oldest first, as locked (the update returns its rows in key order): the dispatcher starts them in this order.
     order by array_position(locked_ids, c.id);
end;
$$;

-- Only the service claims. On Supabase, PostgREST would offer the function to `anon` as an RPC (new functions are
-- granted to PUBLIC, and there directly to anon and authenticated as well); RLS would leave it nothing to read, but
-- nobody else has any business calling it. The service connects as the owner (it runs these migrations) or, on
-- Supabase, possibly as `service_role`.
do $$
declare
  role_name text;
begin
  foreach role_name in array array['public', 'anon', 'authenticated'] loop
    if role_name = 'public' or exists (select 1 from pg_roles where rolname = role_name) then
      execute format('revoke execute on function cellvi_claim_webhook_deliveries(timestamptz, text[], integer, '
                     'text[], integer[], integer, integer, uuid, double precision) from %s',
                     case role_name when 'public' then 'public' else quote_ident(role_name) end);
    end if;
  end loop;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant execute on function cellvi_claim_webhook_deliveries(timestamptz, text[], integer, text[], integer[],
                                                              integer, integer, uuid, double precision)
      to service_role;
  end if;
end;
$$;
