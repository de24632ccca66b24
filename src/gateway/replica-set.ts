/**
 * The replicas of one model version as the data plane sees them: which are ready, how
 * much work each has in flight, and which to send the next batch to. The control plane
 * replaces the endpoint list as replicas start, fail and stop; a replica that drops a
 * connection is ejected at once, before the orchestrator notices its exit.
 *
 * Every batch is bounded by its requests' deadline: a replica that has not answered by
 * then (hung, stopped, swapped out) has the call aborted, the requests get 504, and it is
 * taken out of rotation for an ejection period (10 s, doubling with each consecutive
 * timeout up to 5 min; Envoy's outlier detection), after which it gets traffic again and
 * one answer clears its record. An ejected replica does not count as ready.
 */
import type { Clock, Timer } from '../clock.js';
import { fail } from '../errors.js';
import type { Tensor } from '../runtime/tensor.js';
import type { Balancer, Candidate } from './balancers/index.js';
import { isRetryable, type BatchSlot, type BatchTarget } from './batcher.js';

/** How a batch reaches a replica: HTTP in production, anything with the same shape in tests. */
export interface ReplicaTransport {
  /**
   * Run one batch. `owned`: the tensors were made for this batch alone, so the transport
   * may take their memory (move it to a worker thread) instead of copying it. When
   * `signal` aborts, give up on the answer and reject (any error).
   */
  infer(inputs: Tensor[], owned?: boolean, signal?: AbortSignal): Promise<Tensor[]>;
  close(): Promise<void>;
}

/** First ejection of a replica that missed a deadline; doubles per consecutive one. */
export const EJECTION_BASE_MS = 10_000;
export const EJECTION_MAX_MS = 300_000;

export interface EndpointInfo {
  /** Stable replica id from the orchestrator. */
  id: string;
  url: string;
}

class Endpoint implements Candidate {
  outstanding = 0;
  /** Dropped its connection: out until the orchestrator reports it ready again. */
  ejected = false;
  /** Missed a deadline: out until this clock time. */
  hungUntil = 0;
  /** Consecutive missed deadlines. */
  strikes = 0;
  constructor(readonly id: string, readonly url: string, readonly transport: ReplicaTransport, readonly cap: number, private readonly clock: Clock) {}
  /** In rotation: not ejected for either reason. */
  get serving(): boolean {
    return !this.ejected && (this.hungUntil === 0 || this.hungUntil <= this.clock.now());
  }
  get available(): boolean {
    return this.outstanding < this.cap && this.serving;
  }
}

export interface ReplicaSetOptions {
  balancer: Balancer;
  /** Batches in flight per replica: 2 lets a replica start the next batch while the last one's answer travels. */
  maxInFlightPerReplica: number;
  /** Makes the transport for a new endpoint. */
  connect: (info: EndpointInfo) => ReplicaTransport;
  /** For deadlines and ejection periods: the batcher's clock, which sets the deadlines. */
  clock: Clock;
}

export class ReplicaSet implements BatchTarget {
  readonly #opts: ReplicaSetOptions;
  readonly #clock: Clock;
  #endpoints: Endpoint[] = [];
  #listeners: (() => void)[] = [];

  constructor(opts: ReplicaSetOptions) {
    this.#opts = opts;
    this.#clock = opts.clock;
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
        next.push(new Endpoint(info.id, info.url, this.#opts.connect(info), this.#opts.maxInFlightPerReplica, this.#clock));
      }
    }
    this.#endpoints = next;
    for (const gone of keep.values()) void gone.transport.close().catch(() => undefined);
    this.#notify();
  }

  /** Snapshot for status pages and tests. */
  endpoints(): { id: string; url: string; outstanding: number; ejected: boolean }[] {
    return this.#endpoints.map((e) => ({ id: e.id, url: e.url, outstanding: e.outstanding, ejected: !e.serving }));
  }

  /** Replicas in rotation (ejected ones do not count). */
  readyCount(): number {
    let n = 0;
    for (const e of this.#endpoints) if (e.serving) n++;
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
      run: async (inputs, owned, deadline) => {
        const clock = this.#clock;
        const abort = new AbortController();
        let timer: Timer | undefined;
        try {
          const call = e.transport.infer(inputs, owned, abort.signal);
          // The deadline wins whether or not the transport honours the signal.
          const outputs = deadline === undefined ? await call : await new Promise<Tensor[]>((resolve, reject) => {
            timer = clock.setTimeout(() => { abort.abort(); reject(new Error('deadline')); }, Math.max(0, deadline - clock.now()));
            call.then(resolve, reject);
          });
          e.strikes = 0;
          return outputs;
        } catch (err) {
          if (abort.signal.aborted) {
            e.strikes++;
            const out = Math.min(EJECTION_MAX_MS, EJECTION_BASE_MS * 2 ** (e.strikes - 1));
            e.hungUntil = clock.now() + out;
            throw fail('ALOFT_TIMEOUT', `replica ${e.id} did not answer by the request's deadline; it is out of rotation for ${out / 1000} s (check 'aloft status' and the replica's logs)`, { cause: err });
          }
          if (isRetryable(err)) e.ejected = true;
          throw err;
        } finally {
          timer?.cancel();
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
