import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { configReference } from "@sluice/daemon";
import { afterAll, describe, expect, it } from "vitest";
import { masterJsonSchema } from "./commands/schema.js";
import { MasterConfig } from "./config.js";
import { CLI } from "./testing/master-process.js";

const built = existsSync(CLI);
if (!built) console.warn(`skipping sluice-master config command tests: ${CLI} is not built`);
const dir = mkdtempSync(join(tmpdir(), "master-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  return path;
}

const CONTRACT = {
  spool: "/tmp/dispatcher",
  sources: [
    { type: "interface", name: "span0", interface: "eth1", filter: "not port 22" },
    { type: "vxlan", name: "vpc", vni: 42, device: "eth0" },
    {
      type: "socket",
      name: "remote",
      listen: "0.0.0.0:50010",
      tls: { cert: "/etc/sluice/c.pem", key: "/etc/sluice/k.pem" },
    },
    { type: "folder", name: "inbox", path: "/data/inbox" },
  ],
  rotation: { seconds: 60, align: true },
  pools: [
    {
      name: "sensors",
      strategy: "round-robin",
      nodes: [
        { name: "node01", path: "/mnt/node01/in" },
        { name: "node02", path: "/mnt/node02/in" },
      ],
    },
  ],
  alone: [{ name: "arkime", path: "/data/arkime", ready: "close-write" }],
  afterDispatch: { action: "delete" },
  metrics: { listen: "127.0.0.1:9464" },
};

describe.skipIf(!built)("sluice-master config commands", () => {
  it("accepts the documented contract and fills in defaults", () => {
    const config = MasterConfig.parse(CONTRACT);
    expect(config.delivery).toEqual({
      concurrency: 4,
      retryMaxSeconds: 60,
      healthIntervalSeconds: 5,
      stopTimeoutSeconds: 30,
    });
    expect(config.pools[0]!.nodes[0]!.ready).toBe("rename");
    expect(cli("check-config", "--schema-only", file("contract.json", CONTRACT))).toMatchObject({ code: 0 });
  });

  it("check-config names every problem with its JSON path and exits 1", () => {
    // biome-ignore lint/suspicious/noExplicitAny: the test breaks the contract in free-form ways
    const bad = structuredClone(CONTRACT) as any;
    bad.sources[1].vni = -1;
    bad.sources.push({ type: "pipe", name: "x" });
    bad.pools[0].nodes[1].name = "node01";
    bad.pools[0].nodes[1].path = "/mnt/node01/in/";
    bad.pools[0].strategy = "random";
    bad.alone[0].redy = "rename";
    const path = file("bad.json", bad);
    const { code, out } = cli("check-config", "--schema-only", path);
    expect(code).toBe(1);
    expect(out.trim().split("\n")).toEqual([
      `${path}: $.sources[1].vni: Too small: expected number to be >=0`,
      `${path}: $.sources[4].type: Invalid discriminator value. Expected 'interface' | 'vxlan' | 'socket' | 'folder'`,
      `${path}: $.pools[0].strategy: Invalid option: expected one of "round-robin"|"least-backlog"|"flow"`,
      `${path}: $.alone[0].redy: unknown field`,
    ]);
  });

  it("check-config accepts fanout workers on an interface source and refuses them on node_pcap", () => {
    // biome-ignore lint/suspicious/noExplicitAny: the test breaks the contract in free-form ways
    const config = structuredClone(CONTRACT) as any;
    config.sources[0].workers = 4;
    expect(MasterConfig.parse(config).sources[0]).toMatchObject({ workers: 4 });
    config.sources[0].packetIo = "pcap";
    const { code, out } = cli("check-config", "--schema-only", file("workers.json", config));
    expect(code).toBe(1);
    expect(out).toContain("$.sources[0].workers: workers > 1 need the packet-io addon");
  });

  it("check-config reports destinations sharing a name or a folder", () => {
    // biome-ignore lint/suspicious/noExplicitAny: the test breaks the contract in free-form ways
    const bad = structuredClone(CONTRACT) as any;
    bad.pools[0].nodes[1] = { name: "node01", path: "/mnt/node01/in/" };
    const { code, out } = cli("check-config", "--schema-only", file("dup.json", bad));
    expect(code).toBe(1);
    expect(out).toContain('$.pools[0].nodes[1].name: "node01" is also pools.0.nodes.0');
    expect(out).toContain("$.pools[0].nodes[1].path: /mnt/node01/in is also the folder of pools.0.nodes.0");
  });

  it("check-config and run refuse a status page other machines reach without credentials, unless allowed", () => {
    const open = { ...CONTRACT, metrics: { listen: "0.0.0.0:9464" } };
    const refused = cli("check-config", "--schema-only", file("open.json", open));
    expect(refused.code).toBe(1);
    expect(refused.out).toContain(
      "$.metrics.listen: 0.0.0.0:9464 is reachable from other machines: set metrics.auth (basic or token)",
    );
    const run = cli("run", "--config", file("open.json", open));
    expect(run.code).toBe(1);
    expect(run.err).toContain("$.metrics.listen: 0.0.0.0:9464 is reachable from other machines");
    const allowed = { metrics: { listen: "0.0.0.0:9464", allowUnauthenticated: true } };
    expect(cli("check-config", "--schema-only", file("allowed.json", { ...CONTRACT, ...allowed })).code).toBe(
      0,
    );
    const token = { metrics: { listen: "0.0.0.0:9464", auth: { token: "0123456789abcdef" } } };
    expect(cli("check-config", "--schema-only", file("token.json", { ...CONTRACT, ...token })).code).toBe(0);
  });

  it("check-config points at the line and column of JSON that does not parse", () => {
    const { code, out } = cli(
      "check-config",
      "--schema-only",
      file("broken.json", '{\n  "spool": "/x",\n  "pools": [}\n'),
    );
    expect(code).toBe(1);
    expect(out).toMatch(/broken\.json: line 3 column 13: not JSON/);
  });

  it("import-owlh turns OwlH's node list into a config check-config accepts", () => {
    const owlh = file("dispatcher-nodes.json", {
      nodes: [
        { name: "node01", ntype: "pool", pcappath: "/tmp/dispatcher/node01/" },
        { name: "node02", ntype: "pool", pcappath: "/tmp/dispatcher/node02/" },
        { name: "moloch", ntype: "alone", pcappath: "/data/moloch/raw/" },
      ],
      folders: [{ fname: "main", ftype: "local", fpath: "/tmp/dispatcher/pcaps/" }],
    });
    const { code, out, err } = cli("import-owlh", owlh);
    expect(code).toBe(0);
    const config = JSON.parse(out);
    expect(config.pools).toEqual([
      {
        name: "owlh",
        strategy: "round-robin",
        nodes: [
          { name: "node01", path: "/tmp/dispatcher/node01/" },
          { name: "node02", path: "/tmp/dispatcher/node02/" },
        ],
      },
    ]);
    expect(config.alone).toEqual([{ name: "moloch", path: "/data/moloch/raw/" }]);
    expect(config.sources).toEqual([{ type: "folder", name: "main", path: "/tmp/dispatcher/pcaps/" }]);
    expect(config.spool).toBe("/var/spool/sluice");
    expect(err).toContain(
      "add /tmp/dispatcher/pcaps /tmp/dispatcher/node01 /tmp/dispatcher/node02 to its ReadWritePaths=",
    );
    expect(cli("check-config", "--schema-only", file("imported.json", out)).code).toBe(0);
  });

  it("import-owlh names what is wrong with an OwlH file", () => {
    const { code, err } = cli(
      "import-owlh",
      file("owlh-bad.json", { nodes: [{ name: "n", ntype: "cluster" }] }),
    );
    expect(code).toBe(1);
    expect(err).toContain("$.nodes[0].ntype");
    expect(err).toContain("$.nodes[0].pcappath: missing (expected string)");
  });

  it("accepts every shipped example master config", () => {
    const examples = fileURLToPath(new URL("../../../examples/", import.meta.url));
    const configs = readdirSync(examples, { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith("master.json"))
      .map((f) => join(examples, f));
    expect(configs.length).toBeGreaterThanOrEqual(4);
    const { code, out } = cli("check-config", "--schema-only", ...configs);
    expect(out.trim().split("\n")).toHaveLength(configs.length);
    expect(code, out).toBe(0);
  });

  it("keeps the README's config reference generated from the schema", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const block = /<!-- config-reference:start -->\n([\s\S]*?)<!-- config-reference:end -->/.exec(
      readme,
    )?.[1];
    expect(block).toBe(configReference(masterJsonSchema()));
  });

  it("ships a JSON Schema generated from the config schema", () => {
    const shipped = JSON.parse(
      readFileSync(new URL("../schema/sluice-master.schema.json", import.meta.url), "utf8"),
    );
    expect(shipped).toEqual(masterJsonSchema());
    expect(shipped.properties.pools.items.properties.strategy.enum).toEqual([
      "round-robin",
      "least-backlog",
      "flow",
    ]);
    expect(readdirSync(new URL("../schema/", import.meta.url))).toContain("sluice-master.schema.json");
  });
});
