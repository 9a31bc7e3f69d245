export {
  type CallArgs,
  type CallOptions,
  CellviClient,
  CellviError,
  type ClientOptions,
  createClient,
  type ListOperationId,
  type OperationMethods,
  type Output,
} from "./client.ts";
export * from "./schema.ts";
export { type VerifyWebhookOptions, verifyWebhook, WebhookVerificationError } from "./webhooks.ts";
