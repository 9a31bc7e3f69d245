import type { Logger } from "pino";
import type { Db } from "./adapters/db/types.ts";
import type { Config } from "./config.ts";

/** A source of time, injected so tests can move it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * Everything a handler or a domain function may use, built once per process (or per test) and passed down:
 * no module keeps a singleton, so a test can build a whole app against its own database.
 */
export interface Services {
  config: Config;
  db: Db;
  logger: Logger;
  clock: Clock;
}
