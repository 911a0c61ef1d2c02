import { isAbsolute, join, resolve } from "node:path";
import { compileFilter, interfaceLinkType, netnsExists } from "@sluice/capture";
import {
  type Account,
  type ConfigProblem,
  looseEntries as entries,
  looseField as field,
  folderWriteProblem,
  jsonPath,
  lookupUser,
  looseText as text,
} from "@sluice/daemon";

/**
 * What `run` checks before it opens anything, and `check-config` reports: the user exists, every capture's
 * namespace and interface exist and its filter compiles for the interface's link type, the spool can be
 * written by the master and by `user`, every destination and folder by the master. The config's own rules
 * (absolute paths, destinations outside the spool, addresses, at least one source) are the schema's. Reads
 * the config loosely: it also gets the raw JSON of a config the schema refused.
 */
export function checkMasterConfig(config: unknown): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (path: PropertyKey[], message: string) => problems.push({ path: jsonPath(path), message });
  const folder = (path: PropertyKey[], value: unknown, note = "", account?: Account) => {
    const dir = text(value);
    if (dir === undefined || !isAbsolute(dir)) return; // the schema says what is wrong with it
    const why = folderWriteProblem(dir, account);
    if (why !== null) problem(path, `${dir}: ${why}${note}`);
  };
  const user = text(field(config, "user"));
  const account = user === undefined ? null : lookupUser(user);
  if (user !== undefined && account === null) problem(["user"], `no user named "${user}" on this machine`);
  for (const [i, source] of entries(field(config, "sources"))) {
    const type = field(source, "type");
    if (type === "folder")
      folder(["sources", i, "path"], field(source, "path"), " (files are moved out of it)");
    if (type === "interface" || type === "vxlan") checkCapture(source, ["sources", i], problem);
  }
  const spool = text(field(config, "spool")) ?? "/var/spool/sluice";
  folder(["spool"], spool);
  if (account !== null && isAbsolute(spool) && folderWriteProblem(spool) === null) {
    // Capture children switch to `user` and write their files in <spool>/ready.
    folder(["spool"], join(resolve(spool), "ready"), ' (capture files are written as "user")', account);
  }
  for (const [i, pool] of entries(field(config, "pools"))) {
    for (const [j, node] of entries(field(pool, "nodes"))) {
      folder(["pools", i, "nodes", j, "path"], field(node, "path"));
    }
  }
  for (const [i, alone] of entries(field(config, "alone")))
    folder(["alone", i, "path"], field(alone, "path"));
  const after = field(config, "afterDispatch");
  if (field(after, "action") === "move") folder(["afterDispatch", "path"], field(after, "path"));
  return problems;
}

// An interface or VXLAN source: its namespace and interface exist, its filter compiles for that link type.
function checkCapture(
  source: unknown,
  at: PropertyKey[],
  problem: (path: PropertyKey[], message: string) => void,
): void {
  const netns = text(field(source, "netns"));
  if (netns !== undefined && !netnsExists(netns)) {
    problem([...at, "netns"], `no network namespace named "${netns}" (ip netns list)`);
    return;
  }
  const where = netns === undefined ? "" : ` in network namespace ${netns}`;
  let linkType = 1; // VXLAN interfaces carry Ethernet frames
  const iface = text(field(source, "interface"));
  if (field(source, "type") === "interface" && iface !== undefined) {
    const found = interfaceLinkType(iface, netns);
    if (found === null) problem([...at, "interface"], `no interface named "${iface}"${where}`);
    else linkType = found;
  }
  const device = text(field(source, "device"));
  if (
    field(source, "type") === "vxlan" &&
    device !== undefined &&
    interfaceLinkType(device, netns) === null
  ) {
    problem([...at, "device"], `no interface named "${device}"${where}`);
  }
  const filter = text(field(source, "filter"));
  if (filter === undefined) return;
  try {
    compileFilter(filter, linkType);
  } catch (error) {
    problem([...at, "filter"], (error as Error).message);
  }
}
