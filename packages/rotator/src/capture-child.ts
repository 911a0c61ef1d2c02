// Entry point of a rotating capture child: libpcap and the rotator in one process.
import { runCaptureChild } from "@sluice/capture/child";
import { RotatingOutput } from "./rotating-output.js";

runCaptureChild((context) => new RotatingOutput(context));
