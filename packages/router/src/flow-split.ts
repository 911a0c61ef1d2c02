import { closeSync, fsyncSync, mkdirSync, openSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { FlowHasher, type FlowKeyKind, Rendezvous } from "@sluice/decode";
import { PcapWriter, readPackets } from "@sluice/pcap-format";

/** One node's share of a file split by flow. */
export interface FlowPart {
  node: string;
  /** The part file, `<dir>/<stem>-<node>.pcap`. */
  path: string;
  /** Its name in the destination. */
  name: string;
  packets: number;
}

/** The name of `node`'s part of the spool file `name`: the file's name with `-<node>` before `.pcap`. */
export function partName(name: string, node: string): string {
  const stem = name.replace(/\.pcap(ng)?$/, "");
  return `${stem}-${node}.pcap`;
}

/**
 * Splits a capture into one classic pcap per node by rendezvous hashing of each packet's symmetric flow
 * key over the node names (the same hash as `sluice-pcap split --nodes`), so both directions of a session
 * and every file of it land on the same node while the node list stands. Parts with no packets are not
 * written. Each part is fsynced, with its folder, before this resolves: a journal may then refer to it.
 * Records keep their bytes, lengths and timestamps (nanosecond precision, so nothing is rounded).
 */
export async function splitByFlow(
  source: string,
  name: string,
  nodes: readonly string[],
  dir: string,
  key: FlowKeyKind = "5-tuple",
): Promise<FlowPart[]> {
  mkdirSync(dir, { recursive: true });
  const rendezvous = new Rendezvous(nodes);
  const hasher = new FlowHasher({ key });
  const writers: (PcapWriter | null)[] = nodes.map(() => null);
  const counts = nodes.map(() => 0);
  let linkType = -1;
  try {
    for await (const packet of readPackets(source)) {
      if (linkType === -1) linkType = packet.linkType;
      else if (packet.linkType !== linkType) {
        throw new RangeError(
          `${source} mixes link types ${linkType} and ${packet.linkType}: a classic pcap part holds one`,
        );
      }
      const index = rendezvous.pick(hasher.hashRecord(packet));
      let writer = writers[index];
      if (writer === null || writer === undefined) {
        writer = PcapWriter.create(join(dir, partName(name, nodes[index]!)), {
          linkType,
          precision: "nano",
        });
        writers[index] = writer;
      }
      writer.writePacket(packet);
      counts[index]!++;
    }
    for (const writer of writers) await writer?.sync();
  } catch (error) {
    for (const [i, writer] of writers.entries()) {
      if (writer === null) continue;
      await writer.close().catch(() => {});
      try {
        unlinkSync(join(dir, partName(name, nodes[i]!)));
      } catch {
        // gone already
      }
    }
    throw error;
  }
  for (const writer of writers) await writer?.close();
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const parts: FlowPart[] = [];
  for (const [i, node] of nodes.entries()) {
    if (writers[i] === null) continue;
    const part = partName(name, node);
    parts.push({ node, path: join(dir, part), name: part, packets: counts[i]! });
  }
  return parts;
}
