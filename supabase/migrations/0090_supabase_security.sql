-- Supabase hardening and scheduling. Keep this migration LAST: it covers every table the earlier ones created.
--
-- 1. Row Level Security on every table, with no policy at all: Supabase exposes the database to the `anon` and
--    `authenticated` roles (PostgREST, Realtime), and without a policy those roles read and write nothing. The
--    service connects as the table owner (or `service_role`, which bypasses RLS), so the data is reachable only
--    through the API gateway. An event trigger extends this to tables created by any later migration.
-- 2. The privileges RLS cannot govern (TRUNCATE, REFERENCES, TRIGGER, MAINTAIN, sequences) are revoked from them.
-- 3. Where pg_cron and pg_net exist (Supabase), the webhook-dispatcher Edge Function is invoked on a schedule and
--    poked right after new deliveries are queued. Everywhere else (PGlite, a plain PostgreSQL) this part does
--    nothing, and the Node worker delivers instead.

-- Schemas that belong to PostgreSQL or to Supabase's own services: never ours to alter.
create function cellvi_is_foreign_schema(schema_name text) returns boolean
language sql immutable
set search_path = pg_catalog, public
as $$
  select schema_name in ('pg_catalog', 'information_schema', 'auth', 'storage', 'realtime', '_realtime',
                         'supabase_functions', 'supabase_migrations', 'extensions', 'graphql', 'graphql_public',
                         'vault', 'net', 'cron', 'pgsodium', 'pgsodium_masks', 'pgbouncer', '_analytics')
      or schema_name like 'pg\_toast%' or schema_name like 'pg\_temp%'
$$;

-- Locks one table away from the client-facing roles: RLS on (no policy: nothing visible, nothing writable), and
-- the table privileges that RLS does not cover revoked. Roles that do not exist here (not Supabase) are skipped.
create function cellvi_lock_down_table(target regclass) returns void
language plpgsql
set search_path = pg_catalog, public
as $$
declare
  role_name text;
begin
  execute format('alter table %s enable row level security', target);
  foreach role_name in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = role_name) then
      -- MAINTAIN (PostgreSQL 17: VACUUM, LOCK TABLE, ...) is also outside RLS.
      execute format('revoke truncate, references, trigger%s on table %s from %I',
                     case when current_setting('server_version_num')::int >= 170000 then ', maintain' else '' end,
                     target, role_name);
    end if;
  end loop;
end;
$$;

do $$
declare
  t record;
  s record;
  role_name text;
begin
  for t in
    select c.oid::regclass as target
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p')
       and not cellvi_is_foreign_schema(n.nspname)
       and pg_get_userbyid(c.relowner) = current_user
       -- Tables an extension owns (pg_cron's job list, pg_net's queue) are the extension's business.
       and not exists (select 1 from pg_depend d
                        where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
  loop
    perform cellvi_lock_down_table(t.target);
  end loop;

  -- A sequence's USAGE lets a role call nextval(): a write RLS cannot see.
  foreach role_name in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = role_name) then
      for s in
        select distinct n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where c.relkind = 'S' and not cellvi_is_foreign_schema(n.nspname)
      loop
        execute format('revoke all on all sequences in schema %I from %I', s.nspname, role_name);
      end loop;
    end if;
  end loop;
end;
$$;

-- Tables created after this migration (a later migration, or a hand-made table) get the same treatment the moment
-- they are created, so an upgrade that adds a table can never leave it open.
create function cellvi_lock_down_new_tables() returns event_trigger
language plpgsql
set search_path = pg_catalog, public
as $$
declare
  command record;
  role_name text;
begin
  for command in
    select objid, schema_name from pg_event_trigger_ddl_commands()
     where command_tag in ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO') and object_type = 'table'
  loop
    if not cellvi_is_foreign_schema(command.schema_name) then
      perform cellvi_lock_down_table(command.objid::regclass);
    end if;
  end loop;
  for command in
    select objid, schema_name from pg_event_trigger_ddl_commands()
     where command_tag = 'CREATE SEQUENCE' or (command_tag = 'CREATE TABLE' and object_type = 'sequence')
  loop
    if not cellvi_is_foreign_schema(command.schema_name) then
      foreach role_name in array array['anon', 'authenticated'] loop
        if exists (select 1 from pg_roles where rolname = role_name) then
          execute format('revoke all on sequence %s from %I', command.objid::regclass, role_name);
        end if;
      end loop;
    end if;
  end loop;
end;
$$;

-- Creating an event trigger takes a superuser (or, on Supabase, the `postgres` role supautils lets do it). Where
-- that is refused the migration still applies: RLS above covers every table that exists now, and the RLS test
-- fails the build if a later migration leaves a table uncovered.
do $$
begin
  create event trigger cellvi_lock_down_new_tables on ddl_command_end
    when tag in ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'CREATE SEQUENCE')
    execute function cellvi_lock_down_new_tables();
exception when insufficient_privilege then
  raise notice 'cellvi: no permission to create the event trigger; tables created later need RLS by hand';
end;
$$;

-- ---------------------------------------------------------------------------------------------------------------
-- Scheduling the webhook-dispatcher Edge Function (Supabase only).
--
-- The dispatcher's address and its shared secret live in Supabase Vault, read at call time, so this migration holds
-- no project-specific value and a secret rotation needs no migration:
--   select vault.create_secret('https://<project-ref>.supabase.co', 'cellvi_project_url');
--   select vault.create_secret('<the WEBHOOK_DISPATCHER_SECRET of the functions>', 'cellvi_dispatcher_secret');
-- Until both exist, every call below is a no-op.

-- When the dispatcher was last poked. One row; the poke takes it with SKIP LOCKED, so concurrent transactions
-- queueing deliveries never wait on each other: whoever holds it pokes, the others know a poke is coming.
create table cellvi_dispatcher_pokes (
  singleton boolean primary key default true check (singleton),
  poked_at timestamptz not null default '-infinity'
);
insert into cellvi_dispatcher_pokes default values;
select cellvi_lock_down_table('cellvi_dispatcher_pokes'::regclass);

-- Invokes the dispatcher through pg_net (asynchronous: the request leaves after the calling transaction commits,
-- so the dispatcher sees the rows that caused the call). Returns pg_net's request id, or null when not configured.
create function cellvi_invoke_webhook_dispatcher(reason text) returns bigint
language plpgsql
set search_path = pg_catalog, public
as $$
declare
  project_url text;
  dispatcher_secret text;
begin
  if to_regnamespace('net') is null or to_regclass('vault.decrypted_secrets') is null then
    return null;
  end if;
  select decrypted_secret into project_url from vault.decrypted_secrets where name = 'cellvi_project_url';
  select decrypted_secret into dispatcher_secret from vault.decrypted_secrets
   where name = 'cellvi_dispatcher_secret';
  if project_url is null or dispatcher_secret is null then
    return null;
  end if;
  return net.http_post(
    url := rtrim(project_url, '/') || '/functions/v1/webhook-dispatcher',
    body := jsonb_build_object('reason', reason),
    headers := jsonb_build_object('content-type', 'application/json',
                                  'x-dispatcher-secret', dispatcher_secret),
    -- The dispatcher answers when its bounded batch is done; pg_net only records the answer.
    timeout_milliseconds := 60000
  );
end;
$$;

-- Pokes the dispatcher when a delivery becomes due now, at most once a second: a bulk import queues thousands of
-- deliveries and one invocation drains them. The dispatcher resets `poked_at` when it starts, so a delivery queued
-- while it runs pokes it again instead of waiting for the schedule. SECURITY DEFINER: whichever role wrote the
-- change (another CELLVI component writing SQL, say) must not need rights on the poke table, Vault or pg_net, nor
-- have its transaction fail for lacking them.
create function cellvi_poke_webhook_dispatcher() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public
as $$
begin
  perform 1 from cellvi_dispatcher_pokes
   where singleton and poked_at < clock_timestamp() - interval '1 second'
   for update skip locked;
  if found then
    update cellvi_dispatcher_pokes set poked_at = clock_timestamp() where singleton;
    perform cellvi_invoke_webhook_dispatcher('queued');
  end if;
  return null;
end;
$$;


do $$
begin
  if not exists (select 1 from pg_available_extensions where name = 'pg_cron')
     or not exists (select 1 from pg_available_extensions where name = 'pg_net') then
    return;
  end if;
  begin
    create extension if not exists pg_net;
    create extension if not exists pg_cron;
  exception when others then
    -- Installed but not loadable here (pg_cron outside shared_preload_libraries, or not this database): the
    -- Node worker delivers instead.
    raise notice 'cellvi: pg_cron/pg_net not usable here (%); the dispatcher is not scheduled', sqlerrm;
  end;
end;
$$;

-- Schedules the dispatcher and installs the poke trigger, when both extensions are present however they got there.
-- The migration calls it once; after enabling pg_cron and pg_net later (dashboard), call it again by hand. Returns
-- what it did, for the person at the SQL prompt.
create function cellvi_schedule_webhook_dispatcher() returns text
language plpgsql
set search_path = pg_catalog, public
as $$
begin
  if to_regnamespace('cron') is null or to_regnamespace('net') is null then
    return 'not scheduled: pg_cron and pg_net are not both installed (the Node worker delivers instead)';
  end if;
  -- Retries fall due at arbitrary times: a short period bounds how late one can be. Same name: rescheduled.
  perform cron.schedule('cellvi-webhook-dispatcher', '10 seconds',
                        $job$select public.cellvi_invoke_webhook_dispatcher('schedule')$job$);
  -- New deliveries and manual retries are due at once; claims (lease set) and scheduled retries are not.
  drop trigger if exists webhook_deliveries_poke_dispatcher on webhook_deliveries;
  create trigger webhook_deliveries_poke_dispatcher
  after insert or update of next_attempt_at on webhook_deliveries
  for each row
  when (new.status = 'pending' and new.lease_token is null and new.next_attempt_at <= now())
  execute function cellvi_poke_webhook_dispatcher();
  return 'scheduled every 10 seconds, and poked when deliveries are queued';
end;
$$;

-- Nobody but the owner calls these: PostgREST would otherwise offer them to `anon` as RPCs (Supabase grants new
-- functions to anon and authenticated directly, besides PUBLIC's default grant).
do $$
declare
  role_name text;
begin
  foreach role_name in array array['public', 'anon', 'authenticated'] loop
    if role_name = 'public' or exists (select 1 from pg_roles where rolname = role_name) then
      execute format('revoke execute on function cellvi_invoke_webhook_dispatcher(text), '
                     'cellvi_schedule_webhook_dispatcher() from %s',
                     case role_name when 'public' then 'public' else quote_ident(role_name) end);
    end if;
  end loop;
end;
$$;

select cellvi_schedule_webhook_dispatcher();
