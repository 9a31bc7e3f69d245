import type { Services } from "../../services.ts";
import { applyOutcome } from "./inbound.ts";
import {
  claimDueJobs,
  deleteJob,
  failJob,
  type JobRow,
  jobsChannel,
  rescheduleJob,
  retryDelayMs,
} from "./jobs.ts";
import { magentoOrderEntity, mapMagentoOrder } from "./magento.ts";
import { getJson, PlatformHttpError } from "./platform-http.ts";
import type { MagentoConfig, VtexConfig } from "./platforms.ts";
import { mappingDefaults } from "./platforms.ts";
import { connectorKeyring } from "./secret-box.ts";
import {
  type ConnectorRow,
  claimDelivery,
  getConnectorById,
  openCredentials,
  recordDeliveryOutcome,
} from "./store.ts";
import { mapVtexOrder, vtexOrderPath } from "./vtex.ts";

/**
 * Runs connector jobs: VTEX order fetches and Magento polls. `runDueConnectorJobs` does one pass (tests call it
 * with a moved clock); `startConnectorWorker` repeats it, woken by NOTIFY when a job is queued and by a poll timer
 * for retries that come due and for notifications lost while disconnected.
 */

type JobServices = Pick<Services, "db" | "config" | "logger" | "clock">;

export type JobResult =
  | { outcome: "done" }
  | { outcome: "retry"; error: string }
  | { outcome: "failed"; error: string };

function credentialsOf(services: JobServices, connector: ConnectorRow): Record<string, string> {
  const keyring = connectorKeyring(services.config, services.db.kind);
  if (!keyring)
    throw new PlatformHttpError(
      "CONNECTOR_ENCRYPTION_KEY is not configured: the connector's credentials cannot be opened",
    );
  return openCredentials(keyring, connector);
}

function httpOptions(services: JobServices) {
  return {
    timeoutMs: services.config.CONNECTOR_HTTP_TIMEOUT_MS,
    allowPrivateAddresses: services.config.CONNECTOR_ALLOW_PRIVATE_URLS,
  };
}

export function vtexBaseUrl(settings: Pick<VtexConfig["settings"], "account" | "base_url">): string {
  return settings.base_url ?? `https://${settings.account}.vtexcommercestable.com.br`;
}

async function runVtexFetch(services: JobServices, job: JobRow, connector: ConnectorRow): Promise<JobResult> {
  const { db } = services;
  const orderId = String(job.payload.order_id ?? "");
  if (!job.delivery_id) {
    await db.transaction((tx) => deleteJob(tx, job.id));
    return { outcome: "done" };
  }
  const settings = connector.settings as VtexConfig["settings"];
  let order: unknown;
  try {
    if (!connector.enabled) throw new PlatformHttpError("the connector is disabled");
    const credentials = credentialsOf(services, connector) as VtexConfig["credentials"];
    order = await getJson(
      `${vtexBaseUrl(settings)}${vtexOrderPath(orderId)}`,
      { "x-vtex-api-appkey": credentials.app_key, "x-vtex-api-apptoken": credentials.app_token },
      httpOptions(services),
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (job.attempts >= job.max_attempts) {
      await db.transaction(async (tx) => {
        await failJob(tx, job.id, message);
        await recordDeliveryOutcome(tx, job.delivery_id!, {
          status: "failed",
          platformOrderId: orderId,
          detail: `reading the order from the VTEX OMS failed ${job.attempts} times; last error: ${message}`,
        });
      });
      return { outcome: "failed", error: message };
    }
    const runAt = new Date(services.clock.now().getTime() + retryDelayMs(job.kind, job.attempts));
    await db.transaction(async (tx) => {
      await rescheduleJob(tx, job.id, runAt, { error: message });
      await tx.query("update connector_deliveries set detail = $2, updated_at = now() where id = $1", [
        job.delivery_id,
        `attempt ${job.attempts} of ${job.max_attempts} to read the order failed (${message}); next at ${runAt.toISOString()}`,
      ]);
    });
    return { outcome: "retry", error: message };
  }
  const outcome = mapVtexOrder(order, {
    externalIdPrefix: connector.external_id_prefix,
    defaults: mappingDefaults(connector.defaults),
    connectorId: connector.id,
  });
  await db.transaction(async (tx) => {
    // The delivery row is the lock: a second worker that took over an expired lease waits here and then finds
    // the delivery settled.
    const { rows } = await tx.query<{ status: string }>(
      "select status from connector_deliveries where id = $1 for update",
      [job.delivery_id],
    );
    const status = rows[0]?.status;
    if (status === "pending" || status === "failed" || status === "rejected") {
      await applyOutcome(tx, connector, job.delivery_id!, outcome);
    }
    await deleteJob(tx, job.id);
  });
  return { outcome: "done" };
}

/** Magento's `created_at` format and zone: `YYYY-MM-DD HH:MM:SS` in UTC. */
function magentoTime(iso: string): string {
  return new Date(iso).toISOString().slice(0, 19).replace("T", " ");
}

export const magentoPageSize = 50;
const magentoPagesPerRun = 20;

export function magentoOrdersUrl(baseUrl: string, afterEntityId: number, since: string | undefined): string {
  const params = new URLSearchParams();
  const filter = (group: number, field: string, value: string, condition: string) => {
    params.set(`searchCriteria[filter_groups][${group}][filters][0][field]`, field);
    params.set(`searchCriteria[filter_groups][${group}][filters][0][value]`, value);
    params.set(`searchCriteria[filter_groups][${group}][filters][0][condition_type]`, condition);
  };
  // Separate filter groups are ANDed: newer than the cursor, and created since polling began.
  filter(0, "entity_id", String(afterEntityId), "gt");
  if (since) filter(1, "created_at", magentoTime(since), "gteq");
  params.set("searchCriteria[sortOrders][0][field]", "entity_id");
  params.set("searchCriteria[sortOrders][0][direction]", "ASC");
  params.set("searchCriteria[pageSize]", String(magentoPageSize));
  params.set("searchCriteria[currentPage]", "1");
  return `${baseUrl}/V1/orders?${params.toString()}`;
}

/**
 * One poll of a Magento store: pages through orders newer than the cursor, each order in its own transaction with
 * the cursor advance, so a crash mid-page neither loses nor repeats an order. An order still awaiting payment
 * (`pending_payment`) holds the cursor below it: it is looked at again on later polls until it is paid (and
 * created) or Magento cancels it (and it is skipped).
 */
async function runMagentoPoll(
  services: JobServices,
  job: JobRow,
  connector: ConnectorRow,
): Promise<JobResult> {
  const { db } = services;
  const settings = connector.settings as MagentoConfig["settings"];
  const intervalMs = settings.poll_interval_seconds * 1000;
  if (!connector.enabled || !settings.poll_enabled || !settings.base_url) {
    await db.transaction((tx) => deleteJob(tx, job.id));
    return { outcome: "done" };
  }
  let seen = connector.poll_cursor ?? 0;
  let persisted = connector.poll_cursor ?? 0;
  let heldAt: number | null = null;
  try {
    const credentials = credentialsOf(services, connector) as MagentoConfig["credentials"];
    for (let page = 0; page < magentoPagesPerRun; page++) {
      const body = await getJson(
        magentoOrdersUrl(settings.base_url, seen, settings.poll_since),
        { authorization: `Bearer ${credentials.access_token ?? ""}` },
        httpOptions(services),
      );
      const items = Array.isArray((body as { items?: unknown }).items)
        ? (body as { items: unknown[] }).items
        : [];
      const sorted = items
        .map((item) => ({ item, id: Number(magentoOrderEntity(item)?.entity.entity_id) }))
        .filter((entry) => Number.isInteger(entry.id) && entry.id > seen)
        .sort((a, b) => a.id - b.id);
      for (const { item, id } of sorted) {
        seen = id;
        const state = magentoOrderEntity(item)?.entity.state;
        if (state === "pending_payment") {
          heldAt ??= id;
          continue;
        }
        const advanceTo = heldAt === null ? id : Math.max(persisted, heldAt - 1);
        await db.transaction(async (tx) => {
          // Orders after one held for payment are read again on later polls: seen ones are not deliveries again.
          const seenBefore = await tx.query<{ status: string }>(
            "select status from connector_deliveries where connector_id = $1 and delivery_key = $2",
            [connector.id, `order:${id}`],
          );
          if (seenBefore.rows[0] && seenBefore.rows[0].status !== "rejected") {
            await tx.query(
              "update connectors set poll_cursor = greatest(coalesce(poll_cursor, 0), $2) where id = $1",
              [connector.id, advanceTo],
            );
            return;
          }
          const claim = await claimDelivery(tx, connector, `order:${id}`, "poll");
          if (claim.isNew || claim.row.status === "rejected") {
            const outcome = mapMagentoOrder(item, {
              externalIdPrefix: connector.external_id_prefix,
              defaults: mappingDefaults(connector.defaults),
              weightUnit: settings.weight_unit,
              connectorId: connector.id,
            });
            await applyOutcome(tx, connector, claim.row.id, outcome);
          }
          await tx.query(
            "update connectors set poll_cursor = greatest(coalesce(poll_cursor, 0), $2) where id = $1",
            [connector.id, advanceTo],
          );
        });
        persisted = Math.max(persisted, advanceTo);
      }
      if (items.length < magentoPageSize) break;
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const runAt = new Date(services.clock.now().getTime() + retryDelayMs(job.kind, job.attempts, intervalMs));
    await db.transaction(async (tx) => {
      await rescheduleJob(tx, job.id, runAt, { error: message });
      await tx.query("update connectors set last_poll_error = $2, last_polled_at = $3 where id = $1", [
        connector.id,
        message,
        services.clock.now(),
      ]);
    });
    return { outcome: "retry", error: message };
  }
  const now = services.clock.now();
  await db.transaction(async (tx) => {
    await rescheduleJob(tx, job.id, new Date(now.getTime() + intervalMs), { resetAttempts: true });
    await tx.query("update connectors set last_poll_error = null, last_polled_at = $2 where id = $1", [
      connector.id,
      now,
    ]);
  });
  return { outcome: "done" };
}

async function runJob(services: JobServices, job: JobRow): Promise<JobResult> {
  const connector = await getConnectorById(services.db, job.connector_id);
  if (!connector) {
    await services.db.transaction((tx) => deleteJob(tx, job.id));
    return { outcome: "done" };
  }
  return job.kind === "vtex.fetch_order"
    ? runVtexFetch(services, job, connector)
    : runMagentoPoll(services, job, connector);
}

/** Claims and runs the jobs that are due now; returns what happened to each. */
export async function runDueConnectorJobs(
  services: JobServices,
  options: { limit?: number } = {},
): Promise<Array<{ job: JobRow; result: JobResult }>> {
  const jobs = await claimDueJobs(services.db, services.clock.now(), options.limit ?? 20);
  const results: Array<{ job: JobRow; result: JobResult }> = [];
  for (const job of jobs) {
    try {
      const result = await runJob(services, job);
      if (result.outcome !== "done") {
        services.logger.warn(
          { job_id: job.id, kind: job.kind, attempts: job.attempts, err: result.error },
          "connector job did not succeed",
        );
      }
      results.push({ job, result });
    } catch (error) {
      // An unexpected failure (database down): the lease expires and the job is claimed again later.
      services.logger.error({ err: error, job_id: job.id, kind: job.kind }, "connector job crashed");
      results.push({ job, result: { outcome: "retry", error: (error as Error).message } });
    }
  }
  return results;
}

export interface ConnectorWorker {
  /** Resolves once the pass in progress, if any, has finished. */
  stop(): Promise<void>;
}

export async function startConnectorWorker(
  services: JobServices,
  options: { pollMs?: number } = {},
): Promise<ConnectorWorker> {
  const pollMs = options.pollMs ?? services.config.CONNECTOR_WORKER_POLL_MS;
  let stopped = false;
  let running: Promise<void> | null = null;
  let again = false;
  const pass = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        try {
          // Keep going while passes find full batches: a burst of hooks drains without waiting for the timer.
          while (!stopped && (await runDueConnectorJobs(services)).length === 20) {}
        } catch (error) {
          services.logger.error({ err: error }, "connector worker pass failed");
        }
      } while (again && !stopped);
    })().finally(() => {
      running = null;
    });
  };
  const unlisten = await services.db.listen(jobsChannel, pass).catch((error: unknown) => {
    services.logger.warn({ err: error }, "connector worker cannot LISTEN; relying on its poll");
    return async () => {};
  });
  const timer = setInterval(pass, pollMs);
  timer.unref();
  pass();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await unlisten();
      if (running) await running;
    },
  };
}
