import { FRAME_PREFIX } from "./child-protocol.js";

/** Cuts a byte stream of `[u32 bodyLength][u8 kind][body]` frames into whole frames. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Adds bytes; returns the frames completed by them (views, prefix included). */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    while (this.buffered >= FRAME_PREFIX) {
      const head = this.chunks[0]!.length >= 4 ? this.chunks[0]! : this.join();
      const total = FRAME_PREFIX + head.readUInt32LE(0);
      if (this.buffered < total) break;
      const first = this.chunks[0]!.length >= total ? this.chunks[0]! : this.join();
      frames.push(first.subarray(0, total));
      if (first.length === total) this.chunks.shift();
      else this.chunks[0] = first.subarray(total);
      this.buffered -= total;
    }
    return frames;
  }

  private join(): Buffer {
    const joined = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [joined];
    return joined;
  }
}
