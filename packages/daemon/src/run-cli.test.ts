import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it, vi } from "vitest";
import { runCli, UsageError } from "./run-cli.js";

const app = (run: () => number) => ({
  name: "tool",
  version: "1.2.3",
  usage: "Usage: tool\n",
  commands: { go: run },
});

describe("runCli", () => {
  it("exits 2 with the usage text on a UsageError, 1 on any other error, and the command's status", async () => {
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      expect(
        await runCli(
          app(() => 0),
          ["nope"],
        ),
      ).toBe(2);
      expect(err).toHaveBeenLastCalledWith('tool: unknown command "nope"\n\nUsage: tool\n');
      expect(
        await runCli(
          app(() => {
            throw new UsageError("bad flag");
          }),
          ["go"],
        ),
      ).toBe(2);
      expect(
        await runCli(
          app(() => {
            throw new Error("broken");
          }),
          ["go"],
        ),
      ).toBe(1);
      expect(err).toHaveBeenLastCalledWith("tool: broken\n");
      expect(
        await runCli(
          app(() => 7),
          ["go"],
        ),
      ).toBe(7);
      expect(
        await runCli(
          app(() => 0),
          ["--version"],
        ),
      ).toBe(0);
      expect(out).toHaveBeenLastCalledWith("tool 1.2.3\n");
    } finally {
      err.mockRestore();
      out.mockRestore();
    }
  });

  // The CommonJS build defines UsageError once per entry point; runCli must know both.
  const dist = new URL("../dist/", import.meta.url);
  it.skipIf(!existsSync(new URL("run-cli.cjs", dist)))(
    "recognises a UsageError from the other entry point of the CommonJS build",
    async () => {
      const require = createRequire(import.meta.url);
      const fromIndex = require(new URL("index.cjs", dist).pathname) as { UsageError: typeof UsageError };
      const fromRunCli = require(new URL("run-cli.cjs", dist).pathname) as {
        runCli: typeof runCli;
        UsageError: typeof UsageError;
      };
      // Two classes of one name: what instanceof got wrong.
      expect(fromIndex.UsageError).not.toBe(fromRunCli.UsageError);
      const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
      try {
        const status = await fromRunCli.runCli(
          app(() => {
            throw new fromIndex.UsageError("bad flag");
          }),
          ["go"],
        );
        expect(status).toBe(2);
      } finally {
        err.mockRestore();
      }
    },
  );
});
