// What happens to each record between the file and the output, the same for the inject child and the
// FIFO: convert its link type, check its size, give it a send time, hand it to a batch.
import { type InterfaceInfo, PcapFormatError } from "@sluice/pcap-format";
import {
  CaptureDecoder,
  type DecoderSink,
  type PlainRecords,
  readChunks,
} from "@sluice/pcap-format/low-level";
import { FLAG_BORROWED, FLAG_FIRST_OF_FILE } from "./child-protocol.js";
import type { ChunkPool } from "./chunk-pool.js";
import { ReplayError } from "./errors.js";
import { type FrameConverter, IDENTITY, LinkConverter, parseMac } from "./link-convert.js";
import type { Speed } from "./speed.js";
import { Timeline } from "./timeline.js";

/** Chunk size when chunks are kept (see FileFeeder). */
const KEPT_CHUNK_BYTES = 1024 * 1024;

/** Takes records ready to go out; `add` returns true when a batch filled up. */
export interface RecordTarget {
  /** Link type of the output given the first record's (a FIFO stream takes the first record's). */
  linkType(first: number): number;
  /** Largest frame the output takes for the frame at `buf[start, start + length)`. */
  frameLimit(buf: Uint8Array, start: number, length: number): number;
  /**
   * Adds the frame at `buf[start, start + length)`: copied before returning, or, with FLAG_BORROWED in
   * `flags`, at the latest by the next flush().
   */
  add(
    buf: Uint8Array,
    start: number,
    length: number,
    sendAtNs: number,
    flags: number,
    seconds: number,
    nanoseconds: number,
    originalLength: number,
  ): boolean;
  /**
   * The decoder is done with its buffer: borrowed frames must be sent or copied now (unless the feed
   * was told its buffers are never reused). True when that completed a batch.
   */
  flush?(): boolean;
  /**
   * Takes plain records in bulk (see DecoderSink.records): as add() would have them, borrowed, with no
   * send time, flags or time stamps. Only for a target that needs none of those; returns the offset after
   * the last record taken and sets `full` on the feed's behalf through its return of true from `sealed`.
   */
  records?(
    buf: Uint8Array,
    offset: number,
    end: number,
    layout: PlainRecords,
  ): { to: number; sealed: boolean };
}

/** What a file's records came to before sending. */
export interface FeedCounts {
  skipped: { oversize: number; unsupported: number };
  truncated: number;
}

/** The timeline and converters shared by every file of one output. */
export interface FeedContext {
  timeline: Timeline;
  converter: (outputLinkType: number) => LinkConverter;
  truncate: boolean;
}

/** What a FeedContext is made from: the replay's pacing and link settings. */
export interface FeedSettings {
  speed: Speed;
  maxGapMs: number;
  macs: { src: string; dst: string };
  oversize: "skip" | "truncate";
}

/** The context of one output: one timeline, one converter (made for the output's link type once known). */
export function feedContext(settings: FeedSettings): FeedContext {
  const macs = { src: parseMac(settings.macs.src, "macs.src"), dst: parseMac(settings.macs.dst, "macs.dst") };
  let converter: LinkConverter | null = null;
  return {
    timeline: new Timeline(settings.speed, settings.maxGapMs),
    converter: (linkType) => {
      converter ??= new LinkConverter(linkType, macs);
      return converter;
    },
    truncate: settings.oversize === "truncate",
  };
}

/** Decoder callbacks of one file: convert, check size, schedule, add. */
export class RecordFeed implements DecoderSink {
  /** A batch filled up since this was last cleared. */
  full = false;
  readonly counts: FeedCounts = { skipped: { oversize: 0, unsupported: 0 }, truncated: 0 };
  private first = true;
  private readonly converters: (FrameConverter | undefined)[] = [];
  private readonly linkTypes: number[] = [];

  /** Set when the target takes records in bulk: the decoder then offers it runs of plain records. */
  readonly records: DecoderSink["records"];
  /** Every interface seen so far sends its frames as they are (checked again after a new one). */
  private allIdentity = false;

  constructor(
    private readonly context: FeedContext,
    private readonly target: RecordTarget,
    private readonly path: string,
  ) {
    const bulk = target.records?.bind(target);
    this.records = bulk
      ? (buf, offset, end, layout) => {
          // The file's first record (it carries FLAG_FIRST_OF_FILE) and frames that need converting go
          // through packet().
          if (this.first) return offset;
          if (!this.allIdentity) this.allIdentity = this.identityEverywhere();
          if (!this.allIdentity) return offset;
          const { to, sealed } = bulk(buf, offset, end, layout);
          if (sealed) this.full = true;
          return to;
        }
      : undefined;
  }

  /**
   * Whether every interface described so far has the identity converter (made now where missing; one
   * that cannot be made is left to fail at its first packet, as without bulk).
   */
  private identityEverywhere(): boolean {
    for (let id = 0; id < this.linkTypes.length; id++) {
      if (this.linkTypes[id] === undefined) continue;
      try {
        if (this.converterOf(id) !== IDENTITY) return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  private converterOf(interfaceId: number): FrameConverter {
    let convert = this.converters[interfaceId];
    if (!convert) {
      const linkType = this.linkTypes[interfaceId]!;
      const output = this.target.linkType(linkType);
      convert = this.context.converter(output).for(linkType, { path: this.path, interfaceId });
      this.converters[interfaceId] = convert;
    }
    return convert;
  }

  /** See RecordTarget.flush. */
  flush(): void {
    if (this.target.flush?.()) this.full = true;
  }

  interface(info: InterfaceInfo): void {
    this.linkTypes[info.id] = info.linkType;
    this.allIdentity = false;
  }

  readonly packet: DecoderSink["packet"] = (buf, offset, caplen, origlen, seconds, ns, interfaceId) => {
    const convert = this.converters[interfaceId] ?? this.converterOf(interfaceId);
    // Same link type: the record's bytes go as they are, without a view made per record.
    let frame = buf;
    let start = offset;
    let length = caplen;
    if (convert !== IDENTITY) {
      const converted = convert(buf.subarray(offset, offset + caplen));
      if (converted === null) {
        this.counts.skipped.unsupported++;
        return;
      }
      frame = converted;
      start = 0;
      length = converted.length;
    }
    const limit = this.target.frameLimit(frame, start, length);
    if (length > limit) {
      if (!this.context.truncate) {
        this.counts.skipped.oversize++;
        return;
      }
      length = limit;
      this.counts.truncated++;
    }
    const sendAt = this.context.timeline.next(seconds, ns, length);
    const flags = (this.first ? FLAG_FIRST_OF_FILE : 0) | (frame === buf ? FLAG_BORROWED : 0);
    this.first = false;
    const wireLength = origlen - caplen + length;
    if (this.target.add(frame, start, length, sendAt, flags, seconds, ns, wireLength)) this.full = true;
  };
}

/** The ReplayError for a file that cannot be read or decoded; `detail.offset` says where it broke. */
export function fileError(path: string, error: unknown): ReplayError {
  if (ReplayError.isInstance(error)) return error;
  if (PcapFormatError.isInstance(error)) {
    return new ReplayError(
      "bad-file",
      `${path} is not a readable capture: ${error.message}`,
      { path, offset: error.offset, formatReason: error.reason },
      { cause: error },
    );
  }
  const code = (error as NodeJS.ErrnoException).code;
  return new ReplayError(
    "bad-file",
    `cannot read ${path}: ${(error as Error).message}`,
    { path, code },
    {
      cause: error,
    },
  );
}

/**
 * Reads a file chunk by chunk on demand: each `next()` decodes chunks until a batch filled up or the
 * file ended, so memory stays bounded and the caller paces the reading.
 */
export class FileFeeder {
  readonly feed: RecordFeed;
  private readonly decoder: CaptureDecoder;
  private readonly chunks: AsyncGenerator<Uint8Array>;
  /** The file ended (or failed: then `error` says why). */
  done = false;
  error: ReplayError | null = null;
  /** Where kept chunks are read into and handed back; null when chunks are not kept. */
  private readonly pool: ChunkPool | null;
  /** The pool's buffer being read into and not yielded yet: the end-of-file read's is handed back. */
  private reading: Uint8Array | null = null;

  /**
   * `chunks`: read every chunk into a buffer of its own from this pool, so records borrowed from it
   * (see FLAG_BORROWED) stay valid after the next read until whoever borrowed them releases the buffer
   * (see ChunkPool); the chunks are then 1 MiB, so that a send call takes a thousand records or so and
   * a record split between two chunks (decoded from a buffer of its own, so sent alone) comes rarely.
   * Otherwise records are copied out while a chunk is decoded (the decoder copies partial ones itself),
   * and one 128 KiB read buffer serves the whole file.
   */
  constructor(
    context: FeedContext,
    target: RecordTarget,
    readonly path: string,
    chunks: ChunkPool | null = null,
  ) {
    this.feed = new RecordFeed(context, target, path);
    this.decoder = new CaptureDecoder(this.feed);
    this.pool = chunks;
    this.chunks = readChunks(
      path,
      chunks
        ? {
            chunkSize: KEPT_CHUNK_BYTES,
            nextBuffer: (size) => {
              this.reading = chunks.take(size);
              return this.reading;
            },
          }
        : { reuseBuffer: true },
    );
  }

  /** Decodes until a batch is full or the file ends, or `maxChunks` chunks were decoded. */
  async next(maxChunks = Number.POSITIVE_INFINITY): Promise<void> {
    let chunks = 0;
    try {
      while (!this.done && !this.feed.full && chunks++ < maxChunks) {
        const chunk = await this.chunks.next();
        if (chunk.done) {
          this.done = true;
          this.handBack();
          this.decoder.end();
        } else {
          try {
            this.decoder.push(chunk.value);
          } finally {
            // The chunk's buffer is read into again next: what was borrowed from it goes now.
            this.feed.flush();
            // The reader is done with a kept chunk; the runs borrowed from it hold it until sent.
            this.handBack();
          }
        }
      }
    } catch (error) {
      this.done = true;
      this.error = fileError(this.path, error);
    }
    this.feed.full = false;
  }

  /** The reader lets go of the pool's buffer it read into last (a chunk's, or the end of file's). */
  private handBack(): void {
    if (this.reading) this.pool?.release(this.reading);
    this.reading = null;
  }

  /** Lets go of the file early (stopped). */
  async close(): Promise<void> {
    this.done = true;
    await this.chunks.return(undefined);
  }
}
