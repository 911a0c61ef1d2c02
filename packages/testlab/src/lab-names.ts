// Every namespace a lab creates carries the pid of the process that owns it, so a later process can tell
// leftovers of a dead run (remove them) from labs of a live one (leave them alone).

/** Lab namespaces are named `sl-<pid>-<slot>-a` and `sl-<pid>-<slot>-b`. */
const OWNED = /^sl-(\d+)-\d+-[ab]$/;
/** Names used by the first version of the lab, still recognised so their leftovers get removed too. */
const LEGACY = /^sluice-lab-(\d+)-\d+-[ab]$/;

/** Most labs one process can hold at once: each gets its own 10.249.<slot>.0/24. */
export const MAX_SLOTS = 254;

/** The namespace prefix of the lab in `slot` owned by `pid`: `sl-<pid>-<slot>-`. */
export function labPrefix(pid: number, slot: number): string {
  return `sl-${pid}-${slot}-`;
}

/** The pid that owns a lab namespace, or null when the name is not a lab's. */
export function namespaceOwner(netns: string): number | null {
  const match = OWNED.exec(netns) ?? LEGACY.exec(netns);
  return match ? Number(match[1]) : null;
}
