import { defineConfig } from "tsup";

export default defineConfig({
  entry: [
    "src/index.ts",
    "src/cli.ts",
    "src/http-server.ts",
    "src/http-load.ts",
    "src/udp-blast.ts",
    "src/udp-sink.ts",
  ],
  format: ["esm"],
  dts: { entry: "src/index.ts" },
  sourcemap: true,
  clean: true,
  target: "node20",
});
