// Entry point of the plain capture child: packets go to the parent as a pcap stream on fd 3.
import { runCaptureChild } from "./child-runtime.js";
import { StreamOutput } from "./stream-output.js";

runCaptureChild(
  ({ config, linkType, snaplen }) =>
    new StreamOutput(3, linkType, snaplen, Number(config.output["maxQueuedBytes"])),
);
