import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach } from "vitest";
import { Router } from "../router.js";
import { scratch } from "./spool-files.js";

type RouterOptions = ConstructorParameters<typeof Router>[0];

/**
 * What the router's fault and liveness tests share: `cleanups` run (last first) after each test, `setup`
 * makes a scratch folder holding `folders` and returns a path maker, `router` makes a fast-checking Router
 * on that folder's journal that is stopped after the test. Call it once at a test file's top level.
 */
export function routerFixtures(prefix: string, retryMaxMs: number) {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const setup = (folders: string[]) => {
    const { dir, remove } = scratch(prefix);
    cleanups.push(remove);
    for (const f of folders) mkdirSync(join(dir, f));
    return (name: string) => join(dir, name);
  };
  const router = (at: (n: string) => string, options: Partial<RouterOptions>) => {
    const r = new Router({
      journalDir: at("journal"),
      healthIntervalMs: 50,
      retry: { initialMs: 20, maxMs: retryMaxMs },
      ...options,
    });
    cleanups.push(() => r.stop(5000));
    return r;
  };
  return { cleanups, setup, router };
}
