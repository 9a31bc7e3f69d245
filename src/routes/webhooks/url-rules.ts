import { webhookSettings } from "../../domain/webhooks/settings.ts";
import { checkWebhookUrl } from "../../domain/webhooks/url-guard.ts";
import type { AuthContext } from "../../http/context.ts";
import { ApiError } from "../../http/problem.ts";
import type { Services } from "../../services.ts";

/**
 * Vets a subscription URL for this caller (https unless test mode or WEBHOOK_ALLOW_HTTP; public addresses unless
 * WEBHOOK_ALLOW_PRIVATE_URLS) and returns it normalised, or throws a 400 that names the rule it broke.
 */
export async function vetSubscriptionUrl(
  services: Services,
  auth: AuthContext,
  url: string,
): Promise<string> {
  const settings = webhookSettings(services.config);
  const check = await checkWebhookUrl(url, {
    allowHttp: auth.mode === "test" || settings.allowHttp,
    allowPrivate: settings.allowPrivateUrls,
    resolveHost: (hostname) => services.webhookSender.resolveHost(hostname),
  });
  if (!check.ok) {
    // A test key pointing at its own machine is someone trying the quickstart: say how to get there.
    const hint =
      check.localAddress && auth.mode === "test"
        ? " For a receiver on your machine, expose it through a tunnel that gives it a public https URL; if you run" +
          " CELLVI yourself for local development, start it with WEBHOOK_ALLOW_PRIVATE_URLS=true."
        : "";
    throw new ApiError("validation_failed", `The url ${check.reason}.${hint}`, {
      errors: [{ path: "/url", message: check.reason }],
    });
  }
  return check.url.href;
}
