// What the replay benches and tests measure pacing with: a short capture of mixed traffic, and the error
// of every gap between two frames as the peer saw them against the file's.
import { withLab } from "./lab.js";

/** A record's time: seconds and nanoseconds (what pcap-format's readers give). */
export interface RecordTime {
  seconds: number;
  nanoseconds: number;
}

/**
 * |peer gap − file gap| in µs for each pair of consecutive frames, the i-th received frame taken as the
 * i-th sent one (replays keep order; compare counts first).
 */
export function gapErrorsUs(sent: readonly RecordTime[], received: readonly RecordTime[]): number[] {
  const errors: number[] = [];
  for (let i = 1; i < Math.min(sent.length, received.length); i++) {
    const peerGap =
      (received[i]!.seconds - received[i - 1]!.seconds) * 1e9 +
      (received[i]!.nanoseconds - received[i - 1]!.nanoseconds);
    const fileGap =
      (sent[i]!.seconds - sent[i - 1]!.seconds) * 1e9 + (sent[i]!.nanoseconds - sent[i - 1]!.nanoseconds);
    errors.push(Math.abs(peerGap - fileGap) / 1000);
  }
  return errors;
}

/** The q-quantile (0–1) of `values`: the value at index ⌊q·n⌋ of the sorted list, NaN when empty. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** The median of `values` (NaN and infinities left out); NaN for none. For bench summaries. */
export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((x, y) => x - y);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** "lowest–highest" of `values` to `digits` decimals, for a bench line's spread; "-" for none. */
export function spread(values: readonly number[], digits = 0): string {
  const sorted = values.filter(Number.isFinite).sort((x, y) => x - y);
  if (sorted.length === 0) return "-";
  return `${sorted[0]!.toFixed(digits)}–${sorted.at(-1)!.toFixed(digits)}`;
}

/**
 * Captures about 3 s of mixed traffic (UDP echo at 2000 pps, HTTP, ping; ≈12 000 frames in bursts and
 * gaps of every length) into `path` with nanosecond timestamps, in a lab of its own: its frames carry
 * MACs that a bench lab's peer filter (its own ends' MACs) does not drop.
 */
export async function makePacedCapture(path: string): Promise<void> {
  await withLab(async (lab) => {
    const capture = await lab.capture(path, { on: "b", precision: "nano" });
    await Promise.all([
      lab.udp({ packets: 6000, ratePps: 2000, size: [32, 1200], receiver: "echo" }),
      lab.http({ requests: 60, responseBytes: [0, 40_000] }),
      lab.ping({ count: 10 }).catch(() => {}),
    ]);
    await capture.stop();
  });
}
