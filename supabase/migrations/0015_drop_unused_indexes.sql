-- Performance (issue 9): four indexes no query uses, dropped. Each was written on every insert of its table, and a
-- delivery's is written again at its claim and at its outcome (a claim changes `next_attempt_at` and an outcome
-- `status`, both indexed, so neither update is HOT and every index of the row gets a new entry).
--
--   orders_seq_key              unique (seq): orders are listed by tenant and mode (orders_tenant_list_idx,
--                               orders_tenant_status_idx), never by seq alone
--   events_seq_key              unique (seq): an order's events are read by order (events_order_idx)
--   events_tenant_idx           (tenant_id, mode, seq): nothing lists a tenant's events
--   webhook_deliveries_seq_key  unique (seq): a subscription's deliveries are listed by
--                               webhook_deliveries_subscription_idx; the claim walks the due indexes
--
-- The `seq` columns stay, filled by their sequences as before: keyset pagination and the claim's tie-break read
-- them. Their uniqueness was the sequence's anyway (nothing writes a `seq` of its own).
--
-- Measured (session 15, 2 vCPUs; BENCHMARKS.md, "Session 15"): in a run of scenario 4, `pg_stat_user_indexes` showed
-- no scan of any of the four. The producer's transaction under contention (bench/producer-cpu-ab.ts --concurrent 8:
-- pgbench with bench/producer-pgbench.sql on both schemas at once), PostgreSQL CPU per commit 0.973-0.983 of before
-- in 6 of 6 rounds (an A/A run: 0.998-1.003). Scenario 4 at 1,000 events/s, 3 alternating pairs: WAL written per run
-- 6.6-7.4 % less (206 against 221 MB for 35,000 events and the run's setup); its CPU figures moved within the noise.
--
-- On a database already past 0090 the Node migrator applies this file as it did 0006 to 0014; `supabase db push`
-- needs `--include-all`. No table is created, so nothing needs 0090's treatment.

alter table orders drop constraint orders_seq_key;
alter table events drop constraint events_seq_key;
drop index events_tenant_idx;
alter table webhook_deliveries drop constraint webhook_deliveries_seq_key;
