/**
 * The dynamic batcher of one model version (Triton's semantics, see
 * reference/algorithms.md §5.1): requests queue in arrival order; whenever a replica has
 * room, the largest batch available (up to `maxBatchSize` rows) is sent at once. With
 * `maxQueueDelayMs` > 0 a batch smaller than the maximum waits until its oldest request
 * has waited that long. By default there is no delay: an idle system adds no latency, and
 * batches form only while every replica is busy — load builds batches.
 */
import type { Admission } from './admission.js';
import type { Clock, Timer } from '../clock.js';
import { fail, retryOf } from '../errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { batchKey, concatRows, splitRows } from './batch-tensors.js';
import type { ModelStats } from './stats.js';

export interface BatcherOptions {
  /** Largest number of rows in one batch; 1 disables batching. */
  maxBatchSize: number;
  /** How long a partial batch may wait for more requests. 0 = never wait. */
  maxQueueDelayMs: number;
  /** Queued requests beyond this are refused with 503. */
  maxQueueSize: number;
  /** False for models whose first dimension is not a batch dimension. */
  batchable: boolean;
  /**
   * Dispatch at the end of the event-loop turn instead of at once, so requests read in
   * the same turn leave as one batch even while replicas have room. Worth it when every
   * batch costs a round trip: an HTTP exchange with a replica process (about 30 µs of
   * gateway CPU), or a message and a thread wake-up (MNIST at 64 connections with thread
   * replicas: batches of ~25 instead of ~6.5, +12% req/s, median of 6 interleaved runs).
   * A request that finds nothing queued or running still leaves at once (nobody could
   * join it), so an idle system pays no extra turn. Default false: the batcher alone
   * dispatches at once.
   */
  coalesce?: boolean;
  /** Admission control (admission.ts): told of every dispatch and answer, so its limit and wait prediction follow the model. */
  admission?: Admission;
}

/** Where batches run: a set of replicas behind a balancer (see replica-set.ts). */
export interface BatchTarget {
  /** Reserve a replica with room for one more batch, or undefined if none has room. */
  acquire(): BatchSlot | undefined;
  /** Called by the target when capacity frees up, so queued work moves on; returns the unsubscribe. */
  onCapacity(listener: () => void): () => void;
  /** True when at least one replica is ready (possibly busy). */
  hasReplicas(): boolean;
}

export interface BatchSlot {
  /**
   * Run the batch; rejects with a retryable AloftError if the replica went away, and with
   * ALOFT_TIMEOUT if it has not answered by `deadline` (clock time). `owned`: the tensors
   * were concatenated for this batch, so the transport may take their memory; a request's
   * own tensors (a batch of one) are never given away, as a retry needs them.
   */
  run(inputs: Tensor[], owned: boolean, deadline?: number): Promise<Tensor[]>;
}

interface Pending {
  inputs: Tensor[];
  rows: number;
  key: string;
  enqueuedAt: number;
  /** Requests queued ahead of it when it joined. */
  ahead: number;
  deadline: number;
  attempts: number;
  resolve: (outputs: Tensor[]) => void;
  reject: (err: Error) => void;
}

/** Errors the batcher retries on another replica: transient ones (the batch never ran to completion). */
export function isRetryable(err: unknown): boolean {
  return retryOf(err) === 'transient';
}

export class Batcher {
  readonly #opts: BatcherOptions;
  readonly #target: BatchTarget;
  readonly #clock: Clock;
  readonly #stats: ModelStats | undefined;
  #queue: Pending[] = [];
  #head = 0;
  #queuedRows = 0;
  #delayTimer: Timer | undefined;
  #sweepTimer: Timer | undefined;
  #sweepAt = Infinity;
  #closed = false;
  readonly #defer: (fn: () => void) => void;
  #pumpDeferred = false;
  /** Requests in batches being run. */
  #running = 0;
  #idleWaiters: (() => void)[] = [];
  readonly #unsubscribe: () => void;

  constructor(target: BatchTarget, opts: BatcherOptions, clock: Clock, stats?: ModelStats, defer: (fn: () => void) => void = setImmediate) {
    this.#target = target;
    this.#defer = defer;
    this.#opts = { ...opts, maxBatchSize: opts.batchable ? Math.max(1, opts.maxBatchSize) : 1 };
    this.#clock = clock;
    this.#stats = stats;
    this.#unsubscribe = target.onCapacity(() => this.#pump());
  }

  /** Admission control, when the batcher has it. */
  get admission(): Admission | undefined {
    return this.#opts.admission;
  }

  /** Requests queued or in a batch being run. */
  get busy(): number {
    return this.queued + this.#running;
  }

  /** Resolves once nothing is queued or running (at once when idle). */
  idle(): Promise<void> {
    if (this.busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #checkIdle(): void {
    if (this.busy !== 0 || this.#idleWaiters.length === 0) return;
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  /** Requests waiting for a replica. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * Queue validated inputs (in signature order) and resolve with this request's outputs.
   * `timeoutMs` is the request's deadline from now.
   */
  infer(inputs: Tensor[], timeoutMs: number): Promise<Tensor[]> {
    if (this.#closed) return Promise.reject(fail('ALOFT_NOT_READY', 'the model is shutting down; retry on another instance'));
    if (this.queued >= this.#opts.maxQueueSize) {
      return Promise.reject(fail('ALOFT_OVERLOADED',
        `the queue for this model is full (${this.#opts.maxQueueSize} requests waiting); retry with backoff or raise batching.maxQueueSize`));
    }
    const now = this.#clock.now();
    return new Promise<Tensor[]>((resolve, reject) => {
      const rows = this.#opts.batchable ? (inputs[0]?.shape[0] ?? 1) : 1;
      // Nothing queued or running: no other request can join this one before a replica takes it, so it leaves now.
      const alone = this.busy === 0 && !this.#pumpDeferred;
      this.#queue.push({ inputs, rows, key: this.#opts.batchable ? batchKey(inputs) : '', enqueuedAt: now, ahead: this.queued, deadline: now + timeoutMs, attempts: 0, resolve, reject });
      this.#queuedRows += rows;
      this.#armSweep(now + timeoutMs);
      if (this.#opts.coalesce && !alone) this.#pumpAtEndOfTurn();
      else this.#pump();
    });
  }

  /** One pump after every request of this event-loop turn has been queued (coalesce). */
  #pumpAtEndOfTurn(): void {
    if (this.#pumpDeferred) return;
    this.#pumpDeferred = true;
    this.#defer(() => {
      this.#pumpDeferred = false;
      this.#pump();
    });
  }

  /** Reject every request whose deadline has passed. Runs on a timer; tests call it directly. */
  sweep(): void {
    const now = this.#clock.now();
    let removed = false;
    for (let i = this.#head; i < this.#queue.length; i++) {
      const p = this.#queue[i]!;
      if (p.deadline <= now) {
        removed = true;
        this.#queuedRows -= p.rows;
        p.reject(this.#expired(p, now));
      }
    }
    if (removed) {
      this.#queue = this.#queue.slice(this.#head).filter((p) => p.deadline > now);
      this.#head = 0;
      this.#checkIdle();
    }
    this.#sweepTimer = undefined;
    this.#sweepAt = Infinity;
    this.#armSweep();
  }

  /** The error of a request whose deadline passed while it was queued. */
  #expired(p: Pending, now: number): Error {
    return this.#target.hasReplicas()
      ? fail('ALOFT_TIMEOUT', `the request waited ${Math.round(now - p.enqueuedAt)} ms in the queue and passed its deadline; the model is saturated — add replicas or raise the timeout`)
      : fail('ALOFT_NOT_READY', `no replica of this model was ready within the request's deadline (it waited ${Math.round(now - p.enqueuedAt)} ms): replicas are starting (after scaling from zero, a restart or a new version) or failing; retry, raise the deployment's timeout, or check 'aloft status' and the replica logs`);
  }

  /**
   * Answer the requests at the head of the queue whose deadline has passed, instead of
   * running them: the sweep's timer runs late on a saturated event loop, and a batch of
   * requests nobody waits for any more costs the replicas what the live ones need.
   */
  #dropExpiredHead(now: number): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.deadline <= now) this.#expireHead(now);
  }

  /** Take the head request off the queue and answer it as expired. */
  #expireHead(now: number): void {
    const p = this.#queue[this.#head]!;
    this.#queue[this.#head] = undefined as unknown as Pending;
    this.#head++;
    this.#queuedRows -= p.rows;
    p.reject(this.#expired(p, now));
  }

  /** Refuse new work and fail what is queued (in-flight batches finish). */
  close(): void {
    this.#closed = true;
    this.#unsubscribe();
    this.#delayTimer?.cancel();
    this.#sweepTimer?.cancel();
    this.#sweepAt = Infinity;
    for (let i = this.#head; i < this.#queue.length; i++) {
      this.#queue[i]!.reject(fail('ALOFT_NOT_READY', 'the model was unloaded while the request waited'));
    }
    this.#queue = [];
    this.#head = 0;
    this.#queuedRows = 0;
    this.#checkIdle();
  }

  /** Keep one timer, set for the earliest deadline in the queue. */
  #armSweep(deadline?: number): void {
    if (this.queued === 0) return;
    let earliest = deadline ?? Infinity;
    if (deadline === undefined) {
      for (let i = this.#head; i < this.#queue.length; i++) earliest = Math.min(earliest, this.#queue[i]!.deadline);
    }
    if (earliest >= this.#sweepAt) return;
    this.#sweepTimer?.cancel();
    this.#sweepAt = earliest;
    this.#sweepTimer = this.#clock.setTimeout(() => this.sweep(), Math.max(0, earliest - this.#clock.now()));
  }

  #pump(): void {
    const now = this.#clock.now();
    this.#dropExpiredHead(now);
    while (this.queued > 0) {
      const head = this.#queue[this.#head]!;
      if (this.#opts.maxQueueDelayMs > 0 && this.#queuedRows < this.#opts.maxBatchSize) {
        const waited = this.#clock.now() - head.enqueuedAt;
        if (waited < this.#opts.maxQueueDelayMs) {
          if (!this.#delayTimer) {
            this.#delayTimer = this.#clock.setTimeout(() => {
              this.#delayTimer = undefined;
              this.#pump();
            }, this.#opts.maxQueueDelayMs - waited);
          }
          return;
        }
      }
      const slot = this.#target.acquire();
      if (!slot) return;
      this.#delayTimer?.cancel();
      this.#delayTimer = undefined;
      this.#dispatch(slot, this.#take(now));
      this.#dropExpiredHead(now);
    }
    this.#checkIdle();
  }

  /**
   * Take the head request (its deadline not passed) and every following one that fits and
   * has the same shape key; one whose deadline has passed is answered instead of taken.
   */
  #take(now: number): Pending[] {
    const batch: Pending[] = [];
    const first = this.#queue[this.#head]!;
    let rows = 0;
    while (this.#head < this.#queue.length) {
      const p = this.#queue[this.#head]!;
      if (batch.length > 0 && p.deadline <= now) {
        this.#expireHead(now);
        continue;
      }
      if (batch.length > 0 && (p.key !== first.key || rows + p.rows > this.#opts.maxBatchSize)) break;
      batch.push(p);
      rows += p.rows;
      this.#queue[this.#head] = undefined as unknown as Pending;
      this.#head++;
    }
    this.#queuedRows -= rows;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return batch;
  }

  #dispatch(slot: BatchSlot, batch: Pending[]): void {
    const start = this.#clock.now();
    const stats = this.#stats;
    if (stats) for (const p of batch) stats.recordQueue(start - p.enqueuedAt);
    const admission = this.#opts.admission;
    if (admission) for (const p of batch) admission.dispatched(start - p.enqueuedAt, p.ahead);
    const owned = batch.length > 1;
    const inputs = owned
      ? batch[0]!.inputs.map((_, i) => concatRows(batch.map((p) => p.inputs[i]!)))
      : batch[0]!.inputs;
    let deadline = 0;
    for (const p of batch) if (p.deadline > deadline) deadline = p.deadline;
    this.#running += batch.length;
    slot.run(inputs, owned, deadline).then(
      (outputs) => {
        this.#running -= batch.length;
        const end = this.#clock.now();
        stats?.recordBatch(batch.length, end - start);
        if (admission) {
          admission.ran(end - start);
          for (let i = 0; i < batch.length; i++) admission.answered(this.busy + batch.length);
        }
        this.#answer(batch, outputs);
        this.#checkIdle();
      },
      (err: unknown) => {
        this.#running -= batch.length;
        // The replica went away before answering: put the requests back at the front
        // (in order) so another replica runs them; each request is retried at most twice.
        if (isRetryable(err) && !this.#closed) {
          const retry = batch.filter((p) => ++p.attempts <= 2 && p.deadline > this.#clock.now());
          for (const p of batch) if (!retry.includes(p)) p.reject(err as Error);
          if (retry.length > 0) {
            this.#queue = [...retry, ...this.#queue.slice(this.#head)];
            this.#head = 0;
            for (const p of retry) this.#queuedRows += p.rows;
            this.#armSweep();
            this.#pump();
          }
        } else {
          for (const p of batch) p.reject(err as Error);
        }
        this.#checkIdle();
      },
    );
  }

  /** Each request of a finished batch gets its own rows of the outputs. */
  #answer(batch: Pending[], outputs: Tensor[]): void {
    if (batch.length === 1) {
      batch[0]!.resolve(outputs);
      return;
    }
    const rowCounts = batch.map((p) => p.rows);
    let pieces: Tensor[][];
    try {
      pieces = outputs.map((o) => splitRows(o, rowCounts));
    } catch (err) {
      for (const p of batch) p.reject(err as Error);
      return;
    }
    batch.forEach((p, k) => p.resolve(pieces.map((perOutput) => perOutput[k]!)));
  }
}
