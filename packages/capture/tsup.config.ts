import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/capture-child.ts", "src/binding.ts", "src/child.ts", "src/child-process.ts"],
  format: ["esm", "cjs"],
  dts: { entry: ["src/index.ts", "src/binding.ts", "src/child.ts", "src/child-process.ts"] },
  sourcemap: true,
  clean: true,
  shims: true,
  target: "node20",
  external: ["pcap", "@sluice/packet-io"],
});
