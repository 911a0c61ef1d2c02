import { badOption } from "./errors.js";
import { finalizeHash, hashString, mixWord } from "./hash.js";

/** The rendezvous seed of a node name: what `rendezvousPick` weighs a flow hash against. */
export function nodeSeed(name: string): number {
  return hashString(name, 0x52454e44);
}

/**
 * Rendezvous (highest-random-weight) choice of a node for a flow hash: each node's weight is a hash of
 * (flow, node seed) and the heaviest wins. Removing a node moves only the flows it had; adding one takes
 * about 1/N of the flows from the others. Returns the index in `seeds`, or -1 when there are none. Ties
 * (equal weights) go to the larger seed, so the choice never depends on the order of the list.
 */
export function rendezvousPick(flowHash: number, seeds: ArrayLike<number>): number {
  let best = -1;
  let bestWeight = -1;
  let bestSeed = -1;
  for (let i = 0; i < seeds.length; i++) {
    const seed = seeds[i]!;
    const weight = finalizeHash(mixWord(mixWord(seed, flowHash), seed ^ 0x2545f491), 8);
    if (weight > bestWeight || (weight === bestWeight && seed >>> 0 > bestSeed)) {
      best = i;
      bestWeight = weight;
      bestSeed = seed >>> 0;
    }
  }
  return best;
}

/**
 * Node names with their seeds computed once, for picking a node per packet without allocation. Two
 * Rendezvous built from the same names (in any order) send every flow hash to the same name.
 */
export class Rendezvous {
  readonly nodes: readonly string[];
  readonly seeds: Uint32Array;

  constructor(nodes: readonly string[]) {
    if (nodes.length === 0) throw badOption("nodes", "rendezvous needs at least one node");
    const unique = new Set(nodes);
    if (unique.size !== nodes.length) {
      const repeated = nodes.find((name, i) => nodes.indexOf(name) !== i);
      throw badOption("nodes", `node "${repeated}" is listed twice`);
    }
    this.nodes = [...nodes];
    this.seeds = Uint32Array.from(nodes, nodeSeed);
  }

  /** The index in `nodes` of the node that owns `flowHash`. */
  pick(flowHash: number): number {
    return rendezvousPick(flowHash, this.seeds);
  }

  /** The name of the node that owns `flowHash`. */
  pickName(flowHash: number): string {
    return this.nodes[this.pick(flowHash)]!;
  }
}
