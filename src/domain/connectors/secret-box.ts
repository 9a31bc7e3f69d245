import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DbKind } from "../../adapters/db/types.ts";
import type { Config } from "../../config.ts";

/**
 * Connector credentials (shop secrets, VTEX app tokens, Magento integration tokens) and webhook signing secrets
 * (src/domain/webhooks/sealed-secrets.ts) are encrypted at rest with AES-256-GCM under a key that lives outside the
 * database. A sealed value is
 * `v1.<key id>.<iv base64url>.<ciphertext+tag base64url>`; the key id lets old values still open after the key is
 * rotated (the previous key goes to CONNECTOR_ENCRYPTION_PREVIOUS_KEYS), and the additional data binds a value to
 * its row (and, for webhook secrets, its column), so a value copied onto another row does not open there.
 */

export interface Keyring {
  /** Seals new values. */
  currentId: string;
  keys: ReadonlyMap<string, Buffer>;
  /** Where the current key came from, for logs and the CLI (`configuration` or the key file's path). */
  origin: string;
}

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretBoxError";
  }
}

/** Decodes a 32-byte key given as 64 hex digits or base64; null for anything else. */
export function parseKey(text: string): Buffer | null {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, "hex");
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed.replaceAll("-", "+").replaceAll("_", "/"), "base64");
    return bytes.length === 32 ? bytes : null;
  }
  return null;
}

/** A short public fingerprint of a key: never the key, enough to tell which one sealed a value. */
export function keyId(key: Buffer): string {
  return createHash("sha256").update("cellvi-connector-key\0").update(key).digest("hex").slice(0, 12);
}

export function createKeyring(current: Buffer, previous: Buffer[] = [], origin = "configuration"): Keyring {
  const keys = new Map<string, Buffer>();
  for (const key of previous) keys.set(keyId(key), key);
  const currentId = keyId(current);
  keys.set(currentId, current);
  return { currentId, keys, origin };
}

export function seal(keyring: Keyring, plaintext: string, associatedData: string): string {
  const key = keyring.keys.get(keyring.currentId)!;
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(associatedData, "utf8"));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return ["v1", keyring.currentId, iv.toString("base64url"), ciphertext.toString("base64url")].join(".");
}

export function open(keyring: Keyring, sealed: string, associatedData: string): string {
  const [version, id, ivText, dataText] = sealed.split(".");
  if (version !== "v1" || !id || !ivText || !dataText) throw new SecretBoxError("not a sealed value");
  const key = keyring.keys.get(id);
  if (!key) {
    throw new SecretBoxError(
      `sealed with key ${id}, which is neither CONNECTOR_ENCRYPTION_KEY nor one of CONNECTOR_ENCRYPTION_PREVIOUS_KEYS`,
    );
  }
  const data = Buffer.from(dataText, "base64url");
  if (data.length < 16) throw new SecretBoxError("sealed value is truncated");
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(ivText, "base64url"));
  decipher.setAAD(Buffer.from(associatedData, "utf8"));
  decipher.setAuthTag(data.subarray(data.length - 16));
  try {
    return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString(
      "utf8",
    );
  } catch {
    throw new SecretBoxError("sealed value does not authenticate (tampered, or bound to another row)");
  }
}

/** The file that holds the generated key of an embedded installation. */
export function keyFilePath(dataDir: string): string {
  return join(dataDir, "connector-encryption.key");
}

/**
 * Reads the key file under DATA_DIR, creating it with a fresh random key the first time. Only for the embedded
 * database: its data lives in the same directory, so whoever can read one can read the other anyway, and a bare
 * `npm start` must work without configuration. `wx` makes two racing creators agree on one key.
 */
function loadOrCreateKeyFile(dataDir: string): Buffer {
  const path = keyFilePath(dataDir);
  const read = () => {
    const key = parseKey(readFileSync(path, "utf8"));
    if (!key) throw new SecretBoxError(`${path} does not hold a 32-byte key (64 hex digits or base64)`);
    return key;
  };
  try {
    return read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  try {
    writeFileSync(path, `${randomBytes(32).toString("base64")}\n`, { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return read();
}

// Per configuration, not per services bag: the start-up warnings ask with a config alone (the Edge Functions before
// their services exist), and a copy of the services with another config (the CLI's key rotation, tests) must get
// that config's keys. The key file is read (or created) once per configuration. See docs/decisions/per-object-state.md.
const keyrings = new WeakMap<Config, Keyring | null>();

/**
 * The keyring for this configuration, or null when connector secrets cannot be stored: a server database
 * (DATABASE_URL) without CONNECTOR_ENCRYPTION_KEY. A generated key there would live on one instance's disk only,
 * and another instance could not open what this one sealed, so we refuse instead of guessing.
 */
export function connectorKeyring(config: Config, dbKind: DbKind): Keyring | null {
  if (keyrings.has(config)) return keyrings.get(config)!;
  const previous = config.CONNECTOR_ENCRYPTION_PREVIOUS_KEYS;
  let keyring: Keyring | null = null;
  if (config.CONNECTOR_ENCRYPTION_KEY) {
    keyring = createKeyring(config.CONNECTOR_ENCRYPTION_KEY, previous);
  } else if (dbKind === "embedded") {
    keyring = createKeyring(loadOrCreateKeyFile(config.DATA_DIR), previous, keyFilePath(config.DATA_DIR));
  }
  keyrings.set(config, keyring);
  return keyring;
}

/**
 * Something cannot be sealed: a server database (DATABASE_URL) without CONNECTOR_ENCRYPTION_KEY, the one key that
 * seals connector credentials and webhook signing secrets. `what` names what could not be stored.
 */
export class EncryptionKeyMissingError extends Error {
  constructor(what: string) {
    super(
      `${what} cannot be stored: this deployment has no CONNECTOR_ENCRYPTION_KEY (required with DATABASE_URL; it seals connector credentials and webhook signing secrets). Generate one with \`openssl rand -base64 32\`.`,
    );
    this.name = "EncryptionKeyMissingError";
  }
}

/** The keyring that seals new values, or `EncryptionKeyMissingError` naming `what` could not be stored. */
export function requireKeyring(services: { config: Config; db: { kind: DbKind } }, what: string): Keyring {
  const keyring = connectorKeyring(services.config, services.db.kind);
  if (!keyring) throw new EncryptionKeyMissingError(what);
  return keyring;
}

/**
 * What a process says at start when it has no key to seal with (a server database without CONNECTOR_ENCRYPTION_KEY),
 * shared by the Node server and the Edge Functions; undefined when it has one. On the embedded database, asking
 * creates DATA_DIR/connector-encryption.key on the first start.
 */
export function missingKeyWarning(config: Config, dbKind: DbKind): string | undefined {
  if (connectorKeyring(config, dbKind)) return undefined;
  return "CONNECTOR_ENCRYPTION_KEY is not set: connectors and webhook subscriptions cannot be created, webhook signing secrets rotated, nor sealed secrets opened, until it is (required with DATABASE_URL)";
}
