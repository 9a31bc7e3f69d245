-- Scenario 4's producer transaction for pgbench: an order and its CREATED history row in the one statement that
-- `insertOrder` sends (src/domain/orders/store.ts; the triggers write the event, its deliveries and the wake-up),
-- in a transaction of its own, with the body of `orderInput` (bench/lib/setup.ts). On a database migrated by the
-- project (a tenant and, for deliveries, a subscription to ORDER_CREATED in test mode):
--   pgbench -n -M prepared -f bench/producer-pgbench.sql -D tenant=<tenant id> -c 2 -j 2 -T 10 <database>
-- and read the CPU of the pgbench backends from /proc (bench/producer-cpu-ab.ts measures the statement alone).
\set r random(1, 999999999999999)
BEGIN;
with o as (
       insert into orders (tenant_id, mode, external_id, tracking_number, tracking_token, recipient, destination,
                           origin, packages, cod_amount, currency, service_level, notes, metadata)
       values (:tenant, 'test', 'LAT-' || :client_id || '-' || :r, 'CV' || :r, 'trk_' || :r,
               '{"name":"Valentina Gómez","phone":"+573001234567","email":"valentina@example.com"}',
               '{"address_line1":"Carrera 7 # 71-21","city":"Bogotá","country":"CO","latitude":4.6561,"longitude":-74.0552}',
               null, '[{"weight_kg":1.2}]', null, null, null, null, '{}')
       on conflict (tenant_id, mode, external_id) do nothing
       returning *
     ), history as (
       insert into order_status_history (order_id, tenant_id, status, description, city, actor, occurred_at)
       select o.id, o.tenant_id, 'CREATED', 'Order received', null, 'api', o.created_at from o
     )
     select * from o;
COMMIT;
