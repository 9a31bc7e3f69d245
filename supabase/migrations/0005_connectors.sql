-- Connectors: shops and ERPs that create orders by themselves. A connector belongs to one tenant and one mode (the
-- mode of the key that created it), so a test-mode Shopify connector creates test orders only.

create table connectors (
  id uuid primary key,
  tenant_id uuid not null references tenants (id) on delete cascade,
  mode text not null check (mode in ('live', 'test')),
  platform text not null check (platform in ('shopify', 'woocommerce', 'vtex', 'magento')),
  name text not null check (length(name) between 1 and 200),
  enabled boolean not null default true,
  -- Non-secret, platform-specific settings (VTEX account, Magento base URL, accepted statuses...).
  settings jsonb not null default '{}'::jsonb,
  -- What the connector fills in where the platform says nothing: package weight, service level, packaging.
  defaults jsonb not null default '{}'::jsonb,
  -- Prepended to the platform's order id to form the order's external_id (unique per tenant and mode).
  external_id_prefix text not null default '',
  -- The platform secrets as one JSON object, sealed with AES-256-GCM under CONNECTOR_ENCRYPTION_KEY
  -- ('v1.<key id>.<iv>.<ciphertext+tag>', bound to this row's id). The API never returns it.
  credentials_sealed text not null,
  -- Which credentials are set (names only), so the API can say so without opening the sealed value.
  credential_names text[] not null default '{}',
  -- Magento poller position: the highest entity_id imported so far, advanced in the same transaction as the order.
  poll_cursor bigint,
  last_polled_at timestamptz,
  last_poll_error text,
  last_delivery_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index connectors_tenant_idx on connectors (tenant_id, mode, created_at);

-- One row per thing a platform sent us (a webhook delivery, a VTEX hook notification, a polled order) and what
-- became of it. The unique key is the platform's own delivery id, so a retried delivery finds its first outcome
-- instead of being processed again; nothing a platform sends disappears without a row saying why.
create table connector_deliveries (
  id uuid primary key default gen_random_uuid(),
  seq bigserial not null unique,
  connector_id uuid not null references connectors (id) on delete cascade,
  tenant_id uuid not null references tenants (id) on delete cascade,
  mode text not null check (mode in ('live', 'test')),
  -- X-Shopify-Webhook-Id, X-WC-Webhook-Delivery-ID, VTEX OrderId/State/CurrentChange, Magento poll:<entity_id>...
  delivery_key text not null,
  topic text,
  -- The platform's order reference (Shopify order id, VTEX orderId, Magento entity_id...).
  platform_order_id text,
  external_id text,
  -- pending: waiting for a background fetch (VTEX); created / duplicate: the order (new or existing) is order_id;
  -- skipped: acknowledged on purpose (nothing to ship, a status the connector does not ship), reason in detail;
  -- rejected: could not be mapped, errors say which field; failed: the background fetch gave up, detail says why.
  status text not null check (status in ('pending', 'created', 'duplicate', 'skipped', 'rejected', 'failed')),
  order_id uuid references orders (id) on delete set null,
  detail text,
  errors jsonb not null default '[]'::jsonb,
  attempts integer not null default 1,
  received_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (connector_id, delivery_key)
);
create index connector_deliveries_list_idx on connector_deliveries (connector_id, seq desc);
create index connector_deliveries_status_idx on connector_deliveries (connector_id, status, seq desc);

-- Durable background work of connectors: VTEX order fetches and the Magento poller. Claimed with
-- FOR UPDATE SKIP LOCKED and a lease, so any number of workers share the table and a crashed worker's job is taken
-- over once its lease expires.
create table connector_jobs (
  id bigserial primary key,
  connector_id uuid not null references connectors (id) on delete cascade,
  tenant_id uuid not null references tenants (id) on delete cascade,
  mode text not null check (mode in ('live', 'test')),
  kind text not null check (kind in ('vtex.fetch_order', 'magento.poll')),
  delivery_id uuid references connector_deliveries (id) on delete cascade,
  payload jsonb not null default '{}'::jsonb,
  -- pending: due at run_at; running: leased until locked_until; failed: out of attempts (kept for inspection).
  status text not null default 'pending' check (status in ('pending', 'running', 'failed')),
  attempts integer not null default 0,
  max_attempts integer not null check (max_attempts > 0),
  run_at timestamptz not null,
  locked_until timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index connector_jobs_due_idx on connector_jobs (run_at) where status in ('pending', 'running');
-- One poller per Magento connector, whatever number of workers or PATCHes.
create unique index connector_jobs_one_poller_idx on connector_jobs (connector_id) where kind = 'magento.poll';
-- One fetch per VTEX notification.
create unique index connector_jobs_one_fetch_idx on connector_jobs (delivery_id) where kind = 'vtex.fetch_order';

-- File imports (CSV, SAP IDoc, Dynamics): progress while running and the outcome after, so a large import can be
-- followed from elsewhere (GET /v1/orders/imports/{id}) and audited later. Per-row results stream to the caller;
-- only the first invalid rows are kept here.
create table order_imports (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants (id) on delete cascade,
  mode text not null check (mode in ('live', 'test')),
  format text not null check (format in ('csv', 'sap_idoc', 'dynamics')),
  status text not null check (status in ('running', 'completed', 'aborted')),
  rows_processed integer not null default 0,
  created integer not null default 0,
  duplicate integer not null default 0,
  invalid integer not null default 0,
  bytes_read bigint not null default 0,
  -- Up to 100 invalid rows: [{"row": 3, "errors": [{"path": ..., "message": ...}]}].
  invalid_sample jsonb not null default '[]'::jsonb,
  error text,
  started_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz
);
create index order_imports_tenant_idx on order_imports (tenant_id, mode, started_at desc);
