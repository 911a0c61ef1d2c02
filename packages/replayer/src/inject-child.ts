// The inject child: runs an InjectLoop for its parent (inject-output.ts) over Node's IPC channel. It
// closes its handle and exits when told to stop (node_pcap's handle only closes with the process).
import { onStopRequest, sendToParent } from "@sluice/capture/child-process";
import type { ChildMessage, ErrorJson, InjectChildConfig, ParentMessage } from "./child-protocol.js";
import { ReplayError } from "./errors.js";
import { interfaceState, type OpenedHandle, openInjectHandle } from "./inject-handle.js";
import { InjectLoop } from "./inject-loop.js";

const config = JSON.parse(process.argv[2] ?? "{}") as InjectChildConfig;

const send: (message: ChildMessage, then?: () => void) => void = sendToParent;

function toJson(error: unknown): ErrorJson {
  if (ReplayError.isInstance(error)) return error.toJSON();
  return { reason: "inject-failed", message: String(error), detail: {} };
}

async function main(): Promise<void> {
  let opened: OpenedHandle;
  try {
    opened = await openInjectHandle(config.interface, config);
  } catch (error) {
    send({ type: "error", error: toJson(error) }, () => process.exit(3));
    return;
  }
  const { handle, fallback } = opened;
  const state = interfaceState(config.interface);
  const loop = new InjectLoop(handle, state, config, (message) => send(message));
  const exit = (): void => {
    handle.close();
    process.exit(0);
  };
  process.on("message", (message: ParentMessage) => loop.receive(message));
  onStopRequest(exit);
  send({
    type: "ready",
    linkType: handle.linkType,
    mtu: state.mtu,
    ethernet: state.ethernet,
    pid: process.pid,
    packetIo: handle.kind,
    fallback,
  });
}

void main();
