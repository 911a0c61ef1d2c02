import { createHash } from "node:crypto";
import { type StatusKit, statusKit } from "./status-kit.js";

/** What every status document starts with (GET /status.json): who answers, and when. */
export interface StatusHeader {
  /** The binary (`sluice-master`). */
  app: string;
  host: string;
  pid: number;
  /** When the process started, and when this document was made (ISO 8601 UTC). */
  startedAt: string;
  now: string;
}

/** A daemon's status page: its title and how it renders its status document. */
export interface StatusPage<T = unknown> {
  title: string;
  /**
   * Renders a status document as HTML with the kit's helpers. It runs in the server for the first render
   * and, as its source text, in the browser after every poll: it must use nothing but its arguments.
   */
  render(status: T, kit: StatusKit): string;
  /** Milliseconds between polls of status.json (default 1000). */
  pollMs?: number;
}

const kit = statusKit();

const STYLE = `
:root{--bg:#0d1117;--panel:#151b23;--panel2:#1b222c;--line:#28313d;--text:#dfe6ee;--dim:#8b96a5;
--ok:#3fb950;--warn:#d29922;--bad:#f85149;--info:#4fa3ff;--idle:#6e7681;color-scheme:dark}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:13px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,"DejaVu Sans",sans-serif}
a{color:var(--info);text-decoration:none}a:hover{text-decoration:underline}
header.top{position:sticky;top:0;z-index:1;display:flex;align-items:center;gap:16px;padding:8px 18px;
background:#0a0e13;border-bottom:1px solid var(--line)}
.brand{font-weight:700;font-size:15px;letter-spacing:.02em}.brand span{color:var(--info);margin-left:2px}
#head{flex:1}.ident{display:flex;gap:14px;align-items:baseline;flex-wrap:wrap}.ident .app{font-weight:600}
.live{font-size:12px;padding:2px 10px;border-radius:10px;border:1px solid var(--line);white-space:nowrap}
.live.ok{color:var(--ok)}.live.ok::before{content:"\\25CF ";animation:pulse 2s infinite}
.live.bad{color:#fff;background:var(--bad);border-color:var(--bad)}
@keyframes pulse{50%{opacity:.3}}
main{padding:14px 18px 4px;display:grid;gap:14px}
body.stale main{opacity:.45;filter:grayscale(.7)}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:10px}
.tile{background:var(--panel);border:1px solid var(--line);border-left:3px solid var(--idle);border-radius:6px;
padding:8px 12px}
.tile.ok{border-left-color:var(--ok)}.tile.warn{border-left-color:var(--warn)}.tile.bad{border-left-color:var(--bad)}
.tile.info{border-left-color:var(--info)}
.tile .label{color:var(--dim);font-size:11px;text-transform:uppercase;letter-spacing:.06em}
.tile .value{font-size:20px;font-weight:600;font-variant-numeric:tabular-nums;white-space:nowrap}
.tile .sub{color:var(--dim);font-size:12px}
section{background:var(--panel);border:1px solid var(--line);border-radius:6px;overflow:hidden}
h2{margin:0;padding:7px 12px;font-size:12px;text-transform:uppercase;letter-spacing:.07em;color:var(--dim);
background:var(--panel2);border-bottom:1px solid var(--line);display:flex;gap:12px;align-items:baseline}
h2 small{margin-left:auto;text-transform:none;letter-spacing:0;font-size:12px}
table{width:100%;border-collapse:collapse}
th{font-weight:500;color:var(--dim);font-size:11px;text-align:left;padding:5px 10px;border-bottom:1px solid var(--line);
white-space:nowrap}
td{padding:5px 10px;border-bottom:1px solid #1f2630;vertical-align:middle}
tr:last-child td{border-bottom:0}
th.n,td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.bad td{background:rgba(248,81,73,.10)}tr.bad td:first-child{box-shadow:inset 3px 0 var(--bad)}
tr.warn td:first-child{box-shadow:inset 3px 0 var(--warn)}
tr.group td{background:var(--panel2);color:var(--dim);font-size:11px;text-transform:uppercase;letter-spacing:.06em}
td.empty{color:var(--dim);text-align:center;padding:10px}
.file{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:12px;overflow-wrap:anywhere}
.dim{color:var(--dim)}.why{color:#ffb3ad}.why b{color:var(--bad)}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;font-size:11px;font-weight:600;white-space:nowrap;
border:1px solid currentColor}
.badge.ok{color:var(--ok)}.badge.warn{color:var(--warn)}.badge.info{color:var(--info)}.badge.idle{color:var(--idle)}
.badge.bad{color:#fff;background:var(--bad);border-color:var(--bad)}
.chip{display:inline-block;margin:1px 4px 1px 0;padding:0 6px;border-radius:3px;background:#22303f;font-size:11px}
.chip.pending{background:transparent;border:1px dashed var(--idle);color:var(--dim)}
.rate{display:flex;align-items:center;gap:8px;justify-content:flex-end}
.rate b{font-weight:600;font-variant-numeric:tabular-nums;min-width:76px;text-align:right}
.rate .what{color:var(--dim);font-size:11px;min-width:70px}
.now .rate{justify-content:flex-start}
svg.spark .base{stroke:var(--line);stroke-width:1}
svg.spark .line{fill:none;stroke-width:1.5;stroke-linejoin:round}
svg.spark .area{stroke:none;opacity:.18}
svg.spark.info .line{stroke:var(--info)}svg.spark.info .area{fill:var(--info)}
svg.spark.ok .line{stroke:var(--ok)}svg.spark.ok .area{fill:var(--ok)}
svg.spark.warn .line{stroke:var(--warn)}svg.spark.warn .area{fill:var(--warn)}
svg.bar .track{fill:#222b36}svg.bar.info .fill{fill:var(--info)}svg.bar.ok .fill{fill:var(--ok)}
svg.bar.warn .fill{fill:var(--warn)}svg.bar.bad .fill{fill:var(--bad)}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:14px}
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:8px 18px;padding:10px 12px}
.facts .label{color:var(--dim);font-size:11px;text-transform:uppercase;letter-spacing:.06em}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;padding:10px 12px;margin:0}
.kv dt{color:var(--dim)}.kv dd{margin:0;font-variant-numeric:tabular-nums}
.now{padding:10px 12px;display:grid;gap:6px}
.now .big{font-size:15px}
footer{padding:6px 18px 14px;color:var(--dim);font-size:12px}
`;

function script(render: StatusPage["render"], pollMs: number): string {
  return `"use strict";(() => {
const kit = (${statusKit.toString()})();
const render = ${asExpression(render)};
const head = document.getElementById("head");
const root = document.getElementById("root");
const live = document.getElementById("live");
let last = Date.now();
let problem = "";
function paint() {
  const age = (Date.now() - last) / 1000;
  const stale = age > ${Math.max(3, (pollMs * 3) / 1000)};
  document.body.classList.toggle("stale", stale);
  live.className = "live " + (stale ? "bad" : "ok");
  live.textContent = stale ? "no answer for " + kit.dur(age) + (problem ? " (" + problem + ")" : "") : "live";
}
async function poll() {
  try {
    const response = await fetch("status.json", { cache: "no-store", headers: { accept: "application/json" } });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const status = await response.json();
    head.innerHTML = kit.header(status);
    root.innerHTML = render(status, kit);
    last = Date.now();
    problem = "";
  } catch (error) {
    problem = error && error.message ? error.message : String(error);
  }
  paint();
  setTimeout(poll, ${pollMs});
}
setInterval(paint, 1000);
setTimeout(poll, ${pollMs});
})();`;
}

// A function's source as an expression: a declaration or arrow as it is, a method (`render(s, k) {…}`) taken
// out of an object literal.
function asExpression(fn: (...args: never[]) => unknown): string {
  const source = fn.toString();
  return /^(?:async\s+)?(?:function\b|\(|[A-Za-z_$][\w$]*\s*=>)/.test(source)
    ? `(${source})`
    : `Object.values({ ${source} })[0]`;
}

const sha256 = (text: string): string => createHash("sha256").update(text).digest("base64");

/** A rendered page and the Content-Security-Policy that allows exactly its own style and script. */
export interface RenderedPage {
  html: string;
  csp: string;
}

/**
 * The whole page for one status document: rendered now (it reads without JavaScript), plus the script
 * that polls `status.json` (a relative URL, so the page works behind a reverse proxy under any path)
 * and renders it again with the same function.
 */
export function renderStatusPage<T extends StatusHeader>(page: StatusPage<T>, status: T): RenderedPage {
  const js = script(page.render, page.pollMs ?? 1000);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,"><title>${kit.esc(page.title)} · ${kit.esc(status.host)}</title>
<style>${STYLE}</style></head>
<body><header class="top"><div class="brand">sluice<span>${kit.esc(status.app.replace(/^sluice-/, ""))}</span></div>
<div id="head">${kit.header(status)}</div><div id="live" class="live ok">live</div></header>
<main id="root">${page.render(status, kit)}</main>
<footer>Read-only. Every figure is one of this process's own counters, as <a href="metrics">/metrics</a> exports them; the document behind this page is <a href="status.json">/status.json</a>.</footer>
<script>${js}</script></body></html>
`;
  const csp = [
    "default-src 'none'",
    `script-src 'sha256-${sha256(js)}'`,
    `style-src 'sha256-${sha256(STYLE)}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return { html, csp };
}
