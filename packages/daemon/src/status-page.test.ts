import { createHash } from "node:crypto";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { type StatusKit, statusKit } from "./status-kit.js";
import { renderStatusPage, type StatusHeader } from "./status-page.js";

interface Doc extends StatusHeader {
  packets: number;
  file: string;
  rates: number[];
}

function renderDoc(s: Doc, k: StatusKit): string {
  return k.section(
    "Test",
    k.table(
      [{ label: "File" }, { label: "Packets", num: true }],
      [{ cells: [`<span class="file">${k.esc(s.file)}</span>`, k.int(s.packets)], tone: "ok" }],
    ) + k.spark(s.rates),
  );
}

const doc = (packets: number): Doc => ({
  app: "sluice-test",
  host: "sensor01",
  pid: 42,
  startedAt: "2026-11-22T10:00:00.000Z",
  now: "2026-11-22T10:03:12.500Z",
  packets,
  file: '<img src=x onerror="alert(1)">.pcap',
  rates: [1, 5, 3],
});

const page = { title: "sluice-test status", render: renderDoc };

/** The page's inline script run against a stand-in DOM and fetch; resolves with what it rendered. */
async function runScript(
  html: string,
  answer: unknown,
): Promise<{ root: string; head: string; live: string }> {
  const script = /<script>([\s\S]*)<\/script>/.exec(html)![1]!;
  const element = () => ({ innerHTML: "", className: "", textContent: "" });
  const nodes: Record<string, ReturnType<typeof element>> = {
    head: element(),
    root: element(),
    live: element(),
  };
  const timers: (() => void)[] = [];
  let fetched = "";
  runInNewContext(script, {
    document: {
      getElementById: (id: string) => nodes[id],
      body: { classList: { toggle: () => {} } },
    },
    fetch: async (url: string) => {
      fetched = url;
      return { ok: true, status: 200, json: async () => answer };
    },
    setTimeout: (fn: () => void) => timers.push(fn),
    setInterval: () => 0,
  });
  timers.shift()!(); // the first poll
  await new Promise((resolve) => setTimeout(resolve, 10));
  expect(fetched).toBe("status.json");
  return { root: nodes["root"]!.innerHTML, head: nodes["head"]!.innerHTML, live: nodes["live"]!.textContent };
}

describe("status page", () => {
  it("renders the document on the server, escaping what came from outside", () => {
    const { html } = renderStatusPage(page, doc(1234567));
    expect(html).toContain("1,234,567");
    expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.pcap");
    expect(html).not.toContain("<img");
    expect(html).toContain("<title>sluice-test status · sensor01</title>");
    expect(html).toContain("up 3 min 12 s");
  });

  it("allows exactly its own script and style, and nothing from elsewhere", () => {
    const { html, csp } = renderStatusPage(page, doc(1));
    const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
    const script = /<script>([\s\S]*)<\/script>/.exec(html)![1]!;
    const style = /<style>([\s\S]*)<\/style>/.exec(html)![1]!;
    expect(csp).toContain(`script-src ${hash(script)}`);
    expect(csp).toContain(`style-src ${hash(style)}`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(html).not.toMatch(/\sstyle="/);
  });

  it("polls status.json and renders it in the browser with the same function as the server", async () => {
    const { html } = renderStatusPage(page, doc(1));
    const later = doc(99_000);
    const shown = await runScript(html, later);
    expect(shown.root).toBe(renderDoc(later, statusKit()));
    expect(shown.root).toContain("99,000");
    expect(shown.head).toContain("sensor01");
    expect(shown.live).toBe("live");
  });

  it("ships a kit that needs nothing from its module", () => {
    const shipped = runInNewContext(`(${statusKit.toString()})()`, {}) as StatusKit;
    const here = statusKit();
    expect(shipped.spark([0, 10, 5, 20])).toBe(here.spark([0, 10, 5, 20]));
    expect(shipped.bytes(1536)).toBe("1.5 KiB");
    expect(shipped.dur(3725)).toBe("1 h 2 min");
    expect(shipped.esc(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });
});

describe("status kit", () => {
  const k = statusKit();

  it("draws the last minute with the newest point at the right edge", () => {
    const svg = k.spark([1, 2, 4], "info", 60, 150, 26);
    const points = /class="line" points="([^"]+)"/.exec(svg)![1]!.split(" ");
    expect(points.at(-1)).toBe("150.0,2.0");
    expect(points[0]!.startsWith("144.9,")).toBe(true);
    expect(svg).toContain('data-points="3"');
  });

  it("fills a bar in proportion, clamped to its width", () => {
    expect(k.bar(0.25, "info", 200)).toContain('class="fill" x="0" y="0" width="50.0"');
    expect(k.bar(3, "info", 200)).toContain('width="200.0"');
    expect(k.bar(Number.NaN, "info", 200)).toContain('class="fill" x="0" y="0" width="0.0"');
  });

  it("writes sizes, rates and durations for people", () => {
    expect(k.bytes(0)).toBe("0 B");
    expect(k.bytes(5 * 1024 ** 3)).toBe("5.0 GiB");
    expect(k.mbps(0.5)).toBe("0.50 Mb/s");
    expect(k.mbps(2500)).toBe("2.50 Gb/s");
    expect(k.pps(123_456)).toBe("123 k pkt/s");
    expect(k.dur(42)).toBe("42 s");
    expect(k.ago("2026-11-22T10:00:00Z", "2026-11-22T10:01:05Z")).toContain("1 min 5 s ago");
    expect(k.ago(null, "2026-11-22T10:01:05Z")).toContain("never");
  });
});
