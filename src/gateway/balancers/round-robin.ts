import type { Balancer, Candidate } from './types.js';

/** Round robin over available replicas: the baseline P2C is measured against. */
export class RoundRobin implements Balancer {
  readonly name = 'round-robin';
  #next = 0;

  pick<C extends Candidate>(candidates: readonly C[]): C | undefined {
    const n = candidates.length;
    for (let k = 0; k < n; k++) {
      const c = candidates[(this.#next + k) % n];
      if (c?.available) {
        this.#next = (this.#next + k + 1) % n;
        return c;
      }
    }
    return undefined;
  }
}
