-- Webhooks: subscriptions, one delivery row per (event, subscription), and the log of every attempt.
-- Fan-out happens in the database, in the transaction that writes the event, so an event that committed always
-- has its deliveries, whatever process wrote it and whatever process dies afterwards.

create table webhook_subscriptions (
  id text primary key default ('wh_' || replace(gen_random_uuid()::text, '-', '')),
  tenant_id uuid not null references tenants (id) on delete cascade,
  -- The mode of the key that created it: test-mode events go only to test-mode subscriptions, and vice versa.
  mode text not null check (mode in ('live', 'test')),
  url text not null check (length(url) <= 2048),
  -- Event types, or {'*'} for all of them.
  events text[] not null check (cardinality(events) > 0),
  description text check (length(description) <= 500),
  enabled boolean not null default true,
  -- Why it was disabled: 'manual' (PATCH), 'endpoint_gone' (it answered 410) or 'failing' (every attempt failed
  -- for the configured period). Null while enabled.
  disabled_reason text check (disabled_reason in ('manual', 'endpoint_gone', 'failing')),
  disabled_at timestamptz,
  -- The signing secret ('whsec_' + base64). It must be readable to sign, so it is stored as is: the database is
  -- reachable only through the service (see the Supabase RLS migration).
  secret text not null,
  -- After a rotation the old secret also signs until this time, so receivers can switch without losing events.
  previous_secret text,
  previous_secret_expires_at timestamptz,
  -- The time of the first failed attempt since the last successful one; null while healthy.
  failing_since timestamptz,
  seq bigserial not null unique,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index webhook_subscriptions_tenant_idx on webhook_subscriptions (tenant_id, mode, seq);

create table webhook_deliveries (
  id text primary key default ('dlv_' || replace(gen_random_uuid()::text, '-', '')),
  seq bigserial not null unique,
  tenant_id uuid not null references tenants (id) on delete cascade,
  mode text not null check (mode in ('live', 'test')),
  subscription_id text not null references webhook_subscriptions (id) on delete cascade,
  -- The webhook-id header: the outbox event id (test sends get their own evt_ id). No foreign key, because a test
  -- send has no outbox row (it must not reach other subscriptions).
  event_id text not null,
  event_type text not null,
  -- The exact bytes that are signed and sent, so every retry sends the same body.
  body text not null,
  status text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
  -- Attempts started (counted when claimed, so an attempt cut short by a crash still counts).
  attempts integer not null default 0,
  -- Null: governed by the retry schedule. A manual retry or a test send allows exactly one more attempt.
  max_attempts integer,
  -- When the next attempt is due. While a worker holds the delivery this is the end of its lease: a worker that
  -- dies leaves the row to be claimed again once the lease runs out. Null once succeeded or failed.
  next_attempt_at timestamptz,
  -- The claim that holds the delivery; a worker only records its outcome while it still holds the claim.
  lease_token uuid,
  last_attempt_at timestamptz,
  last_status_code integer,
  last_error text,
  created_at timestamptz not null default now(),
  completed_at timestamptz,
  unique (subscription_id, event_id)
);
-- The queue: only pending rows, in due order. Claims walk this index.
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_subscription_idx on webhook_deliveries (subscription_id, seq desc);

create table webhook_attempts (
  id bigserial primary key,
  delivery_id text not null references webhook_deliveries (id) on delete cascade,
  attempt integer not null,
  attempted_at timestamptz not null,
  duration_ms integer not null,
  outcome text not null check (outcome in ('succeeded', 'failed')),
  status_code integer,
  error text,
  -- The first KiB of the receiver's answer, to help debugging.
  response_body text,
  -- When the delivery was scheduled to be tried again after this attempt (null: not retried automatically).
  next_attempt_at timestamptz
);
create index webhook_attempts_delivery_idx on webhook_attempts (delivery_id, id);

-- One delivery per matching enabled subscription of the event's tenant and mode, written with the event. The
-- body is built here once ({"type", "timestamp", "data"}; data is the outbox payload verbatim) and never again.
create function cellvi_webhook_fan_out() returns trigger
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
  insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, next_attempt_at)
  select new.tenant_id, new.mode, s.id, new.id, new.type, body, now()
    from webhook_subscriptions s
   where s.tenant_id = new.tenant_id and s.mode = new.mode and s.enabled
     and (s.events @> array[new.type] or s.events @> array['*']);
  get diagnostics fanned = row_count;
  -- Wakes the dispatchers only when there is something to send. Identical notifications in one transaction are
  -- folded into one by PostgreSQL, so a bulk import wakes them once.
  if fanned > 0 then
    perform pg_notify('cellvi_webhooks', '');
  end if;
  return new;
end;
$$;

create trigger events_webhook_fan_out
after insert on events
for each row execute function cellvi_webhook_fan_out();
