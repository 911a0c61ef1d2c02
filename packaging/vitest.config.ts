import { defineProject } from "vitest/config";
import { setupFiles, workspaceAliases } from "../vitest.shared.js";

// The install, the tarballs and the systemd units: checked against what the packages and apps say.
export default defineProject({
  resolve: { alias: workspaceAliases },
  test: {
    name: "packaging",
    include: ["*.test.ts"],
    setupFiles,
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
