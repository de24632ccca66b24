/**
 * The replicas of one model version as the data plane sees them: which are ready, how
 * much work each has in flight, and which to send the next batch to. The control plane
 * replaces the endpoint list as replicas start, fail and stop; a replica that drops a
 * connection is ejected at once, before the orchestrator notices its exit.
 */
import type { Tensor } from '../runtime/tensor.js';
import type { Balancer, Candidate } from './balancers/index.js';
import { isRetryable, type BatchSlot, type BatchTarget } from './batcher.js';

/** How a batch reaches a replica: HTTP in production, anything with the same shape in tests. */
export interface ReplicaTransport {
  /**
   * Run one batch. `owned`: the tensors were made for this batch alone, so the transport
   * may take their memory (move it to a worker thread) instead of copying it.
   */
  infer(inputs: Tensor[], owned?: boolean): Promise<Tensor[]>;
  close(): Promise<void>;
}

export interface EndpointInfo {
  /** Stable replica id from the orchestrator. */
  id: string;
  url: string;
}

class Endpoint implements Candidate {
  outstanding = 0;
  ejected = false;
  constructor(readonly id: string, readonly url: string, readonly transport: ReplicaTransport, readonly cap: number) {}
  get available(): boolean {
    return !this.ejected && this.outstanding < this.cap;
  }
}

export interface ReplicaSetOptions {
  balancer: Balancer;
  /** Batches in flight per replica: 2 lets a replica start the next batch while the last one's answer travels. */
  maxInFlightPerReplica: number;
  /** Makes the transport for a new endpoint. */
  connect: (info: EndpointInfo) => ReplicaTransport;
}

export class ReplicaSet implements BatchTarget {
  readonly #opts: ReplicaSetOptions;
  #endpoints: Endpoint[] = [];
  #listeners: (() => void)[] = [];

  constructor(opts: ReplicaSetOptions) {
    this.#opts = opts;
  }

  /** Replace the set of ready replicas (level-based: the full list, not a delta). */
  setEndpoints(infos: readonly EndpointInfo[]): void {
    const keep = new Map(this.#endpoints.map((e) => [`${e.id} ${e.url}`, e]));
    const next: Endpoint[] = [];
    for (const info of infos) {
      const key = `${info.id} ${info.url}`;
      const existing = keep.get(key);
      if (existing) {
        existing.ejected = false;
        next.push(existing);
        keep.delete(key);
      } else {
        next.push(new Endpoint(info.id, info.url, this.#opts.connect(info), this.#opts.maxInFlightPerReplica));
      }
    }
    this.#endpoints = next;
    for (const gone of keep.values()) void gone.transport.close().catch(() => undefined);
    this.#notify();
  }

  /** Snapshot for status pages and tests. */
  endpoints(): { id: string; url: string; outstanding: number; ejected: boolean }[] {
    return this.#endpoints.map((e) => ({ id: e.id, url: e.url, outstanding: e.outstanding, ejected: e.ejected }));
  }

  readyCount(): number {
    let n = 0;
    for (const e of this.#endpoints) if (!e.ejected) n++;
    return n;
  }

  hasReplicas(): boolean {
    return this.readyCount() > 0;
  }

  onCapacity(listener: () => void): void {
    this.#listeners.push(listener);
  }

  acquire(): BatchSlot | undefined {
    const e = this.#opts.balancer.pick(this.#endpoints);
    if (!e) return undefined;
    e.outstanding++;
    return {
      run: async (inputs, owned) => {
        try {
          return await e.transport.infer(inputs, owned);
        } catch (err) {
          if (isRetryable(err)) e.ejected = true;
          throw err;
        } finally {
          e.outstanding--;
          this.#notify();
        }
      },
    };
  }

  async close(): Promise<void> {
    const eps = this.#endpoints;
    this.#endpoints = [];
    await Promise.all(eps.map((e) => e.transport.close().catch(() => undefined)));
  }

  #notify(): void {
    for (const l of this.#listeners) l();
  }
}
