import { execFileSync, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { readCaptureSync } from "@sluice/pcap-format";
import { editcap, missingTools, randpkt } from "@sluice/testlab";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ConnectionEnd, type SocketConnection, SocketSource, type SourcePacket } from "./index.js";

const skip = missingTools("tcpdump", "nc", "socat", "dumpcap", "openssl", "randpkt", "editcap");
if (skip) console.warn(`skipping socket source tests: ${skip}`);

let dir = "";
const path = (name: string): string => join(dir, name);
type Closed = SocketConnection & { end: ConnectionEnd; packets: number; bytes: number };

// Runs a shell pipeline (a real sender) and resolves when it exits.
function sender(pipeline: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", pipeline], { stdio: "ignore" });
    child.on("exit", (code) => resolve(code ?? -1));
  });
}

function collect(source: SocketSource) {
  const packets = new Map<string, SourcePacket[]>();
  const closed: Closed[] = [];
  source.on("packet", (p) => {
    const list = packets.get(p.source) ?? [];
    list.push({ ...p, data: Buffer.from(p.data) });
    packets.set(p.source, list);
  });
  source.on("close", (c) => closed.push(c));
  let connections = 0;
  source.on("connection", () => connections++);
  const waitClosed = async (n: number): Promise<Closed[]> => {
    await until(() => closed.length >= n, `${n} closed connections`);
    return closed;
  };
  return { packets, closed, waitClosed, connections: () => connections };
}

/** Waits until `condition` holds: the event it stands for has happened. */
async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !condition(); ) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const hex = (packets: { data: Uint8Array }[]): string[] =>
  packets.map((p) => Buffer.from(p.data).toString("hex"));

let source: SocketSource | null = null;
afterEach(async () => {
  await source?.stop();
  source = null;
});

describe.skipIf(skip !== null)("socket source", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "socket-source-"));
    randpkt(path("eth.pcap"), "eth", 300, 1500);
    await editcap(["-t", "1700000000.123456", path("eth.pcap"), path("a.pcap"), "-F", "pcap"]);
    randpkt(path("usb.pcap"), "usb-linux", 200, 400);
    await editcap(["-t", "1600000000.5", "-F", "nsecpcap", path("usb.pcap"), path("b.pcap")]);
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=sluice-ca",
        "-keyout",
        path("ca.key"),
        "-out",
        path("ca.pem"),
      ],
      { stdio: "ignore" },
    );
    for (const name of ["server", "client"]) {
      execFileSync(
        "openssl",
        [
          "req",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-subj",
          `/CN=${name}`,
          "-keyout",
          path(`${name}.key`),
          "-out",
          path(`${name}.csr`),
        ],
        { stdio: "ignore" },
      );
      execFileSync(
        "openssl",
        [
          "x509",
          "-req",
          "-in",
          path(`${name}.csr`),
          "-CA",
          path("ca.pem"),
          "-CAkey",
          path("ca.key"),
          "-CAcreateserial",
          "-days",
          "2",
          "-out",
          path(`${name}.pem`),
        ],
        { stdio: "ignore" },
      );
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("takes tcpdump -w - | nc streams from several senders at once, each its own source", async () => {
    source = new SocketSource({ name: "remote", listen: "127.0.0.1:0" });
    const seen = collect(source);
    await source.start();
    const port = source.port;
    const codes = await Promise.all([
      sender(`tcpdump -r ${path("a.pcap")} -w - 2>/dev/null | nc -N 127.0.0.1 ${port}`),
      sender(
        `tcpdump -r ${path("b.pcap")} --time-stamp-precision nano -w - 2>/dev/null | nc -N 127.0.0.1 ${port}`,
      ),
      sender(`tcpdump -r ${path("a.pcap")} -w - 2>/dev/null | nc -N 127.0.0.1 ${port}`),
    ]);
    expect(codes).toEqual([0, 0, 0]);
    const closed = await seen.waitClosed(3);
    expect(closed.map((c) => c.end.kind)).toEqual(["complete", "complete", "complete"]);
    expect(new Set(closed.map((c) => c.label)).size).toBe(3);
    for (const c of closed) expect(c.label).toMatch(/^remote-127\.0\.0\.1-\d+$/);
    const a = readCaptureSync(readFileSync(path("a.pcap"))).packets;
    const b = readCaptureSync(readFileSync(path("b.pcap"))).packets;
    const streams = [...seen.packets.values()];
    const fromA = streams.filter((s) => s[0]!.linkType === 1);
    const fromB = streams.filter((s) => s[0]!.linkType === 189);
    expect(fromA).toHaveLength(2);
    expect(fromB).toHaveLength(1);
    for (const s of fromA) {
      expect(hex(s)).toEqual(hex(a));
      expect(s.map((p) => [p.seconds, p.nanoseconds])).toEqual(a.map((p) => [p.seconds, p.nanoseconds]));
    }
    expect(hex(fromB[0]!)).toEqual(hex(b));
    expect(fromB[0]!.map((p) => p.nanoseconds)).toEqual(b.map((p) => p.nanoseconds));
  });

  it("takes TLS streams from socat OPENSSL, with and without client certificates", async () => {
    source = new SocketSource({
      name: "tls",
      listen: "127.0.0.1:0",
      tls: { cert: path("server.pem"), key: path("server.key"), ca: path("ca.pem") },
    });
    const seen = collect(source);
    await source.start();
    const port = source.port;
    const withCert = `tcpdump -r ${path("a.pcap")} -w - 2>/dev/null | socat - OPENSSL:127.0.0.1:${port},cafile=${path("ca.pem")},cert=${path("client.pem")},key=${path("client.key")},verify=1,commonname=server`;
    const withoutCert = `tcpdump -r ${path("a.pcap")} -w - 2>/dev/null | socat - OPENSSL:127.0.0.1:${port},verify=0`;
    await Promise.all([sender(withCert), sender(withoutCert)]);
    // Both senders are gone: every connection the source accepted closes; only the one with a certificate.
    await until(
      () => seen.connections() > 0 && seen.closed.length === seen.connections(),
      "the connections closed",
    );
    const closed = seen.closed;
    expect(seen.connections()).toBe(1);
    expect(closed).toHaveLength(1);
    expect(closed[0]!.end.kind).toBe("complete");
    expect(hex([...seen.packets.values()][0]!)).toEqual(
      hex(readCaptureSync(readFileSync(path("a.pcap"))).packets),
    );
  });

  it("takes pcapng from dumpcap -w - capturing loopback", async () => {
    source = new SocketSource({ name: "ng", listen: "127.0.0.1:0" });
    const seen = collect(source);
    await source.start();
    const udpPort = 40000 + (process.pid % 20000);
    const done = sender(
      `dumpcap -q -i lo -f "udp port ${udpPort}" -c 20 -w - 2>/dev/null | nc -N 127.0.0.1 ${source.port}`,
    );
    const socket = createSocket("udp4");
    for (let i = 0; i < 200 && seen.closed.length === 0; i++) {
      socket.send(Buffer.alloc(100 + i), udpPort, "127.0.0.1");
      await new Promise((r) => setTimeout(r, 25));
    }
    socket.close();
    await done;
    const [closed] = await seen.waitClosed(1);
    expect(closed!.end.kind).toBe("complete");
    expect(closed!.packets).toBe(20);
    const packets = [...seen.packets.values()][0]!;
    expect(packets.every((p) => p.linkType === 1)).toBe(true);
    expect(packets.every((p) => p.seconds > 1_700_000_000)).toBe(true);
  });

  it("closes only the connection that sends garbage or stops mid-record, naming the offset", async () => {
    source = new SocketSource({ name: "mixed", listen: "127.0.0.1:0" });
    const seen = collect(source);
    await source.start();
    const whole = readFileSync(path("a.pcap"));
    writeFileSync(path("garbage.bin"), Buffer.from("this is not a capture at all\n".repeat(50)));
    const cut = 24 + 16 + whole.readUInt32LE(24 + 8) + 20; // one full record, then 20 bytes of the next
    writeFileSync(path("cut.pcap"), whole.subarray(0, cut));
    const port = source.port;
    await Promise.all([
      sender(`nc -N 127.0.0.1 ${port} < ${path("garbage.bin")}`),
      sender(`nc -N 127.0.0.1 ${port} < ${path("cut.pcap")}`),
      sender(`tcpdump -r ${path("a.pcap")} -w - 2>/dev/null | nc -N 127.0.0.1 ${port}`),
    ]);
    const closed = await seen.waitClosed(3);
    const byKind = Object.fromEntries(closed.map((c) => [c.end.kind, c]));
    expect(byKind["malformed"]!.end).toMatchObject({ reason: "bad-magic", offset: 0 });
    expect(byKind["truncated"]!.end).toMatchObject({ offset: 24 + 16 + whole.readUInt32LE(24 + 8) });
    expect(byKind["truncated"]!.packets).toBe(1);
    expect(byKind["complete"]!.packets).toBe(300);
  });

  it("refuses clients outside the allowed networks and beyond the connection limit", async () => {
    source = new SocketSource({
      name: "strict",
      listen: "127.0.0.1:0",
      allow: ["10.0.0.0/8"],
      maxConnections: 1,
    });
    const refused: string[] = [];
    source.on("refused", (r) => refused.push(r.why));
    await source.start();
    await sender(`nc -N 127.0.0.1 ${source.port} < ${path("a.pcap")}`);
    await until(() => refused.length > 0, "the refusal");
    expect(refused).toEqual(["not-allowed"]);
    await source.stop();

    source = new SocketSource({
      name: "one",
      listen: "127.0.0.1:0",
      allow: ["127.0.0.0/8"],
      maxConnections: 1,
    });
    const refused2: string[] = [];
    source.on("refused", (r) => refused2.push(r.why));
    const accepted = new Promise((r) => source!.once("connection", r));
    await source.start();
    const first = connect(source.port, "127.0.0.1");
    await accepted; // the source holds its one connection
    await sender(`nc -N 127.0.0.1 ${source.port} < ${path("a.pcap")}`);
    await until(() => refused2.length > 0, "the refusal");
    expect(refused2).toEqual(["too-many-connections"]);
    first.destroy();
  });

  it("closes a sender that goes silent past the idle timeout", async () => {
    source = new SocketSource({ name: "idle", listen: "127.0.0.1:0", idleTimeoutMs: 300 });
    const seen = collect(source);
    await source.start();
    const client = connect(source.port, "127.0.0.1");
    await new Promise((r) => client.once("connect", r));
    client.write(readFileSync(path("a.pcap")).subarray(0, 24));
    const [closed] = await seen.waitClosed(1);
    expect(closed!.end.kind).toBe("idle");
    client.destroy();
  });

  it("does not treat a bare TLS handshake failure as a connection", async () => {
    source = new SocketSource({
      name: "tls2",
      listen: "127.0.0.1:0",
      tls: { cert: path("server.pem"), key: path("server.key"), ca: path("ca.pem") },
    });
    const seen = collect(source);
    let connections = 0;
    source.on("connection", () => connections++);
    await source.start();
    const client = tlsConnect({ port: source.port, host: "127.0.0.1", rejectUnauthorized: false });
    await new Promise((r) => {
      client.once("error", r);
      client.once("close", r);
      client.once("secureConnect", () => client.write("x"));
    });
    // A client with a certificate after it: once the source took that one, it had long decided on the
    // first, whose handshake ended before this one began.
    const good = tlsConnect({
      port: source.port,
      host: "127.0.0.1",
      rejectUnauthorized: false,
      cert: readFileSync(path("client.pem")),
      key: readFileSync(path("client.key")),
    });
    await until(() => connections > 0, "the connection with a certificate");
    good.destroy();
    expect(connections).toBe(1); // the second client's; closes exist only for connections
    expect(seen.closed.length).toBeLessThanOrEqual(1);
  });
});
