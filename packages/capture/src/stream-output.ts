import { Socket } from "node:net";
import { PcapWriter } from "@sluice/pcap-format";
import type { PacketOutput } from "./child-runtime.js";

/**
 * The child's packets as one classic pcap stream on a pipe to the parent. The addon's batches go out as
 * they come (the stream writer copies them: the batch buffer is reused). Writes never block: when the
 * parent falls behind by more than `maxQueuedBytes`, packets are dropped and counted, so the kernel ring
 * keeps draining (a live capture cannot be paused).
 */
export class StreamOutput implements PacketOutput {
  captured = 0;
  dropped = 0;
  private flushScheduled = false;
  private readonly socket: Socket;
  private readonly writer: PcapWriter;

  constructor(
    fd: number,
    linkType: number,
    snaplen: number,
    private readonly maxQueuedBytes: number,
  ) {
    this.socket = new Socket({ fd, readable: false, writable: true });
    this.socket.on("error", () => {
      // The parent went away; the IPC disconnect stops the child.
    });
    this.writer = PcapWriter.create(this.socket, { linkType, snaplen, bufferSize: 256 * 1024 });
  }

  packet(header: Buffer, data: Buffer): void {
    if (this.socket.writableLength > this.maxQueuedBytes) {
      this.dropped++;
      return;
    }
    this.writer.writeRecord(header, data, header.readUInt32LE(8));
    this.captured++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushBatch);
    }
  }

  /** A whole batch from the addon: one copy into the stream, counted from `count`, no per-packet work. */
  batch(buffer: Buffer, offsets: Uint32Array, count: number): void {
    if (this.socket.writableLength > this.maxQueuedBytes) {
      this.dropped += count;
      return;
    }
    this.writer.writeEncoded(buffer.subarray(offsets[0], offsets[count]), count);
    this.captured += count;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushBatch);
    }
  }

  // One libpcap dispatch is one synchronous run of packet() calls: send it as one chunk right after.
  private readonly flushBatch = (): void => {
    this.flushScheduled = false;
    this.writer.flushSync();
  };

  tick(): void {}

  async close(): Promise<void> {
    await this.writer.close();
  }
}
