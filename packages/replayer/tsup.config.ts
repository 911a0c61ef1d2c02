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
  // The CommonJS build requires what the ES module build imports on demand (the addon, a FIFO's or a
  // child's code): a one-shot `sluice-node replay` runs from it without starting Node's ES module loader.
  esbuildOptions(options, context) {
    if (context.format === "cjs") options.supported = { ...options.supported, "dynamic-import": false };
  },
});
