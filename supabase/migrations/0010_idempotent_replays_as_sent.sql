-- Idempotent replays byte for byte (issue 3's contract: the same key and request replay the first response).
-- `response_body` is jsonb, which reorders an object's keys (shorter keys first), so a replay listed the order's
-- fields in another order than the first 201 did. `response_json` is json, kept as written. Added beside the old
-- column rather than changing its type, which would rewrite the table under an exclusive lock while orders are
-- being created; records written before this migration (kept at most 24 hours) are still read from
-- `response_body`, which a later migration can drop.
alter table idempotency_keys add column response_json json;
