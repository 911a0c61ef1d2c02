import { readdirSync } from "node:fs";
import { join } from "node:path";

const root = import.meta.dirname;

/**
 * Tests import sibling workspace packages from their TypeScript sources, so a change in one package is
 * seen by the others' tests without a build. (Binaries under test still run from dist/, built by turbo.)
 */
export const workspaceAliases: Record<string, string> = {
  // Subpath exports first: an alias also matches ids that start with it.
  "@sluice/daemon/run-cli": join(root, "packages", "daemon", "src", "run-cli.ts"),
  "@sluice/capture/binding": join(root, "packages", "capture", "src", "binding.ts"),
  "@sluice/capture/child-process": join(root, "packages", "capture", "src", "child-process.ts"),
  "@sluice/capture/child": join(root, "packages", "capture", "src", "child.ts"),
  "@sluice/pcap-format/low-level": join(root, "packages", "pcap-format", "src", "low-level.ts"),
  "@sluice/replayer/queue": join(root, "packages", "replayer", "src", "queue.ts"),
  ...Object.fromEntries(
    readdirSync(join(root, "packages")).map((dir) => [
      `@sluice/${dir}`,
      join(root, "packages", dir, "src", "index.ts"),
    ]),
  ),
};

/**
 * Loaded before every test file: gives fast-check the run's seed and prints it when a test fails, so a
 * randomised failure repeats with SLUICE_SEED=<seed> (packages/testlab/src/seed.ts).
 */
export const setupFiles = [join(root, "packages", "testlab", "src", "vitest-setup.ts")];
