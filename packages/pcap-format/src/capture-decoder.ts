import { u32 } from "./bytes.js";
import { PCAP_MAGIC_KUZNETSOV, PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO, PCAPNG_SHB } from "./constants.js";
import type { DecoderLimits, DecoderSink, FormatDecoder } from "./decoder-sink.js";
import { PcapFormatError } from "./errors.js";
import { PcapDecoder } from "./pcap-decoder.js";
import { PcapngDecoder } from "./pcapng-decoder.js";
import type { CaptureFormat } from "./types.js";
import { noWarnings, type ReadWarning, type ReadWarnings } from "./warnings.js";

/** Limits for decoding untrusted bytes; see DecoderLimits. */
export type CaptureDecoderOptions = Partial<DecoderLimits>;

// libpcap's largest pcapng block (INITIAL_MAX_BLOCKSIZE).
const DEFAULT_MAX_BLOCK_LENGTH = 16 << 20;
// Records up to this size get their whole buffer at once: cheap even when the length is a lie.
const EAGER_RESERVE = 256 * 1024;

const MAGIC_PREFIXES: readonly Uint8Array[] = [
  [0xd4, 0xc3, 0xb2, 0xa1],
  [0xa1, 0xb2, 0xc3, 0xd4],
  [0x4d, 0x3c, 0xb2, 0xa1],
  [0xa1, 0xb2, 0x3c, 0x4d],
  [0x34, 0xcd, 0xb2, 0xa1],
  [0xa1, 0xb2, 0xcd, 0x34],
  [0x0a, 0x0d, 0x0d, 0x0a],
].map((bytes) => Uint8Array.from(bytes));

/**
 * Push-based decoder for pcap and pcapng: feed it chunks as they arrive (file reads, socket data) and it
 * calls the sink for every complete packet. Memory stays bounded: only a record that spans two chunks is
 * buffered, only after its length passed the limits, and its buffer grows with the bytes that arrive, not
 * with what the length field claims. Records libpcap reads on from are counted in `warnings`. After a
 * PcapFormatError every call rethrows it.
 */
export class CaptureDecoder {
  private readonly limits: DecoderLimits;
  private decoder: FormatDecoder | null = null;
  private detected: CaptureFormat | null = null;
  private carry: Uint8Array | null = null;
  private carryLength = 0;
  private consumed = 0;
  private received = 0;
  private failure: PcapFormatError | null = null;
  private ended = false;
  private largestBuffer = 0;
  private readonly counts: ReadWarnings = noWarnings();
  private readonly warn = (warning: ReadWarning, inputOffset: number): void => {
    this.counts[warning]++;
    this.sink.warning?.(warning, inputOffset);
  };

  constructor(
    private readonly sink: DecoderSink,
    options: CaptureDecoderOptions = {},
  ) {
    this.limits = {
      maxCaptureLength: options.maxCaptureLength ?? null,
      maxBlockLength: options.maxBlockLength ?? DEFAULT_MAX_BLOCK_LENGTH,
    };
  }

  /** How many packets so far raised each warning (records libpcap reads on from; see ReadWarning). */
  get warnings(): Readonly<ReadWarnings> {
    return this.counts;
  }

  /** The container format, once the first four bytes arrived. */
  get format(): CaptureFormat | null {
    return this.detected;
  }

  /** Bytes consumed as complete headers, records and blocks: where a salvaged copy would be cut. */
  get offset(): number {
    return this.consumed;
  }

  /** Bytes received so far. */
  get bytesReceived(): number {
    return this.received;
  }

  /** The largest buffer the decoder allocated for a record spanning chunks (for memory checks). */
  get largestBufferedRecord(): number {
    return this.largestBuffer;
  }

  /** Decodes what `chunk` completes; throws PcapFormatError at the first invalid byte. */
  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (this.ended) throw new Error("CaptureDecoder.push() after end()");
    this.received += chunk.length;
    try {
      this.consume(chunk);
    } catch (error) {
      if (PcapFormatError.isInstance(error)) this.failure = error;
      throw error;
    }
  }

  /** Declares the input complete; throws PcapFormatError when it ends inside a header or record. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.ended) return;
    this.ended = true;
    const error = this.decoder
      ? this.decoder.truncation(this.consumed, this.carryLength)
      : new PcapFormatError(
          "truncated-header",
          0,
          this.received === 0 ? "empty input: no capture header" : `capture is only ${this.received} bytes`,
        );
    if (error) {
      this.failure = error;
      throw error;
    }
  }

  private consume(chunk: Uint8Array): void {
    const n = chunk.length;
    let off = 0;
    while (this.carryLength > 0 && off < n) {
      const carry = this.carry!;
      const need = this.neededAt(carry, this.carryLength);
      if (this.carryLength < need) {
        const take = Math.min(need - this.carryLength, n - off);
        const room = this.reserve(this.carryLength + take, need);
        room.set(chunk.subarray(off, off + take), this.carryLength);
        this.carryLength += take;
        off += take;
        if (!this.decoder) this.checkPrefix(room.subarray(0, Math.min(this.carryLength, 4)));
        if (this.carryLength < need) return;
      }
      this.runCarry();
    }
    if (off === n) return;
    const decoder =
      this.decoder ?? (n - off >= 4 ? this.detect(chunk, off) : this.checkPrefix(chunk.subarray(off)));
    if (decoder) {
      const end = decoder.run(chunk, off, n, this.consumed - off);
      this.consumed += end - off;
      off = end;
    }
    if (off < n) {
      const tail = chunk.subarray(off);
      const need = this.decoder ? this.decoder.needed(tail, 0, tail.length, this.consumed) : 4;
      this.carry = null;
      this.carryLength = 0;
      this.reserve(tail.length, Math.max(need, tail.length)).set(tail);
      this.carryLength = tail.length;
    }
  }

  private neededAt(carry: Uint8Array, length: number): number {
    if (!this.decoder) {
      if (length < 4) return 4;
      this.detect(carry, 0);
    }
    return this.decoder!.needed(carry, 0, length, this.consumed);
  }

  // Runs the decoder over the carry; a record decoded from it keeps the buffer, so leftovers move out.
  private runCarry(): void {
    const carry = this.carry!;
    const length = this.carryLength;
    const decoder = this.decoder ?? this.detect(carry, 0);
    const used = decoder.run(carry, 0, length, this.consumed);
    this.consumed += used;
    if (used === 0 && decoder.needed(carry, 0, length, this.consumed) <= length) {
      throw new Error("CaptureDecoder: decoder made no progress (bug)");
    }
    if (used === length) {
      this.carry = null;
      this.carryLength = 0;
    } else if (used > 0) {
      const rest = carry.slice(used, length);
      this.carry = null;
      this.carryLength = 0;
      this.reserve(rest.length, rest.length).set(rest);
      this.carryLength = rest.length;
    }
  }

  // Makes the carry at least `size` bytes, keeping its contents, growing by doubling up to `goal` (the
  // validated size of the record it gathers) so a length field alone never costs its size in memory.
  private reserve(size: number, goal: number): Uint8Array {
    const current = this.carry;
    if (current && current.length >= size) return current;
    const grown = goal <= EAGER_RESERVE ? goal : Math.min(Math.max(2 * (current?.length ?? 0), 64), goal);
    const next = new Uint8Array(Math.max(size, grown));
    if (current) next.set(current.subarray(0, this.carryLength));
    this.carry = next;
    if (next.length > this.largestBuffer) this.largestBuffer = next.length;
    return next;
  }

  private detect(buf: Uint8Array, off: number): FormatDecoder {
    const le = u32(buf, off, true);
    const be = u32(buf, off, false);
    const classic = [PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO, PCAP_MAGIC_KUZNETSOV];
    if (classic.includes(le) || classic.includes(be)) {
      this.detected = "pcap";
      this.decoder = new PcapDecoder(this.sink, this.limits, this.warn);
    } else if (le === PCAPNG_SHB) {
      this.detected = "pcapng";
      this.decoder = new PcapngDecoder(this.sink, this.limits, this.warn);
    } else {
      const hex = Array.from(buf.subarray(off, off + 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
      throw new PcapFormatError("bad-magic", 0, `not a pcap or pcapng file (first bytes ${hex})`);
    }
    return this.decoder;
  }

  // Fewer than four bytes so far: fail early when they cannot begin any known magic.
  private checkPrefix(bytes: Uint8Array): null {
    const known = MAGIC_PREFIXES.some((magic) => bytes.every((b, i) => magic[i] === b));
    if (!known) throw new PcapFormatError("bad-magic", 0, "not a pcap or pcapng file");
    return null;
  }
}
