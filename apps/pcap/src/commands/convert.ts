import { convertCapture, type Precision } from "@sluice/pcap-format";
import type { ParsedCommand } from "../cli.js";
import { describeFailure, describeWarnings, type ExitCode, UsageError } from "../exit.js";
import { sourceOf } from "./source.js";

export async function runConvert({ values, positionals }: ParsedCommand): Promise<ExitCode> {
  if (positionals.length !== 1) throw new UsageError("convert needs exactly one input file");
  const output = values["output"];
  if (typeof output !== "string" || output === "") throw new UsageError("convert needs -o OUT");
  const precision = values["precision"];
  if (precision !== undefined && precision !== "micro" && precision !== "nano") {
    throw new UsageError(`--precision must be micro or nano, not "${String(precision)}"`);
  }
  const input = positionals[0]!;
  const options = precision === undefined ? {} : { precision: precision as Precision };
  try {
    const result = await convertCapture(sourceOf(input), output === "-" ? process.stdout : output, options);
    const warnings = describeWarnings(result.warnings);
    const summary = `${result.packets} packets, ${result.inputFormat} → pcap (${result.precision})${warnings === "" ? "" : `; warnings: ${warnings}`}`;
    if (result.error) {
      process.stderr.write(
        `sluice-pcap: ${describeFailure(input, result.error)}; wrote the ${summary} before it to ${output}\n`,
      );
      return 1;
    }
    if (output !== "-") process.stderr.write(`${output}: ${summary}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`sluice-pcap: ${describeFailure(input, error)}; nothing written\n`);
    return 1;
  }
}
