/**
 * How long other subscriptions' deliveries wait while one subscription has a deep due backlog (see
 * claimDueDeliveries in src/domain/webhooks/queue.ts). One long-running dispatcher (default settings: 16 attempts
 * per endpoint, 32 held) on a new database; `--rows` due deliveries of one subscription whose endpoint answers after
 * `--slow-ms`, so the dispatcher stays saturated on it; for `--seconds`, every `--every-ms` a delivery of one of
 * `--others` other subscriptions (answering at once) is written, and its wait is measured from its commit to its
 * send. Reports the wait's percentiles and maximum, and how many of the slow subscription's deliveries were sent.
 *
 *   flock /tmp/cellvi-bench.lock npx tsx bench/claim-fairness.ts [--engine postgres|embedded] [--rows 50000]
 *     [--seconds 10] [--every-ms 25] [--others 20] [--slow-ms 50]
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createRecordingWebhookSender } from "../src/adapters/sender/recording.ts";
import { startDispatcher } from "../src/domain/webhooks/dispatcher.ts";
import { createTestContext } from "../test/support/app.ts";

function arg(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}
const engine = arg("engine", "postgres") === "embedded" ? "embedded" : "postgres";
const rows = Number(arg("rows", "50000"));
const seconds = Number(arg("seconds", "10"));
const everyMs = Number(arg("every-ms", "25"));
const others = Number(arg("others", "20"));
const slowMs = Number(arg("slow-ms", "50"));

const sentAt = new Map<string, number>();
const sender = createRecordingWebhookSender({
  async respond(request) {
    if (request.url.includes("/slow")) await new Promise((resolve) => setTimeout(resolve, slowMs));
    else sentAt.set(request.headers["webhook-id"] ?? "", Date.now());
    return { kind: "response", status: 200, retryAfter: null, body: "", durationMs: 0 };
  },
});
const ctx = await createTestContext(engine, {
  env: { WEBHOOK_ALLOW_PRIVATE_URLS: "true", WEBHOOK_POLL_INTERVAL: "2s" },
  webhookSender: sender,
});
const db = ctx.services.db;
try {
  const tenant = randomUUID();
  await db.query("insert into tenants (id, name) values ($1, 'bench')", [tenant]);
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  const subscription = async (path: string) =>
    (
      await db.query<{ id: string }>(
        `insert into webhook_subscriptions (tenant_id, mode, url, events, secret)
         values ($1, 'live', $2, '{*}', $3) returning id`,
        [tenant, `https://example.com${path}`, secret],
      )
    ).rows[0]!.id;
  const slow = await subscription("/slow");
  const fast: string[] = [];
  for (let i = 0; i < others; i++) fast.push(await subscription(`/fast/${i}`));
  await db.query(
    `insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, next_attempt_at)
     select $1, 'live', $2, 'evt_' || n, 'ORDER_CREATED', '{}', now() - interval '1 hour' + n * interval '1 ms'
       from generate_series(1, $3::int) n`,
    [tenant, slow, rows],
  );
  if (engine === "postgres") await db.exec("analyze webhook_deliveries");
  const dispatcher = await startDispatcher(ctx.services);
  const writtenAt = new Map<string, number>();
  const started = Date.now();
  let n = 0;
  while (Date.now() - started < seconds * 1000) {
    const eventId = `evt_other_${n}`;
    await db.query(
      `insert into webhook_deliveries (tenant_id, mode, subscription_id, event_id, event_type, body, next_attempt_at)
       values ($1, 'live', $2, $3, 'ORDER_CREATED', '{}', now())`,
      [tenant, fast[n % fast.length], eventId],
    );
    writtenAt.set(eventId, Date.now());
    n++;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const slowSent = sender.requests.filter((r) => r.url.includes("/slow")).length;
  await dispatcher.stop();
  const waits: number[] = [];
  let missing = 0;
  for (const [eventId, at] of writtenAt) {
    const sent = sentAt.get(eventId);
    if (sent === undefined) missing++;
    else waits.push(sent - at);
  }
  waits.sort((a, b) => a - b);
  const at = (q: number) => waits[Math.min(waits.length - 1, Math.floor(q * waits.length))] ?? 0;
  console.log(
    JSON.stringify({
      engine,
      rows,
      others,
      written: writtenAt.size,
      not_sent_within_1s: missing,
      wait_p50_ms: at(0.5),
      wait_p90_ms: at(0.9),
      wait_p99_ms: at(0.99),
      wait_max_ms: waits.at(-1) ?? 0,
      slow_sent: slowSent,
    }),
  );
} finally {
  await ctx.close();
}
