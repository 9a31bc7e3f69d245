import type { Logger } from "pino";
import type { Db } from "../../adapters/db/types.ts";
import { hashApiKey } from "./format.ts";
import { authChangesSince, findActiveKeyByHash, recordKeyUsage, type VerifiedKey } from "./store.ts";

/** The NOTIFY channel the api_keys and tenants triggers (migration 0004) send `key:<id>` / `tenant:<id>` on. */
export const keyChangesChannel = "cellvi_keys";

export interface KeyVerifierOptions {
  db: Db;
  clock: { now(): Date };
  logger: Logger;
  /** How long a lookup result is reused. 0 disables the cache (every request reads the database). */
  ttlMs: number;
  /** The safety-net poll for changes whose NOTIFY was lost (a listener reconnecting). */
  pollMs: number;
  /** How often pending `last_used_at` values are written. */
  usageFlushMs: number;
  /** Entries kept at most, for known keys and for unknown ones separately. */
  maxEntries?: number;
}

interface Entry {
  value: VerifiedKey | null;
  storedAt: number;
}

/** A presented key string seen to verify, and the cache entry it verified against. */
interface Recent {
  hash: string;
  entry: Entry;
}

// A poll re-reads the changes of this window before its last look, so a change committed while the previous poll
// ran is not missed. Dropping a cache entry twice is harmless.
const pollOverlapMs = 2000;

/**
 * Verifies presented API keys against the database, with a short in-memory cache so the hot path needs no query,
 * and records their use for a batched `last_used_at` write instead of one write per request.
 *
 * Invalidation across instances: each instance LISTENs on `cellvi_keys`, which the database notifies whenever a
 * key's authentication-relevant columns (revocation, expiry, scopes, limit) or its tenant's plan change, whoever
 * changed them (API, CLI, plain SQL). A poll of `auth_changed_at` backs that up, so a revocation reaches every
 * instance within about `pollMs` even when a notification is lost; the TTL bounds everything else.
 */
export class KeyVerifier {
  private readonly known = new Map<string, Entry>();
  private readonly unknown = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<VerifiedKey | null>>();
  /**
   * Presented key strings that verified against an active key's entry, by the string itself (see
   * recentlyVerified). Only active keys, at most maxEntries, each valid only while its entry is the current one.
   */
  private readonly recent = new Map<string, Recent>();
  private readonly pendingUsage = new Map<string, Date>();
  private readonly maxEntries: number;
  /** Bumped by every invalidation: a lookup that started before one must not cache its (maybe stale) result. */
  private generation = 0;
  private unlisten: (() => Promise<void>) | null = null;
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private flushTimer: ReturnType<typeof setInterval> | null = null;
  private lastPoll: Date | null = null;
  private polling = false;
  private pollFailing = false;
  private closed = false;
  /** Counters for tests and metrics. */
  readonly stats = { hits: 0, misses: 0, invalidations: 0, flushes: 0 };

  constructor(private readonly options: KeyVerifierOptions) {
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  /** Subscribes to change notifications and starts the poll and flush timers. */
  async start(): Promise<void> {
    try {
      this.unlisten = await this.options.db.listen(keyChangesChannel, (payload) => this.onNotify(payload));
    } catch (error) {
      // The poll still bounds how stale the cache can get; the Db's listener keeps trying to reconnect.
      this.options.logger.warn({ err: error }, "key cache: LISTEN failed, relying on polling");
    }
    // Quietly: a process may start before the schema exists (the CLI's `migrate`); the timer's polls report.
    await this.poll({ quiet: true });
    this.pollTimer = setInterval(() => void this.poll(), this.options.pollMs);
    this.pollTimer.unref?.();
    this.flushTimer = setInterval(() => void this.flushUsage(), this.options.usageFlushMs);
    this.flushTimer.unref?.();
  }

  /**
   * The active key behind `presentedKey`, or null (unknown, revoked, or expired by the injected clock). A cached
   * answer comes back as is, without a promise (every keyed request asks, and nearly every answer is cached); a
   * lookup comes back as a promise. `beforeLookup` runs only when the key must be looked up.
   */
  verify(presentedKey: string, beforeLookup?: () => void): VerifiedKey | null | Promise<VerifiedKey | null> {
    const recent = this.recentlyVerified(presentedKey);
    if (recent !== undefined) return recent;
    const hash = hashApiKey(presentedKey);
    const now = performance.now();
    const cached = this.known.get(hash) ?? this.unknown.get(hash);
    if (cached && now - cached.storedAt < this.options.ttlMs) {
      this.stats.hits++;
      if (cached.value) this.remember(presentedKey, hash, cached);
      return this.checkExpiry(cached.value);
    }
    // The caller may refuse the lookup (by throwing): the failed-authentication throttle does, for an address
    // over its budget.
    beforeLookup?.();
    this.stats.misses++;
    let lookup = this.inflight.get(hash);
    if (!lookup) {
      const generation = this.generation;
      lookup = findActiveKeyByHash(this.options.db, hash, this.options.clock.now())
        .then((value) => {
          if (generation === this.generation && this.options.ttlMs > 0) this.store(hash, value);
          return value;
        })
        .finally(() => this.inflight.delete(hash));
      this.inflight.set(hash, lookup);
    }
    return lookup.then((value) => this.checkExpiry(value));
  }

  /**
   * The cached answer for a key string that verified against the entry still cached for it, without hashing the
   * string again (and, in `authenticate`, without checking its format and checksum again: the same string passed
   * them to get here); undefined when the string is not one of those (verify it). What it answers is exactly what
   * `verify` would: the entry is the one `verify` would find (an invalidation or a newer lookup replaces or drops
   * it, and the string is then verified afresh), within the same TTL, with the expiry checked on the same clock.
   *
   * The price: active keys' strings stay in this process's memory while their entries are cached (at most the TTL
   * after their lookup, since each poll drops the strings of entries past it; at once on an invalidation), where
   * otherwise only their SHA-256 would. A heap dump of the process would show them; so would one taken while a
   * request is in flight, as the request's own headers hold the key.
   */
  recentlyVerified(presentedKey: string): VerifiedKey | null | undefined {
    const recent = this.recent.get(presentedKey);
    if (recent === undefined) return undefined;
    const { entry } = recent;
    if (this.known.get(recent.hash) !== entry || performance.now() - entry.storedAt >= this.options.ttlMs) {
      this.recent.delete(presentedKey);
      return undefined;
    }
    this.stats.hits++;
    return this.checkExpiry(entry.value);
  }

  private remember(presentedKey: string, hash: string, entry: Entry): void {
    this.recent.set(presentedKey, { hash, entry });
    if (this.recent.size > this.maxEntries) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }

  /** Drops the key strings whose entries are no longer cached (invalidated, replaced, evicted or past the TTL). */
  private forgetStale(): void {
    const now = performance.now();
    for (const [presentedKey, { hash, entry }] of this.recent) {
      if (this.known.get(hash) !== entry || now - entry.storedAt >= this.options.ttlMs) {
        this.recent.delete(presentedKey);
      }
    }
  }

  private checkExpiry(value: VerifiedKey | null): VerifiedKey | null {
    if (value?.expiresAt && value.expiresAt <= this.options.clock.now()) return null;
    return value;
  }

  private store(hash: string, value: VerifiedKey | null): void {
    const map = value ? this.known : this.unknown;
    map.delete(hash);
    map.set(hash, { value, storedAt: performance.now() });
    if (map.size > this.maxEntries) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
  }

  private onNotify(payload: string): void {
    const [kind, id] = payload.split(":");
    if (kind === "key" && id) this.invalidateKey(id);
    else if (kind === "tenant" && id) this.invalidateTenant(id);
    else this.invalidateAll();
  }

  /** Drops a key from this instance's cache (the trigger's NOTIFY does the same on every instance). */
  invalidateKey(keyId: string): void {
    this.generation++;
    this.stats.invalidations++;
    for (const [hash, entry] of this.known) if (entry.value?.keyId === keyId) this.known.delete(hash);
    this.forgetStale();
  }

  invalidateTenant(tenantId: string): void {
    this.generation++;
    this.stats.invalidations++;
    for (const [hash, entry] of this.known) if (entry.value?.tenantId === tenantId) this.known.delete(hash);
    this.forgetStale();
  }

  invalidateAll(): void {
    this.generation++;
    this.stats.invalidations++;
    this.known.clear();
    this.unknown.clear();
    this.recent.clear();
  }

  /** One safety-net poll; also reachable from tests. Overlapping calls share nothing and skip. */
  async poll(options: { quiet?: boolean } = {}): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    this.forgetStale();
    try {
      const since = this.lastPoll ? new Date(this.lastPoll.getTime() - pollOverlapMs) : null;
      const changes = await authChangesSince(this.options.db, since);
      for (const id of changes.keyIds) this.invalidateKey(id);
      for (const id of changes.tenantIds) this.invalidateTenant(id);
      this.lastPoll = changes.now;
      if (this.pollFailing) this.options.logger.info("key cache: change poll works again");
      this.pollFailing = false;
    } catch (error) {
      // Without a successful poll we cannot vouch for cached entries beyond their TTL: keep the TTL the bound.
      if (options.quiet) return;
      if (!this.pollFailing) this.options.logger.warn({ err: error }, "key cache: change poll failed");
      this.pollFailing = true;
    } finally {
      this.polling = false;
    }
  }

  /** Notes a use of the key now; written to `last_used_at` by the next flush. */
  recordUse(keyId: string): void {
    this.pendingUsage.set(keyId, this.options.clock.now());
  }

  /** The use not yet flushed, if any: lists show it so they are never behind this instance's own traffic. */
  pendingUse(keyId: string): Date | undefined {
    return this.pendingUsage.get(keyId);
  }

  /** Writes every pending `last_used_at` in one statement. Returns the number of keys updated. */
  async flushUsage(): Promise<number> {
    if (this.pendingUsage.size === 0) return 0;
    const batch = new Map(this.pendingUsage);
    this.pendingUsage.clear();
    try {
      const updated = await recordKeyUsage(this.options.db, batch);
      this.stats.flushes++;
      return updated;
    } catch (error) {
      // Put them back (unless a newer use arrived meanwhile) for the next flush.
      for (const [id, at] of batch) if (!this.pendingUsage.has(id)) this.pendingUsage.set(id, at);
      this.options.logger.warn({ err: error, keys: batch.size }, "key usage flush failed, will retry");
      return 0;
    }
  }

  /** Stops the timers and the subscription, and writes the last pending uses. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.recent.clear();
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.flushTimer) clearInterval(this.flushTimer);
    await this.unlisten?.().catch(() => {});
    await this.flushUsage();
  }
}
