// The api-gateway Edge Function: the same app the Node server runs (`createApp`), served by Deno. Deploy with
// `supabase functions deploy api-gateway` (see src/portal/guides/en/deploy-supabase.md).
import { createApp } from "../../../src/app.ts";
import { ConfigError } from "../../../src/config.ts";
import { buildEdgeServices, deno, serveEdge, withoutFunctionPrefix } from "../_shared/edge.ts";

const functionName = "api-gateway";

let built: Awaited<ReturnType<typeof buildEdgeServices>>;
try {
  built = await buildEdgeServices(deno().env.toObject(), functionName);
} catch (error) {
  // A configuration error must say what to fix in the function's logs, not just fail the boot.
  console.error(error instanceof ConfigError ? error.message : error);
  throw error;
}
const { services } = built;
const app = createApp(services);

serveEdge(
  functionName,
  services.config,
  services.logger,
  (request) => app.fetch(withoutFunctionPrefix(request, functionName)),
  () => built.close(),
);
