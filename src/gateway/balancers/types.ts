/**
 * A balancer picks which replica gets the next batch. Every implementation runs the
 * shared conformance suite in `balancer.case.ts`.
 */

/** What a balancer may look at for one replica. */
export interface Candidate {
  readonly id: string;
  /** Batches sent to this replica and not yet answered. */
  readonly outstanding: number;
  /** Accepts work: ready, not ejected, under its in-flight cap. */
  readonly available: boolean;
}

export interface Balancer {
  readonly name: string;
  /** Returns the chosen candidate, or undefined when none is available. */
  pick<C extends Candidate>(candidates: readonly C[]): C | undefined;
}

/** A uniform random number in [0, 1); injected so tests are deterministic. */
export type Random = () => number;
