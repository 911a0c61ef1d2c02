import { PacketDecoder, packetFields } from "@sluice/decode";
import { readPackets } from "@sluice/pcap-format";
import type { ParsedCommand } from "../cli.js";
import { describeFailure, type ExitCode, UsageError } from "../exit.js";
import { sourceOf } from "./source.js";

const BATCH_CHARS = 256 * 1024;

// One write per batch of lines; awaiting drain keeps memory bounded when stdout is slower than decoding.
async function write(text: string): Promise<void> {
  if (process.stdout.write(text)) return;
  await new Promise<void>((resolve, reject) => {
    const onDrain = (): void => {
      process.stdout.off("error", onError);
      resolve();
    };
    const onError = (error: Error): void => {
      process.stdout.off("drain", onDrain);
      reject(error);
    };
    process.stdout.once("drain", onDrain);
    process.stdout.once("error", onError);
  });
}

export async function runFields({ positionals }: ParsedCommand): Promise<ExitCode> {
  if (positionals.length !== 1) throw new UsageError("fields needs exactly one FILE");
  const file = positionals[0]!;
  // A reader that stops early (`| head`) closes the pipe: stop quietly, as tshark and tcpdump do.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
  });
  const decoder = new PacketDecoder();
  let batch = "";
  let packets = 0;
  try {
    for await (const record of readPackets(sourceOf(file))) {
      batch += `${JSON.stringify(packetFields(record, decoder))}\n`;
      packets++;
      if (batch.length >= BATCH_CHARS) {
        await write(batch);
        batch = "";
      }
    }
    await write(batch);
    return 0;
  } catch (error) {
    await write(batch);
    process.stderr.write(`sluice-pcap: ${describeFailure(file, error)} (${packets} packets before it)\n`);
    return 1;
  }
}
