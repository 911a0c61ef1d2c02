import { closeSync, openSync, readSync } from "node:fs";
import { PcapFormatError, type Timestamp } from "@sluice/pcap-format";
import { CaptureDecoder, type DecoderSink, readChunks } from "@sluice/pcap-format/low-level";

/** What checking a capture file found. */
export interface CaptureCheck {
  /** True when every byte belongs to a valid header, record or block and nothing is cut short. */
  complete: boolean;
  /** The first problem (its `reason` and byte `offset`), or null. */
  error: PcapFormatError | null;
  /** Packets before the first problem. */
  packets: number;
  /** Bytes that form complete headers, records and blocks. */
  validBytes: number;
  /** Bytes read. */
  size: number;
  /** Timestamp of the first record in file order, or null without one: where the capture starts. */
  firstRecord: Timestamp | null;
}

// Counts packets and keeps the first one's time.
class FirstRecordSink implements DecoderSink {
  packets = 0;
  first: Timestamp | null = null;

  packet(
    _buf: Uint8Array,
    _dataOffset: number,
    _capturedLength: number,
    _originalLength: number,
    seconds: number,
    nanoseconds: number,
  ): void {
    if (this.packets++ === 0) this.first = { seconds, nanoseconds };
  }
}

/**
 * Reads a whole capture (pcap or pcapng, with @sluice/pcap-format's decoder) and says whether it is
 * complete, and when its first record was captured. Format problems are reported, I/O errors thrown.
 */
export async function checkCapture(path: string): Promise<CaptureCheck> {
  const sink = new FirstRecordSink();
  const decoder = new CaptureDecoder(sink);
  let error: PcapFormatError | null = null;
  try {
    for await (const chunk of readChunks(path, { reuseBuffer: true })) decoder.push(chunk);
    decoder.end();
  } catch (failure) {
    if (!PcapFormatError.isInstance(failure)) throw failure;
    error = failure;
  }
  const { packets, first: firstRecord } = sink;
  return {
    complete: error === null,
    error,
    packets,
    firstRecord,
    validBytes: decoder.offset,
    size: decoder.bytesReceived,
  };
}

const PEEK_CHUNK = 64 * 1024;

/**
 * The timestamp of a capture's first record, read from its first bytes only (at most `limit`, 1 MiB by
 * default: a pcapng section may carry long options before its first packet). Null while the file has no
 * complete first record yet, or does not start as a capture.
 */
export function readFirstRecordTime(path: string, limit = 1024 * 1024): Timestamp | null {
  const sink = new FirstRecordSink();
  const decoder = new CaptureDecoder(sink);
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.allocUnsafe(PEEK_CHUNK);
    for (let read = 0; read < limit && sink.first === null; ) {
      const n = readSync(fd, buf, 0, PEEK_CHUNK, read);
      if (n === 0) break;
      read += n;
      decoder.push(Buffer.from(buf.subarray(0, n)));
    }
  } catch (error) {
    if (!PcapFormatError.isInstance(error)) throw error;
  } finally {
    closeSync(fd);
  }
  return sink.first;
}
