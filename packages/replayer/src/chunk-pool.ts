/**
 * Read buffers for kept chunks (see FileFeeder's `chunks`), reused once the reader and every run
 * borrowed from one are done with it. A fresh 1 MiB buffer per chunk cost the topspeed replay most of
 * its reading time in page faults and cold copies (more than the sends themselves here); a handful of
 * buffers going round stays mapped. A buffer never handed back (a cancelled file's runs, say) is left
 * to the garbage collector: the users are counted in a WeakMap.
 */
export class ChunkPool {
  private readonly free: Buffer[] = [];
  private readonly users = new WeakMap<ArrayBufferLike, { buffer: Buffer; count: number }>();

  /**
   * `keep`: free buffers kept at most (more are left to the garbage collector). `allocate`: where new
   * buffers come from (the packet-io addon's hugeBuffer: their first touch costs far fewer page faults).
   */
  constructor(
    private readonly keep = 8,
    private readonly allocate: (size: number) => Buffer = Buffer.allocUnsafeSlow,
  ) {}

  /** A buffer of at least `size` bytes to read a chunk into; its reader is its first user. */
  take = (size: number): Buffer => {
    let buffer = this.free.pop();
    while (buffer && buffer.length < size) buffer = this.free.pop();
    buffer ??= this.allocate(size);
    this.users.set(buffer.buffer, { buffer, count: 1 });
    return buffer;
  };

  /** One more user of the buffer `bytes` is a view of (a run borrowed from it); others are ignored. */
  hold(bytes: Uint8Array): void {
    const entry = this.users.get(bytes.buffer);
    if (entry) entry.count++;
  }

  /** One user fewer of the buffer `bytes` is a view of; the last one puts it back. */
  release(bytes: Uint8Array): void {
    const entry = this.users.get(bytes.buffer);
    if (!entry || --entry.count > 0) return;
    this.users.delete(bytes.buffer);
    if (this.free.length < this.keep) this.free.push(entry.buffer);
  }
}
