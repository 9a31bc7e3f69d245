-- Performance (issue 9, order creation): the same lifecycle and outbox rules as 0001, 0002 and 0006, with fewer
-- statements and trigger firings per history row.
--
-- 1. The history row's event is written by its BEFORE INSERT trigger (cellvi_history_before_insert), which has just
--    read (and, for a change, updated) the order, instead of by 0001's AFTER INSERT trigger, which read the order a
--    second time. The event is built from the row exactly as it will be stored (after this trigger completed its
--    details and city) and the payload is unchanged. A BEFORE trigger's writes belong to the same statement: if the
--    history insert then fails (a check or a foreign key), the statement fails and the event goes with it, as
--    before. The rows the orders trigger writes for a raw `update orders` (cellvi.lifecycle_sync) get their event
--    here too.
-- 2. A CREATED row for an order this transaction inserted itself skips `for update`: no other transaction can see
--    that order yet, so there is nothing to serialise with, and locking it cost a WAL record per order. Any other
--    row (another transaction's order, a subtransaction's, or any other status) locks the order as before.
-- 3. At commit, the check that every new order has its CREATED row (cellvi_order_ensure_created) is one query when
--    it has one (our API always writes it), not two.
--
-- Measured on the benchmark machine (2 vCPUs, PostgreSQL 15, shared and loaded: load average 4-9), before = 0007:
--   * the exact statement of `POST /v1/orders/create` with an Idempotency-Key, 2,000 times in one session with the
--     commit-time check made immediate, 4 alternating rounds: median 495-542 µs per statement before, 406-470
--     after;
--   * the gateway at a fixed 300 orders/s, CPU of every PostgreSQL backend of the database per order, medians of
--     4 alternating rounds: 1,076 µs before, 936 after.
--
-- On a database already past 0090 the Node migrator applies this file as it did 0006 and 0007; `supabase db push`
-- needs `--include-all`. No table is created, so nothing needs 0090's treatment.

create or replace function cellvi_history_before_insert() returns trigger
language plpgsql as $$
declare
  o orders%rowtype;
  from_state text;
  to_state text;
  closing boolean := coalesce(new.details -> 'closed' = 'true'::jsonb, false);
begin
  if current_setting('cellvi.lifecycle_sync', true) = new.order_id::text then
    -- The orders trigger is writing the history of a change it already validated and applied: only the event
    -- remains to be written.
    select * into o from orders where id = new.order_id;
  else
    if new.status = 'CREATED' then
      -- An order inserted by this very transaction (our API, a connector, an import): invisible to any other
      -- transaction until commit, so no lock is needed to validate against it.
      select * into o from orders where id = new.order_id and xmin = pg_current_xact_id()::xid;
    end if;
    if o.id is null then
      -- The row lock serialises concurrent changes of one order (API, raw SQL), so each validates against the
      -- state the previous one left.
      select * into o from orders where id = new.order_id for update;
      if not found then
        raise exception 'order % does not exist', new.order_id using errcode = 'foreign_key_violation';
      end if;
    end if;
    if new.tenant_id is distinct from o.tenant_id then
      raise exception 'order % belongs to another tenant than %', o.id, new.tenant_id
        using errcode = 'check_violation';
    end if;
    from_state := cellvi_lifecycle_state(o.status, o.closed_at is not null);
    to_state := cellvi_lifecycle_state(new.status, new.status = 'EXCEPTION' and closing);

    if to_state = 'CREATED' then
      -- Only the order's first history row may be CREATED.
      if from_state <> 'CREATED' or exists (select 1 from order_status_history where order_id = o.id) then
        perform cellvi_reject_transition(o.id, from_state, to_state);
      end if;
    else
      if not cellvi_transition_allowed(from_state, to_state) then
        perform cellvi_reject_transition(o.id, from_state, to_state);
      end if;

      perform set_config('cellvi.lifecycle_sync', o.id::text, true);
      update orders set
        status = new.status,
        attempt = case when to_state = 'DRIVER_ASSIGNED' then attempt + 1 else attempt end,
        driver = case when to_state = 'DRIVER_ASSIGNED' then new.details -> 'driver' else driver end,
        exception = case
          when to_state = 'DRIVER_ASSIGNED' then null
          when to_state in ('EXCEPTION', 'CLOSED') then coalesce(new.details -> 'exception', exception,
            jsonb_build_object('code', 'OTHER', 'message', new.description))
          else exception end,
        proof = case when to_state = 'DELIVERED' then new.details -> 'proof' else proof end,
        closed_at = case when to_state = 'CLOSED' then new.occurred_at else null end,
        last_latitude = case when to_state = 'DRIVER_ASSIGNED' then null else last_latitude end,
        last_longitude = case when to_state = 'DRIVER_ASSIGNED' then null else last_longitude end,
        last_position_at = case when to_state = 'DRIVER_ASSIGNED' then null else last_position_at end,
        last_distance_m = case when to_state = 'DRIVER_ASSIGNED' then null else last_distance_m end,
        updated_at = greatest(updated_at, new.occurred_at)
      where id = o.id
      returning * into o;
      perform set_config('cellvi.lifecycle_sync', '', true);

      new.details := cellvi_lifecycle_details(o, to_state, new.details);
      if new.city is null then
        new.city := cellvi_default_city(o, to_state);
      end if;
    end if;
  end if;

  -- The event (0001/0006's payload, unchanged), from the row as it will be stored.
  insert into events (tenant_id, mode, type, order_id, occurred_at, payload)
  values (
    o.tenant_id,
    o.mode,
    cellvi_event_type(new.status),
    o.id,
    new.occurred_at,
    jsonb_build_object(
      'order_id', o.id,
      'external_id', o.external_id,
      'tracking_number', o.tracking_number,
      'status', new.status,
      'occurred_at', to_char(new.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'description', new.description,
      'city', new.city
    ) || new.details
  );
  return new;
end;
$$;

drop trigger order_status_history_event on order_status_history;
drop function cellvi_history_to_event();

create or replace function cellvi_order_ensure_created() returns trigger
language plpgsql as $$
begin
  if not exists (select 1 from order_status_history where order_id = new.id) then
    -- No row when the order was deleted again before commit.
    insert into order_status_history (order_id, tenant_id, status, description, city, actor, occurred_at)
    select o.id, o.tenant_id, 'CREATED', cellvi_default_description('CREATED'), o.origin ->> 'city',
           cellvi_sql_actor(), o.created_at
      from orders o
     where o.id = new.id;
  end if;
  return null;
end;
$$;
