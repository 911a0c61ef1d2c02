import { fileURLToPath } from "node:url";
import { type DaemonProcess, startDaemon } from "@sluice/testlab";

export const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

/** The executable sluice-node is installed as: `replay` from the CommonJS builds, the rest through CLI. */
export const BIN = fileURLToPath(new URL("../../dist/bin.cjs", import.meta.url));

/** A `sluice-node run` child and the JSON lines it logs. */
export type NodeProcess = DaemonProcess;

/** Starts `sluice-node run --config FILE`. */
export function runNode(config: string): NodeProcess {
  return startDaemon(CLI, ["run", "--config", config]);
}
