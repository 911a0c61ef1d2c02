import { parseArgs } from "node:util";
import packageJson from "../package.json" with { type: "json" };
import { runConvert } from "./commands/convert.js";
import { runFields } from "./commands/fields.js";
import { runInfo } from "./commands/info.js";
import { runSplit } from "./commands/split.js";
import { runVerify } from "./commands/verify.js";
import { type ExitCode, UsageError } from "./exit.js";

const USAGE = `Usage: sluice-pcap <command> [options]

Inspect, verify, convert, split and decode pcap and pcapng captures.

Commands:
  info FILE... [--json]     format, byte order, precision, link types, snaplen, packets, bytes,
                            earliest and latest packet time, warnings, and whether the file is
                            complete
  verify FILE...            one line per file: ok, or the first problem with its byte offset;
                            records read on as libpcap reads on (cut to the snaplen, ...) counted
  convert IN -o OUT [--precision micro|nano]
                            pcap or pcapng in, classic pcap out, the bytes tcpdump -r IN -w OUT
                            writes (but in IN's precision); OUT appears under its name only when
                            written to the end; a damaged IN is salvaged: the packets before the
                            problem are written, the problem reported, exit status 1; refuses
                            inputs with several link types and writes nothing
  split IN (--parts N | --nodes a,b,c) [--key 5-tuple|2-tuple] -o DIR
                            by flow into DIR/<name>-<i>.pcap (i from 0) or DIR/<name>-<node>.pcap
                            (rendezvous hash, as the router's flow pool); both directions of a flow in
                            one part; records copied unchanged; parts without packets not written
  fields FILE               one JSON object per packet (NDJSON): L2-L4 header fields, null where the
                            packet has no such layer

FILE, IN and OUT may be "-" for standard input or output.

Exit status: 0 every file complete; 1 a file is incomplete, invalid or unreadable; 2 usage error.

Options:
  -h, --help                this text (man sluice-pcap shows it as a man page)
  -V, --version             the version: "sluice-pcap X.Y.Z"
`;

async function main(argv: string[]): Promise<ExitCode> {
  const [command, ...rest] = argv;
  switch (command) {
    case "info":
      return runInfo(parseCommand(rest, { json: { type: "boolean" } }));
    case "verify":
      return runVerify(parseCommand(rest, {}));
    case "convert":
      return runConvert(
        parseCommand(rest, { output: { type: "string", short: "o" }, precision: { type: "string" } }),
      );
    case "split":
      return runSplit(
        parseCommand(rest, {
          output: { type: "string", short: "o" },
          parts: { type: "string" },
          nodes: { type: "string" },
          key: { type: "string" },
        }),
      );
    case "fields":
      return runFields(parseCommand(rest, {}));
    case "-h":
    case "--help":
    case "help":
      process.stdout.write(USAGE);
      return 0;
    case "-V":
    case "--version":
      process.stdout.write(`sluice-pcap ${packageJson.version}\n`);
      return 0;
    case undefined:
      throw new UsageError("no command given");
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

export interface ParsedCommand {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

function parseCommand(args: string[], options: OptionSpec): ParsedCommand {
  if (args.includes("-h") || args.includes("--help")) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values, positionals };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`sluice-pcap: ${error.message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`sluice-pcap: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
