import type { ByteSource } from "@sluice/pcap-format";

/** A FILE argument as a byte source: "-" is standard input. */
export function sourceOf(file: string): ByteSource {
  return file === "-" ? process.stdin : file;
}
