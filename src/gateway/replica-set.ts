/**
 * The replicas of one model version as the data plane sees them: which are ready, how
 * much work each has in flight, and which to send the next batch to. The control plane
 * replaces the endpoint list as replicas start, fail and stop; a replica that drops a
 * connection is ejected at once, before the orchestrator notices its exit.
 *
 * Every batch is bounded by its requests' deadline: a replica that has not answered by
 * then (hung, stopped, swapped out) has its calls abandoned: that batch fails with 504,
 * the others in flight there fail as retryable and run on another replica, and it is taken out
 * of rotation for an ejection period (10 s, doubling with each consecutive timeout up to
 * 5 min; Envoy's outlier detection), after which it gets traffic again and one answer
 * clears its record. An ejected replica does not count as ready. One timer per replica
 * set watches the earliest deadline in flight (as the batcher's queue sweep does), and
 * the transport rejects the calls it abandons, so a batch costs no timer, abort signal
 * or racing promise: those cost the gateway 13–25 MiB of peak RSS at 30k req/s (MNIST,
 * binary bodies, process replicas, interleaved runs against the build without deadlines).
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
   * may take their memory (move it to a worker thread) instead of copying it.
   */
  infer(inputs: Tensor[], owned?: boolean): Promise<Tensor[]>;
  /**
   * The replica stopped answering: make every call in flight reject now (with a retryable
   * error; a late answer is dropped) and start afresh for the next ones.
   */
  abandon(): void;
  close(): Promise<void>;
}

/** A batch in flight, watched for its deadline. */
interface Call {
  endpoint: Endpoint;
  deadline: number;
  /** Past its deadline: the transport was told to abandon it. */
  expired: boolean;
}

/** First ejection of a replica that missed a deadline; doubles per consecutive one. */
export const EJECTION_BASE_MS = 10_000;
export const EJECTION_MAX_MS = 300_000;

export interface EndpointInfo {
  /** Stable replica id from the orchestrator. */
  id: string;
  url: string;
  /** A replica process on this machine: its wire-protocol socket (transports/socket.ts), used instead of `url`. */
  socket?: string;
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
  readonly #inflight = new Set<Call>();
  #sweepTimer: Timer | undefined;
  #sweepAt = Infinity;

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

  onCapacity(listener: () => void): () => void {
    this.#listeners.push(listener);
    return () => { this.#listeners = this.#listeners.filter((l) => l !== listener); };
  }

  acquire(): BatchSlot | undefined {
    const e = this.#opts.balancer.pick(this.#endpoints);
    if (!e) return undefined;
    e.outstanding++;
    return {
      run: async (inputs, owned, deadline) => {
        const call: Call | undefined = deadline === undefined ? undefined : { endpoint: e, deadline, expired: false };
        if (call) {
          this.#inflight.add(call);
          this.#arm(call.deadline);
        }
        try {
          const outputs = await e.transport.infer(inputs, owned);
          e.strikes = 0;
          return outputs;
        } catch (err) {
          if (call?.expired) {
            throw fail('ALOFT_TIMEOUT', `replica ${e.id} did not answer by the request's deadline; it is out of rotation for ${Math.round((e.hungUntil - this.#clock.now()) / 1000)} s (check 'aloft status' and the replica's logs)`, { cause: err });
          }
          // A call abandoned because its replica hung is already out for its ejection period.
          if (isRetryable(err) && e.hungUntil <= this.#clock.now()) e.ejected = true;
          throw err;
        } finally {
          if (call) this.#inflight.delete(call);
          e.outstanding--;
          this.#notify();
        }
      },
    };
  }

  /** Keep one timer, set for the earliest deadline in flight. */
  #arm(deadline: number): void {
    if (deadline >= this.#sweepAt) return;
    this.#sweepTimer?.cancel();
    this.#sweepAt = deadline;
    this.#sweepTimer = this.#clock.setTimeout(() => this.sweep(), Math.max(0, deadline - this.#clock.now()));
  }

  /**
   * Fail the batches past their deadline, eject their replicas and abandon the rest of
   * their calls. Runs on a timer; tests call it directly.
   */
  sweep(): void {
    const now = this.#clock.now();
    this.#sweepTimer = undefined;
    this.#sweepAt = Infinity;
    const hung = new Set<Endpoint>();
    for (const call of [...this.#inflight]) {
      if (call.deadline > now) continue;
      const e = call.endpoint;
      if (!hung.has(e)) {
        hung.add(e);
        e.strikes++;
        e.hungUntil = now + Math.min(EJECTION_MAX_MS, EJECTION_BASE_MS * 2 ** (e.strikes - 1));
      }
      this.#inflight.delete(call);
      call.expired = true;
    }
    // The expired calls fail with 504, the others in flight on those replicas as retryable.
    for (const e of hung) e.transport.abandon();
    let earliest = Infinity;
    for (const call of this.#inflight) if (call.deadline < earliest) earliest = call.deadline;
    if (earliest < Infinity) this.#arm(earliest);
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
