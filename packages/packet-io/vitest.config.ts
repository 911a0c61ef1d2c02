import { defineProject } from "vitest/config";
import { setupFiles, workspaceAliases } from "../../vitest.shared.js";

export default defineProject({
  resolve: { alias: workspaceAliases },
  test: {
    name: "packet-io",
    include: ["src/**/*.test.ts"],
    setupFiles,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
