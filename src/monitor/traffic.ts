/**
 * Recent traffic per deployment: answers counted in ten-second buckets over a sliding
 * window (five minutes by default), fed by the gateway's observation point. The plan
 * uses it to warn before a deployment that is still being called is removed; the
 * autoscaler and idle detection read the same counts.
 */
import type { Clock } from '../clock.js';
import type { Observer } from '../gateway/observe.js';

const BUCKET_MS = 10_000;

export class RecentTraffic {
  readonly #clock: Clock;
  readonly #buckets: number;
  /** deployment → ring of counts, and the bucket index each slot holds. */
  readonly #rings = new Map<string, { counts: number[]; ids: number[] }>();

  constructor(clock: Clock, windowMs = 300_000) {
    this.#clock = clock;
    this.#buckets = Math.max(1, Math.ceil(windowMs / BUCKET_MS));
  }

  /** Count one answer of `deployment` now. */
  record(deployment: string): void {
    const id = Math.floor(this.#clock.now() / BUCKET_MS);
    let ring = this.#rings.get(deployment);
    if (!ring) {
      ring = { counts: new Array<number>(this.#buckets).fill(0), ids: new Array<number>(this.#buckets).fill(-1) };
      this.#rings.set(deployment, ring);
    }
    const slot = id % this.#buckets;
    if (ring.ids[slot] !== id) {
      ring.ids[slot] = id;
      ring.counts[slot] = 0;
    }
    ring.counts[slot]! += 1;
  }

  /** Answers of `deployment` within the window. */
  count(deployment: string): number {
    const ring = this.#rings.get(deployment);
    if (!ring) return 0;
    const oldest = Math.floor(this.#clock.now() / BUCKET_MS) - this.#buckets + 1;
    let n = 0;
    for (let i = 0; i < this.#buckets; i++) if (ring.ids[i]! >= oldest) n += ring.counts[i]!;
    return n;
  }

  /** The observer that feeds it. */
  observer(): Observer {
    return (o) => this.record(o.deployment);
  }
}
