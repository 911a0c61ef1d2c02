import type { StatusKit } from "@sluice/daemon";
import type { DestinationStatus, MasterStatus, SourceStatus } from "./status-report.js";

/**
 * The master's status page from its status document. It runs in the server and, as its source text, in
 * the browser (see @sluice/daemon's StatusPage): it uses nothing but `s` and `k`.
 */
export function renderMasterStatus(s: MasterStatus, k: StatusKit): string {
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const words = (reason: string) => reason.replace(/-/g, " ");
  const destinations = [...s.pools.flatMap((p) => p.nodes), ...s.alone];
  const unhealthy = destinations.filter((d) => d.health === "unhealthy");
  const drops = (x: SourceStatus) => x.dropped.kernel + x.dropped.interface + x.dropped.spool;
  const allDrops = sum(s.sources.map(drops));
  const pps = sum(s.sources.map((x) => x.rate.pps));
  const mbps = sum(s.sources.map((x) => x.rate.mbps));
  const quotaFiles = s.spool.quota.files;
  const quotaBytes = s.spool.quota.bytes;
  const fill = Math.max(
    quotaFiles ? s.spool.pendingFiles / quotaFiles : 0,
    quotaBytes ? s.spool.pendingBytes / quotaBytes : 0,
  );
  const droppedFiles = s.spool.dropped.quota + s.spool.dropped.missing;

  const tiles = `<div class="tiles">${[
    k.tile("Capturing", k.pps(pps), k.mbps(mbps), pps > 0 ? "ok" : "idle"),
    k.tile(
      "Packets captured",
      k.int(sum(s.sources.map((x) => x.packets))),
      `${k.count(sum(s.sources.map((x) => x.files)), "file")} rotated`,
      "info",
    ),
    k.tile(
      "Packets dropped",
      k.int(allDrops),
      `kernel ${k.int(sum(s.sources.map((x) => x.dropped.kernel)))} · interface ${k.int(
        sum(s.sources.map((x) => x.dropped.interface)),
      )} · spool ${k.int(sum(s.sources.map((x) => x.dropped.spool)))}`,
      allDrops > 0 ? "warn" : "ok",
    ),
    k.tile(
      "Spool waiting",
      k.count(s.spool.pendingFiles, "file"),
      `${k.bytes(s.spool.pendingBytes)}${quotaBytes || quotaFiles ? ` · ${Math.round(fill * 100)}% of quota` : ""}`,
      fill >= 0.9 ? "bad" : fill >= 0.7 || s.spool.pendingFiles > 10 ? "warn" : "ok",
    ),
    k.tile(
      "Destinations",
      `${destinations.length - unhealthy.length} / ${destinations.length} healthy`,
      unhealthy.length ? k.esc(unhealthy.map((d) => d.name).join(", ")) : "all take files",
      unhealthy.length ? "bad" : destinations.length ? "ok" : "idle",
    ),
    k.tile(
      "Files dispatched",
      k.int(s.spool.dispatched),
      droppedFiles ? `${k.int(droppedFiles)} dropped before delivery` : "none dropped",
      droppedFiles ? "bad" : "ok",
    ),
  ].join("")}</div>`;

  const state = (x: SourceStatus) => {
    const tone =
      x.state === "failed" || x.state === "down"
        ? "bad"
        : x.state === "stopped"
          ? "idle"
          : x.state === "capturing" && x.rate.pps === 0
            ? "warn"
            : "ok";
    const label = x.state === "capturing" && x.rate.pps === 0 ? "capturing · idle link" : x.state;
    return `${k.badge(tone, label)}${x.detail ? `<div class="${tone === "bad" ? "why" : "dim"}">${k.esc(x.detail)}</div>` : ""}`;
  };
  const sources = k.section(
    "Sources",
    k.table(
      [
        { label: "Source" },
        { label: "State" },
        { label: "Packets/s, last minute", num: true },
        { label: "Mb/s, last minute", num: true },
        { label: "Captured", num: true },
        { label: "Kernel drops", num: true, title: "The kernel's capture ring was full (libpcap ps_drop)" },
        { label: "Interface drops", num: true, title: "The interface or driver dropped (libpcap ps_ifdrop)" },
        { label: "Spool drops", num: true, title: "The spool was full or unwritable" },
        { label: "Current file" },
        { label: "Age", num: true },
      ],
      s.sources.map((x) => {
        const file = x.currentFiles[0];
        const more =
          x.currentFiles.length > 1 ? ` <span class="dim">+${x.currentFiles.length - 1} more</span>` : "";
        return {
          key: `source:${x.name}`,
          tone: x.state === "failed" || x.state === "down" ? "bad" : drops(x) > 0 ? "warn" : undefined,
          cells: [
            `<b>${k.esc(x.name)}</b><div class="dim">${k.esc(x.type ?? "")} ${k.esc(x.input ?? "")}</div>`,
            state(x),
            `<div class="rate">${k.spark(x.history.pps, "info")}<b>${k.esc(k.pps(x.rate.pps))}</b></div>`,
            `<div class="rate">${k.spark(x.history.mbps, "ok")}<b>${k.esc(k.mbps(x.rate.mbps))}</b></div>`,
            `${k.int(x.packets)}<div class="dim">${k.bytes(x.bytes)} · ${k.count(x.files, "file")}</div>`,
            x.dropped.kernel ? `<b class="why">${k.int(x.dropped.kernel)}</b>` : "0",
            x.dropped.interface ? `<b class="why">${k.int(x.dropped.interface)}</b>` : "0",
            x.dropped.spool ? `<b class="why">${k.int(x.dropped.spool)}</b>` : "0",
            file
              ? `<span class="file">${k.esc(file.name)}</span>${more}<div class="dim">${k.int(file.packets)} packets · ${k.bytes(file.bytes)}</div>`
              : `<span class="dim">${x.type === "folder" ? "takes finished files" : "none open: the next opens with the next packet"}</span>`,
            file ? k.esc(k.dur(file.ageSeconds)) : "",
          ],
        };
      }),
      "no sources configured",
    ),
    `rates: mean of the last 5 s; charts: ${k.int(s.historySeconds)} s`,
  );

  const quota = (used: number, limit: number | null, show: (n: number) => string) => {
    if (!limit) return `${show(used)} <span class="dim">no quota</span>`;
    const ratio = used / limit;
    const tone = ratio >= 0.9 ? "bad" : ratio >= 0.7 ? "warn" : "ok";
    return `${show(used)} <span class="dim">of ${show(limit)}</span><br>${k.bar(ratio, tone, 180, 8)}`;
  };
  const spool = k.section(
    "Spool",
    k.facts([
      ["Folder", `<span class="file">${k.esc(s.spool.path)}</span>`],
      ["Files waiting", quota(s.spool.pendingFiles, quotaFiles, (n) => k.int(n))],
      ["Bytes waiting", quota(s.spool.pendingBytes, quotaBytes, (n) => k.bytes(n))],
      ["Dispatched", `${k.count(s.spool.dispatched, "file")}, every copy made`],
      [
        "Dropped before delivery",
        droppedFiles
          ? `<b class="why">${k.int(s.spool.dropped.quota)} over quota, ${k.int(s.spool.dropped.missing)} removed by hand</b>`
          : "none",
      ],
    ]),
  );

  const destinationRow = (d: DestinationStatus) => ({
    key: `destination:${d.name}`,
    tone: d.health === "unhealthy" ? ("bad" as const) : undefined,
    cells: [
      `<b>${k.esc(d.name)}</b><div class="dim file">${k.esc(d.path)}</div>`,
      d.health === "unhealthy"
        ? `${k.badge("bad", "unhealthy")}<div class="why"><b>${k.esc(words(d.reason ?? "unhealthy"))}</b>${
            d.message ? `: ${k.esc(d.message)}` : ""
          }</div>`
        : d.health === "healthy"
          ? k.badge("ok", "healthy")
          : k.badge("idle", "not checked yet"),
      d.backlog === null ? "–" : k.int(d.backlog),
      k.bytes(d.freeBytes),
      k.ago(d.lastDeliveryAt, s.now),
      k.int(d.deliveriesLastMinute),
      `${k.int(d.delivered)}<div class="dim">${k.bytes(d.deliveredBytes)}</div>`,
      d.failed ? `<b class="why">${k.int(d.failed)}</b>` : "0",
    ],
  });
  const group = (title: string, aside: string) => ({
    cells: [`${k.esc(title)} <span class="dim">· ${aside}</span>`],
    group: true,
  });
  const rows = [
    ...s.pools.flatMap((p) => {
      const healthy = p.nodes.filter((n) => n.health === "healthy").length;
      const aside = `${k.esc(p.strategy)} · ${healthy} of ${p.nodes.length} nodes healthy · each file to one node`;
      return [group(`pool ${p.name}`, aside), ...p.nodes.map(destinationRow)];
    }),
    ...(s.alone.length
      ? [group("alone consumers", "each gets every file"), ...s.alone.map(destinationRow)]
      : []),
  ];
  const destinationTable = k.table(
    [
      { label: "Destination" },
      { label: "Health" },
      { label: "Backlog", num: true, title: "Files waiting in the destination's folder" },
      { label: "Free", num: true },
      { label: "Last delivery", num: true },
      { label: "Last minute", num: true, title: "Deliveries over the last minute" },
      { label: "Delivered", num: true },
      { label: "Failed tries", num: true },
    ],
    rows,
    "no pools or alone consumers configured",
  );
  const destinationsSection = k.section(
    "Destinations",
    destinationTable,
    unhealthy.length ? `<b class="why">${unhealthy.length} unhealthy</b>` : "all healthy",
  );

  const targets = [...s.pools.map((p) => `pool:${p.name}`), ...s.alone.map((a) => `alone:${a.name}`)];
  const recent = k.section(
    "Recent files",
    k.table(
      [
        { label: "Rotated", num: true },
        { label: "File" },
        { label: "Source" },
        { label: "Packets", num: true },
        { label: "Size", num: true },
        { label: "Went to" },
      ],
      s.recentFiles.map((f) => {
        const reached = new Set(f.deliveries.map((d) => d.to));
        const chips = f.deliveries
          .map(
            (d) =>
              `<span class="chip" title="${k.esc(d.to)} at ${k.esc(d.at)}">${k.esc(d.destination)}</span>`,
          )
          .join("");
        const waiting =
          f.state === "delivering"
            ? targets
                .filter((t) => !reached.has(t))
                .map(
                  (t) =>
                    `<span class="chip pending" title="not delivered yet">${k.esc(t.replace(/^\w+:/, ""))}…</span>`,
                )
                .join("")
            : "";
        const dropped = f.dropped
          ? ` ${k.badge("bad", `dropped: ${words(f.dropped.reason)}`, `never reached ${f.dropped.missed.join(", ")}`)}`
          : "";
        return {
          key: `file:${f.name}`,
          tone: f.state === "dropped" ? ("bad" as const) : undefined,
          cells: [
            k.ago(f.rotatedAt, s.now),
            `<span class="file">${k.esc(f.name)}</span>`,
            k.esc(f.source),
            k.int(f.packets),
            k.bytes(f.bytes),
            `${chips}${waiting}${dropped}${f.state === "dispatched" ? ` ${k.badge("ok", "done")}` : ""}`,
          ],
        };
      }),
      "no file rotated since start",
    ),
    `last ${s.recentFiles.length} since start`,
  );

  return `${tiles}${sources}${destinationsSection}${spool}${recent}`;
}
