// RecordScanner: the addon's scanRecords with its fields filled in. A replay at top speed hands the
// inject socket a chunk's records without a JavaScript call per record (see @sluice/replayer).
import type { PlainRecords } from "@sluice/pcap-format/low-level";
import type { NativeAddon } from "./native.js";

/** Indices of scanRecords' `args` (one Uint32Array, so a call allocates nothing). */
const ARG = {
  format: 0,
  littleEndian: 1,
  offset: 2,
  end: 3,
  first: 4,
  capacity: 5,
  count: 6,
  frameLimit: 7,
  taggedFrameLimit: 8,
  maxCaptured: 9,
  fractionOrBlockLimit: 10,
  interfaceCount: 11,
  interfaces: 12,
} as const;

/** Scans chunks for plain records, one native call per run of them. */
export class RecordScanner {
  private args = new Uint32Array(ARG.interfaces + 4);
  /** Records the last scan() took. */
  count = 0;

  constructor(private readonly addon: Pick<NativeAddon, "scanRecords">) {}

  /**
   * Takes the plain records (see @sluice/pcap-format's PlainRecords, where the rule is defined) at `buf[offset, end)` no longer than `frameLimit`
   * (`taggedFrameLimit` for an 802.1Q-tagged Ethernet frame), stopping at the first other one or when
   * `positions` is full up to record `capacity`; writes them from record `first` on. Returns the offset
   * after the last one taken (`offset` when none); `count` says how many.
   */
  scan(
    buf: Uint8Array,
    offset: number,
    end: number,
    layout: PlainRecords,
    frameLimit: number,
    taggedFrameLimit: number,
    positions: Uint32Array,
    first: number,
    capacity: number,
  ): number {
    let args = this.args;
    if (layout.format === "pcapng") {
      const interfaces = layout.interfaceSnaplens;
      if (args.length < ARG.interfaces + interfaces.length) {
        args = this.args = new Uint32Array(ARG.interfaces + interfaces.length);
      }
      args[ARG.format] = 1;
      args[ARG.maxCaptured] = layout.maxCapturedLength;
      args[ARG.fractionOrBlockLimit] = layout.maxBlockLength;
      args[ARG.interfaceCount] = interfaces.length;
      for (let i = 0; i < interfaces.length; i++) args[ARG.interfaces + i] = interfaces[i]!;
    } else {
      args[ARG.format] = 0;
      args[ARG.maxCaptured] = layout.maxCapturedLength;
      args[ARG.fractionOrBlockLimit] = layout.fractionLimit;
      args[ARG.interfaceCount] = 0;
    }
    args[ARG.littleEndian] = layout.littleEndian ? 1 : 0;
    args[ARG.offset] = offset;
    args[ARG.end] = end;
    args[ARG.first] = first;
    args[ARG.capacity] = capacity;
    args[ARG.frameLimit] = frameLimit;
    args[ARG.taggedFrameLimit] = taggedFrameLimit;
    this.addon.scanRecords(buf, positions, args);
    this.count = args[ARG.count]!;
    return args[ARG.offset]!;
  }
}
