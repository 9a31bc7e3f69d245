/** Every scope a key can hold. `ops` is CELLVI's own side (dispatch, drivers); the rest are customer scopes. */
export const allScopes = [
  "orders:write",
  "orders:read",
  "webhooks:manage",
  "connectors:manage",
  "keys:manage",
  "ops",
] as const;
export type Scope = (typeof allScopes)[number];

/** A tenant's first key, and a key created without `--scopes`, holds these. */
export const customerScopes: Scope[] = allScopes.filter((scope) => scope !== "ops");

export function isScope(value: string): value is Scope {
  return (allScopes as readonly string[]).includes(value);
}
