import { execFile, execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { LinkType, PcapWriter } from "@sluice/pcap-format";
import { hasTool } from "@sluice/testlab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// What a user gets from `make install` and from the tarballs, run from outside the checkout. Needs the build
// (dist/ of every package, as make test does first) and npm's cache or registry for the third-party packages.

const root = fileURLToPath(new URL("..", import.meta.url));
const built = ["apps/master", "apps/node", "apps/pcap"].every((a) =>
  existsSync(join(root, a, "dist", "cli.js")),
);
if (!built) console.warn("skipping the install tests: build first (make build)");
const isRoot = process.getuid?.() === 0;
// npm installs take tens of seconds: never block the test worker that long.
const exec = promisify(execFile);

const manifest = (dir: string) => JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
const COMMANDS = {
  "sluice-master": manifest("apps/master").version,
  "sluice-node": manifest("apps/node").version,
  "sluice-pcap": manifest("apps/pcap").version,
} as const;

let work = "";
let tarballs: string[] = [];
let capture = "";

/** Runs an installed command from / (no checkout in sight): status, stdout, stderr. */
async function run(command: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await exec(command, args, { cwd: "/", timeout: 120_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, out: e.stdout ?? "", err: e.stderr ?? "" };
  }
}

/** Every file and link under `dir`, as paths relative to it. */
function walk(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter(
    (f) => !lstatSync(join(dir, f)).isDirectory(),
  );
}

/** A small pcap of two Ethernet frames (a local experimental EtherType), for sluice-pcap info to read. */
async function writeSmallPcap(path: string): Promise<void> {
  const writer = PcapWriter.create(path, { linkType: LinkType.ETHERNET });
  for (const i of [0, 1]) {
    const data = Buffer.alloc(60);
    data.writeUInt16BE(0x88b5, 12);
    writer.writePacket({ seconds: 1_700_000_000 + i, nanoseconds: 0, data });
  }
  await writer.close();
}

/** The commands behave as installed ones should: version, help, a pcap read, example configs checked. */
async function expectWorkingCommands(bin: string): Promise<void> {
  for (const [command, version] of Object.entries(COMMANDS)) {
    expect(await run(join(bin, command), "--version")).toEqual({
      code: 0,
      out: `${command} ${version}\n`,
      err: "",
    });
    const help = await run(join(bin, command), "--help");
    expect(help.code).toBe(0);
    expect(help.out).toMatch(new RegExp(`^Usage: ${command} <command>`));
  }
  const info = await run(join(bin, "sluice-pcap"), "info", capture, "--json");
  expect(info.code, info.err).toBe(0);
  expect(JSON.parse(info.out)).toMatchObject({ packets: 2, complete: true, format: "pcap" });
  const master = await run(
    join(bin, "sluice-master"),
    "check-config",
    "--schema-only", // the example names this machine's interfaces and folders it does not have
    join(root, "examples/span-suricata-arkime/master.json"),
  );
  expect(master.out).toMatch(/: ok \(/);
  expect(master.code).toBe(0);
  const node = await run(
    join(bin, "sluice-node"),
    "check-config",
    "--schema-only",
    join(root, "examples/span-suricata-arkime/node.json"),
  );
  expect(node.code, node.out).toBe(0);
}

describe.skipIf(!built)("installing Sluice", () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "sluice-install-"));
    capture = join(work, "two.pcap");
    await writeSmallPcap(capture);
    const { stdout } = await exec(process.execPath, [
      join(root, "packaging/pack.mjs"),
      join(work, "tarballs"),
    ]);
    tarballs = stdout.trim().split("\n");
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("packs every published package, the apps with their JSON Schemas and man pages", () => {
    const names = tarballs.map((t) => t.split("/").pop());
    for (const [dir, files] of [
      ["apps/master", ["dist/cli.js", "dist/sluice-master.1", "schema/sluice-master.schema.json"]],
      ["apps/node", ["dist/bin.cjs", "dist/cli.js", "dist/sluice-node.1", "schema/sluice-node.schema.json"]],
      ["apps/pcap", ["dist/cli.js", "dist/sluice-pcap.1"]],
    ] as const) {
      const { name, version } = manifest(dir);
      const tarball = `${name.replace("@", "").replace("/", "-")}-${version}.tgz`;
      expect(names).toContain(tarball);
      const listing = execFileSync("tar", ["tzf", join(work, "tarballs", tarball)], { encoding: "utf8" });
      for (const file of files) expect(listing).toContain(`package/${file}\n`);
    }
    expect(names).not.toContain(expect.stringMatching(/testlab|demo/));
  });

  it("installs the tarballs with npm install -g into an empty prefix, commands and man pages linked", async () => {
    const prefix = join(work, "global");
    // Outside the checkout, as on a machine without it; all tarballs at once (they depend on each other).
    await exec(
      "npm",
      [
        "install",
        "-g",
        "--prefix",
        prefix,
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--allow-scripts=pcap",
        ...tarballs,
      ],
      { cwd: work },
    );
    await expectWorkingCommands(join(prefix, "bin"));
    for (const command of Object.keys(COMMANDS)) {
      expect(realpathSync(join(prefix, "bin", command)).startsWith(`${prefix}/`)).toBe(true);
      expect(existsSync(join(prefix, "share", "man", "man1", `${command}.1`))).toBe(true);
    }
  });

  describe("make install PREFIX=/usr DESTDIR=…", () => {
    let destdir = "";
    const at = (path: string) => join(destdir, path);

    beforeAll(async () => {
      destdir = join(work, "destdir");
      await exec(
        process.execPath,
        [
          join(root, "packaging/install.mjs"),
          "install",
          "--prefix",
          "/usr",
          "--destdir",
          destdir,
          "--tarballs",
          join(work, "tarballs"),
        ],
        { cwd: work },
      );
    });

    it("is what the Makefile's install and uninstall targets run", () => {
      const dry = execFileSync(
        "make",
        ["-n", "-C", root, "install", "uninstall", "PREFIX=/opt/x", "DESTDIR=/stage"],
        {
          encoding: "utf8",
        },
      );
      expect(dry).toContain(
        'node packaging/install.mjs install --prefix "/opt/x" --destdir "/stage" --unit-dir "/opt/x/lib/systemd/system"',
      );
      expect(dry).toContain('node packaging/install.mjs uninstall --prefix "/opt/x" --destdir "/stage"');
    });

    it("installs commands that run from / and man pages, schemas and units for the prefix", async () => {
      await expectWorkingCommands(at("usr/bin"));
      for (const command of Object.keys(COMMANDS)) {
        const page = at(`usr/share/man/man1/${command}.1`);
        const groff = spawnSync("groff", ["-man", "-Tutf8", "-ww", page], { encoding: "utf8" });
        expect(groff.stderr).toBe("");
        const text = groff.stdout.replace(/.\x08/g, ""); // bold and underline as overstrikes
        expect(text).toContain("EXIT STATUS");
        expect(text).toContain(`${command} ${COMMANDS[command as keyof typeof COMMANDS]}`);
      }
      for (const app of ["master", "node"]) {
        expect(readFileSync(at(`usr/share/sluice/schema/sluice-${app}.schema.json`), "utf8")).toBe(
          readFileSync(join(root, `apps/${app}/schema/sluice-${app}.schema.json`), "utf8"),
        );
      }
      const unit = readFileSync(at("usr/lib/systemd/system/sluice-master.service"), "utf8");
      expect(unit).toContain("ExecStart=/usr/bin/sluice-master run --config /etc/sluice/master.json");
      expect(unit).not.toContain("/usr/local/");
      expect(unit).not.toContain(destdir);
    });

    it("is a tree of its own: no link leaves it, nothing in it names the checkout", () => {
      for (const file of walk(destdir)) {
        const path = at(file);
        if (lstatSync(path).isSymbolicLink()) {
          expect(realpathSync(path).startsWith(`${destdir}/`), `${file} -> ${realpathSync(path)}`).toBe(true);
        } else if (!file.includes("/build/")) {
          expect(readFileSync(path).includes(root), `${file} names ${root}`).toBe(false);
        }
      }
      // node_pcap's addon, built at install for this Node.
      expect(existsSync(at("usr/lib/sluice/node_modules/pcap/build/Release/pcap_binding.node"))).toBe(true);
    });

    it.skipIf(!isRoot)("captures through the installed node_pcap addon", async () => {
      const out = join(work, "captured");
      const r = await run(
        at("usr/bin/sluice-master"),
        "capture",
        "--interface",
        "lo",
        "--filter",
        "udp port 9",
        "--duration",
        "1",
        "--out",
        out,
      );
      expect(r.code, r.err).toBe(0);
      expect(r.err).toMatch(/capturing on lo/);
    });

    it.skipIf(!hasTool("dpkg-deb"))("makes a Debian package of the staged tree (make deb)", async () => {
      const { stdout } = await exec(join(root, "packaging/deb.sh"), [destdir, join(work, "deb")]);
      const deb = stdout.trim();
      const field = async (name: string) => (await exec("dpkg-deb", ["-f", deb, name])).stdout.trim();
      expect(await field("Package")).toBe("sluice");
      expect(await field("Version")).toMatch(
        new RegExp(`^${COMMANDS["sluice-master"].replaceAll(".", "\\.")}`),
      );
      const major = process.versions.node.split(".")[0]!;
      expect(await field("Depends")).toBe(`nodejs (>= 20.19), nodejs (<< ${Number(major) + 1}), libpcap0.8`);
      const contents = (await exec("dpkg-deb", ["-c", deb], { maxBuffer: 1 << 26 })).stdout;
      for (const path of [
        "./usr/bin/sluice-master -> ../lib/sluice/node_modules/@sluice/master/dist/cli.js",
        "./usr/lib/systemd/system/sluice-node.service",
        "./usr/lib/sysusers.d/sluice.conf",
        "./usr/share/man/man1/sluice-pcap.1",
        "./usr/lib/sluice/node_modules/pcap/build/Release/pcap_binding.node",
      ]) {
        expect(contents).toContain(path);
      }
      expect(existsSync(at("DEBIAN"))).toBe(false);
    });

    it.skipIf(!hasTool("systemd-tmpfiles") || !hasTool("systemd-sysusers") || !hasTool("systemd-analyze"))(
      "gives the units their user, their spool and the commands they start",
      () => {
        mkdirSync(at("etc"), { recursive: true });
        execFileSync("systemd-sysusers", [`--root=${destdir}`], { stdio: "pipe" });
        execFileSync("systemd-tmpfiles", ["--create", `--root=${destdir}`], { stdio: "pipe" });
        const passwd = readFileSync(at("etc/passwd"), "utf8");
        const uid = Number(/^sluice:x:(\d+):/m.exec(passwd)?.[1]);
        expect(uid).toBeGreaterThan(0);
        expect(lstatSync(at("var/spool/sluice")).uid).toBe(uid);
        const units = at("usr/lib/systemd/system");
        const verify = spawnSync(
          "systemd-analyze",
          ["verify", "--man=no", `--root=${destdir}`, ...readdirSync(units)],
          {
            cwd: units,
            encoding: "utf8",
          },
        );
        // The staged root has no systemd of its own (sysinit.target, /bin/kill): only our commands count.
        const problems = `${verify.stdout}${verify.stderr}`
          .split("\n")
          .filter((line) => line !== "" && !/sysinit\.target|\/bin\/kill/.test(line));
        expect(problems).toEqual([]);
      },
    );

    it("make uninstall removes everything install put there", () => {
      execFileSync(
        process.execPath,
        [join(root, "packaging/install.mjs"), "uninstall", "--prefix", "/usr", "--destdir", destdir],
        {
          stdio: "pipe",
        },
      );
      // Files and the folders the install made; what systemd-sysusers and systemd-tmpfiles made under etc/
      // and var/ is the system's, not the install's.
      expect(readdirSync(destdir).filter((name) => name !== "etc" && name !== "var")).toEqual([]);
    });
  });
});
