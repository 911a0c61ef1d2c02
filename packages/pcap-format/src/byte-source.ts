import { closeSync, fstatSync, openSync, read as readFd, readSync } from "node:fs";
import { promisify } from "node:util";
import { PcapFormatError } from "./errors.js";

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
  /**
   * Bytes per read from a path or descriptor. The default, 128 KiB, keeps the buffer in the CPU's L2
   * cache: on a 500 MB file it reads 4x faster than 1 MiB reads.
   */
  chunkSize?: number;
  /**
   * Read every chunk into the same buffer. Only for consumers that are done with a chunk before asking
   * for the next one; packets read this way must be copied to be kept.
   */
  reuseBuffer?: boolean;
  /**
   * Gives the buffer each chunk of a path or descriptor is read into (at least `size` bytes; `size`
   * bytes are read), instead of a fresh one per chunk: for a consumer that keeps chunks past the next
   * read and hands their buffers back once done with them. Reading into memory already mapped skips
   * the page faults a fresh buffer takes on first touch (most of a 1 MiB read's time, measured on a
   * virtual machine). Not used with `reuseBuffer`.
   */
  nextBuffer?: (size: number) => Uint8Array;
}

/** Default read size for paths and descriptors. */
export const DEFAULT_CHUNK_SIZE = 128 * 1024;

const readAsync = promisify(readFd);

/**
 * Yields the bytes of a source as chunks, never holding more than one chunk of a file at a time.
 * Regular files are read with blocking reads of one chunk (microseconds each from the page cache, and
 * several times faster than the thread pool); pipes, FIFOs, sockets and devices, which can wait for a
 * writer indefinitely, are read asynchronously so the event loop never stalls on them.
 */
export async function* readChunks(
  source: ByteSource,
  options: ChunkOptions = {},
): AsyncGenerator<Uint8Array> {
  const size = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(size) || size < 1)
    throw new PcapFormatError("bad-argument", `chunkSize must be a positive integer, got ${size}`, {
      offset: 0,
      option: "chunkSize",
    });
  const reuse = options.reuseBuffer ?? false;
  if (typeof source === "string" || source instanceof URL) {
    const fd = openSync(source, "r");
    try {
      yield* readDescriptor(fd, size, reuse, options.nextBuffer);
    } finally {
      closeSync(fd);
    }
    return;
  }
  if (typeof source === "number") {
    yield* readDescriptor(source, size, reuse, options.nextBuffer);
    return;
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

async function* readDescriptor(
  fd: number,
  size: number,
  reuse: boolean,
  nextBuffer: ((size: number) => Uint8Array) | undefined,
): AsyncGenerator<Uint8Array> {
  const blocking = fstatSync(fd).isFile();
  const fresh =
    reuse || !nextBuffer ? () => Buffer.allocUnsafeSlow(size) : () => checkedBuffer(nextBuffer, size);
  let buf = fresh();
  for (;;) {
    const bytesRead = blocking
      ? readSync(fd, buf, 0, size, null)
      : (await readAsync(fd, buf, 0, size, null)).bytesRead;
    if (bytesRead === 0) return;
    yield buf.subarray(0, bytesRead);
    if (!reuse) buf = fresh();
  }
}

function checkedBuffer(nextBuffer: (size: number) => Uint8Array, size: number): Uint8Array {
  const buf = nextBuffer(size);
  if (!(buf instanceof Uint8Array) || buf.length < size) {
    throw new PcapFormatError("bad-argument", `nextBuffer must give a Uint8Array of at least ${size} bytes`, {
      offset: 0,
      option: "nextBuffer",
    });
  }
  return buf;
}
