import { verifyCapture } from "@sluice/pcap-format";
import type { ParsedCommand } from "../cli.js";
import { describeFailure, describeWarnings, type ExitCode, UsageError } from "../exit.js";
import { sourceOf } from "./source.js";

export async function runVerify({ positionals }: ParsedCommand): Promise<ExitCode> {
  if (positionals.length === 0) throw new UsageError("verify needs at least one FILE");
  let allComplete = true;
  for (const file of positionals) {
    try {
      const result = await verifyCapture(sourceOf(file));
      const warnings = describeWarnings(result.warnings);
      const noted = warnings === "" ? "" : `; warnings: ${warnings}`;
      if (result.error) {
        allComplete = false;
        process.stdout.write(
          `${describeFailure(file, result.error)} (${result.packets} packets before it${noted})\n`,
        );
      } else {
        process.stdout.write(`${file}: ok, ${result.packets} packets${noted}\n`);
      }
    } catch (error) {
      allComplete = false;
      process.stdout.write(`${describeFailure(file, error)}\n`);
    }
  }
  return allComplete ? 0 : 1;
}
