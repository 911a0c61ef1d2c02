import { fileURLToPath } from "node:url";
import { type DaemonProcess, startDaemon } from "@sluice/testlab";

export const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

/** A `sluice-master run` child and the JSON lines it logs. */
export type MasterProcess = DaemonProcess;

/** Starts `sluice-master run --config FILE`. */
export function runMaster(config: string): MasterProcess {
  return startDaemon(CLI, ["run", "--config", config]);
}
