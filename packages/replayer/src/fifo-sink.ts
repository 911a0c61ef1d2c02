// One continuous classic pcap stream into a named pipe, for `zeek -r FIFO`, `suricata -r FIFO`,
// `tcpdump -r FIFO`: one global header per reader, records of every file after it.
//
// The pipe is opened O_NONBLOCK so no call ever blocks the process: ENXIO (no reader yet) is retried
// on a timer, EAGAIN (pipe full) waits a millisecond, and EPIPE (the reader went away) closes the pipe
// and waits for the next reader, who gets a fresh global header and then the stream from the first
// record the old reader's pipe did not take whole. Bytes the old reader left unread in the kernel's
// pipe buffer (at most its size, 64 KiB by default) go away with that reader: the kernel drops them.
import { closeSync, constants, openSync, writeSync } from "node:fs";
import { Writable } from "node:stream";
import { MAX_CAPTURE_LENGTH, PcapWriter } from "@sluice/pcap-format";
import { FLAG_FIRST_OF_FILE, type TimingSummary } from "./child-protocol.js";
import { ReplayError } from "./errors.js";
import { nowNs, PaceClock } from "./pace-clock.js";
import type { RecordTarget } from "./record-feed.js";
import { TimingRecorder } from "./timing.js";

const CHUNK_BYTES = 256 * 1024;
const MAX_QUEUED = 4 * 1024 * 1024;
const READER_POLL_MS = 50;
const SNAPLEN = MAX_CAPTURE_LENGTH;
/** A pcap record header's length. */
const RECORD_HEADER = 16;

interface Chunk {
  seq: number;
  bytes: Buffer;
  /** Record start offsets in `bytes`, plus its end. */
  starts: number[];
  sendAt: number[];
  flags: number[];
  /** Next record to write and how much of it is written. */
  index: number;
  partial: number;
  /** Records whose timing error was taken. */
  timed: number;
}

interface EndMarker {
  seq: number;
  end: true;
}

/** How one file ended at the FIFO. */
interface SinkFileResult {
  sendingMs: number;
  packets: number;
  bytes: number;
  failed: number;
  cancelled: boolean;
  error: ReplayError | null;
  timing: TimingSummary | null;
}

interface FileState {
  firstSendMs: number | null;
  lastSendMs: number | null;
  packets: number;
  bytes: number;
  cancelled: boolean;
  /** When a cancelled file began waiting to finish a record half in the pipe. */
  cancelledAt?: number;
  onProgress: (packets: number, bytes: number) => void;
  timing: TimingRecorder;
  done?: (result: SinkFileResult) => void;
}

const EMPTY = Buffer.alloc(0);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The FIFO stream: chunks of pcap records written as the pipe takes them. The bytes, the global header as
 * the records, come from pcap-format's PcapWriter, which writes into the chunk being filled.
 */
export class FifoSink implements Pick<RecordTarget, "add"> {
  /** Link type of the stream: the first file's, set by the replayer. */
  linkType: number | null = null;
  private readonly files = new Map<number, FileState>();
  private readonly queue: (Chunk | EndMarker)[] = [];
  private current: Chunk | null = null;
  private queued = 0;
  private fd: number | null = null;
  private headerDue = true;
  private readonly pace = new PaceClock();
  /** Encodes records (made once the link type is known); what it writes gathers in `encoded`. */
  private writer: PcapWriter | null = null;
  private readonly encoded: Buffer[] = [];
  /** Bytes of the current chunk, gathered in the writer's buffer. */
  private chunkBytes = 0;
  private header: Buffer | null = null;
  /** The file whose records add() takes (beginFile). */
  private feeding = -1;
  private closed = false;
  /** Set by close(): the writer loop lets go of the pipe at the next chance. */
  private closing = false;
  private running = false;
  private spaceWaiter: (() => void) | null = null;
  private wake: (() => void) | null = null;
  /** Readers that took the stream so far (each got a global header). */
  readers = 0;

  constructor(
    private readonly path: string,
    private readonly precision: "micro" | "nano",
  ) {}

  get alive(): boolean {
    return !this.closed;
  }

  frameLimit(): number {
    return SNAPLEN;
  }

  beginFile(seq: number, onProgress: (packets: number, bytes: number) => void): void {
    this.feeding = seq;
    this.files.set(seq, {
      firstSendMs: null,
      lastSendMs: null,
      packets: 0,
      bytes: 0,
      cancelled: false,
      onProgress,
      timing: new TimingRecorder(),
    });
  }

  /** Adds a record of the file begun last; true when that sealed a chunk (see RecordTarget). */
  readonly add: RecordTarget["add"] = (buf, start, length, sendAt, flags, seconds, ns, originalLength) => {
    const seq = this.feeding;
    const needed = RECORD_HEADER + length;
    let chunk = this.current;
    let sealed = false;
    if (chunk && (chunk.seq !== seq || this.chunkBytes + needed > CHUNK_BYTES)) {
      this.seal();
      chunk = null;
      sealed = true;
    }
    if (!chunk) {
      chunk = { seq, bytes: EMPTY, starts: [0], sendAt: [], flags: [], index: 0, partial: 0, timed: 0 };
      this.current = chunk;
      this.chunkBytes = 0;
    }
    // The writer keeps lengths as given: the original length is never less than the captured one here.
    const wire = Math.max(originalLength, length);
    this.records().writeSlice(seconds >>> 0, ns, wire, buf, start, start + length);
    this.chunkBytes += needed;
    chunk.starts.push(this.chunkBytes);
    chunk.sendAt.push(sendAt);
    chunk.flags.push(flags);
    return sealed;
  };

  /**
   * The writer, made at the first record (the stream's link type is known then): its buffer is a chunk's
   * size, so it hands its bytes over only when told (seal), as one piece, or as two for a record that is
   * larger than a chunk on its own. Its global header is kept for every reader.
   */
  private records(): PcapWriter {
    if (this.writer) return this.writer;
    const encoded = this.encoded;
    const collect = new Writable({
      write(piece: Buffer, _encoding, done) {
        encoded.push(piece);
        done();
      },
    });
    this.writer = PcapWriter.create(collect, {
      linkType: this.linkType ?? 1,
      snaplen: SNAPLEN,
      precision: this.precision,
      endianness: "little",
      bufferSize: CHUNK_BYTES,
    });
    this.header = this.take();
    return this.writer;
  }

  /** What the writer wrote since the last take(), as one buffer. */
  private take(): Buffer {
    this.writer!.flushSync();
    const pieces = this.encoded.splice(0);
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
  }

  private seal(): void {
    const chunk = this.current;
    if (!chunk || chunk.sendAt.length === 0) return;
    this.current = null;
    chunk.bytes = this.take();
    this.queued += chunk.starts.at(-1)!;
    this.queue.push(chunk);
    this.run();
  }

  async flush(): Promise<void> {
    while (this.queued > MAX_QUEUED && !this.closed) {
      await new Promise<void>((resolve) => {
        this.spaceWaiter = resolve;
      });
    }
  }

  endFile(seq: number): Promise<SinkFileResult> {
    this.seal();
    const file = this.files.get(seq);
    if (!file) throw new Error(`file ${seq} was never begun`);
    const result = new Promise<SinkFileResult>((resolve) => {
      file.done = resolve;
    });
    this.queue.push({ seq, end: true });
    this.run();
    return result;
  }

  cancel(seq: number): void {
    const file = this.files.get(seq);
    if (file) file.cancelled = true;
    if (this.current?.seq === seq) {
      // Its records are dropped, and with them what the writer holds of them.
      this.current = null;
      if (this.writer) this.take();
    }
    this.poke();
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  // Sleeps until `ms` passed or poke() (cancel, close).
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private run(): void {
    if (this.running) return;
    this.running = true;
    this.drain()
      .catch((error: unknown) => this.failAll(error))
      .finally(() => {
        this.running = false;
        if (this.queue.length > 0 && !this.closed) this.run();
      });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      const item = this.queue[0]!;
      const file = this.files.get(item.seq);
      if ("end" in item) {
        this.queue.shift();
        this.finish(item.seq, null);
        continue;
      }
      if (!file || file.cancelled) {
        this.dequeue();
        continue;
      }
      if (!(await this.writeChunk(item, file))) continue;
      this.dequeue();
    }
  }

  private dequeue(): void {
    const chunk = this.queue.shift() as Chunk;
    this.queued -= chunk.starts.at(-1)!;
    if (this.queued <= MAX_QUEUED && this.spaceWaiter) {
      const wake = this.spaceWaiter;
      this.spaceWaiter = null;
      wake();
    }
  }

  /** Writes the chunk from its cursor; false when it must be tried again (reader changed). */
  private async writeChunk(chunk: Chunk, file: FileState): Promise<boolean> {
    const count = chunk.sendAt.length;
    while (chunk.index < count) {
      // A record half in the pipe is finished first: the stream stays whole at record boundaries.
      if ((file.cancelled && chunk.partial === 0) || this.closing) return true;
      const fd = await this.open();
      if (fd === null) return true;
      if (this.headerDue) {
        if (!(await this.writeAll(fd, this.header!))) continue;
        this.headerDue = false;
        this.readers++;
      }
      // Records due now go out in one write; a later one is waited for.
      let end = chunk.index;
      const now = nowNs();
      while (end < count) {
        const sendAt = chunk.sendAt[end]!;
        if (!Number.isNaN(sendAt) && chunk.partial === 0) {
          const restart = (chunk.flags[end]! & FLAG_FIRST_OF_FILE) !== 0 && end === chunk.index;
          const target = this.pace.due(sendAt, now, restart);
          if (target > now + 1e6) break;
          if (end >= chunk.timed) {
            file.timing.add(Math.max(0, now - target) / 1000);
            chunk.timed = end + 1;
          }
        }
        end++;
      }
      if (end === chunk.index) {
        const wait = this.pace.at(chunk.sendAt[end]!) - now;
        await this.pause(Math.max(1, Math.floor(wait / 1e6)));
        continue;
      }
      const from = chunk.starts[chunk.index]! + chunk.partial;
      const to = chunk.starts[end]!;
      const written = await this.writeSome(fd, chunk.bytes, from, to, () => this.abandon(file, chunk));
      if (written === 0 && file.cancelled) return true;
      if (written < 0) {
        // The reader went away: resume at the start of the record it did not take whole.
        chunk.partial = 0;
        continue;
      }
      const position = from + written;
      let sent = 0;
      let sentBytes = 0;
      while (chunk.index < count && chunk.starts[chunk.index + 1]! <= position) {
        sentBytes += chunk.starts[chunk.index + 1]! - chunk.starts[chunk.index]! - RECORD_HEADER;
        chunk.index++;
        sent++;
      }
      chunk.partial = position - chunk.starts[chunk.index]!;
      if (chunk.index >= count) chunk.partial = 0;
      if (sent > 0) {
        const sentMs = performance.now();
        file.firstSendMs ??= sentMs;
        file.lastSendMs = sentMs;
        file.packets += sent;
        file.bytes += sentBytes;
        file.onProgress(file.packets, file.bytes);
      }
    }
    return true;
  }

  /** Opens the FIFO for writing once a reader has it open; null when closed or cancelled meanwhile. */
  private async open(): Promise<number | null> {
    while (this.fd === null) {
      if (this.closing) return null;
      try {
        this.fd = openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK);
        this.headerDue = true;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== "ENXIO") {
          throw new ReplayError("fifo-failed", `cannot open FIFO ${this.path}: ${(error as Error).message}`, {
            path: this.path,
            code,
          });
        }
        await this.pause(READER_POLL_MS);
        const head = this.queue[0];
        if (head && this.files.get(head.seq)?.cancelled) return null;
      }
    }
    return this.fd;
  }

  private async writeAll(fd: number, bytes: Buffer): Promise<boolean> {
    let done = 0;
    while (done < bytes.length) {
      const n = await this.writeSome(fd, bytes, done, bytes.length);
      if (n < 0) return false;
      done += n;
    }
    return true;
  }

  /**
   * Writes what the pipe takes now, waiting while it is full unless `giveUp` says to stop waiting (then 0);
   * -1 when the reader went away.
   */
  private async writeSome(
    fd: number,
    bytes: Buffer,
    from: number,
    to: number,
    giveUp: () => boolean = () => false,
  ): Promise<number> {
    for (;;) {
      if (this.closing) return 0;
      try {
        return writeSync(fd, bytes, from, to - from);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") {
          if (giveUp()) return 0;
          await sleep(1);
          continue;
        }
        this.closeFd();
        if (code === "EPIPE") return -1;
        throw new ReplayError(
          "fifo-failed",
          `writing FIFO ${this.path} failed: ${(error as Error).message}`,
          {
            path: this.path,
            code,
          },
        );
      }
    }
  }

  // A cancelled file stops waiting for a reader that does not read: at once at a record boundary; with a
  // record half in the pipe after a second, closing the pipe (that reader sees the stream end there, the
  // next one starts with a fresh header).
  private abandon(file: FileState, chunk: Chunk): boolean {
    if (!file.cancelled) return false;
    if (chunk.partial === 0) return true;
    file.cancelledAt ??= performance.now();
    if (performance.now() - file.cancelledAt < 1000) return false;
    this.closeFd();
    return true;
  }

  // On stop, the record half written goes out whole if the reader takes it within a second.
  private async finishPartialRecord(): Promise<void> {
    const chunk = this.queue[0];
    if (!chunk || "end" in chunk || chunk.partial === 0 || this.fd === null) return;
    const deadline = performance.now() + 1000;
    let from = chunk.starts[chunk.index]! + chunk.partial;
    const to = chunk.starts[chunk.index + 1]!;
    while (from < to && this.fd !== null && performance.now() < deadline) {
      try {
        from += writeSync(this.fd, chunk.bytes, from, to - from);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EAGAIN") return;
        await sleep(1);
      }
    }
  }

  private closeFd(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {}
    this.fd = null;
    this.headerDue = true;
  }

  private finish(seq: number, error: ReplayError | null): void {
    const file = this.files.get(seq);
    if (!file) return;
    this.files.delete(seq);
    const timing: TimingSummary | null = file.timing.summary();
    file.done?.({
      sendingMs: file.firstSendMs === null ? 0 : file.lastSendMs! - file.firstSendMs,
      packets: file.packets,
      bytes: file.bytes,
      failed: error ? 1 : 0,
      cancelled: file.cancelled,
      error,
      timing,
    });
  }

  private failAll(error: unknown): void {
    const failure = ReplayError.isInstance(error)
      ? error
      : new ReplayError("fifo-failed", `FIFO ${this.path}: ${String(error)}`, { path: this.path });
    for (const item of this.queue.splice(0)) if ("end" in item) this.finish(item.seq, failure);
    this.queued = 0;
    for (const [seq, file] of this.files) if (file.done) this.finish(seq, failure);
    this.closed = true;
    this.spaceWaiter?.();
  }

  async close(): Promise<void> {
    this.closing = true;
    this.poke();
    await this.finishPartialRecord();
    this.closed = true;
    this.poke();
    this.spaceWaiter?.();
    for (const [seq, file] of this.files) {
      file.cancelled = true;
      if (file.done) this.finish(seq, null);
    }
    this.queue.length = 0;
    this.closeFd();
  }
}
