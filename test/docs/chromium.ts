import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** The machine's Chromium (Debian's package, which `.ci/run` installs), never a downloaded one. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Whether the browser tests can run here (they skip without it). */
export const hasChromium = existsSync(chromiumPath);

/** Headless Chromium as the browser tests use it: no sandbox (CI runs as root), no GPU, no traffic of its own. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}
