import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtScript, NodeChild } from "./child-process.js";

type Out = { type: "stop" } | { type: "echo"; text: string };
type In = { type: "ready"; pid: number; config: unknown } | { type: "echo"; text: string };

let dir = "";
// The child side as a child would import it: the built module.
const helper = pathToFileURL(builtScript(import.meta.url, "child-process.js", "@sluice/capture")).href;

/** Writes a child entry script; `body` runs after the helper's functions are imported. */
function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `import { onStopRequest, sendToParent } from ${JSON.stringify(helper)};\n${body}\n`);
  return path;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sluice-child-process-"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("NodeChild", () => {
  it("hands the child its config, takes its ready message, and stops it over IPC with exit code 0", async () => {
    const entry = script(
      "echo.mjs",
      `const config = JSON.parse(process.argv[2]);
       process.on("message", (m) => m.type === "echo" && sendToParent({ type: "echo", text: m.text.toUpperCase() }));
       onStopRequest(() => sendToParent({ type: "echo", text: "bye" }, () => process.exit(0)));
       sendToParent({ type: "ready", pid: process.pid, config });`,
    );
    const child = new NodeChild<Out, In>({ script: entry, config: { label: "x", n: 3 } });
    const ready = await child.ready(
      (m) => (m.type === "ready" ? m : undefined),
      () => new Error("exited"),
    );
    expect(ready).toEqual({ type: "ready", pid: child.pid, config: { label: "x", n: 3 } });
    const echoed: string[] = [];
    child.onMessage((m) => m.type === "echo" && echoed.push(m.text));
    expect(child.send({ type: "echo", text: "hello" })).toBe(true);
    await new Promise<void>((resolve) => {
      const wait = (): void => void (echoed.length > 0 ? resolve() : setTimeout(wait, 5));
      wait();
    });
    expect(await child.stop({ type: "stop" }, 5000)).toEqual({ code: 0, signal: null });
    expect(echoed).toEqual(["HELLO", "bye"]);
    expect(child.send({ type: "echo", text: "late" })).toBe(false);
  });

  it("SIGKILLs a child that does not exit within killAfterMs of being asked", async () => {
    const entry = script(
      "stubborn.mjs",
      `process.on("message", () => {});
       process.on("SIGTERM", () => {});
       setInterval(() => {}, 1000);
       sendToParent({ type: "ready", pid: process.pid, config: null });`,
    );
    const child = new NodeChild<Out, In>({ script: entry, config: null });
    await child.ready(
      (m) => (m.type === "ready" ? m : undefined),
      () => new Error("exited"),
    );
    const started = performance.now();
    expect(await child.stop({ type: "stop" }, 300)).toEqual({ code: null, signal: "SIGKILL" });
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
  });

  it("rejects the handshake with the caller's error, built from the exit and the tail of stderr", async () => {
    const entry = script("dies.mjs", `process.stderr.write("no interface named eth9\\n"); process.exit(3);`);
    const child = new NodeChild<Out, In>({ script: entry, config: null });
    const error = await child
      .ready(
        (m) => (m.type === "ready" ? m : undefined),
        ({ code, signal }) => new Error(`exited ${code} ${signal}: ${child.stderr.trim()}`),
      )
      .catch((e: unknown) => e as Error);
    expect((error as Error).message).toBe("exited 3 null: no interface named eth9");
  });

  it("rejects the handshake with what settle throws (the child's own error message)", async () => {
    const entry = script(
      "refuses.mjs",
      `sendToParent({ type: "echo", text: "bad filter" }, () => process.exit(3));`,
    );
    const child = new NodeChild<Out, In>({ script: entry, config: null });
    const error = await child
      .ready(
        (m) => {
          if (m.type === "echo") throw new Error(m.text);
          return m;
        },
        () => new Error("exited"),
      )
      .catch((e: unknown) => e as Error);
    expect((error as Error).message).toBe("bad filter");
    await child.exited;
  });
});
