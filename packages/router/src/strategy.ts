/**
 * How a pool chooses the node for a file.
 * - `round-robin`: the next healthy node in order; over a run every node gets the same number of files ±1.
 * - `least-backlog`: the healthy node with the fewest files waiting in its folder (ties in round-robin order).
 * - `flow`: each file is split by flow over the healthy nodes (rendezvous hashing), so a session stays on one
 *   node; the router does the split, and picks a node here (round robin) only for a part whose node left.
 */
export type PoolStrategy = "round-robin" | "least-backlog" | "flow";

/** A node that could take the file, with the files waiting in its folder. */
export interface Candidate {
  name: string;
  /** Files waiting in its folder plus deliveries on their way to it. */
  backlog: number;
}

/**
 * Picks a node among `candidates` (the healthy nodes, in the pool's configured order), starting at `cursor`
 * (the pool's round-robin position, an index into `order`). Returns the node and the next cursor.
 */
export function pickNode(
  strategy: PoolStrategy,
  order: readonly string[],
  cursor: number,
  candidates: readonly Candidate[],
): { node: string; cursor: number } | null {
  if (candidates.length === 0 || order.length === 0) return null;
  const byName = new Map(candidates.map((c) => [c.name, c]));
  let best: { index: number; candidate: Candidate } | null = null;
  for (let step = 0; step < order.length; step++) {
    const index = (cursor + step) % order.length;
    const candidate = byName.get(order[index]!);
    if (candidate === undefined) continue;
    if (strategy !== "least-backlog") return { node: candidate.name, cursor: (index + 1) % order.length };
    if (best === null || candidate.backlog < best.candidate.backlog) best = { index, candidate };
  }
  if (best === null) return null;
  return { node: best.candidate.name, cursor: (best.index + 1) % order.length };
}
