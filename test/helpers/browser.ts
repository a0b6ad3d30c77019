// A real browser for tests: Debian's Chromium (`apt-get install chromium`, done by .ci/run) driven by
// playwright-core, headless. playwright-core downloads no browser of its own; the system one is used.
//
//   const browser = await launchBrowser();          // fails with a clear message when Chromium is missing
//   const page = await openPage(browser, `${app.url}/sign-in`);
//   await page.fill("#login", "alice"); await page.click("button[type=submit]");
//   await screenshot(page, "sign-in-done");         // test-artifacts/screenshots/sign-in-done.png
//   await browser.close();
import { accessSync, constants } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, type Page, chromium } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SCREENSHOT_DIR = path.join(repoRoot, "test-artifacts", "screenshots");

/** Whether the Chromium executable is there (tests should fail, not skip, when it is not). */
export function browserAvailable(): boolean {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Throws an explanatory error when Chromium is missing. */
export function assertBrowserAvailable(): void {
  if (!browserAvailable()) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` ` +
        "(bash .ci/run does this) or set CHROMIUM_PATH",
    );
  }
}

export async function launchBrowser(): Promise<Browser> {
  assertBrowserAvailable();
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/**
 * A page in a fresh context (own cookies), navigated to `url` when given. Closing the page's context
 * (`page.context().close()`) or the browser releases it.
 */
export async function openPage(
  browser: Browser,
  url?: string,
  contextOptions: Parameters<Browser["newContext"]>[0] = {},
): Promise<Page> {
  const context: BrowserContext = await browser.newContext({
    viewport: { width: 1024, height: 768 },
    ...contextOptions,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  if (url) await page.goto(url);
  return page;
}

/** Saves a full-page PNG as test-artifacts/screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name.replace(/[^A-Za-z0-9._-]+/g, "_")}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
