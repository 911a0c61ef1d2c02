import { closeSync, fsyncSync, mkdirSync, openSync } from "node:fs";
import { captureStem, type FlowKeyKind, splitCapture } from "@sluice/decode";

/** One node's share of a file split by flow. */
export interface FlowPart {
  node: string;
  /** The part file, `<dir>/<stem>-<node>.pcap`. */
  path: string;
  /** Its name in the destination. */
  name: string;
  packets: number;
  /** File size in bytes. */
  size: number;
}

/** The name of `node`'s part of the spool file `name`: the file's name with `-<node>` before `.pcap`. */
export function partName(name: string, node: string): string {
  return `${captureStem(name)}-${node}.pcap`;
}

/**
 * Splits a capture into one classic pcap per node with @sluice/decode's `splitCapture` — rendezvous hashing
 * of each packet's symmetric flow key over the node names, the same as `sluice-pcap split --nodes` — so both
 * directions of a session and every file of it land on the same node while the node list stands. Parts with
 * no packets are not written. Each part is fsynced, with its folder, before this resolves: a journal may then
 * refer to it. Records keep their bytes, lengths and timestamps.
 */
export async function splitByFlow(
  source: string,
  name: string,
  nodes: readonly string[],
  dir: string,
  key: FlowKeyKind = "5-tuple",
): Promise<FlowPart[]> {
  mkdirSync(dir, { recursive: true });
  // splitCapture names each part `<stem>-<node>.pcap`: partName(name, node).
  const result = await splitCapture(source, { directory: dir, name: captureStem(name), nodes, key });
  const parts: FlowPart[] = [];
  for (const { part, path, packets, size } of result.parts) {
    fsyncPath(path);
    const node = String(part);
    parts.push({ node, path, name: partName(name, node), packets, size });
  }
  fsyncPath(dir);
  return parts;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
