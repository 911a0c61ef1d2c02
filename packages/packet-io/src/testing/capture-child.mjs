// Test helper: runs the addon's CaptureHandle in a process of its own (tests start it with `ip netns exec`
// so it captures inside a lab namespace). argv[2] is a JSON plan:
//   { mode: "capture", handles: [NativeCaptureOptions...], files: [path...] }
//     opens every handle, prints "ready <json>" once all are open, writes each handle's batches to its
//     file (a classic pcap) until SIGTERM, then drains, closes and prints "done <json>" with counts.
//   { mode: "cycles", options: NativeCaptureOptions, cycles: N, dispatch: boolean }
//     opens and closes a handle N times (polling and dispatching in between when asked) and prints
//     "done <json>" with the number of open descriptors before and after.
import { closeSync, openSync, readdirSync, readlinkSync, writeSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const addon = require(
  process.env.SLUICE_PACKET_IO_ADDON ||
    new URL("../../build/Release/packet_io.node", import.meta.url).pathname,
);
const plan = JSON.parse(process.argv[2]);
const buffer = Buffer.allocUnsafeSlow(plan.bufferBytes ?? 8 << 20);
const offsets = new Uint32Array(65537);
const openDescriptors = () =>
  readdirSync("/proc/self/fd").map((fd) => {
    try {
      return `${fd} ${readlinkSync(`/proc/self/fd/${fd}`)}`;
    } catch {
      return fd; // the directory listing's own descriptor, gone by now
    }
  });

function fileHeader(linkType, snaplen) {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(snaplen, 16);
  header.writeUInt32LE(linkType, 20);
  return header;
}

// Takes everything ready on one handle: whole batches, each written with one write.
function drain(handle, fd, counts, i) {
  for (;;) {
    const n = handle.dispatch(buffer, 0, offsets, 65536);
    if (n === 0) return;
    counts[i] += n;
    counts.batches[i]++;
    writeSync(fd, buffer, offsets[0], offsets[n] - offsets[0]);
  }
}

async function capture() {
  const handles = plan.handles.map((options) => new addon.CaptureHandle(options));
  const fds = plan.files.map((path, i) => {
    const fd = openSync(path, "w");
    writeSync(fd, fileHeader(handles[i].linkType, handles[i].snaplen));
    return fd;
  });
  const counts = handles.map(() => 0);
  counts.batches = handles.map(() => 0);
  handles.forEach((handle, i) => {
    handle.poll(() => drain(handle, fds[i], counts, i));
  });
  const fanoutGroups = handles.map((h) => h.fanoutGroup);
  process.stdout.write(`ready ${JSON.stringify({ fanoutGroups })}\n`);
  await new Promise((resolve) => process.once("SIGTERM", resolve));
  const timeout = Math.max(...plan.handles.map((o) => o.timeoutMs ?? 100));
  await new Promise((resolve) => setTimeout(resolve, timeout + 50));
  const stats = handles.map((handle, i) => {
    drain(handle, fds[i], counts, i);
    const s = handle.stats();
    handle.close();
    closeSync(fds[i]);
    return s;
  });
  process.stdout.write(`done ${JSON.stringify({ packets: counts, batches: counts.batches, stats })}\n`);
}

async function cycles() {
  let packets = 0;
  let before = 0;
  // Cycle 0 warms up: Node opens descriptors of its own on first use of timers and of process.stdout.
  process.stdout.write("");
  for (let i = 0; i <= plan.cycles; i++) {
    if (i === 1) before = openDescriptors();
    const handle = new addon.CaptureHandle(plan.options);
    if (plan.dispatch) {
      handle.poll(() => {
        packets += handle.dispatch(buffer, 0, offsets, 65536);
      });
      packets += handle.dispatch(buffer, 0, offsets, 65536);
      // Now and then outlive the block timeout, so the kernel retires a block and the poll fires:
      // otherwise, on a quiet machine, every handle closes before any block is handed to user space.
      if (i % 50 === 0)
        await new Promise((resolve) => setTimeout(resolve, 3 * (plan.options.timeoutMs ?? 20)));
    }
    handle.close();
  }
  // Let libuv finish closing the poll handles before counting.
  await new Promise((resolve) => setTimeout(resolve, 50));
  process.stdout.write(`done ${JSON.stringify({ before, after: openDescriptors(), packets })}\n`);
}

await (plan.mode === "cycles" ? cycles() : capture());
