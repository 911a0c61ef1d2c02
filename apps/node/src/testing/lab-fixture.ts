import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readCaptureSync } from "@sluice/pcap-format";
import { editcap, type Lab, makeLabCapture } from "@sluice/testlab";

/** Frames of a capture file as hex strings: what "the same frames" is compared by. */
export function framesOf(path: string): string[] {
  return readCaptureSync(readFileSync(path)).packets.map((p) => Buffer.from(p.data).toString("hex"));
}

/**
 * Real lab traffic cut into `pieces` classic pcap files of `perPiece` packets each, in `dir`; returns their
 * paths in capture order. Made once per test file (a lab of its own, a few hundred KB).
 */
export async function labPieces(dir: string, pieces: number, perPiece: number): Promise<string[]> {
  const whole = join(dir, "lab.pcap");
  await makeLabCapture(whole, { bytes: pieces * perPiece * 700 });
  return cutPieces(whole, dir, pieces, perPiece);
}

/** The first `pieces` × `perPiece` packets of `whole` cut into files in `dir`, in capture order. */
export async function cutPieces(
  whole: string,
  dir: string,
  pieces: number,
  perPiece: number,
): Promise<string[]> {
  const total = readCaptureSync(readFileSync(whole)).packets.length;
  if (total < pieces * perPiece) throw new Error(`lab capture has ${total} packets, fewer than asked`);
  mkdirSync(dir, { recursive: true });
  await editcap(["-r", whole, join(dir, "cut.pcap"), `1-${pieces * perPiece}`]);
  await editcap(["-c", String(perPiece), join(dir, "cut.pcap"), join(dir, "piece.pcap")]);
  const names = readdirSync(dir)
    .filter((n) => n.startsWith("piece_"))
    .sort();
  return names.map((name, i) => {
    const path = join(dir, `piece-${i}.pcap`);
    renameSync(join(dir, name), path);
    return path;
  });
}

/** The first `cut` bytes of `from` written to `to` (a capture cut short, as a crashed writer leaves it). */
export function writePrefix(from: string, to: string, cut: number): void {
  writeFileSync(to, readFileSync(from).subarray(0, cut));
}

/** The MAC address of a lab side's veth end: frames from it are the peer's own, not replayed ones. */
export async function macOf(lab: Lab, side: "a" | "b"): Promise<string> {
  const end = lab.endpoint(side);
  const out = await lab.run(side, "ip", ["-j", "link", "show", "dev", end.iface]);
  return (JSON.parse(out) as { address: string }[])[0]!.address;
}
