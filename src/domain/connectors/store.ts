import type { Queryable } from "../../adapters/db/types.ts";
import { isUuid } from "../keys/store.ts";
import type { TenantScope } from "../orders/store.ts";
import type { ConnectorDefaults, Platform } from "./platforms.ts";
import { type Keyring, open, seal } from "./secret-box.ts";

/** The connectors table and its deliveries log. Every query on tenant data takes the tenant scope. */

export interface ConnectorRow {
  id: string;
  tenant_id: string;
  mode: TenantScope["mode"];
  platform: Platform;
  name: string;
  enabled: boolean;
  settings: Record<string, unknown>;
  defaults: ConnectorDefaults;
  external_id_prefix: string;
  credentials_sealed: string;
  credential_names: string[];
  poll_cursor: number | null;
  last_polled_at: Date | null;
  last_poll_error: string | null;
  last_delivery_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export function scopeOf(connector: ConnectorRow): TenantScope {
  return { tenantId: connector.tenant_id, mode: connector.mode };
}

export function sealCredentials(
  keyring: Keyring,
  connectorId: string,
  credentials: Record<string, string>,
): string {
  return seal(keyring, JSON.stringify(credentials), `connector:${connectorId}`);
}

export function openCredentials(
  keyring: Keyring,
  connector: Pick<ConnectorRow, "id" | "credentials_sealed">,
): Record<string, string> {
  return JSON.parse(open(keyring, connector.credentials_sealed, `connector:${connector.id}`)) as Record<
    string,
    string
  >;
}

export interface NewConnector {
  id: string;
  platform: Platform;
  name: string;
  enabled: boolean;
  settings: Record<string, unknown>;
  defaults: ConnectorDefaults;
  externalIdPrefix: string;
  credentialsSealed: string;
  credentialNames: string[];
}

export async function insertConnector(
  tx: Queryable,
  scope: TenantScope,
  input: NewConnector,
): Promise<ConnectorRow> {
  const { rows } = await tx.query<ConnectorRow>(
    `insert into connectors (id, tenant_id, mode, platform, name, enabled, settings, defaults, external_id_prefix,
                             credentials_sealed, credential_names)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     returning *`,
    [
      input.id,
      scope.tenantId,
      scope.mode,
      input.platform,
      input.name,
      input.enabled,
      JSON.stringify(input.settings),
      JSON.stringify(input.defaults),
      input.externalIdPrefix,
      input.credentialsSealed,
      input.credentialNames,
    ],
  );
  return rows[0]!;
}

export async function getConnector(
  db: Queryable,
  scope: TenantScope,
  id: string,
): Promise<ConnectorRow | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<ConnectorRow>(
    "select * from connectors where id = $1 and tenant_id = $2 and mode = $3",
    [id, scope.tenantId, scope.mode],
  );
  return rows[0] ?? null;
}

/**
 * The connector an inbound URL names. The platform is not a tenant: it knows only the URL, and proves itself by
 * the connector's secret, which the caller checks next.
 */
export async function getConnectorById(db: Queryable, id: string): Promise<ConnectorRow | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<ConnectorRow>("select * from connectors where id = $1", [id]);
  return rows[0] ?? null;
}

export async function listConnectors(
  db: Queryable,
  scope: TenantScope,
  query: { platform?: Platform | undefined },
): Promise<ConnectorRow[]> {
  const { rows } = await db.query<ConnectorRow>(
    `select * from connectors
      where tenant_id = $1 and mode = $2 and ($3::text is null or platform = $3::text)
      order by created_at, id`,
    [scope.tenantId, scope.mode, query.platform ?? null],
  );
  return rows;
}

export interface ConnectorChanges {
  name?: string;
  enabled?: boolean;
  settings?: Record<string, unknown>;
  defaults?: ConnectorDefaults;
  externalIdPrefix?: string;
  credentialsSealed?: string;
  credentialNames?: string[];
  /** Moves the Magento poller back to the start (when poll_since changes). */
  resetPollCursor?: boolean;
}

export async function updateConnector(
  tx: Queryable,
  scope: TenantScope,
  id: string,
  changes: ConnectorChanges,
): Promise<ConnectorRow | null> {
  const { rows } = await tx.query<ConnectorRow>(
    `update connectors set
        name = coalesce($4, name),
        enabled = coalesce($5, enabled),
        settings = coalesce($6::jsonb, settings),
        defaults = coalesce($7::jsonb, defaults),
        external_id_prefix = coalesce($8, external_id_prefix),
        credentials_sealed = coalesce($9, credentials_sealed),
        credential_names = coalesce($10::text[], credential_names),
        poll_cursor = case when $11 then null else poll_cursor end,
        updated_at = now()
      where id = $1 and tenant_id = $2 and mode = $3
      returning *`,
    [
      id,
      scope.tenantId,
      scope.mode,
      changes.name ?? null,
      changes.enabled ?? null,
      changes.settings ? JSON.stringify(changes.settings) : null,
      changes.defaults ? JSON.stringify(changes.defaults) : null,
      changes.externalIdPrefix ?? null,
      changes.credentialsSealed ?? null,
      changes.credentialNames ?? null,
      changes.resetPollCursor ?? false,
    ],
  );
  return rows[0] ?? null;
}

/** Deletes the connector with its deliveries log and jobs; the orders it created stay. */
export async function deleteConnector(db: Queryable, scope: TenantScope, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const result = await db.query("delete from connectors where id = $1 and tenant_id = $2 and mode = $3", [
    id,
    scope.tenantId,
    scope.mode,
  ]);
  return result.rowCount > 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Deliveries

export type DeliveryStatus = "pending" | "created" | "duplicate" | "skipped" | "rejected" | "failed";

export interface DeliveryRow {
  id: string;
  seq: number;
  connector_id: string;
  tenant_id: string;
  mode: TenantScope["mode"];
  delivery_key: string;
  topic: string | null;
  platform_order_id: string | null;
  external_id: string | null;
  status: DeliveryStatus;
  order_id: string | null;
  detail: string | null;
  errors: Array<{ path: string; message: string }>;
  attempts: number;
  received_at: Date;
  updated_at: Date;
}

/**
 * Claims a delivery key for processing. Returns the new row, or the existing one locked `FOR UPDATE` (a
 * concurrent identical delivery waits here until the first one commits, then sees its outcome).
 */
export async function claimDelivery(
  tx: Queryable,
  connector: ConnectorRow,
  key: string,
  topic: string | null,
): Promise<{ row: DeliveryRow; isNew: boolean }> {
  const inserted = await tx.query<DeliveryRow>(
    `insert into connector_deliveries (connector_id, tenant_id, mode, delivery_key, topic, status)
     values ($1, $2, $3, $4, $5, 'pending')
     on conflict (connector_id, delivery_key) do nothing
     returning *`,
    [connector.id, connector.tenant_id, connector.mode, key, topic],
  );
  if (inserted.rows[0]) {
    await tx.query("update connectors set last_delivery_at = now() where id = $1", [connector.id]);
    return { row: inserted.rows[0], isNew: true };
  }
  const existing = await tx.query<DeliveryRow>(
    `update connector_deliveries set attempts = attempts + 1, updated_at = now()
      where connector_id = $1 and delivery_key = $2
      returning *`,
    [connector.id, key],
  );
  return { row: existing.rows[0]!, isNew: false };
}

export interface DeliveryOutcome {
  status: DeliveryStatus;
  platformOrderId?: string | undefined;
  externalId?: string | undefined;
  orderId?: string | null | undefined;
  detail?: string | null | undefined;
  errors?: Array<{ path: string; message: string }> | undefined;
}

export async function recordDeliveryOutcome(
  tx: Queryable,
  deliveryId: string,
  outcome: DeliveryOutcome,
): Promise<DeliveryRow> {
  const { rows } = await tx.query<DeliveryRow>(
    `update connector_deliveries set
        status = $2,
        platform_order_id = coalesce($3, platform_order_id),
        external_id = coalesce($4, external_id),
        order_id = $5,
        detail = $6,
        errors = $7,
        updated_at = now()
      where id = $1
      returning *`,
    [
      deliveryId,
      outcome.status,
      outcome.platformOrderId ?? null,
      outcome.externalId ?? null,
      outcome.orderId ?? null,
      outcome.detail ?? null,
      JSON.stringify(outcome.errors ?? []),
    ],
  );
  return rows[0]!;
}

export async function listDeliveries(
  db: Queryable,
  scope: TenantScope,
  connectorId: string,
  query: { limit: number; cursor?: number | undefined; status?: DeliveryStatus | undefined },
): Promise<{ rows: DeliveryRow[]; nextCursor: number | null }> {
  const { rows } = await db.query<DeliveryRow>(
    `select * from connector_deliveries
      where connector_id = $1 and tenant_id = $2 and mode = $3
        and ($4::bigint is null or seq < $4::bigint)
        and ($5::text is null or status = $5::text)
      order by seq desc
      limit $6`,
    [connectorId, scope.tenantId, scope.mode, query.cursor ?? null, query.status ?? null, query.limit + 1],
  );
  const hasMore = rows.length > query.limit;
  const page = hasMore ? rows.slice(0, query.limit) : rows;
  return { rows: page, nextCursor: hasMore ? page[page.length - 1]!.seq : null };
}

export async function getDelivery(
  db: Queryable,
  scope: TenantScope,
  connectorId: string,
  id: string,
): Promise<DeliveryRow | null> {
  if (!isUuid(id)) return null;
  const { rows } = await db.query<DeliveryRow>(
    "select * from connector_deliveries where id = $1 and connector_id = $2 and tenant_id = $3 and mode = $4",
    [id, connectorId, scope.tenantId, scope.mode],
  );
  return rows[0] ?? null;
}
