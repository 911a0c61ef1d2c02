import { read as readFd } from "node:fs";
import { open } from "node:fs/promises";
import { promisify } from "node:util";

/**
 * Where capture bytes come from: a file path or URL, an open file descriptor (read from its current
 * position, so pipes work), bytes already in memory, a Node Readable, or any (async) iterable of chunks.
 */
export type ByteSource =
  | string
  | URL
  | number
  | Uint8Array
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>
  | NodeJS.ReadableStream;

/** How chunks are read from a path or file descriptor. */
export interface ChunkOptions {
  /** Bytes per read from a path or descriptor (default 1 MiB): the memory a reader holds at once. */
  chunkSize?: number;
  /**
   * Read every chunk into the same buffer. Only for consumers that are done with a chunk before asking
   * for the next one; packets read this way must be copied to be kept.
   */
  reuseBuffer?: boolean;
}

export const DEFAULT_CHUNK_SIZE = 1 << 20;

const readAsync = promisify(readFd);

/** Yields the bytes of a source as chunks, never holding more than one chunk of a file at a time. */
export async function* readChunks(
  source: ByteSource,
  options: ChunkOptions = {},
): AsyncGenerator<Uint8Array> {
  const size = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`chunkSize must be a positive integer, got ${size}`);
  const reuse = options.reuseBuffer ?? false;
  if (typeof source === "string" || source instanceof URL) {
    const handle = await open(source, "r");
    try {
      let buf = Buffer.allocUnsafeSlow(size);
      for (;;) {
        const { bytesRead } = await handle.read(buf, 0, size, null);
        if (bytesRead === 0) return;
        yield buf.subarray(0, bytesRead);
        if (!reuse) buf = Buffer.allocUnsafeSlow(size);
      }
    } finally {
      await handle.close();
    }
  }
  if (typeof source === "number") {
    let buf = Buffer.allocUnsafeSlow(size);
    for (;;) {
      const { bytesRead } = await readAsync(source, buf, 0, size, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
      if (!reuse) buf = Buffer.allocUnsafeSlow(size);
    }
  }
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  if (Symbol.asyncIterator in source || Symbol.iterator in source) {
    for await (const chunk of source as AsyncIterable<unknown>) {
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError(
          "capture source yielded a non-binary chunk; do not set an encoding on the stream",
        );
      }
      yield chunk;
    }
    return;
  }
  throw new TypeError("unsupported capture source: expected a path, URL, fd, Uint8Array, stream or iterable");
}
