-- Order lifecycle: the transition table, the order's current lifecycle state (driver, attempt, exception, proof,
-- last position), the driver's GPS trail, and the triggers that keep `orders.status` and `order_status_history`
-- in step so that every state change writes exactly one event into the outbox, whoever made it.
--
-- Lifecycle states. Five of them are order statuses; CLOSED is not a sixth status but "EXCEPTION with closed_at
-- set": an exception that CELLVI gave up on (returned to sender, cancelled). Keeping the status EXCEPTION means
-- the event types stay the five that webhooks know, and closing is announced as one more EXCEPTION event whose
-- payload says `"closed": true`.
--
--   CREATED         -> DRIVER_ASSIGNED, EXCEPTION, CLOSED
--   DRIVER_ASSIGNED -> NEARBY, DELIVERED, EXCEPTION, CLOSED
--   NEARBY          -> DELIVERED, EXCEPTION, CLOSED
--   EXCEPTION       -> DRIVER_ASSIGNED (a new delivery attempt), CLOSED
--   DELIVERED, CLOSED: final
--
-- The same table lives in src/domain/orders/lifecycle/transitions.ts (the API answers 409 from it before touching
-- the database); a test checks that both agree.
--
-- How a change may be made, and what each produces (always exactly one history row and one event):
--   * insert into order_status_history (our API does this; other components may too): the BEFORE INSERT trigger
--     validates the transition, updates orders (status, attempt, driver, ...) and completes the row's `details`;
--     0001's AFTER INSERT trigger turns the row into the event.
--   * update orders set status = ... (or closed_at = ...): the BEFORE UPDATE trigger validates it and completes the
--     row; the AFTER UPDATE trigger inserts the history row, which produces the event.
--   Each trigger that makes the paired change first sets the transaction-local setting `cellvi.lifecycle_sync` to
--   the order id; the triggers on the other table see it and stand aside. So there is no recursion and never a
--   second history row (or event) for one change.
--
-- An invalid transition made with raw SQL is REJECTED: the statement fails with SQLSTATE 'CV409' and a message
-- naming the order, its current state and the requested one, so the writer's transaction rolls back and nothing
-- changes (no half-applied state, no event). A status write that does not change the lifecycle state (setting
-- the same status again, editing other columns) is not a state change: no history row, no event.
-- Other components may name themselves in the history's `actor` with `set local cellvi.actor = 'dispatch-console'`.

alter table orders
  -- Delivery attempts started so far: 0 until the first driver is assigned; each assignment starts a new one.
  add column attempt integer not null default 0 check (attempt >= 0),
  -- The current attempt's driver {id, name, phone?, vehicle_plate?}.
  add column driver jsonb,
  -- The current exception {code, message} while the order is in EXCEPTION (and after it was closed).
  add column exception jsonb,
  -- Proof of delivery {received_by, delivered_at, proof_url} once DELIVERED.
  add column proof jsonb,
  -- Set when an exception is closed for good: the order stays EXCEPTION and accepts no further transition.
  add column closed_at timestamptz,
  -- The newest driver position of the current attempt (by the device's recorded_at) and its great-circle
  -- distance to the destination: all that the NEARBY decision and the ETA need, without scanning the trail.
  add column last_latitude double precision,
  add column last_longitude double precision,
  add column last_position_at timestamptz,
  add column last_distance_m double precision,
  add constraint orders_status_check
    check (status in ('CREATED', 'DRIVER_ASSIGNED', 'NEARBY', 'DELIVERED', 'EXCEPTION')),
  add constraint orders_closed_only_in_exception check (closed_at is null or status = 'EXCEPTION');

alter table order_status_history
  add constraint order_status_history_status_check
    check (status in ('CREATED', 'DRIVER_ASSIGNED', 'NEARBY', 'DELIVERED', 'EXCEPTION'));

-- The NEARBY radius is a per-tenant setting (`settings.nearby_radius_m`, metres); absent means the service default.
alter table tenants
  add constraint tenants_nearby_radius_check check (
    settings -> 'nearby_radius_m' is null
    or (jsonb_typeof(settings -> 'nearby_radius_m') = 'number'
        and (settings ->> 'nearby_radius_m')::numeric between 10 and 50000)
  );

-- The driver's GPS trail, for the dispatch console and disputes ("the driver never came"). The NEARBY decision
-- and the ETA read only the order's last_* columns. The primary key makes a retried upload of the same points a
-- no-op and serves "the trail of this order in time order".
create table order_positions (
  order_id uuid not null references orders (id) on delete cascade,
  recorded_at timestamptz not null,
  tenant_id uuid not null references tenants (id) on delete cascade,
  attempt integer not null,
  latitude double precision not null check (latitude between -90 and 90),
  longitude double precision not null check (longitude between -180 and 180),
  received_at timestamptz not null default now(),
  primary key (order_id, recorded_at)
);

-- The order's lifecycle state: its status, except that a closed exception is CLOSED.
create function cellvi_lifecycle_state(status text, closed boolean) returns text
language sql immutable as $$
  select case when status = 'EXCEPTION' and closed then 'CLOSED' else status end
$$;

-- The transition table (see the top of this file). CREATED is only ever the first state, never a target.
create function cellvi_transition_allowed(from_state text, to_state text) returns boolean
language sql immutable as $$
  select (from_state, to_state) in (
    ('CREATED', 'DRIVER_ASSIGNED'), ('CREATED', 'EXCEPTION'), ('CREATED', 'CLOSED'),
    ('DRIVER_ASSIGNED', 'NEARBY'), ('DRIVER_ASSIGNED', 'DELIVERED'), ('DRIVER_ASSIGNED', 'EXCEPTION'),
    ('DRIVER_ASSIGNED', 'CLOSED'),
    ('NEARBY', 'DELIVERED'), ('NEARBY', 'EXCEPTION'), ('NEARBY', 'CLOSED'),
    ('EXCEPTION', 'DRIVER_ASSIGNED'), ('EXCEPTION', 'CLOSED')
  )
$$;

create function cellvi_reject_transition(order_id uuid, from_state text, to_state text) returns void
language plpgsql as $$
begin
  raise exception 'invalid_transition: order % is %, it cannot move to %', order_id, from_state, to_state
    using errcode = 'CV409',
          hint = 'Allowed: CREATED -> DRIVER_ASSIGNED|EXCEPTION|CLOSED; DRIVER_ASSIGNED -> NEARBY|DELIVERED|EXCEPTION|CLOSED; NEARBY -> DELIVERED|EXCEPTION|CLOSED; EXCEPTION -> DRIVER_ASSIGNED|CLOSED. CLOSED = EXCEPTION with closed_at set.';
end;
$$;

-- Who made a change that did not come through our API.
create function cellvi_sql_actor() returns text
language sql stable as $$
  select coalesce(nullif(current_setting('cellvi.actor', true), ''), 'sql:' || session_user)
$$;

-- The event's own fields for a change into `to_state`, read from the order row after the change; `given` (what
-- the writer put into the history row's details) wins over these defaults. 0001's trigger merges the result into
-- the event payload, so this is where every event's payload shape is decided for raw SQL changes too.
create function cellvi_lifecycle_details(o orders, to_state text, given jsonb) returns jsonb
language sql stable as $$
  select case when to_state = 'CREATED' then given else
    jsonb_build_object('attempt', o.attempt, 'driver', o.driver)
    || case to_state
         when 'NEARBY' then jsonb_build_object(
           'position', case when o.last_latitude is null then null else jsonb_build_object(
             'latitude', o.last_latitude,
             'longitude', o.last_longitude,
             'recorded_at', to_char(o.last_position_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
           ) end,
           'distance_m', round(o.last_distance_m))
         when 'DELIVERED' then jsonb_build_object('proof', o.proof)
         when 'EXCEPTION' then jsonb_build_object('exception', o.exception, 'closed', false)
         when 'CLOSED' then jsonb_build_object('exception', o.exception, 'closed', true)
         else '{}'::jsonb
       end
    || given
  end
$$;

create function cellvi_default_description(to_state text) returns text
language sql immutable as $$
  select case to_state
    when 'CREATED' then 'Order received'
    when 'DRIVER_ASSIGNED' then 'Driver assigned'
    when 'NEARBY' then 'The driver is nearby'
    when 'DELIVERED' then 'Delivered'
    when 'EXCEPTION' then 'Delivery exception'
    when 'CLOSED' then 'Closed after an exception'
  end
$$;

-- City-level location of a change: where it happened, never a street address (the tracking view shows it).
create function cellvi_default_city(o orders, to_state text) returns text
language sql stable as $$
  select case
    when to_state in ('NEARBY', 'DELIVERED') then o.destination ->> 'city'
    when to_state in ('EXCEPTION', 'CLOSED') and o.attempt > 0 then o.destination ->> 'city'
    else o.origin ->> 'city'
  end
$$;

-- Orders are born CREATED: their first history row (and ORDER_CREATED event) comes with them.
create function cellvi_order_before_insert() returns trigger
language plpgsql as $$
begin
  if new.status <> 'CREATED' or new.closed_at is not null then
    raise exception 'invalid_transition: a new order must start as CREATED, not %', new.status
      using errcode = 'CV409';
  end if;
  new.attempt := 0;
  return new;
end;
$$;

create trigger orders_lifecycle_before_insert
before insert on orders
for each row execute function cellvi_order_before_insert();

-- An order inserted with plain SQL and no history row still announces itself: at commit, a CREATED history row
-- (hence the ORDER_CREATED event) is written for it. Our API inserts that row itself in the same transaction,
-- with its own description and actor, so this finds it and does nothing.
create function cellvi_order_ensure_created() returns trigger
language plpgsql as $$
declare
  o orders%rowtype;
begin
  select * into o from orders where id = new.id;
  if not found then
    return null;
  end if;
  if not exists (select 1 from order_status_history where order_id = o.id) then
    insert into order_status_history (order_id, tenant_id, status, description, city, actor, occurred_at)
    values (o.id, o.tenant_id, 'CREATED', cellvi_default_description('CREATED'), o.origin ->> 'city',
            cellvi_sql_actor(), o.created_at);
  end if;
  return null;
end;
$$;

create constraint trigger orders_lifecycle_ensure_created
after insert on orders
deferrable initially deferred
for each row execute function cellvi_order_ensure_created();

-- A raw `update orders set status = ...`: validate, and complete the order row for the new state.
create function cellvi_order_before_update() returns trigger
language plpgsql as $$
declare
  from_state text := cellvi_lifecycle_state(old.status, old.closed_at is not null);
  to_state text := cellvi_lifecycle_state(new.status, new.closed_at is not null);
begin
  -- The history trigger is making this change and has validated it already.
  if current_setting('cellvi.lifecycle_sync', true) = new.id::text then
    return new;
  end if;
  if from_state = to_state then
    return new;
  end if;
  if not cellvi_transition_allowed(from_state, to_state) then
    perform cellvi_reject_transition(old.id, from_state, to_state);
  end if;
  new.updated_at := now();
  if to_state = 'DRIVER_ASSIGNED' then
    -- A new attempt: a new driver's positions start from scratch.
    new.attempt := old.attempt + 1;
    new.exception := null;
    new.last_latitude := null;
    new.last_longitude := null;
    new.last_position_at := null;
    new.last_distance_m := null;
  elsif to_state = 'EXCEPTION' and new.exception is not distinct from old.exception then
    new.exception := jsonb_build_object(
      'code', 'OTHER', 'message', 'Exception reported by another CELLVI system');
  elsif to_state = 'CLOSED' and new.exception is null then
    new.exception := jsonb_build_object('code', 'OTHER', 'message', 'Closed by another CELLVI system');
  elsif to_state = 'DELIVERED' and new.proof is not distinct from old.proof then
    new.proof := jsonb_build_object(
      'received_by', null,
      'delivered_at', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'proof_url', null);
  end if;
  return new;
end;
$$;

create trigger orders_lifecycle_before_update
before update on orders
for each row execute function cellvi_order_before_update();

-- ... and write its history row, which writes the event (0001's trigger).
create function cellvi_order_after_update() returns trigger
language plpgsql as $$
declare
  from_state text := cellvi_lifecycle_state(old.status, old.closed_at is not null);
  to_state text := cellvi_lifecycle_state(new.status, new.closed_at is not null);
begin
  if current_setting('cellvi.lifecycle_sync', true) = new.id::text or from_state = to_state then
    return null;
  end if;
  perform set_config('cellvi.lifecycle_sync', new.id::text, true);
  insert into order_status_history (order_id, tenant_id, status, description, city, actor, details, occurred_at)
  values (new.id, new.tenant_id, new.status, cellvi_default_description(to_state),
          cellvi_default_city(new, to_state), cellvi_sql_actor(),
          cellvi_lifecycle_details(new, to_state, '{}'::jsonb), now());
  perform set_config('cellvi.lifecycle_sync', '', true);
  return null;
end;
$$;

create trigger orders_lifecycle_after_update
after update on orders
for each row execute function cellvi_order_after_update();

-- An insert into order_status_history (our API, or another component): validate the transition, move the order,
-- and complete the row's details so the event carries the full payload.
create function cellvi_history_before_insert() returns trigger
language plpgsql as $$
declare
  o orders%rowtype;
  from_state text;
  to_state text;
  closing boolean := coalesce(new.details -> 'closed' = 'true'::jsonb, false);
begin
  -- The orders trigger is writing the history of a change it already validated and applied.
  if current_setting('cellvi.lifecycle_sync', true) = new.order_id::text then
    return new;
  end if;
  -- The row lock serialises concurrent changes of one order (API, raw SQL), so each validates against the
  -- state the previous one left.
  select * into o from orders where id = new.order_id for update;
  if not found then
    raise exception 'order % does not exist', new.order_id using errcode = 'foreign_key_violation';
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
    return new;
  end if;
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
  return new;
end;
$$;

create trigger order_status_history_lifecycle
before insert on order_status_history
for each row execute function cellvi_history_before_insert();
