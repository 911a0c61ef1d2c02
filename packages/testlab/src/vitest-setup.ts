// Loaded by every test project (vitest.shared.ts: setupFiles), not part of the package's build: gives
// fast-check the run's seed and names it when a test fails, so any randomised failure can be repeated.
import fc from "fast-check";
import { beforeEach } from "vitest";
import { testSeed } from "./seed.js";

const seed = testSeed();
fc.configureGlobal({ seed });

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    console.error(`random inputs of this run came from seed ${seed}: repeat them with SLUICE_SEED=${seed}`);
  });
});
