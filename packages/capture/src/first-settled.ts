// The handshake of a capture child, in a process of its own or not: the first message that settles it.
import type { EventEmitter } from "node:events";
import type { ChildExit } from "./child-process.js";

/** What firstSettled listens to: a ChildProcess, or an emitter of "message" and "close" as one emits them. */
export type MessageSource = Pick<EventEmitter, "on" | "once" | "off">;

/**
 * Resolves with the first value `settle` returns for a message of `source` (undefined: not yet), rejects
 * with what it throws, or with `exited(…)` when "close" comes first.
 */
export function firstSettled<In, T>(
  source: MessageSource,
  settle: (message: In) => T | undefined,
  exited: (how: ChildExit) => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (message: In): void => {
      let value: T | undefined;
      try {
        value = settle(message);
      } catch (error) {
        cleanup();
        reject(error);
        return;
      }
      if (value === undefined) return;
      cleanup();
      resolve(value);
    };
    const onClose = (code: number | null, signal: NodeJS.Signals | null): void => {
      cleanup();
      reject(exited({ code, signal }));
    };
    const cleanup = (): void => {
      source.off("message", onMessage);
      source.off("close", onClose);
    };
    source.on("message", onMessage);
    source.once("close", onClose);
  });
}
