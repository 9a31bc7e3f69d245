import { createKeyring } from "../src/domain/connectors/secret-box.ts";
import {
  openWebhookSecret,
  sealWebhookSecret,
  WebhookSecretOpener,
} from "../src/domain/webhooks/sealed-secrets.ts";
import { generateWebhookSecret } from "../src/domain/webhooks/secrets.ts";

/**
 * `npx tsx bench/secret-open-cost.ts`: CPU per opening of a sealed webhook signing secret, uncached (AES-256-GCM
 * each time) and through the dispatcher's cache, to weigh them against a delivery's cost (scenario 5). Median of 7
 * rounds of 100,000 openings each; the process's user+system CPU (process.cpuUsage).
 */
const keyring = createKeyring(Buffer.alloc(32, 1));
const sealed = sealWebhookSecret(keyring, "wh_bench", "secret", generateWebhookSecret());
const opener = new WebhookSecretOpener(keyring);
const n = 100_000;

function cpuMicrosPer(run: () => void): number {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const uncached: number[] = [];
const cached: number[] = [];
for (let round = 0; round < 7; round++) {
  uncached.push(cpuMicrosPer(() => openWebhookSecret(keyring, "wh_bench", "secret", sealed)));
  cached.push(cpuMicrosPer(() => opener.open("wh_bench", "secret", sealed)));
}
process.stdout.write(
  `${JSON.stringify({ uncachedMicrosPerOpen: median(uncached), cachedMicrosPerOpen: median(cached), uncached, cached })}\n`,
);
