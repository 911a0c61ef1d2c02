import { defineProject } from "vitest/config";
import { setupFiles, workspaceAliases } from "../../vitest.shared.js";

export default defineProject({
  resolve: { alias: workspaceAliases },
  test: {
    name: "pcap-format",
    include: ["src/**/*.test.ts"],
    setupFiles,
    testTimeout: 60_000,
  },
});
