import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Page } from "playwright-core";

/** Debian's `chromium` package: the only browser the tests drive (Playwright downloads none). */
export const CHROMIUM = "/usr/bin/chromium";

// Without the background-networking flags Chromium reaches out to Google on start: this lab's network
// is closed, and its refused connections are noise, or slow the start.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Null when this machine can run the browser tests, otherwise what they need (the phrase reads after
 * "needs"); tests skip with it.
 */
export function browserUnavailableReason(): string | null {
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) return `root (uid ${uid}): Chromium runs here without its sandbox`;
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} (Debian's chromium package; run make setup)`;
  return null;
}

/**
 * Where a test keeps what a run leaves for people to look at (screenshots): `.ci/out/<name>` at the top of
 * the repository, created when missing (CI keeps the folder).
 */
export function ciOutput(name: string): string {
  const dir = fileURLToPath(new URL("../../../.ci/out/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/** A page of the test browser (playwright-core's Page). */
export type BrowserPage = Page;

/** A headless Chromium with a fresh profile, and what its pages said on their consoles. */
export interface TestBrowser {
  context: BrowserContext;
  /** Console errors and uncaught exceptions of every page opened (a CSP violation shows up here). */
  errors: string[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Starts the system Chromium headless, driven by playwright-core, with a profile folder it removes on close. */
export async function openBrowser(
  options: { httpCredentials?: { username: string; password: string } } = {},
): Promise<TestBrowser> {
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(tmpdir(), "sluice-chromium-"));
  const errors: string[] = [];
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 900 },
      deviceScaleFactor: 1,
      ...(options.httpCredentials && { httpCredentials: options.httpCredentials }),
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  context.on("page", (page) => watch(page, errors));
  for (const page of context.pages()) watch(page, errors);
  return {
    context,
    errors,
    newPage: () => context.newPage(),
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

function watch(page: Page, errors: string[]): void {
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
}
