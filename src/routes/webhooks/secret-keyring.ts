import { EncryptionKeyMissingError, type Keyring } from "../../domain/connectors/secret-box.ts";
import { requireWebhookKeyring } from "../../domain/webhooks/sealed-secrets.ts";
import { ApiError } from "../../http/problem.ts";
import type { Services } from "../../services.ts";

/**
 * The keyring that seals signing secrets, for subscribe and rotate-secret. Without one (a server database without
 * CONNECTOR_ENCRYPTION_KEY) no new secret is stored in plain text: 503 naming the setting, as connectors answer.
 */
export function webhookKeyringOrProblem(services: Services): Keyring {
  try {
    return requireWebhookKeyring(services);
  } catch (error) {
    if (error instanceof EncryptionKeyMissingError) throw new ApiError("service_unavailable", error.message);
    throw error;
  }
}
