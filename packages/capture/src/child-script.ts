import { builtScript } from "./child-process.js";

/** Path of the built capture child entry point. */
export function childScriptPath(): string {
  return builtScript(import.meta.url, "capture-child.js", "@sluice/capture");
}
