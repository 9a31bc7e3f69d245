import type { Logger } from "pino";
import type { Db, DbKind, Queryable } from "../../adapters/db/types.ts";
import type { Config } from "../../config.ts";
import {
  connectorKeyring,
  type Keyring,
  open,
  requireKeyring,
  SecretBoxError,
  seal,
} from "../connectors/secret-box.ts";

/**
 * Webhook signing secrets at rest. Whoever reads `webhook_subscriptions.secret` can sign webhooks our customers
 * trust, so the columns hold values sealed by the connectors' secret box (AES-256-GCM under CONNECTOR_ENCRYPTION_KEY,
 * or the embedded database's key file), never the `whsec_...` text. The associated data names the subscription and
 * the column, so a sealed value copied onto another subscription, or from `previous_secret` into `secret`, does not
 * open. Rows written before sealing hold the plain `whsec_` text: it is still read as is (a sealed value always
 * starts with `v1.`, a Standard Webhooks secret never does), and `sealStoredSecrets` seals it.
 */

export type SecretColumn = "secret" | "previous_secret";

const sealedPrefix = "v1.";

export function isSealed(stored: string): boolean {
  return stored.startsWith(sealedPrefix);
}

function associatedData(subscriptionId: string, column: SecretColumn): string {
  return `webhook_subscriptions.${column}:${subscriptionId}`;
}

/** The keyring that seals new secrets; the same rules as connectors (a key file only on the embedded database). */
export function requireWebhookKeyring(services: { config: Config; db: { kind: DbKind } }): Keyring {
  return requireKeyring(services, "Webhook signing secrets");
}

export function sealWebhookSecret(
  keyring: Keyring,
  subscriptionId: string,
  column: SecretColumn,
  secret: string,
): string {
  return seal(keyring, secret, associatedData(subscriptionId, column));
}

/**
 * The plain secret of a stored value: a legacy plain value as is, a sealed one opened. Throws `SecretBoxError`
 * when it cannot be opened (no key, a key that is not configured, or a value bound to another row or column).
 * Messages never quote the value.
 */
export function openWebhookSecret(
  keyring: Keyring | null,
  subscriptionId: string,
  column: SecretColumn,
  stored: string,
): string {
  if (!isSealed(stored)) return stored;
  if (!keyring) {
    throw new SecretBoxError(
      "the signing secret is sealed and this deployment has no CONNECTOR_ENCRYPTION_KEY to open it",
    );
  }
  return open(keyring, stored, associatedData(subscriptionId, column));
}

/**
 * Opens the secrets of claimed deliveries. AES-GCM costs a cipher set-up per value, and the dispatcher signs
 * thousands of deliveries a second for a few subscriptions, so opened values are kept in a small map. The key of
 * an entry is the subscription, the column and the sealed value itself: a rotation or a re-seal is a new entry, and
 * a value moved onto another row is looked up (and fails) there. Bounded: past `maxEntries` the oldest entry goes
 * (insertion order), which only costs one more decryption for a subscription that comes back.
 */
export class WebhookSecretOpener {
  private readonly opened = new Map<string, string>();

  constructor(
    private readonly keyring: Keyring | null,
    private readonly maxEntries = 4096,
  ) {}

  open(subscriptionId: string, column: SecretColumn, stored: string): string {
    if (!isSealed(stored)) return stored;
    const cacheKey = `${column}\u0000${subscriptionId}\u0000${stored}`;
    const hit = this.opened.get(cacheKey);
    if (hit !== undefined) return hit;
    const secret = openWebhookSecret(this.keyring, subscriptionId, column, stored);
    if (this.opened.size >= this.maxEntries) {
      const oldest = this.opened.keys().next().value;
      if (oldest !== undefined) this.opened.delete(oldest);
    }
    this.opened.set(cacheKey, secret);
    return secret;
  }

  get size(): number {
    return this.opened.size;
  }
}

const openers = new WeakMap<Config, WebhookSecretOpener>();

/**
 * One opener (and so one cache) per configuration: per process, or per test app. Keyed by the config, like its
 * keyring (`connectorKeyring`): services copied with another config open with that config's keys.
 */
export function webhookSecretOpener(config: Config, dbKind: DbKind): WebhookSecretOpener {
  let opener = openers.get(config);
  if (!opener) {
    opener = new WebhookSecretOpener(connectorKeyring(config, dbKind));
    openers.set(config, opener);
  }
  return opener;
}

export interface SealResult {
  /** Rows whose secrets were sealed or re-sealed with the current key. */
  sealed: number;
  /** Rows left as they were: a value sealed with a key this deployment does not have, or bound elsewhere. */
  unopenable: number;
}

/** Rows per transaction: each is locked while its values are sealed, so a batch stays short. */
const sealBatchSize = 200;

/**
 * Seals every stored secret that is not sealed with the current key: legacy plain `whsec_` values, and values
 * sealed with a previous key (CONNECTOR_ENCRYPTION_PREVIOUS_KEYS), so that after a key rotation the old key can go.
 * In batches of one short transaction each; `FOR UPDATE SKIP LOCKED` lets instances run it at once (and never
 * waits for a rotation in progress: that row is taken by the next run). Run at the service's start, by housekeeping
 * (the Node timer and the webhook-dispatcher Edge Function) and by `cli connectors rotate-key`.
 */
export async function sealStoredSecrets(
  db: Db,
  keyring: Keyring,
  options: { maxBatches?: number; batchSize?: number } = {},
): Promise<SealResult> {
  const batchSize = options.batchSize ?? sealBatchSize;
  const maxBatches = options.maxBatches ?? Number.POSITIVE_INFINITY;
  const current = `${sealedPrefix}${keyring.currentId}.%`;
  const result: SealResult = { sealed: 0, unopenable: 0 };
  // Rows that did not open are skipped by the next batches of this run (and tried again by the next run).
  const skipped: string[] = [];
  for (let batch = 0; batch < maxBatches; batch++) {
    const done = await db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string; secret: string; previous_secret: string | null }>(
        `select id, secret, previous_secret from webhook_subscriptions
          where (secret not like $1 or previous_secret not like $1) and id <> all($2::text[])
          order by id
          limit $3
          for update skip locked`,
        [current, skipped, batchSize],
      );
      const ids: string[] = [];
      const secrets: string[] = [];
      const previous: (string | null)[] = [];
      for (const row of rows) {
        let secret: string;
        let previousSecret: string | null;
        try {
          secret = reseal(keyring, row.id, "secret", row.secret);
          previousSecret =
            row.previous_secret === null
              ? null
              : reseal(keyring, row.id, "previous_secret", row.previous_secret);
        } catch (error) {
          if (!(error instanceof SecretBoxError)) throw error;
          skipped.push(row.id);
          result.unopenable++;
          continue;
        }
        ids.push(row.id);
        secrets.push(secret);
        previous.push(previousSecret);
      }
      if (ids.length > 0) await writeSealed(tx, ids, secrets, previous);
      result.sealed += ids.length;
      return rows.length < batchSize;
    });
    if (done) break;
  }
  return result;
}

function reseal(keyring: Keyring, id: string, column: SecretColumn, stored: string): string {
  if (stored.startsWith(`${sealedPrefix}${keyring.currentId}.`)) return stored;
  return sealWebhookSecret(keyring, id, column, openWebhookSecret(keyring, id, column, stored));
}

async function writeSealed(
  tx: Queryable,
  ids: readonly string[],
  secrets: readonly string[],
  previous: readonly (string | null)[],
): Promise<void> {
  await tx.query(
    `update webhook_subscriptions s set secret = u.secret, previous_secret = u.previous_secret
       from unnest($1::text[], $2::text[], $3::text[]) as u(id, secret, previous_secret)
      where s.id = u.id`,
    [ids, secrets, previous],
  );
}

/**
 * The sealing step of the service's start and of housekeeping: seals what `sealStoredSecrets` finds, logging
 * counts (never a value), and never throws. Without a key (a server database without CONNECTOR_ENCRYPTION_KEY)
 * there is nothing to seal with; the server warns about that at start.
 */
export async function sealWebhookSecrets(
  services: { config: Config; db: Db; logger: Pick<Logger, "info" | "warn"> },
  maxBatches?: number,
): Promise<SealResult | null> {
  const { config, db, logger } = services;
  try {
    const keyring = connectorKeyring(config, db.kind);
    if (!keyring) return null;
    const result = await sealStoredSecrets(db, keyring, maxBatches === undefined ? {} : { maxBatches });
    if (result.sealed > 0)
      logger.info({ sealed: result.sealed, key_id: keyring.currentId }, "webhook signing secrets sealed");
    if (result.unopenable > 0) {
      logger.warn(
        { unopenable: result.unopenable },
        "webhook signing secrets sealed with a key that is not configured: their deliveries fail until it is restored (CONNECTOR_ENCRYPTION_PREVIOUS_KEYS)",
      );
    }
    return result;
  } catch (error) {
    logger.warn({ err: error }, "sealing webhook signing secrets failed");
    return null;
  }
}
