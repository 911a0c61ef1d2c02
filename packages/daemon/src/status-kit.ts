/** The state colours of a page: good, needs a look, wrong, nothing happening, neutral. */
export type Tone = "ok" | "warn" | "bad" | "idle" | "info";

/** A column of a kit table. */
export interface Column {
  label: string;
  /** Right-aligned tabular numbers. */
  num?: boolean;
  /** A tooltip explaining the column. */
  title?: string;
}

/** A row of a kit table: its cells (HTML) and its state colour; a group row is one cell across the table. */
export interface Row {
  cells: string[];
  tone?: Tone | undefined;
  group?: boolean;
  /** The row's `data-key` (`source:eth1`): what scripts and tests find it by. */
  key?: string;
}

/**
 * The helpers a status page renders with: escaping, number formats, badges, tables, sparklines and bars.
 * One function with everything inside, so that the very same code runs in the server (the first render)
 * and, sent as its source text, in the browser (every render after a poll). Nothing in it may refer to
 * anything outside it (types aside: they are gone once compiled).
 */
export function statusKit() {
  const esc = (value: unknown): string =>
    String(value ?? "").replace(
      /[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
    );

  /** 12,345,678 */
  const int = (n: number): string => Math.round(n).toLocaleString("en-US");

  /** "1 file", "12,345 files". */
  const count = (n: number, noun: string, plural = `${noun}s`): string =>
    `${int(n)} ${n === 1 ? noun : plural}`;

  /** 950, 12.3 k, 4.56 M: for rates whose exact figure does not matter. */
  const compact = (n: number): string => {
    const a = Math.abs(n);
    if (a >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
    if (a >= 1e6) return `${(n / 1e6).toFixed(a >= 1e8 ? 0 : a >= 1e7 ? 1 : 2)} M`;
    if (a >= 1e3) return `${(n / 1e3).toFixed(a >= 1e5 ? 0 : a >= 1e4 ? 1 : 2)} k`;
    return a >= 10 || n === 0 ? String(Math.round(n)) : n.toFixed(1);
  };

  const bytes = (n: number | null | undefined): string => {
    if (n === null || n === undefined) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let value = n;
    let unit = 0;
    while (Math.abs(value) >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return unit === 0 ? `${value} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
  };

  const pps = (n: number): string => `${compact(n)} pkt/s`;

  const mbps = (n: number): string =>
    n >= 1000 ? `${(n / 1000).toFixed(2)} Gb/s` : `${n.toFixed(n >= 100 ? 0 : n >= 10 ? 1 : 2)} Mb/s`;

  /** 42 s, 3 min 12 s, 2 h 5 min, 3 d 4 h. */
  const dur = (seconds: number): string => {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return seconds < 10 && seconds > 0 ? `${seconds.toFixed(1)} s` : `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
  };

  /** "12 s ago" (from the status's own clock, so server and browser render the same), the time as a tooltip. */
  const ago = (iso: string | null | undefined, now: string): string => {
    if (!iso) return '<span class="dim">never</span>';
    const seconds = (Date.parse(now) - Date.parse(iso)) / 1000;
    return `<span title="${esc(iso)}">${esc(dur(seconds))} ago</span>`;
  };

  const badge = (tone: Tone, text: string, title?: string): string =>
    `<span class="badge ${tone}"${title ? ` title="${esc(title)}"` : ""}>${esc(text)}</span>`;

  const table = (columns: Column[], rows: Row[], empty = "none"): string => {
    const head = columns
      .map(
        (c) =>
          `<th${c.num ? ' class="n"' : ""}${c.title ? ` title="${esc(c.title)}"` : ""}>${esc(c.label)}</th>`,
      )
      .join("");
    const body = rows.length
      ? rows
          .map((r) =>
            r.group
              ? `<tr class="group"><td colspan="${columns.length}">${r.cells[0] ?? ""}</td></tr>`
              : `<tr${r.tone ? ` class="${r.tone}"` : ""}${r.key ? ` data-key="${esc(r.key)}"` : ""}>${r.cells
                  .map((cell, i) => `<td${columns[i]?.num ? ' class="n"' : ""}>${cell}</td>`)
                  .join("")}</tr>`,
          )
          .join("")
      : `<tr><td class="empty" colspan="${columns.length}">${esc(empty)}</td></tr>`;
    return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
  };

  const section = (title: string, body: string, aside = ""): string =>
    `<section><h2>${esc(title)}${aside ? `<small>${aside}</small>` : ""}</h2>${body}</section>`;

  /** Label and value pairs side by side, in one strip. */
  const facts = (pairs: [string, string][]): string =>
    `<div class="facts">${pairs.map(([label, value]) => `<div><div class="label">${esc(label)}</div><div>${value}</div></div>`).join("")}</div>`;

  const tile = (label: string, value: string, sub = "", tone: Tone | "" = ""): string =>
    `<div class="tile ${tone}"><div class="label">${esc(label)}</div><div class="value">${value}</div>${
      sub ? `<div class="sub">${sub}</div>` : ""
    }</div>`;

  /**
   * The last minute as an inline SVG line: one point per step, the newest at the right edge, so the time
   * axis stays put while the history fills up.
   */
  const spark = (values: number[], tone: Tone = "info", slots = 60, width = 150, height = 26): string => {
    const max = Math.max(0, ...values);
    const top = max > 0 ? max : 1;
    const step = width / Math.max(1, slots - 1);
    const shown = values.slice(-slots);
    const points = shown.map((v, i) => {
      const x = width - (shown.length - 1 - i) * step;
      const y = height - 2 - (Math.max(0, v) / top) * (height - 4);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    const mean = shown.length ? shown.reduce((a, b) => a + b, 0) / shown.length : 0;
    const title = `last ${shown.length} s: peak ${compact(max)}, mean ${compact(mean)}`;
    if (points.length < 2) {
      return `<svg class="spark ${tone}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><title>${esc(title)}</title><line class="base" x1="0" y1="${height - 1}" x2="${width}" y2="${height - 1}"/></svg>`;
    }
    const first = points[0]!.split(",")[0];
    return `<svg class="spark ${tone}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" data-points="${shown.length}"><title>${esc(title)}</title><line class="base" x1="0" y1="${height - 1}" x2="${width}" y2="${height - 1}"/><polygon class="area" points="${first},${height - 1} ${points.join(" ")} ${width},${height - 1}"/><polyline class="line" points="${points.join(" ")}"/></svg>`;
  };

  /** A progress or fill bar (0..1) as SVG, so the page needs no inline styles. */
  const bar = (ratio: number, tone: Tone = "info", width = 220, height = 10): string => {
    const r = Math.min(1, Math.max(0, Number.isFinite(ratio) ? ratio : 0));
    return `<svg class="bar ${tone}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" data-ratio="${r.toFixed(4)}"><rect class="track" x="0" y="0" width="${width}" height="${height}" rx="3"/><rect class="fill" x="0" y="0" width="${(r * width).toFixed(1)}" height="${height}" rx="3"/></svg>`;
  };

  /** The line every page starts with: what answers, where, since when. */
  const header = (status: {
    app: string;
    host: string;
    pid: number;
    startedAt: string;
    now: string;
  }): string =>
    `<div class="ident"><span class="app">${esc(status.host)}</span><span class="dim">pid ${esc(status.pid)}</span><span class="dim">up ${esc(
      dur((Date.parse(status.now) - Date.parse(status.startedAt)) / 1000),
    )}</span><span class="dim" title="${esc(status.now)}">as of ${esc(status.now.slice(11, 19))} UTC</span></div>`;

  return {
    esc,
    int,
    count,
    compact,
    bytes,
    pps,
    mbps,
    dur,
    ago,
    badge,
    table,
    section,
    facts,
    tile,
    spark,
    bar,
    header,
  };
}

/** The helpers a page's render function receives. */
export type StatusKit = ReturnType<typeof statusKit>;
