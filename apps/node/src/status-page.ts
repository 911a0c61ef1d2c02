import type { StatusKit } from "@sluice/daemon";
import type { NodeStatus } from "./status-report.js";

/**
 * The node's status page from its status document. It runs in the server and, as its source text, in
 * the browser (see @sluice/daemon's StatusPage): it uses nothing but `s` and `k`.
 */
export function renderNodeStatus(s: NodeStatus, k: StatusKit): string {
  const o = s.output;
  const outputTone = o.state === "up" ? "ok" : o.state === "down" ? "bad" : "idle";
  const outputWords =
    o.state === "up" ? "up" : o.state === "down" ? "down, retrying" : "closed (opens with the next file)";
  const target = `${o.type === "fifo" ? "FIFO" : "interface"} ${o.target}${o.netns ? ` in netns ${o.netns}` : ""}`;
  const lagTone = s.lagSeconds < 120 ? "ok" : s.lagSeconds < 600 ? "warn" : "bad";
  const failed = s.totals.filesFailed;
  const skipped = s.totals.skipped.oversize + s.totals.skipped.unsupported;

  const tiles = `<div class="tiles">${[
    k.tile("Output", k.esc(outputWords), k.esc(target), outputTone),
    k.tile("Replaying", k.pps(s.rate.pps), k.mbps(s.rate.mbps), s.rate.pps > 0 ? "ok" : "idle"),
    k.tile(
      "Behind capture",
      s.current || s.backlog.files ? k.esc(k.dur(s.lagSeconds)) : "up to date",
      "now minus the capture time being replayed",
      s.current || s.backlog.files ? lagTone : "ok",
    ),
    k.tile(
      "Waiting in incoming",
      k.count(s.backlog.files, "file"),
      `${k.bytes(s.backlog.bytes)}${s.current ? " · the one replaying included" : ""}`,
      s.backlog.files > 10 ? "warn" : "info",
    ),
    k.tile(
      "Replayed",
      k.count(s.totals.filesReplayed, "file"),
      `${k.int(s.totals.packetsSent)} packets · ${k.bytes(s.totals.bytesSent)}`,
      "info",
    ),
    k.tile(
      "Failed",
      k.count(failed, "file"),
      failed ? k.esc(s.failedBy.map((f) => `${f.reason} ${f.files}`).join(" · ")) : "none set aside",
      failed ? "bad" : "ok",
    ),
  ].join("")}</div>`;

  const c = s.current;
  const ratio = c?.packets ? c.packetsSent / c.packets : 0;
  const now = c
    ? `<div class="now" data-key="current"><div class="big"><span class="file">${k.esc(c.name)}</span></div>${k.bar(ratio, "info", 640, 14)}<div>${
        c.packets === null
          ? `${k.int(c.packetsSent)} packets sent`
          : `<b>${Math.floor(ratio * 100)}%</b> · ${k.int(c.packetsSent)} of ${k.int(c.packets)} packets`
      } · ${k.bytes(c.bytesSent)} sent${c.size === null ? "" : ` of a ${k.bytes(c.size)} file`}${
        c.startedAt ? ` · started ${k.ago(c.startedAt, s.now)}` : ""
      }</div></div>`
    : `<div class="now dim">${
        s.backlog.files
          ? `${k.count(s.backlog.files, "file")} waiting to start`
          : "idle: nothing waiting in incoming"
      }</div>`;
  const rate = (what: string, chart: string, now: string) =>
    `<div class="rate"><span class="what">${what}</span>${chart}<b>${k.esc(now)}</b></div>`;
  const rates = `<div class="now">${rate("packets/s", k.spark(s.history.pps, "info", 60, 300, 40), k.pps(s.rate.pps))}${rate(
    "Mb/s",
    k.spark(s.history.mbps, "ok", 60, 300, 40),
    k.mbps(s.rate.mbps),
  )}</div>`;
  const replaying = k.section(
    "Now replaying",
    `<div class="cols">${now}${rates}</div>`,
    `speed ${k.esc(o.speed)} · rates: mean of the last 5 s; charts: ${k.int(s.historySeconds)} s`,
  );

  const output = k.section(
    "Output",
    `<dl class="kv"><dt>Target</dt><dd>${k.esc(target)}</dd><dt>State</dt><dd>${k.badge(outputTone, outputWords)}</dd><dt>Speed</dt><dd>${k.esc(
      o.speed,
    )}</dd><dt>Failures retried</dt><dd>${o.retries ? `<b class="why">${k.int(o.retries)}</b>` : "0"}</dd><dt>Skipped packets</dt><dd>${
      skipped
        ? `<b class="why">${k.int(skipped)}</b> (oversize ${k.int(s.totals.skipped.oversize)}, unsupported ${k.int(s.totals.skipped.unsupported)})`
        : "0"
    }</dd><dt>Truncated to the MTU</dt><dd>${k.int(s.totals.truncated)}</dd><dt>Inject failures</dt><dd>${
      s.totals.injectFailed ? `<b class="why">${k.int(s.totals.injectFailed)}</b>` : "0"
    }</dd><dt>Incoming</dt><dd class="file">${k.esc(s.incoming)}</dd></dl>`,
  );

  const replayed = k.section(
    "Recently replayed",
    k.table(
      [
        { label: "Ended", num: true },
        { label: "File" },
        { label: "Packets", num: true },
        { label: "Size", num: true },
        { label: "Took", num: true },
        { label: "Rate", num: true },
      ],
      s.recentReplayed.map((f) => ({
        key: `replayed:${f.name}`,
        cells: [
          k.ago(f.at, s.now),
          `<span class="file">${k.esc(f.name)}</span>`,
          k.int(f.packets),
          k.bytes(f.bytes),
          k.esc(k.dur(f.durationMs / 1000)),
          f.durationMs > 0 ? k.esc(k.mbps((f.bytes * 8) / (f.durationMs / 1000) / 1e6)) : "–",
        ],
      })),
      "none since start",
    ),
  );
  const failedFiles = k.section(
    "Recently failed",
    k.table(
      [{ label: "When", num: true }, { label: "File" }, { label: "Why" }],
      s.recentFailed.map((f) => ({
        key: `failed:${f.name}`,
        tone: "bad" as const,
        cells: [
          k.ago(f.at, s.now),
          `<span class="file">${k.esc(f.name)}</span>`,
          `<div class="why"><b>${k.esc(f.reason.replace(/-/g, " "))}</b>: ${k.esc(f.message)}</div>`,
        ],
      })),
      "none since start",
    ),
    failed ? "in the failed folder, each with its .reason.json" : "",
  );

  return `${tiles}${replaying}<div class="cols">${output}${failedFiles}</div>${replayed}`;
}
