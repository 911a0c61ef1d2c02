// @sluice/replayer/queue: a folder of captures replayed in capture order, what a sensor node runs.
export type {
  AfterReplay,
  FailReason,
  ReplayQueueEvents,
  ReplayQueueOptions,
  ReplayQueueSettings,
} from "./replay-queue.js";
export { ReplayQueue } from "./replay-queue.js";
