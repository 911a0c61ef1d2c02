import { createSocket } from "node:dgram";
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { ChildContext, PacketOutput } from "./child.js";
import { CaptureError, InterfaceSource } from "./index.js";
import { loadPacketIo } from "./native-live-handle.js";

// Loopback only: the capture runs in this (the test's) process, which cannot enter a lab namespace.
const reason =
  process.getuid?.() !== 0
    ? "root (a capture on lo)"
    : loadPacketIo().addon === null
      ? `the packet-io addon (${loadPacketIo().reason})`
      : null;
if (reason) console.warn(`skipping in-process capture tests: they need ${reason}`);

const openFds = (): number => readdirSync("/proc/self/fd").length;

/** An output that keeps the UDP payloads it is given (IPv4 on lo: 14-byte Ethernet, 20-byte IP, 8-byte UDP). */
class Payloads implements PacketOutput {
  captured = 0;
  dropped = 0;
  batches = 0;
  closedWith: number | null = null;
  readonly payloads: string[] = [];
  constructor(readonly context: ChildContext) {}
  packet(): void {
    throw new Error("the addon's path hands over batches");
  }
  batch(buffer: Buffer, offsets: Uint32Array, count: number): void {
    this.batches++;
    for (let i = 0; i < count; i++) {
      this.payloads.push(buffer.toString("latin1", offsets[i]! + 16 + 42, offsets[i + 1]));
    }
    this.captured += count;
  }
  tick(): void {}
  async close(stats: { received: number }): Promise<void> {
    this.closedWith = stats.received;
  }
}

function source(port: number, outputs: Payloads[], extra: { filter?: string } = {}): InterfaceSource {
  return new InterfaceSource({
    interface: "lo",
    filter: extra.filter ?? `udp dst port ${port}`,
    bufferSize: 1 << 20,
    bufferTimeoutMs: 10,
    child: {
      script: "/nonexistent/never-spawned.js",
      output: { kind: "test" },
      inProcess: (context) => {
        const output = new Payloads(context);
        outputs.push(output);
        return output;
      },
    },
  });
}

async function sendUdp(port: number, count: number): Promise<void> {
  const socket = createSocket("udp4");
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) =>
      socket.send(`datagram ${i}`, port, "127.0.0.1", (error) => (error ? reject(error) : resolve())),
    );
  }
  socket.close();
}

describe.skipIf(reason !== null)("a capture in this process (child.inProcess)", () => {
  it("captures in this process: no child, every frame to the output, final counters on stop", async () => {
    const port = 40000 + (process.pid % 20000);
    const outputs: Payloads[] = [];
    const capture = source(port, outputs);
    await capture.start();
    expect(capture.inProcess).toBe(true);
    expect(capture.pid).toBe(process.pid);
    expect(capture.packetIo).toBe("native");
    await sendUdp(port, 300);
    const stats = await capture.stop();
    expect(outputs).toHaveLength(1);
    expect(outputs[0]!.payloads).toEqual(Array.from({ length: 300 }, (_, i) => `datagram ${i}`));
    // Whole batches, not a call per packet; the output was closed with libpcap's last counters.
    expect(outputs[0]!.batches).toBeLessThan(300);
    expect(stats.captured).toBe(300);
    expect(stats.written).toBe(300);
    expect(outputs[0]!.closedWith).toBe(stats.received);
  });

  it("rejects start() with the capture's typed error, as a child would", async () => {
    const outputs: Payloads[] = [];
    const capture = source(1, outputs, { filter: "udp port" });
    const error = await capture.start().then(
      () => null,
      (e: unknown) => e,
    );
    expect(CaptureError.isInstance(error) && error.reason).toBe("bad-filter");
    expect(outputs).toHaveLength(0);
  });

  it("closes what it opened: 200 start/stop cycles leave as many descriptors open as before", async () => {
    const port = 40000 + ((process.pid + 1) % 20000);
    const before = openFds();
    for (let cycle = 0; cycle < 200; cycle++) {
      const capture = source(port, []);
      await capture.start();
      await capture.stop();
    }
    expect(openFds()).toBe(before);
  });
});
