-- Foundation: tenants, their API keys, orders with their status history, idempotency records, and the event
-- outbox that every later feature (webhooks, connectors) reads from.

create table tenants (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  -- The plan names a rate-limit policy; rate_limit_per_minute overrides it for this tenant.
  plan text not null default 'default',
  rate_limit_per_minute integer check (rate_limit_per_minute > 0),
  settings jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);

create table api_keys (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants (id) on delete cascade,
  mode text not null check (mode in ('live', 'test')),
  name text,
  -- SHA-256 (hex) of the whole key: the key itself is never stored.
  key_hash text not null unique,
  -- A short, non-secret beginning of the key, so people can tell their keys apart.
  display_prefix text not null,
  scopes text[] not null,
  rate_limit_per_minute integer check (rate_limit_per_minute > 0),
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz
);
create index api_keys_tenant_idx on api_keys (tenant_id, created_at);

create table orders (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants (id) on delete cascade,
  mode text not null check (mode in ('live', 'test')),
  external_id text not null,
  tracking_number text not null unique,
  -- The capability that unlocks the public tracking view; compared in constant time by the service.
  tracking_token text not null,
  status text not null default 'CREATED',
  recipient jsonb not null,
  destination jsonb not null,
  origin jsonb,
  packages jsonb not null,
  cod_amount numeric(14, 2),
  currency text,
  service_level text,
  notes text,
  metadata jsonb not null default '{}'::jsonb,
  -- A cursor for stable pagination: ids are random, creation times can tie.
  seq bigserial not null unique,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- An external_id names one order per tenant and mode: the ERP's retry of an import cannot create a second one.
  unique (tenant_id, mode, external_id)
);
create index orders_tenant_list_idx on orders (tenant_id, mode, seq desc);
create index orders_tenant_status_idx on orders (tenant_id, mode, status, seq desc);

create table order_status_history (
  id bigserial primary key,
  order_id uuid not null references orders (id) on delete cascade,
  tenant_id uuid not null references tenants (id) on delete cascade,
  status text not null,
  description text not null,
  -- City-level location only: the public tracking view shows it, so never a street address here.
  city text,
  actor text not null default 'system',
  details jsonb not null default '{}'::jsonb,
  occurred_at timestamptz not null default now()
);
create index order_status_history_order_idx on order_status_history (order_id, id);

create table idempotency_keys (
  tenant_id uuid not null references tenants (id) on delete cascade,
  mode text not null,
  key text not null,
  -- Method and path the key was first used with, and a hash of the body: a different request is a 422.
  request_fingerprint text not null,
  -- null while the first request is running; set with the response once it is done.
  response_status integer,
  response_body jsonb,
  -- A crashed first request does not block the key for ever: after this time another request may take it over.
  locked_until timestamptz,
  created_at timestamptz not null default now(),
  primary key (tenant_id, mode, key)
);
create index idempotency_keys_created_idx on idempotency_keys (created_at);

-- The transactional outbox. A row is written in the same transaction as the change it describes, so an event
-- exists if and only if its change committed. Webhook delivery reads from here.
create table events (
  id text primary key default ('evt_' || replace(gen_random_uuid()::text, '-', '')),
  seq bigserial not null unique,
  tenant_id uuid not null references tenants (id) on delete cascade,
  mode text not null check (mode in ('live', 'test')),
  type text not null,
  order_id uuid references orders (id) on delete cascade,
  occurred_at timestamptz not null,
  -- Exactly the `data` object of the webhook body.
  payload jsonb not null,
  created_at timestamptz not null default now()
);
create index events_tenant_idx on events (tenant_id, mode, seq);
create index events_order_idx on events (order_id, seq);

-- Status -> event type. CREATED is the only status whose event name differs.
create function cellvi_event_type(status text) returns text
language sql immutable as $$
  select case status when 'CREATED' then 'ORDER_CREATED' else status end
$$;

-- Every history row is one state change, and produces one event, whoever inserted it (our API or another CELLVI
-- component writing SQL directly).
create function cellvi_history_to_event() returns trigger
language plpgsql as $$
declare
  o orders%rowtype;
  event_id text;
begin
  select * into o from orders where id = new.order_id;
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
  )
  returning id into event_id;
  perform pg_notify('cellvi_events', event_id);
  return new;
end;
$$;

create trigger order_status_history_event
after insert on order_status_history
for each row execute function cellvi_history_to_event();
