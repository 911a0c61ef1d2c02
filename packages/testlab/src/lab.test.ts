import { afterEach, describe, expect, it } from "vitest";
import { labUnavailableReason } from "./availability.js";
import { LabError } from "./errors.js";
import { createLab, type Lab, withLab } from "./lab.js";
import { isRunning, listNamespaces, namespacesOf, reportSkip } from "./test-helpers.js";

const reason = labUnavailableReason();
reportSkip(reason, "lab lifecycle tests");

describe.skipIf(reason !== null)("a lab", () => {
  const labs: Lab[] = [];
  afterEach(async () => {
    await Promise.all(labs.splice(0).map((lab) => lab.destroy()));
  });

  it("creates two namespaces joined by a veth pair and removes both on destroy", async () => {
    const lab = await createLab({ name: "lifecycle" });
    labs.push(lab);
    expect(lab.name).toBe("lifecycle");
    expect(lab.a.netns).toMatch(new RegExp(`^sl-${process.pid}-\\d+-a$`));
    expect(listNamespaces()).toEqual(expect.arrayContaining([lab.a.netns, lab.b.netns]));
    const links = await lab.run("a", "ip", ["-o", "link", "show", lab.a.iface]);
    expect(links).toContain(`link-netns ${lab.b.netns}`);
    expect(links).toContain("mtu 1500");
    expect(await lab.ping({ count: 2, intervalMs: 10 })).toEqual({ transmitted: 2, received: 2 });

    await lab.destroy();
    expect(listNamespaces()).not.toContain(lab.a.netns);
    expect(listNamespaces()).not.toContain(lab.b.netns);
    await lab.destroy();
  });

  it("quietFilter leaves out what both ends send themselves, and rateLimit puts a tbf qdisc on and off", async () => {
    const lab = await createLab();
    labs.push(lab);
    const filter = await lab.quietFilter();
    for (const end of [lab.a, lab.b]) {
      const mac = (await lab.run(end, "cat", [`/sys/class/net/${end.iface}/address`])).trim();
      expect(filter).toContain(`not ether src ${mac}`);
      expect((await lab.run(end, "sysctl", ["-n", "net.ipv6.conf.all.disable_ipv6"])).trim()).toBe("1");
    }
    const remove = await lab.rateLimit("a", "8mbit");
    expect(await lab.run("a", "tc", ["qdisc", "show", "dev", lab.a.iface])).toMatch(/qdisc tbf .*rate 8Mbit/);
    await remove();
    expect(await lab.run("a", "tc", ["qdisc", "show", "dev", lab.a.iface])).not.toContain("tbf");
  });

  it("addresses both ends over IPv4 and IPv6 and turns offloads off", async () => {
    const lab = await createLab({ mtu: 9000 });
    labs.push(lab);
    const addresses = await lab.run("b", "ip", ["-o", "addr", "show", lab.b.iface]);
    expect(addresses).toContain(`${lab.b.ipv4}/24`);
    expect(addresses).toContain(`${lab.b.ipv6}/64`);
    expect(await lab.run("b", "ip", ["-o", "link", "show", lab.b.iface])).toContain("mtu 9000");
    const features = await lab.run("b", "ethtool", ["-k", lab.b.iface]);
    for (const feature of ["tx-checksumming", "tcp-segmentation-offload", "generic-receive-offload"]) {
      expect(features).toMatch(new RegExp(`^${feature}: off`, "m"));
    }
    expect(await lab.run("b", "ip", ["route"])).toMatch(/quickack 1/);
    expect(await lab.run("b", "ip", ["-6", "route"])).toMatch(/fd00:249:\d+::\/64 .*quickack 1/);
    expect(await lab.ping({ count: 2, intervalMs: 10, ipv6: true, size: 8000 })).toEqual({
      transmitted: 2,
      received: 2,
    });
  });

  it("gives labs that exist at once distinct subnets", async () => {
    const [one, two] = await Promise.all([createLab(), createLab()]);
    labs.push(one, two);
    expect(one.a.ipv4).not.toBe(two.a.ipv4);
    expect(one.a.ipv6).not.toBe(two.a.ipv6);
    expect(one.a.netns).not.toBe(two.a.netns);
  });

  it("removes the lab and kills its processes when the callback throws", async () => {
    let names: string[] = [];
    let pid = 0;
    await expect(
      withLab(async (lab) => {
        names = [lab.a.netns, lab.b.netns];
        const sleeper = lab.exec("a", "sleep", ["60"]);
        pid = sleeper.child.pid ?? 0;
        throw new Error("test failure inside the lab");
      }),
    ).rejects.toThrow("test failure inside the lab");
    expect(names).toHaveLength(2);
    for (const name of names) expect(listNamespaces()).not.toContain(name);
    expect(pid).toBeGreaterThan(0);
    expect(isRunning(pid)).toBe(false);
  });

  it("refuses to start processes once destroyed", async () => {
    const lab = await createLab();
    await lab.destroy();
    expect(() => lab.exec("a", "true")).toThrow(LabError);
    expect(namespacesOf(process.pid)).not.toContain(lab.a.netns);
  });
});
