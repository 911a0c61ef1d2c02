import { defineConfig, type Options } from "tsup";

/** How a library package builds: ESM and CommonJS with types, for Node 20; `options` adds to it. */
export function libraryBuild(options: Options): ReturnType<typeof defineConfig> {
  return defineConfig({
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20",
    ...options,
  });
}
