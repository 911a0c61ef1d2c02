// A capture run inside the process that asked for it, seen through the same surface as a capture child:
// messages cross both ways as they would over IPC (later, in order), and the runtime's end stands for the
// child's exit. It saves a second Node start-up (about 0.1–0.15 CPU-seconds) where a process does nothing
// but capture. Only the packet-io addon's handles close in-process (node_pcap's live until their process
// ends), and privileges and network namespaces belong to a whole process: see InterfaceSource.
import { EventEmitter } from "node:events";
import type { ChildExit, NodeChild } from "./child-process.js";
import type { ChildConfig, ChildMessage, ParentMessage } from "./child-protocol.js";
import { type MakeOutput, type RuntimeLink, runCapture } from "./child-runtime.js";
import { firstSettled } from "./first-settled.js";

/** What InterfaceSource needs of a capture child, in a process of its own or not. */
export type CaptureChild = Pick<
  NodeChild<ParentMessage, ChildMessage>,
  "exited" | "ready" | "onMessage" | "connected" | "send" | "stop" | "stderr"
>;

export class InProcessChild implements CaptureChild {
  readonly exited: Promise<ChildExit>;
  /** Nothing is kept: the runtime's warnings arrive as messages. */
  readonly stderr = "";
  // "close" as a ChildProcess emits it: code, signal.
  private readonly toParent = new EventEmitter<{
    message: [ChildMessage];
    close: [number | null, NodeJS.Signals | null];
  }>();
  private readonly toRuntime = new EventEmitter<{ message: [ParentMessage]; stop: [] }>();
  private ended = false;

  constructor(config: ChildConfig, makeOutput: MakeOutput) {
    this.exited = new Promise((resolve) =>
      this.toParent.once("close", (code, signal) => resolve({ code, signal })),
    );
    const link: RuntimeLink = {
      send: (message, then) =>
        setImmediate(() => {
          this.toParent.emit("message", message);
          then?.();
        }),
      onMessage: (listener) => this.toRuntime.on("message", listener),
      onStop: (stop) => this.toRuntime.on("stop", stop),
      end: (code) =>
        setImmediate(() => {
          this.ended = true;
          this.toParent.emit("close", code, null);
        }),
    };
    // Started later, as a child would be: the caller attaches its listeners first.
    setImmediate(() => runCapture(config, makeOutput, link));
  }

  get connected(): boolean {
    return !this.ended;
  }

  ready<T>(settle: (message: ChildMessage) => T | undefined, exited: (how: ChildExit) => Error): Promise<T> {
    return firstSettled(this.toParent, settle, exited);
  }

  onMessage(listener: (message: ChildMessage) => void): void {
    this.toParent.on("message", listener);
  }

  send(message: ParentMessage): boolean {
    if (this.ended) return false;
    setImmediate(() => {
      if (message.type === "stop") this.toRuntime.emit("stop");
      else this.toRuntime.emit("message", message);
    });
    return true;
  }

  /** Asks the runtime to stop and resolves once it ended (nothing to kill: `killAfterMs` is not used). */
  async stop(message: ParentMessage, _killAfterMs: number): Promise<ChildExit> {
    this.send(message);
    return this.exited;
  }
}
