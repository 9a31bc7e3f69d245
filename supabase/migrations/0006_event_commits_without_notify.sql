-- Performance (issue 9): order writes no longer send `NOTIFY cellvi_events` for every event.
--
-- A transaction that has called NOTIFY takes a database-wide lock at commit and keeps it while its commit record is
-- flushed to disk, so every notifying transaction commits one after the other, with no group commit. Measured on
-- the benchmark machine: 690 transactions/s with a NOTIFY against 1,550-2,500 without, at 10 concurrent writers.
-- Nothing listens on `cellvi_events` (webhook dispatchers are woken on `cellvi_webhooks`, which the fan-out trigger
-- of 0003 sends only when an event has deliveries), so every order creation paid that price for no reader.
--
-- The function is otherwise exactly 0001's: one event per history row, in the writer's transaction.
create or replace function cellvi_history_to_event() returns trigger
language plpgsql as $$
declare
  o orders%rowtype;
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
  );
  return new;
end;
$$;
