import { mkdirSync } from "node:fs";
import { basename } from "node:path";
import { captureStem, type FlowKeyKind, splitCapture } from "@sluice/decode";
import type { ParsedCommand } from "../cli.js";
import { describeFailure, describeWarnings, type ExitCode, UsageError } from "../exit.js";
import { sourceOf } from "./source.js";

function stemOf(input: string): string {
  return input === "-" ? "stdin" : captureStem(basename(input));
}

function flowKeyOf(value: unknown): FlowKeyKind {
  if (value === undefined) return "5-tuple";
  if (value === "5-tuple" || value === "2-tuple") return value;
  throw new UsageError(`--key must be 5-tuple or 2-tuple, not "${String(value)}"`);
}

function targetsOf(values: ParsedCommand["values"]): { parts: number } | { nodes: string[] } {
  const parts = values["parts"];
  const nodes = values["nodes"];
  if ((parts === undefined) === (nodes === undefined))
    throw new UsageError("split needs --parts N or --nodes a,b,c");
  if (typeof nodes === "string") {
    const names = nodes.split(",").map((n) => n.trim());
    const bad = names.find((n) => !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(n));
    if (bad !== undefined)
      throw new UsageError(`--nodes: "${bad}" is not a node name (letters, digits, . _ -)`);
    const repeated = names.find((n, i) => names.indexOf(n) !== i);
    if (repeated !== undefined) throw new UsageError(`--nodes: "${repeated}" is listed twice`);
    return { nodes: names };
  }
  const count = Number(parts);
  if (!/^\d+$/.test(String(parts)) || count < 1 || count > 1024) {
    throw new UsageError(`--parts must be a whole number from 1 to 1024, not "${String(parts)}"`);
  }
  return { parts: count };
}

export async function runSplit({ values, positionals }: ParsedCommand): Promise<ExitCode> {
  if (positionals.length !== 1) throw new UsageError("split needs exactly one input file");
  const directory = values["output"];
  if (typeof directory !== "string" || directory === "") throw new UsageError("split needs -o DIR");
  const input = positionals[0]!;
  const options = { directory, name: stemOf(input), key: flowKeyOf(values["key"]), ...targetsOf(values) };
  try {
    mkdirSync(directory, { recursive: true });
  } catch (error) {
    process.stderr.write(`sluice-pcap: ${describeFailure(directory, error)}\n`);
    return 1;
  }
  try {
    const result = await splitCapture(sourceOf(input), options);
    for (const part of result.parts) process.stderr.write(`${part.path}: ${part.packets} packets\n`);
    const warnings = describeWarnings(result.warnings);
    if (warnings !== "") process.stderr.write(`sluice-pcap: ${input}: warnings: ${warnings}\n`);
    if (result.error) {
      process.stderr.write(
        `sluice-pcap: ${describeFailure(input, result.error)}; split the ${result.packets} packets before it\n`,
      );
      return 1;
    }
    return 0;
  } catch (error) {
    process.stderr.write(`sluice-pcap: ${describeFailure(input, error)}; nothing written\n`);
    return 1;
  }
}
