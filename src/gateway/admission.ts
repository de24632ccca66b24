/**
 * Admission control for one model version's batcher: under overload the gateway stays fast
 * for what it admits and refuses the rest at once (503 ALOFT_OVERLOADED with Retry-After),
 * instead of letting every request wait in a queue that only grows.
 *
 * Three checks, each O(1), before a request's body is read:
 * - **Adaptive concurrency limit**, AIMD on measured queueing latency (`algorithms.md`
 *   §4.5, Netflix's AIMD limit): every window of 20 answers, if the requests of the window
 *   waited in the queue longer on average than twice a batch's run time (at least 2 ms),
 *   the limit shrinks by 10%; otherwise, if the window used at least half of it, it grows
 *   by √limit. The signal is the wait for a replica, not the whole latency: with batching a
 *   deeper queue also makes bigger batches and more throughput, which a whole-latency
 *   gradient (Gradient2) reads as congestion, shrinking the limit until the replicas
 *   starve (measured: a quarter of capacity left, `bench/overload.ts`). A wait of about two
 *   batches means the replicas are always busy and a request sits behind at most that.
 * - **Deadline**: a request that would not be answered by its deadline is refused before it
 *   waits. The time is predicted from what the queue has done: the ms each position ahead
 *   cost the requests dispatched lately, plus one batch's run time (a request admitted with
 *   just enough time to leave the queue would still miss its deadline on the replica).
 * - **Priority**: low-priority requests (header `x-aloft-priority: low`) are admitted only
 *   while the queue is under 3/4 of the limit, so they are shed first.
 */

/*
 * Measured (bench/overload.ts, 2 cores shared by the load generator, the gateway and two
 * replicas): against clients that retry a 503 at once, the adaptive limit costs more in
 * refusals than it saves in queueing, so it is not the default; the deadline check is.
 */

export interface AdmissionOptions {
  /** 'adaptive', a fixed number of requests queued or running, or 'off'. */
  limit: 'adaptive' | 'off' | number;
  /** The adaptive limit's bounds. */
  minLimit: number;
  maxLimit: number;
  /** Refuse a request the queue cannot serve within its deadline. */
  refuseLate: boolean;
}

const WINDOW_SAMPLES = 20;
const BACKOFF = 0.9;
/** The queue wait that counts as congestion: this many batch run times, and at least MIN_WAIT_MS. */
const WAIT_BATCHES = 2;
const MIN_WAIT_MS = 2;
/** Low priority is admitted below this share of the limit. */
const LOW_SHARE = 0.75;

export type Refusal = { reason: 'limit' | 'late' | 'priority'; message: string };

export class Admission {
  readonly #o: AdmissionOptions;
  #limit: number;
  #windowWait = 0;
  #windowN = 0;
  #windowMaxInflight = 0;
  /** ms one batch takes on a replica, averaged. */
  #batchMs = 0;
  /** ms of queue wait per position ahead, averaged over recent dispatches. */
  #msPerPosition = 0;
  #refused = { limit: 0, late: 0, priority: 0 };

  constructor(o: AdmissionOptions) {
    this.#o = o;
    // Adaptive: start at four times the floor (a burst on a fresh deployment is not refused before any latency is known).
    this.#limit = typeof o.limit === 'number' ? o.limit : Math.min(o.maxLimit, 4 * o.minLimit);
  }

  /** The limit now (Infinity when off). */
  get limit(): number {
    return this.#o.limit === 'off' ? Infinity : this.#limit;
  }

  /** Requests refused so far, by reason. */
  get refused(): Readonly<{ limit: number; late: number; priority: number }> {
    return this.#refused;
  }

  /** The queue wait predicted for a request joining behind `queued` others, ms. */
  predictedWaitMs(queued: number): number {
    return this.#msPerPosition * (queued + 1);
  }

  /**
   * May a request join? `busy`: queued or running; `queued`: waiting; `timeoutMs`: time left
   * to its deadline.
   */
  check(busy: number, queued: number, timeoutMs: number, low: boolean): Refusal | undefined {
    const limit = this.limit;
    if (busy >= limit) {
      this.#refused.limit++;
      return { reason: 'limit', message: `the model is at its concurrency limit (${Math.round(limit)} requests queued or running, ${typeof this.#o.limit === 'number' ? 'admission.limit' : 'adapted to its measured latency'}); retry after the Retry-After header` };
    }
    if (low && busy >= limit * LOW_SHARE) {
      this.#refused.priority++;
      return { reason: 'priority', message: `low-priority requests are shed while the model is busy (${busy} of ${Math.round(limit)} queued or running); retry after the Retry-After header` };
    }
    if (this.#o.refuseLate && queued > 0) {
      const wait = this.predictedWaitMs(queued);
      if (wait + this.#batchMs > timeoutMs) {
        this.#refused.late++;
        return { reason: 'late', message: `the request would wait about ${Math.round(wait)} ms in the queue and ${Math.round(this.#batchMs)} ms on a replica, past its deadline (${Math.round(timeoutMs)} ms left); refused now rather than late: retry after the Retry-After header, or raise the deployment's timeout` };
      }
    }
    return undefined;
  }

  /** A request left the queue for a replica after waiting `waitMs` behind `ahead` others. */
  dispatched(waitMs: number, ahead: number): void {
    const sample = waitMs / (ahead + 1);
    this.#msPerPosition = this.#msPerPosition === 0 ? sample : this.#msPerPosition * 0.9 + sample * 0.1;
    this.#windowWait += waitMs;
  }

  /** A batch ran on a replica in `ms`. */
  ran(ms: number): void {
    this.#batchMs = this.#batchMs === 0 ? ms : this.#batchMs * 0.9 + ms * 0.1;
  }

  /** A request was answered, with `inflight` queued or running. */
  answered(inflight: number): void {
    if (this.#o.limit !== 'adaptive') return;
    this.#windowN++;
    if (inflight > this.#windowMaxInflight) this.#windowMaxInflight = inflight;
    if (this.#windowN < WINDOW_SAMPLES) return;
    const meanWait = this.#windowWait / this.#windowN;
    const maxInflight = this.#windowMaxInflight;
    this.#windowWait = 0;
    this.#windowN = 0;
    this.#windowMaxInflight = 0;
    const congested = meanWait > Math.max(MIN_WAIT_MS, WAIT_BATCHES * this.#batchMs);
    if (congested) this.#limit = Math.max(this.#o.minLimit, this.#limit * BACKOFF);
    // Grow only when the limit was used: an application-limited window says nothing about more.
    else if (maxInflight * 2 >= this.#limit) this.#limit = Math.min(this.#o.maxLimit, this.#limit + Math.sqrt(this.#limit));
  }
}
