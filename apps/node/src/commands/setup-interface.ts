import { parseArgs } from "node:util";
import { InterfaceSetupError, removeInterface, setupInterface } from "../interface-setup.js";
import { UsageError } from "../usage.js";

/** `sluice-node setup-interface [--name owlh] [--mtu 65535] [--netns NS] [--remove]`. */
export function runSetupInterface(args: string[]): number {
  let values: { name?: string; mtu?: string; netns?: string; remove?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        name: { type: "string", default: "owlh" },
        mtu: { type: "string", default: "65535" },
        netns: { type: "string" },
        remove: { type: "boolean" },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const mtu = Number(values.mtu);
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new UsageError(`--mtu must be an integer from 68 to 65535, not "${values.mtu}"`);
  }
  const target = { name: values.name ?? "owlh", netns: values.netns };
  const where = values.netns ? ` in netns ${values.netns}` : "";
  try {
    if (values.remove) {
      const removed = removeInterface(target);
      process.stdout.write(`${target.name}${where}: ${removed ? "removed" : "not there (nothing to do)"}\n`);
      return 0;
    }
    const result = setupInterface(target, mtu);
    if (result.fallback) process.stderr.write(`sluice-node: note: ${result.fallback}\n`);
    const kind = result.kind === "veth" ? `veth pair ${result.name} + ${result.peer}` : result.kind;
    process.stdout.write(
      `${result.name}${where}: ${result.created ? "created" : "already there"} (${kind}), mtu ${result.mtu}, up\n`,
    );
    return 0;
  } catch (error) {
    if (!InterfaceSetupError.isInstance(error)) throw error;
    process.stderr.write(`sluice-node: ${error.message}\n`);
    return 1;
  }
}
