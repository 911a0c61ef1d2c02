import {
  type CaptureSummary,
  formatTimestamp,
  inspectCapture,
  type ReadWarnings,
  type Timestamp,
} from "@sluice/pcap-format";
import type { ParsedCommand } from "../cli.js";
import { describeFailure, describeWarnings, type ExitCode, UsageError } from "../exit.js";
import { sourceOf } from "./source.js";

/** The `info --json` contract: one object per file. */
export interface InfoRecord {
  file: string;
  format: "pcap" | "pcapng" | null;
  endianness: "little" | "big" | null;
  precision: "micro" | "nano" | null;
  linktypes: number[];
  snaplen: number | null;
  packets: number;
  bytes: number;
  originalBytes: number;
  firstTime: string | null;
  lastTime: string | null;
  complete: boolean;
  error: { offset: number | null; code: string; reason: string; message: string } | null;
  warnings: ReadWarnings | null;
}

const time = (t: Timestamp | null): string | null => (t ? formatTimestamp(t.seconds, t.nanoseconds) : null);

function recordOf(file: string, summary: CaptureSummary): InfoRecord {
  const { error } = summary;
  return {
    file,
    format: summary.format,
    endianness: summary.endianness,
    precision: summary.precision,
    linktypes: summary.linkTypes,
    snaplen: summary.snaplen,
    packets: summary.packets,
    bytes: summary.bytes,
    originalBytes: summary.originalBytes,
    firstTime: time(summary.firstTime),
    lastTime: time(summary.lastTime),
    complete: summary.complete,
    error: error
      ? { offset: error.offset, code: error.code, reason: error.reason, message: error.message }
      : null,
    warnings: summary.warnings,
  };
}

function unreadable(file: string, error: unknown): InfoRecord {
  const code = (error as NodeJS.ErrnoException).code ?? "EIO";
  return {
    file,
    format: null,
    endianness: null,
    precision: null,
    linktypes: [],
    snaplen: null,
    packets: 0,
    bytes: 0,
    originalBytes: 0,
    firstTime: null,
    lastTime: null,
    complete: false,
    error: {
      offset: null,
      code,
      reason: "io",
      message: error instanceof Error ? error.message : String(error),
    },
    warnings: null,
  };
}

/** Inspects one file; I/O failures become a record with an error instead of stopping the run. */
export async function inspectFile(file: string): Promise<InfoRecord> {
  try {
    return recordOf(file, await inspectCapture(sourceOf(file)));
  } catch (error) {
    return unreadable(file, error);
  }
}

function human(record: InfoRecord): string {
  const lines: [string, string][] = [["File", record.file]];
  if (record.format !== null) {
    lines.push(
      [
        "Format",
        `${record.format}, ${record.endianness}-endian, ${record.precision ?? "unknown"} timestamps`,
      ],
      ["Link types", record.linktypes.join(", ") || "none"],
      ["Snaplen", String(record.snaplen ?? "unknown")],
      ["Packets", String(record.packets)],
      ["Bytes", String(record.bytes)],
      ["Original bytes", String(record.originalBytes)],
      ["First packet", record.firstTime ?? "none"],
      ["Last packet", record.lastTime ?? "none"],
      ["Warnings", (record.warnings && describeWarnings(record.warnings)) || "none"],
    );
  }
  lines.push(["Complete", record.error ? `no: ${describeFailure(record.file, record.error)}` : "yes"]);
  return lines.map(([k, v]) => `${`${k}:`.padEnd(16)}${v}`).join("\n");
}

export async function runInfo({ values, positionals }: ParsedCommand): Promise<ExitCode> {
  if (positionals.length === 0) throw new UsageError("info needs at least one FILE");
  const records: InfoRecord[] = [];
  for (const file of positionals) records.push(await inspectFile(file));
  if (values["json"]) {
    const payload = records.length === 1 ? records[0] : records;
    process.stdout.write(`${JSON.stringify(payload, null, 2)}\n`);
  } else {
    process.stdout.write(`${records.map(human).join("\n\n")}\n`);
  }
  return records.every((r) => r.complete) ? 0 : 1;
}
