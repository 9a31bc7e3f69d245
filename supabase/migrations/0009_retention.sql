-- Retention (operations): what the service prunes on its hourly schedule (src/domain/retention.ts) is found through
-- these BRIN indexes. The rows are written in time order, so a block range index of a few pages finds the old
-- rows without reading the table, and costs next to nothing on insert (unlike a B-tree on the queue's hot rows).
create index webhook_deliveries_created_brin on webhook_deliveries using brin (created_at);
create index events_created_brin on events using brin (created_at);
create index order_positions_received_brin on order_positions using brin (received_at);
