import type { Balancer, Candidate, Random } from './types.js';

/**
 * Power of two choices on outstanding work (Envoy's least_request with choice_count 2):
 * sample two distinct available replicas at random and take the one with fewer batches
 * in flight. Near least-loaded quality without a full scan or herd effects when several
 * gateways share replicas.
 */
export class PowerOfTwoChoices implements Balancer {
  readonly name = 'p2c';
  readonly #random: Random;

  constructor(random: Random = Math.random) {
    this.#random = random;
  }

  pick<C extends Candidate>(candidates: readonly C[]): C | undefined {
    let n = 0;
    let only: C | undefined;
    for (const c of candidates) if (c.available) { n++; only = c; }
    if (n <= 1) return only;
    const i = Math.floor(this.#random() * n);
    let j = Math.floor(this.#random() * (n - 1));
    if (j >= i) j++;
    let a: C | undefined;
    let b: C | undefined;
    let k = 0;
    for (const c of candidates) {
      if (!c.available) continue;
      if (k === i) a = c;
      if (k === j) b = c;
      k++;
    }
    if (a === undefined || b === undefined) return a ?? b;
    if (a.outstanding !== b.outstanding) return a.outstanding < b.outstanding ? a : b;
    return this.#random() < 0.5 ? a : b;
  }
}
