import { readPackets } from "@sluice/pcap-format";
import { ReplayError } from "../errors.js";
import type { FileOutcome, Output } from "../output.js";

/**
 * A wire for unit tests that need no root: implements the Replayer's Output interface by reading each file
 * with @sluice/pcap-format and keeping what would have been sent. It stands in only for the interface (the
 * kernel's send path), which cannot be used here without root; the root lab tests cover that.
 */
export class FakeWire {
  /** Files in the order they were sent, with their frames as hex. */
  readonly sent: { path: string; frames: string[] }[] = [];
  /** Makes the next `n` opens fail as an interface that does not exist would. */
  failOpens = 0;
  /** Makes the next file fail after this many frames, as an interface going down would. */
  failAfter: number | null = null;
  opened = 0;

  /** The ReplayOutput to give a Replayer (or a ReplayQueue). */
  output(): { type: "custom"; name: string; open(): Promise<Output> } {
    return { type: "custom", name: "fake-wire", open: () => this.open() };
  }

  /** Every frame sent, across files. */
  get frames(): string[] {
    return this.sent.flatMap((f) => f.frames);
  }

  private async open(): Promise<Output> {
    if (this.failOpens > 0) {
      this.failOpens--;
      throw new ReplayError("no-such-interface", "fake-wire is not there", { interface: "fake-wire" });
    }
    this.opened++;
    const wire = this;
    const cancelled = new Set<number>();
    let alive = true;
    return {
      get alive() {
        return alive;
      },
      async replay(seq, path, onProgress): Promise<FileOutcome> {
        const file = { path, frames: [] as string[] };
        wire.sent.push(file);
        const outcome: FileOutcome = {
          packets: 0,
          bytes: 0,
          failed: 0,
          skipped: { oversize: 0, unsupported: 0 },
          truncated: 0,
          cancelled: false,
          error: null,
          timing: null,
          sendingMs: 0,
        };
        for await (const packet of readPackets(path)) {
          if (cancelled.has(seq)) return { ...outcome, cancelled: true };
          if (wire.failAfter !== null && outcome.packets >= wire.failAfter) {
            wire.failAfter = null;
            alive = false;
            return { ...outcome, error: new ReplayError("interface-down", "fake-wire went down", {}) };
          }
          file.frames.push(Buffer.from(packet.data).toString("hex"));
          outcome.packets++;
          outcome.bytes += packet.data.length;
          onProgress(outcome.packets, outcome.bytes);
          await Promise.resolve();
        }
        return outcome;
      },
      cancel(seq) {
        cancelled.add(seq);
      },
      async close() {
        alive = false;
      },
    };
  }
}
