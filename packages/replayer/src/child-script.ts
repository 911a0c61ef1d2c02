import { builtScript } from "@sluice/capture/child-process";

/** Path of the built inject child entry point. */
export function injectChildPath(): string {
  return builtScript(import.meta.url, "inject-child.js", "@sluice/replayer");
}
