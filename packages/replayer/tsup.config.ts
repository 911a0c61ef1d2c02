import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/queue.ts", "src/inject-child.ts"],
  format: ["esm", "cjs"],
  dts: { entry: ["src/index.ts", "src/queue.ts"] },
  sourcemap: true,
  clean: true,
  shims: true,
  target: "node20",
  // @sluice/packet-io is optional and loads its addon relative to its own dist: never bundled.
  external: ["pcap", "@sluice/packet-io"],
});
