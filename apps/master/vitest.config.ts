import { defineProject } from "vitest/config";
import { setupFiles, workspaceAliases } from "../../vitest.shared.js";

export default defineProject({
  resolve: { alias: workspaceAliases },
  test: {
    name: "master",
    include: ["src/**/*.test.ts"],
    setupFiles,
    testTimeout: 120_000,
    // Building a lab capture in beforeAll takes more than the default 10 s on a busy machine.
    hookTimeout: 120_000,
  },
});
