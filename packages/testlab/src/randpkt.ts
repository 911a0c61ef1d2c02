import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { seededRandom } from "./seed.js";

// randpkt (Wireshark's random packet generator) takes no seed, so a test on its output could not be repeated.
// It is still the authority on what a packet of each of its types looks like: a link type and a template
// of fixed header bytes, random bytes everywhere else. A short probe run shows both (a byte position whose
// value is the same in every probed packet is template); the packets a test gets are then drawn from the
// run's seed: their lengths and every non-template byte.

const PROBE_PACKETS = 64;

interface Shape {
  /** The probe file's 24-byte classic pcap header: its byte order, snaplen and link type. */
  header: Buffer;
  littleEndian: boolean;
  /** Template byte at each position up to the last fixed one, or -1 where randpkt puts a random byte. */
  template: number[];
}

const shapes = new Map<string, Shape>();

/**
 * Writes `count` random packets of one randpkt type to `path` (classic pcap, timestamps 0, 1, 2, ... s, at
 * most `maxBytes` each): randpkt's template for the type, the rest drawn from the run's seed and the file's
 * name, so SLUICE_SEED repeats the file exactly (with the same Wireshark version).
 */
export function randpkt(path: string, type: string, count: number, maxBytes = 5000): void {
  const { header, littleEndian, template } = shapeOf(type, maxBytes);
  const random = seededRandom(`randpkt/${type}/${count}/${maxBytes}/${basename(path)}`);
  const shortest = Math.max(1, template.length);
  const parts: Buffer[] = [header];
  for (let i = 0; i < count; i++) {
    const length = shortest + Math.floor(random() * (Math.max(shortest, maxBytes) - shortest + 1));
    const record = Buffer.alloc(16 + length);
    const u32 = (value: number, at: number) =>
      littleEndian ? record.writeUInt32LE(value, at) : record.writeUInt32BE(value, at);
    u32(i, 0);
    u32(length, 8);
    u32(length, 12);
    for (let j = 0; j < length; j++) {
      const fixed = template[j] ?? -1;
      record[16 + j] = fixed >= 0 ? fixed : Math.floor(random() * 256);
    }
    parts.push(record);
  }
  writeFileSync(path, Buffer.concat(parts));
}

function shapeOf(type: string, maxBytes: number): Shape {
  const key = `${type}/${maxBytes}`;
  const known = shapes.get(key);
  if (known) return known;
  const dir = mkdtempSync(join(tmpdir(), "sluice-randpkt-"));
  try {
    const probe = join(dir, "probe.pcap");
    execFileSync("randpkt", ["-b", String(maxBytes), "-c", String(PROBE_PACKETS), "-t", type, probe], {
      stdio: "ignore",
    });
    const bytes = readFileSync(probe);
    const littleEndian = bytes.readUInt32LE(0) === 0xa1b2c3d4;
    const u32 = (at: number) => (littleEndian ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at));
    const packets: Buffer[] = [];
    for (let at = 24; at + 16 <= bytes.length; ) {
      const length = u32(at + 8);
      packets.push(bytes.subarray(at + 16, at + 16 + length));
      at += 16 + length;
    }
    const shortest = Math.min(...packets.map((p) => p.length));
    const template = Array.from({ length: shortest }, (_, j) =>
      packets.every((p) => p[j] === packets[0]![j]) ? packets[0]![j]! : -1,
    );
    while (template.length > 0 && template.at(-1) === -1) template.pop();
    const shape = { header: Buffer.from(bytes.subarray(0, 24)), littleEndian, template };
    shapes.set(key, shape);
    return shape;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
