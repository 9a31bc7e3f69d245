/**
 * `npm run openapi`: writes the files generated from the app's own route definitions:
 *   docs/api/openapi.yaml                          the OpenAPI 3.0.3 document (production base URL)
 *   postman/cellvi-connect.postman_collection.json the Postman collection
 *   sdk/src/schema.ts                              the SDK's types and operation table
 * `npm run openapi:check` (`--check`) writes nothing and exits 1 naming every file that is stale, so CI fails
 * when a route changed without regenerating.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { postmanCollection } from "../src/portal/postman.ts";
import { documentFor, productionBaseUrl } from "../src/routes/docs/document-cache.ts";
import { documentYaml } from "../src/routes/docs/document-yaml.ts";
import type { Services } from "../src/services.ts";
import { sdkSchemaSource } from "./sdk-codegen.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Building the app registers every route but performs no I/O, so the document needs no database: anything a
 * route group touches at construction time is there, and any use of the database fails loudly instead of hanging.
 */
function documentationServices(): Services {
  const unavailable = (name: string) =>
    new Proxy(() => {}, {
      get: (_target, property) => {
        throw new Error(`services.${name}.${String(property)} used while generating the OpenAPI document`);
      },
      apply: () => {
        throw new Error(`services.${name} called while generating the OpenAPI document`);
      },
    });
  const known = {
    config: loadConfig({ LOG_LEVEL: "silent" }),
    logger: pino({ level: "silent" }),
    clock: { now: () => new Date() },
  };
  return new Proxy(known, {
    get: (target, property) =>
      property in target ? target[property as keyof typeof target] : unavailable(String(property)),
  }) as unknown as Services;
}

/** Biome formats the generated TypeScript, so the committed file passes `biome check` as generated. */
function biomeFormat(source: string, virtualPath: string): string {
  return execFileSync(
    resolve(root, "node_modules/.bin/biome"),
    ["format", `--stdin-file-path=${virtualPath}`],
    {
      input: source,
      cwd: root,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    },
  );
}

export function generatedFiles(): Map<string, string> {
  const app = createApp(documentationServices());
  const document = documentFor(app)(productionBaseUrl);
  const files = new Map<string, string>();
  files.set("docs/api/openapi.yaml", documentYaml(document));
  files.set(
    "postman/cellvi-connect.postman_collection.json",
    `${JSON.stringify(postmanCollection(document), null, 2)}\n`,
  );
  files.set("sdk/src/schema.ts", biomeFormat(sdkSchemaSource(document), "sdk/src/schema.ts"));
  return files;
}

function main(): void {
  const check = process.argv.includes("--check");
  const stale: string[] = [];
  let written = 0;
  for (const [path, content] of generatedFiles()) {
    const absolute = resolve(root, path);
    let current: string | null = null;
    try {
      current = readFileSync(absolute, "utf8");
    } catch {
      current = null;
    }
    if (current === content) continue;
    if (check) {
      stale.push(path);
    } else {
      mkdirSync(dirname(absolute), { recursive: true });
      writeFileSync(absolute, content);
      written += 1;
      console.log(`wrote ${path}`);
    }
  }
  if (check) {
    if (stale.length > 0) {
      console.error(
        `Stale generated file(s): ${stale.join(", ")}.\nRun \`npm run openapi\` and commit the result.`,
      );
      process.exitCode = 1;
    } else {
      console.log("docs/api/openapi.yaml, the Postman collection and the SDK types are up to date.");
    }
  } else if (written === 0) {
    console.log("Generated files were already up to date.");
  }
}

main();
