/**
 * What a shadow rollout's copies did, per deployment and candidate version: copies sent,
 * dropped (the queue was full), failed (an error or no answer by the deadline), compared
 * with the primary's answer, and of those how many agreed, with the sum of the mean
 * absolute differences. Counters only grow; a rollout compares `since(snapshot)`, as with
 * the variant counters (variants.ts). `inflight` is the one gauge: copies under way, which
 * the sender bounds.
 */
export interface ShadowTally {
  copies: number;
  dropped: number;
  failed: number;
  compared: number;
  agreed: number;
  /** Σ over compared copies of the mean absolute difference of their outputs (those whose difference is finite). */
  absDiff: number;
  /** Compared copies whose difference is not a number (a NaN or ±∞ on either side): not in absDiff. */
  nonFinite: number;
}

export interface ShadowEntry extends ShadowTally {
  inflight: number;
}

const zero = (): ShadowEntry => ({ copies: 0, dropped: 0, failed: 0, compared: 0, agreed: 0, absDiff: 0, nonFinite: 0, inflight: 0 });

export class ShadowCounts {
  readonly #entries = new Map<string, Map<number, ShadowEntry>>();

  /** The live counters of a deployment's version (created on first use). */
  entry(deployment: string, version: number): ShadowEntry {
    let versions = this.#entries.get(deployment);
    if (!versions) {
      versions = new Map();
      this.#entries.set(deployment, versions);
    }
    let e = versions.get(version);
    if (!e) {
      e = zero();
      versions.set(version, e);
    }
    return e;
  }

  snapshot(deployment: string, version: number): ShadowTally {
    const e = this.#entries.get(deployment)?.get(version) ?? zero();
    return { copies: e.copies, dropped: e.dropped, failed: e.failed, compared: e.compared, agreed: e.agreed, absDiff: e.absDiff, nonFinite: e.nonFinite };
  }

  since(deployment: string, version: number, from: ShadowTally): ShadowTally {
    const now = this.snapshot(deployment, version);
    return {
      copies: now.copies - from.copies, dropped: now.dropped - from.dropped, failed: now.failed - from.failed,
      compared: now.compared - from.compared, agreed: now.agreed - from.agreed, absDiff: now.absDiff - from.absDiff, nonFinite: now.nonFinite - from.nonFinite,
    };
  }

  /** Every entry, for /metrics. */
  list(): { deployment: string; version: number; counts: ShadowEntry }[] {
    const out: { deployment: string; version: number; counts: ShadowEntry }[] = [];
    for (const [deployment, versions] of this.#entries) for (const [version, counts] of versions) out.push({ deployment, version, counts });
    return out;
  }
}
