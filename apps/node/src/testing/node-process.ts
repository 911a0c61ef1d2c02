import { fileURLToPath } from "node:url";
import { type DaemonProcess, startDaemon } from "@sluice/testlab";

export const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

/** A `sluice-node run` child and the JSON lines it logs. */
export type NodeProcess = DaemonProcess;

/** Starts `sluice-node run --config FILE`. */
export function runNode(config: string): NodeProcess {
  return startDaemon(CLI, ["run", "--config", config]);
}
