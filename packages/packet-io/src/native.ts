// The contract between the addon (src/native/*.cc) and its TypeScript callers. The addon is a thin,
// batch-at-a-time layer: one call moves a whole batch of packets; nothing in it calls JavaScript per
// packet. Errors it throws carry a `reason` (NativeErrorReason) and, where the kernel gave one, an errno.

/** Why the addon refused or failed; the TypeScript callers turn these into their own typed errors. */
export type NativeErrorReason =
  | "no-such-interface"
  | "permission-denied"
  | "interface-down"
  | "bad-filter"
  | "bad-option"
  | "frame-too-big"
  | "open-failed"
  | "io-failed"
  | "closed";

/** An Error thrown by the addon. */
export interface NativeError extends Error {
  reason: NativeErrorReason;
  /** errno name (`ENODEV`, `EMSGSIZE`, ...) when a system call failed. */
  errno?: string;
  /** libpcap's own message, when libpcap failed. */
  libpcap?: string;
}

/** PACKET_FANOUT modes (linux/if_packet.h). `hash` keeps both directions of a flow in one member. */
export type FanoutMode = "hash" | "lb" | "cpu" | "rollover" | "random" | "qm";

/** What a capture handle is opened with: libpcap's own settings, applied before pcap_activate. */
export interface NativeCaptureOptions {
  /** Interface name (also `any`), or a capture file's path when `offline`. */
  device: string;
  offline?: boolean;
  /** BPF filter text, compiled by libpcap against the handle's link type; "" for none. */
  filter: string;
  snaplen: number;
  promiscuous: boolean;
  /** Kernel ring size in bytes (pcap_set_buffer_size). */
  bufferSize: number;
  /** pcap_set_timeout: a ring block is handed over when full or after this long (never 0: no immediate mode). */
  timeoutMs: number;
  /**
   * pcap_setdirection: only packets received (`in`) or sent (`out`) by the interface, by the kernel's
   * packet type (default `inout`). Unlike the `inbound`/`outbound` filter qualifiers (libpcap#1482) it
   * holds from the first packet on; see the README.
   */
  direction?: "in" | "out" | "inout";
  /**
   * Join a PACKET_FANOUT group on the handle's socket right after activation. `group: null` asks the
   * kernel for an unused id (PACKET_FANOUT_FLAG_UNIQUEID), which `fanoutGroup` then reports for the
   * other members to join with. `defrag` reassembles IP fragments before the hash (the capture then holds
   * the reassembled datagram, not the fragments on the wire).
   */
  fanout?: { group: number | null; mode: FanoutMode; defrag: boolean };
}

/** libpcap's counters (pcap_stats). */
export interface NativeCaptureStats {
  received: number;
  droppedByKernel: number;
  droppedByInterface: number;
}

/** An open libpcap handle that hands packets over in batches. */
export interface NativeCaptureHandle {
  /** LINKTYPE_ number of the handle (pcap_datalink mapped to its LINKTYPE_ value). */
  readonly linkType: number;
  readonly snaplen: number;
  /** The PACKET_FANOUT group id the handle joined, or null. */
  readonly fanoutGroup: number | null;
  /** pcap_activate's warning (e.g. promiscuous mode not supported), or null. */
  readonly warning: string | null;
  /**
   * Copies the packets libpcap has ready (pcap_dispatch, at most `maxPackets`, stopping early when fewer
   * than snaplen + 16 bytes are left) into `buffer` from `offset`, laid out as classic pcap records: a
   * 16-byte header in host byte order (seconds, microseconds, captured length, original length) followed by
   * the captured bytes. Writes record i's start into `offsets[i]` and the end of the last record into
   * `offsets[count]`; returns count (0 when nothing was ready). Offline handles return 0 at end of file.
   * When the capture breaks it throws, after returning the packets taken before: `no-such-interface`
   * (errno ENODEV: the interface was deleted), `interface-down` (ENETDOWN) or `io-failed`, with `libpcap`.
   */
  dispatch(buffer: Uint8Array, offset: number, offsets: Uint32Array, maxPackets: number): number;
  /** Calls `onReadable` (from the event loop, once per readiness) while the descriptor is readable, until close(). */
  poll(onReadable: () => void): void;
  stats(): NativeCaptureStats;
  /** Stops polling and closes the handle (pcap_close) now; later calls throw `closed`. Idempotent. */
  close(): void;
}

/** What an inject socket is opened with. */
export interface NativeInjectOptions {
  /** The interface frames are sent on (AF_PACKET, SOCK_RAW, protocol 0, bound to its ifindex). */
  interface: string;
  /**
   * PACKET_QDISC_BYPASS: frames skip the interface's queueing discipline (as pktgen's do) and, with it,
   * the packet taps: a tcpdump, Suricata or Zeek on the sending interface itself does not see them. Only
   * what receives the frames (a veth's peer, a NIC's wire) does.
   */
  qdiscBypass?: boolean;
  /**
   * How a batch reaches the kernel: `sendmmsg` (default, one system call per 1024 frames) or `tx-ring`
   * (PACKET_TX_RING: frames copied into a mapped ring, one send() per ring-full; frames over 4 KiB go by
   * sendmmsg). Both are kept so the benchmark can compare them; see the README for which won here.
   */
  method?: "sendmmsg" | "tx-ring";
}

/** Counters of an inject socket since it was opened. */
export interface NativeInjectStats {
  /** Frames the kernel took. */
  sent: number;
  /** send() calls. */
  calls: number;
  /** Times a full queue (ENOBUFS: the qdisc or device refused a frame) was waited out and the frame sent again. */
  retriesNoBuffers: number;
  /** Times a full socket send buffer (EAGAIN) was waited out. */
  retriesWouldBlock: number;
}

/** An AF_PACKET socket bound to one interface, sending batches of whole link-layer frames. */
export interface NativeInjectSocket {
  /**
   * Sends frames `buffer[positions[2i], positions[2i] + positions[2i + 1])` for i in [first, first + count)
   * with as few system calls as it can. Returns how many were sent. A full queue or socket buffer
   * (ENOBUFS, EAGAIN) is waited out and the frame sent again, as tcpreplay does, for up to 20 ms per call;
   * after that the call returns what it sent (possibly 0) and the caller calls again after yielding. Any
   * other refusal of frame k: the call returns k - first when that is above 0 (the following call, starting
   * at k, throws k's error), or throws it (`frame-too-big` for EMSGSIZE, `interface-down` for ENETDOWN,
   * `no-such-interface` for ENXIO/ENODEV, `io-failed` with the errno otherwise).
   */
  send(buffer: Uint8Array, positions: Uint32Array, first: number, count: number): number;
  /**
   * The same send on a libuv pool thread, so the caller's thread can prepare the next batch while the
   * kernel takes this one: `callback(error, sent)` on the caller's thread, with `sent` and `error` as
   * send() would return and throw them. One at a time per socket (send() or another sendAsync() meanwhile
   * throws `bad-option`); `buffer` and `positions` are kept alive, and must not change, until the callback.
   * close() meanwhile closes the socket once the send ended.
   */
  sendAsync(
    buffer: Uint8Array,
    positions: Uint32Array,
    first: number,
    count: number,
    callback: (error: NativeError | null, sent: number) => void,
  ): void;
  stats(): NativeInjectStats;
  /** How batches reach the kernel (see NativeInjectOptions.method). */
  readonly method: "sendmmsg" | "tx-ring";
  /** Closes the socket now (a socket left open is closed when it is garbage collected). Idempotent. */
  close(): void;
}

/** The addon's exports. */
export interface NativeAddon {
  /** libpcap's version string and the addon's own interface version. */
  version(): { libpcap: string; abi: number };
  CaptureHandle: new (options: NativeCaptureOptions) => NativeCaptureHandle;
  InjectSocket: new (options: NativeInjectOptions) => NativeInjectSocket;
  /**
   * Finds the plain records at a record boundary of a pcap or pcapng chunk and writes `[start, length]`
   * of each into `positions` as send() takes them. `args` holds the call's fields at the SCAN_ARG
   * indices, in and out; see RecordScanner, which fills them.
   */
  scanRecords(buffer: Uint8Array, positions: Uint32Array, args: Uint32Array): void;
  /**
   * A Buffer of `size` bytes in memory aligned to 2 MiB and advised for transparent huge pages
   * (MADV_HUGEPAGE), so its first touch costs a fault per 2 MiB instead of one per 4 KiB: for buffers
   * read into again and again, such as a replay's chunks. Unmapped when garbage collected.
   */
  hugeBuffer(size: number): Buffer;
}
