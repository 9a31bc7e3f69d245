-- API key management: rotation links, an audit log, and change tracking that lets every instance drop a cached
-- key within a second of its revocation (NOTIFY at once, plus a polled column as the safety net for a NOTIFY
-- lost while an instance's listener was reconnecting).

alter table api_keys
  -- When anything that decides whether and how a key authenticates last changed (not last_used_at).
  add column auth_changed_at timestamptz not null default now(),
  -- The key that replaced this one in a rotation; this one stays valid until its expires_at (the grace period).
  add column replaced_by uuid references api_keys (id) on delete set null;
create index api_keys_auth_changed_idx on api_keys (auth_changed_at);

alter table tenants
  add column auth_changed_at timestamptz not null default now();
create index tenants_auth_changed_idx on tenants (auth_changed_at);

-- Who created, rotated, revoked or changed which key, and when. Rows are only ever inserted.
create table key_audit_log (
  id bigserial primary key,
  tenant_id uuid not null references tenants (id) on delete cascade,
  mode text not null check (mode in ('live', 'test')),
  -- No foreign key: the record of a key outlives the key.
  key_id uuid not null,
  action text not null check (action in ('created', 'rotated', 'revoked', 'updated')),
  -- 'cli', 'system' (a tenant's first key), or 'api_key:<uuid>' for the key that made the call over the API.
  actor text not null,
  details jsonb not null default '{}'::jsonb,
  occurred_at timestamptz not null default now()
);
create index key_audit_log_tenant_idx on key_audit_log (tenant_id, mode, id desc);

-- clock_timestamp(), not now(): the poller compares with the time it last looked, and a transaction's start time
-- could be older than that by the time it commits.
create function cellvi_api_key_auth_change() returns trigger
language plpgsql as $$
begin
  if tg_op = 'DELETE' then
    perform pg_notify('cellvi_keys', 'key:' || old.id::text);
    return old;
  end if;
  if new.revoked_at is distinct from old.revoked_at
     or new.expires_at is distinct from old.expires_at
     or new.scopes is distinct from old.scopes
     or new.rate_limit_per_minute is distinct from old.rate_limit_per_minute
     or new.key_hash is distinct from old.key_hash
     or new.mode is distinct from old.mode
     or new.tenant_id is distinct from old.tenant_id then
    new.auth_changed_at := clock_timestamp();
    perform pg_notify('cellvi_keys', 'key:' || new.id::text);
  end if;
  return new;
end;
$$;

create trigger api_keys_auth_change
before update or delete on api_keys
for each row execute function cellvi_api_key_auth_change();

create function cellvi_tenant_auth_change() returns trigger
language plpgsql as $$
begin
  if tg_op = 'DELETE' then
    perform pg_notify('cellvi_keys', 'tenant:' || old.id::text);
    return old;
  end if;
  if new.plan is distinct from old.plan
     or new.rate_limit_per_minute is distinct from old.rate_limit_per_minute
     or new.name is distinct from old.name then
    new.auth_changed_at := clock_timestamp();
    perform pg_notify('cellvi_keys', 'tenant:' || new.id::text);
  end if;
  return new;
end;
$$;

create trigger tenants_auth_change
before update or delete on tenants
for each row execute function cellvi_tenant_auth_change();
