import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "pcap-format",
    include: ["src/**/*.test.ts"],
    testTimeout: 60_000,
  },
});
