/**
 * The replicas of one model version as the data plane sees them: which are ready, how
 * much work each has in flight, and which to send the next batch to. The control plane
 * replaces the endpoint list as replicas start, fail and stop; a replica that drops a
 * connection is ejected at once, before the orchestrator notices its exit.
 *
 * Every batch is bounded by its requests' deadline. At the deadline, a replica that has
 * answered nothing for HUNG_RUNS of its usual answer times (hung, stopped, swapped out; at
 * once if it never answered) has its calls abandoned: that batch fails with 504, the
 * others in flight there fail as retryable and run on another replica, and it is taken out
 * of rotation for an ejection period (10 s, doubling with each consecutive timeout up to
 * 5 min; Envoy's outlier detection), after which it gets traffic again and one answer
 * clears its record. An ejected replica does not count as ready. A replica that is still
 * answering is slow, not hung (saturated: batches wait behind each other): the late batch
 * alone fails with 504, its slot stays taken until the replica answers it, and the replica
 * stays in rotation. Ejecting it would take the capacity away when the load is highest
 * (bench/overload.ts, a heavy model on one replica at 3× its capacity: ejected for 10 s, 6%
 * of capacity was left as goodput). One timer per replica set watches the earliest check in
 * flight (as the batcher's queue sweep does), and the transport rejects the calls it abandons,
 * so a batch costs no timer or abort signal: those cost the gateway 13–25 MiB of peak RSS at
 * 30k req/s (MNIST, binary bodies, process replicas, interleaved runs against the build
 * without deadlines). It costs one promise, which lets the sweep fail a late batch alone.
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
  /** Clock time it was sent. */
  sentAt: number;
  /** Past its deadline: the transport was told to abandon it. */
  expired: boolean;
  /** When the sweep looks at it next: its deadline, then (given up as late, still on a working replica) whether its replica went silent. */
  checkAt: number;
  /** Failed with 504 as late while its replica kept working; its answer, when it comes, is dropped. */
  late: boolean;
  /** Fail this call alone (its replica is slow, not hung). */
  reject?: (err: Error) => void;
}

/** A replica silent for this many of its usual answer times (and at least HUNG_MIN_MS) is hung. */
export const HUNG_RUNS = 4;
export const HUNG_MIN_MS = 100;

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
  /** Clock time of its last answer (a result or a failure it reported): it is making progress. */
  answeredAt = -Infinity;
  /** Clock time its outstanding count last went from 0 to 1. */
  busySince = 0;
  /** Its usual time from sending a batch to the answer, ms (a moving average; 0 until it has answered). */
  runMs = 0;
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
    if (e.outstanding++ === 0) e.busySince = this.#clock.now();
    return {
      run: async (inputs, owned, deadline) => {
        if (deadline === undefined) {
          try {
            return await e.transport.infer(inputs, owned);
          } finally {
            e.outstanding--;
            this.#notify();
          }
        }
        const call: Call = { endpoint: e, deadline, sentAt: this.#clock.now(), checkAt: deadline, expired: false, late: false };
        this.#inflight.add(call);
        this.#arm(call.checkAt);
        try {
          const outputs = await this.#watched(e, call, inputs, owned);
          e.strikes = 0;
          return outputs;
        } catch (err) {
          if (call.expired) {
            throw fail('ALOFT_TIMEOUT', `replica ${e.id} did not answer by the request's deadline; it is out of rotation for ${Math.round((e.hungUntil - this.#clock.now()) / 1000)} s (check 'aloft status' and the replica's logs)`, { cause: err });
          }
          // A call abandoned because its replica hung is already out for its ejection period.
          if (isRetryable(err) && e.hungUntil <= this.#clock.now()) e.ejected = true;
          throw err;
        }
      },
    };
  }

  /**
   * The transport's call, which the sweep can fail early (call.reject) when its replica is
   * slow. The replica's slot stays taken until the replica answers, so a saturated replica
   * is never sent more than its share while it still works on batches already given up:
   * its backlog, and so its latency, stays bounded.
   */
  #watched(e: Endpoint, call: Call, inputs: Tensor[], owned: boolean): Promise<Tensor[]> {
    return new Promise<Tensor[]>((resolve, reject) => {
      call.reject = reject;
      const settled = () => {
        this.#inflight.delete(call);
        e.outstanding--;
        this.#notify();
      };
      e.transport.infer(inputs, owned).then(
        (outputs) => {
          const now = this.#clock.now();
          e.answeredAt = now;
          e.runMs = e.runMs === 0 ? now - call.sentAt : e.runMs * 0.9 + (now - call.sentAt) * 0.1;
          settled();
          resolve(outputs);
        },
        (err: unknown) => {
          if (!isRetryable(err)) e.answeredAt = this.#clock.now();
          settled();
          reject(err as Error);
        },
      );
    });
  }

  /** Keep one timer, set for the earliest check in flight. */
  #arm(at: number): void {
    if (at >= this.#sweepAt) return;
    this.#sweepTimer?.cancel();
    this.#sweepAt = at;
    this.#sweepTimer = this.#clock.setTimeout(() => this.sweep(), Math.max(0, at - this.#clock.now()));
  }

  /**
   * How long a replica has been working without answering anything before it counts as
   * hung: HUNG_RUNS of its usual answer times (at least HUNG_MIN_MS), or at once while it
   * has never answered (nothing says what is usual).
   */
  static #hungAfter(e: Endpoint): number {
    return e.runMs === 0 ? 0 : Math.max(HUNG_MIN_MS, HUNG_RUNS * e.runMs);
  }

  /**
   * Fail the batches past their deadline. A replica silent for longer than it is allowed
   * (#hungAfter) is hung: it is ejected and every call on it abandoned. Otherwise it is
   * slow: the late batch alone fails with 504, and is looked at again later, while the
   * replica works on it. Runs on a timer; tests call it directly.
   */
  sweep(): void {
    const now = this.#clock.now();
    this.#sweepTimer = undefined;
    this.#sweepAt = Infinity;
    const hung = new Set<Endpoint>();
    for (const call of [...this.#inflight]) {
      if (call.checkAt > now) continue;
      const e = call.endpoint;
      const silent = now - Math.max(e.answeredAt, e.busySince);
      if (!hung.has(e) && silent < ReplicaSet.#hungAfter(e)) {
        if (!call.late) {
          call.late = true;
          call.reject?.(fail('ALOFT_TIMEOUT', `replica ${e.id} did not answer this batch by the request's deadline; it is working (it answered ${Math.round(now - e.answeredAt)} ms ago), so the model is saturated: add replicas, raise the deployment's timeout, or turn on admission control (admission.limit: adaptive)`));
        }
        call.checkAt = now + ReplicaSet.#hungAfter(e) - silent;
        continue;
      }
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
    for (const call of this.#inflight) if (call.checkAt < earliest) earliest = call.checkAt;
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
