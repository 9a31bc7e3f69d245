-- Workers sharing one endpoint's backlog: a claim whose first rows are being claimed by another worker takes the
-- next ones instead of coming back short (src/domain/webhooks/queue.ts, claimDueDeliveries; docs/decisions/
-- webhook-delivery.md).
--
-- 0013's claim ranked the first `scan_limit` due rows per subscription, kept the first `per_endpoint - in flight` of
-- each, and locked those with SKIP LOCKED. Two workers draining one endpoint claim several times per millisecond
-- between them, so their claims overlap: both rank the same oldest rows, and the one that comes second finds them
-- locked (or, once the first commits, leased: no longer due on their latest version) and takes nothing, or a few,
-- although due rows of that subscription lie right behind them in its own scan. Its worker then asks for the next due
-- time and sleeps at least 5 ms.
--
-- Now, when some subscription's allowed rows could not all be locked and the claim is not full, the claim scans again
-- (a new statement, so a new snapshot: rows the other claim has committed are no longer due) and, for those
-- subscriptions only, locks their next due rows in due order, each up to what it still may take, with the same SKIP
-- LOCKED and due re-check, until the claim is full. A claim whose allowed rows were all locked (the uncontended case,
-- every claim of a single worker) does exactly what 0013's did. The per-endpoint bound, the claim's limit, the
-- skipped subscriptions, the walk behind a full scan (a subscription still short after this step is counted as full
-- there, as in 0013), the update and the returned columns are 0013's.
--
-- Same signature as 0011, so the grants stay and code calling 0011's function gets this one.

-- The settings are 0011's and 0013's (see there): a generic plan kept per connection, tables reached only through index
-- conditions, joins only as nested loops driven by the rows already chosen.
create or replace function cellvi_claim_webhook_deliveries(
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
set enable_incremental_sort = off
as $$
#variable_conflict use_column
declare
  locked_ids text[];
  locked_subscriptions text[];
  allowed_subscriptions text[];
  behind_ids text[];
  scanned_count integer;
  locked_count integer;
  visit_from text;
  first_subscription text;
  last_subscription text;
  short_subscriptions text[];
  short_missing integer[];
  missing_total integer;
  slot integer;
  candidate record;
  candidate_status text;
  candidate_due timestamptz;
begin
  -- 1. The oldest due rows: the first `scan_limit` in due order, whatever their subscription (the skipped ones are
  --    left out after the scan, never inside it), ranked per subscription for the per-endpoint bound, locked in due
  --    order.
  with scanned as materialized (
    select d.id, d.subscription_id, d.next_attempt_at, d.seq
      from webhook_deliveries d
     where d.status = 'pending' and d.next_attempt_at <= claim_now
     order by d.next_attempt_at
     limit scan_limit
  ),
  ranked as materialized (
    select s.id, s.subscription_id, s.next_attempt_at, s.seq,
           row_number() over (partition by s.subscription_id order by s.next_attempt_at, s.seq) as rank
      from scanned s
     where s.subscription_id <> all(skipped_subscriptions)
  ),
  allowed as materialized (
    select r.id, r.subscription_id, r.next_attempt_at, r.seq from ranked r
      left join unnest(busy_subscriptions, busy_counts) as busy(subscription_id, in_flight)
        on busy.subscription_id = r.subscription_id
     where r.rank <= per_endpoint - coalesce(busy.in_flight, 0)
  )
  select array_agg(first.id order by first.next_attempt_at, first.seq), array_agg(first.subscription_id),
         (select count(*)::int from scanned), (select array_agg(a.subscription_id) from allowed a)
    into locked_ids, locked_subscriptions, scanned_count, allowed_subscriptions
    from (select locked.id, a.subscription_id, a.next_attempt_at, a.seq
            from (select a.id, a.subscription_id, a.next_attempt_at, a.seq from allowed a
                   order by a.next_attempt_at, a.seq) a
            cross join lateral (
              select d.id, d.status, d.next_attempt_at from webhook_deliveries d
               where d.id = a.id
               limit 1
                 for update skip locked
            ) locked
           where locked.status = 'pending' and locked.next_attempt_at <= claim_now
           order by a.next_attempt_at, a.seq
           limit claim_limit) first;
  locked_count := coalesce(cardinality(locked_ids), 0);

  -- 1b. Subscriptions whose allowed rows could not all be locked (another worker's claim holds them, or has just
  --     leased them): their next due rows of the scan, in due order, each up to what it may still take. A new
  --     statement, so a new snapshot: rows the other claim has committed are no longer due and not read again. A
  --     loop, so that each subscription stops at its bound and the claim at its limit without locking more rows than
  --     it takes.
  -- (Every allowed row locked, as in every claim no other claim overlaps: nothing to do, not even this count.)
  if locked_count < claim_limit and coalesce(cardinality(allowed_subscriptions), 0) > locked_count then
    select array_agg(x.subscription_id), array_agg(x.missing), sum(x.missing)::int
      into short_subscriptions, short_missing, missing_total
      from (select a.subscription_id,
                   count(*)::int - (select count(*)::int from unnest(locked_subscriptions) as l(subscription_id)
                                     where l.subscription_id = a.subscription_id) as missing
              from unnest(allowed_subscriptions) as a(subscription_id)
             group by a.subscription_id) x
     where x.missing > 0;
  end if;
  if missing_total > 0 then
    for candidate in
      select s.id, s.subscription_id
        from (select d.id, d.subscription_id, d.next_attempt_at, d.seq
                from webhook_deliveries d
               where d.status = 'pending' and d.next_attempt_at <= claim_now
               order by d.next_attempt_at
               limit scan_limit) s
       where s.subscription_id = any(short_subscriptions) and s.id <> all(coalesce(locked_ids, '{}'))
       order by s.next_attempt_at, s.seq
    loop
      slot := array_position(short_subscriptions, candidate.subscription_id);
      continue when short_missing[slot] <= 0;
      -- By key, as the first step's lock; the due re-check on the locked row's latest version.
      select d.status, d.next_attempt_at into candidate_status, candidate_due
        from webhook_deliveries d
       where d.id = candidate.id
       limit 1
         for update skip locked;
      continue when not found or candidate_status <> 'pending' or candidate_due > claim_now;
      locked_ids := coalesce(locked_ids, '{}') || candidate.id;
      locked_subscriptions := coalesce(locked_subscriptions, '{}') || candidate.subscription_id;
      short_missing[slot] := short_missing[slot] - 1;
      missing_total := missing_total - 1;
      locked_count := locked_count + 1;
      exit when locked_count >= claim_limit or missing_total <= 0;
    end loop;
  end if;

  -- 2. Behind a full scan that did not fill the claim (one subscription's backlog, or subscriptions at their bound,
  --    filled it): the other subscriptions' oldest due rows, found per subscription through
  --    webhook_deliveries_subscription_due_idx. Its conditions are row comparisons on (subscription_id,
  --    next_attempt_at) and its order is that pair, which only that index serves: with an equality on
  --    subscription_id and a bound on next_attempt_at, a generic plan made while one subscription filled the table
  --    (its statistics then say the equality keeps every row) walked the due index instead, through the whole
  --    backlog, once per visited subscription.
  if scanned_count >= scan_limit and locked_count < claim_limit then
    -- When a single subscription has pending rows (a backlog with nobody else waiting, the dispatcher benchmark's
    -- case), there is nobody to find: two index descents say so, instead of the walk's statement at every claim.
    select (select d.subscription_id from webhook_deliveries d where d.status = 'pending'
             order by d.subscription_id, d.next_attempt_at limit 1),
           (select d.subscription_id from webhook_deliveries d where d.status = 'pending'
             order by d.subscription_id desc, d.next_attempt_at desc limit 1)
      into first_subscription, last_subscription;
  end if;
  if scanned_count >= scan_limit and locked_count < claim_limit
     and first_subscription is distinct from last_subscription then
    -- Where the walk starts: the lease token is a fresh random UUID per claim, so every subscription id (wh_ and 32
    -- hex digits) is as likely as any other to be next after it.
    visit_from := 'wh_' || replace(claim_lease::text, '-', '');
    -- The walk: from each subscription with pending rows to the next one's oldest pending row (one index descent
    -- each; a subscription's due rows come before its leased ones), at most scan_limit / 4 subscriptions, once
    -- around the ids from `visit_from`.
    with recursive held(subscription_id, held) as materialized (
      -- What each subscription holds: the caller's attempts in flight and the rows locked above. A subscription
      -- with allowed rows above that could not be locked, even by step 1b, is being claimed by another worker at
      -- this moment: taken as full here, so that this claim does not read and try the same rows again behind it
      -- (the other worker's claim, or this worker's next, takes them).
      select x.subscription_id,
             case when sum(x.allowed) > sum(x.locked) then per_endpoint else sum(x.held)::int end
        from (select b.subscription_id, b.held, 0 as allowed, 0 as locked
                from unnest(busy_subscriptions, busy_counts) as b(subscription_id, held)
              union all
              select l.subscription_id, 1, 0, 1 from unnest(locked_subscriptions) as l(subscription_id)
              union all
              select a.subscription_id, 0, 1, 0 from unnest(allowed_subscriptions) as a(subscription_id)) x
       group by x.subscription_id
    ),
    walk(subscription_id, id, next_attempt_at, seq, wrapped, n) as (
      (select first.subscription_id, first.id, first.next_attempt_at, first.seq, first.wrapped, 1
         from ((select d.subscription_id, d.id, d.next_attempt_at, d.seq, false as wrapped
                  from webhook_deliveries d
                 where d.status = 'pending'
                   and (d.subscription_id, d.next_attempt_at) >= (visit_from, '-infinity'::timestamptz)
                 order by d.subscription_id, d.next_attempt_at
                 limit 1)
               union all
               (select d.subscription_id, d.id, d.next_attempt_at, d.seq, true
                  from webhook_deliveries d
                 where d.status = 'pending'
                 order by d.subscription_id, d.next_attempt_at
                 limit 1)
               limit 1) first)
      union all
      (select step.subscription_id, step.id, step.next_attempt_at, step.seq, step.wrapped, w.n + 1
         from walk w
         cross join lateral (
           (select d.subscription_id, d.id, d.next_attempt_at, d.seq, w.wrapped as wrapped
              from webhook_deliveries d
             where d.status = 'pending'
               and (d.subscription_id, d.next_attempt_at) > (w.subscription_id, 'infinity'::timestamptz)
             order by d.subscription_id, d.next_attempt_at
             limit 1)
           union all
           -- Past the last id: once around to the first (and on until the start point).
           (select d.subscription_id, d.id, d.next_attempt_at, d.seq, true
              from webhook_deliveries d
             where d.status = 'pending' and not w.wrapped
             order by d.subscription_id, d.next_attempt_at
             limit 1)
           limit 1
         ) step
        where w.n < greatest(scan_limit / 4, 1)
          and (not step.wrapped or step.subscription_id < visit_from))
    ),
    -- The visited subscriptions with a due row and a free slot (not skipped).
    due as materialized (
      select v.subscription_id, v.id, v.next_attempt_at, v.seq, v.slots, v.id = any(coalesce(locked_ids, '{}')) as taken
        from (select w.subscription_id, w.id, w.next_attempt_at, w.seq,
                     least(per_endpoint - coalesce((select h.held from held h
                                                     where h.subscription_id = w.subscription_id), 0),
                           claim_limit - locked_count) as slots
                from walk w
               where w.next_attempt_at <= claim_now and w.subscription_id <> all(skipped_subscriptions)) v
       where v.slots > 0
    ),
    -- Breadth first: each such subscription's oldest due row (unless the scan's step locked it).
    firsts as materialized (
      select d.id, d.next_attempt_at, d.seq from due d where not d.taken
    ),
    -- Then depth, up to what the claim still takes: more rows of those subscriptions, the one whose oldest due row
    -- is oldest first, each up to its free slots (the outer LIMIT stops the walk over them).
    more as materialized (
      select r.id, r.next_attempt_at, r.seq
        from (select d.subscription_id, d.id, d.next_attempt_at, d.slots - case when d.taken then 0 else 1 end as slots
                from due d
               order by d.next_attempt_at, d.subscription_id) d
        cross join lateral (
          select x.id, x.next_attempt_at, x.seq from webhook_deliveries x
           where x.status = 'pending'
             and (x.subscription_id, x.next_attempt_at) >= (d.subscription_id, d.next_attempt_at)
             and (x.subscription_id, x.next_attempt_at) <= (d.subscription_id, claim_now)
             and x.id <> d.id and x.id <> all(coalesce(locked_ids, '{}'))
           order by x.subscription_id, x.next_attempt_at
           limit d.slots
        ) r
       limit greatest(claim_limit - locked_count - (select count(*) from firsts), 0)
    )
    select array_agg(first.id order by first.next_attempt_at, first.seq)
      into behind_ids
      from (select locked.id, b.next_attempt_at, b.seq
              from (select b.id, b.next_attempt_at, b.seq
                      from (select f.id, f.next_attempt_at, f.seq from firsts f
                            union all
                            select m.id, m.next_attempt_at, m.seq from more m) b
                     order by b.next_attempt_at, b.seq) b
              cross join lateral (
                select d.id, d.status, d.next_attempt_at from webhook_deliveries d
                 where d.id = b.id
                 limit 1
                   for update skip locked
              ) locked
             where locked.status = 'pending' and locked.next_attempt_at <= claim_now
             order by b.next_attempt_at, b.seq
             limit claim_limit - locked_count) first;
    -- After the scan's rows: every row behind a full scan is due no earlier than the scan's last one.
    locked_ids := coalesce(locked_ids, '{}') || coalesce(behind_ids, '{}');
  end if;
  if coalesce(cardinality(locked_ids), 0) = 0 then
    return;
  end if;

  -- 3. The update of exactly the locked rows, by key, as 0011.
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

-- As 0011 and 0013: only the service claims (CREATE OR REPLACE keeps the grants; repeated here so that this file
-- says who may call the function wherever it is read or applied).
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
