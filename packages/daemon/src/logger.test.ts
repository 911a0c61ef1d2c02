import { describe, expect, it } from "vitest";
import { Logger } from "./logger.js";

function capture(level?: "debug" | "info" | "warn" | "error") {
  const lines: string[] = [];
  const logger = new Logger({
    write: (line) => lines.push(line),
    now: () => new Date("2026-11-22T10:30:00.000Z"),
    ...(level && { level }),
  });
  return { logger, lines, parsed: () => lines.map((l) => JSON.parse(l)) };
}

describe("Logger", () => {
  it("writes one JSON object per line with time, level, event and fields", () => {
    const { logger, lines } = capture();
    logger.info("file-ready", { path: "/tmp/a.pcap", packets: 3 });
    expect(lines).toEqual([
      '{"time":"2026-11-22T10:30:00.000Z","level":"info","event":"file-ready","path":"/tmp/a.pcap","packets":3}\n',
    ]);
  });

  it("leaves out lines under its level", () => {
    const { logger, parsed } = capture("warn");
    logger.debug("a");
    logger.info("b");
    logger.warn("c");
    logger.error("d");
    expect(parsed().map((l) => l.event)).toEqual(["c", "d"]);
  });

  it("adds a child's fields to every line it writes", () => {
    const { logger, parsed } = capture();
    logger.child({ app: "sluice-master" }).child({ source: "eth1" }).info("started", { pid: 7 });
    expect(parsed()[0]).toMatchObject({ app: "sluice-master", source: "eth1", pid: 7, event: "started" });
  });

  it("turns errors into their message and typed fields", () => {
    const { logger, parsed } = capture();
    const error = Object.assign(new Error("no space left"), { code: "ENOSPC", path: "/spool" });
    logger.error("delivery-failed", { error });
    expect(parsed()[0].error).toEqual({ message: "no space left", code: "ENOSPC", path: "/spool" });
  });
});
