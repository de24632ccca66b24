/**
 * Admission control for one model version's batcher: under overload the gateway stays fast
 * for what it admits and refuses the rest at once (503 ALOFT_OVERLOADED with Retry-After),
 * instead of letting every request wait in a queue that only grows.
 *
 * Three checks, each O(1), before a request joins the queue:
 * - **Adaptive concurrency limit** (Netflix's Gradient2, `algorithms.md` §4.5): the
 *   requests queued or running may not exceed `limit`, which follows the measured latency
 *   (arrival in the queue to answer). Every window of samples:
 *
 *     gradient = clamp(1.5 × longRtt / shortRtt, 0.5, 1)      longRtt: an average over ~600 samples
 *     limit    = 0.8 × limit + 0.2 × (limit × gradient + √limit)
 *
 *   so the limit grows while latency holds and shrinks as soon as a queue builds up; it
 *   does not grow while less than half of it is used (nothing was learnt about more).
 * - **Deadline**: a request that would wait in the queue past its deadline is refused before
 *   it waits. The wait is predicted from what the queue has done: the ms each position ahead
 *   cost the requests dispatched lately.
 * - **Priority**: low-priority requests (header `x-aloft-priority: low`) are admitted only
 *   while the queue is under 3/4 of the limit, so they are shed first.
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

const TOLERANCE = 1.5;
const SMOOTHING = 0.2;
const LONG_WINDOW = 600;
const WINDOW_SAMPLES = 20;
/** Low priority is admitted below this share of the limit. */
const LOW_SHARE = 0.75;

export type Refusal = { reason: 'limit' | 'late' | 'priority'; message: string };

export class Admission {
  readonly #o: AdmissionOptions;
  #limit: number;
  #longRtt = 0;
  #longN = 0;
  #windowSum = 0;
  #windowN = 0;
  #windowMaxInflight = 0;
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
      return { reason: 'limit', message: `the model is at its concurrency limit (${Math.round(limit)} requests queued or running, adapted to its measured latency); retry after the Retry-After header` };
    }
    if (low && busy >= limit * LOW_SHARE) {
      this.#refused.priority++;
      return { reason: 'priority', message: `low-priority requests are shed while the model is busy (${busy} of ${Math.round(limit)} queued or running); retry after the Retry-After header` };
    }
    if (this.#o.refuseLate && queued > 0) {
      const wait = this.predictedWaitMs(queued);
      if (wait > timeoutMs) {
        this.#refused.late++;
        return { reason: 'late', message: `the request would wait about ${Math.round(wait)} ms in the queue, past its deadline (${Math.round(timeoutMs)} ms left); refused now rather than late: retry after the Retry-After header, or raise the deployment's timeout` };
      }
    }
    return undefined;
  }

  /** A request left the queue for a replica after waiting `waitMs` behind `ahead` others. */
  dispatched(waitMs: number, ahead: number): void {
    const sample = waitMs / (ahead + 1);
    this.#msPerPosition = this.#msPerPosition === 0 ? sample : this.#msPerPosition * 0.9 + sample * 0.1;
  }

  /** A request was answered `rttMs` after joining the queue, with `inflight` queued or running. */
  answered(rttMs: number, inflight: number): void {
    if (this.#o.limit !== 'adaptive') return;
    this.#windowSum += rttMs;
    this.#windowN++;
    if (inflight > this.#windowMaxInflight) this.#windowMaxInflight = inflight;
    if (this.#windowN < WINDOW_SAMPLES) return;
    const shortRtt = this.#windowSum / this.#windowN;
    const maxInflight = this.#windowMaxInflight;
    this.#windowSum = 0;
    this.#windowN = 0;
    this.#windowMaxInflight = 0;
    // The long-term latency: an exponential average over about LONG_WINDOW samples, warmed up on the first windows.
    this.#longN += WINDOW_SAMPLES;
    const k = Math.min(1, WINDOW_SAMPLES / Math.min(this.#longN, LONG_WINDOW));
    this.#longRtt = this.#longRtt === 0 ? shortRtt : this.#longRtt * (1 - k) + shortRtt * k;
    // After a long overload the average is high: let it come down quickly once latency recovers.
    if (this.#longRtt / shortRtt > 2) this.#longRtt *= 0.95;
    // Application-limited: less than half the limit was used, so latency says nothing about more.
    if (maxInflight * 2 < this.#limit && shortRtt <= this.#longRtt * TOLERANCE) return;
    const gradient = Math.max(0.5, Math.min(1, (TOLERANCE * this.#longRtt) / shortRtt));
    const next = this.#limit * gradient + Math.sqrt(this.#limit);
    this.#limit = Math.min(this.#o.maxLimit, Math.max(this.#o.minLimit, this.#limit * (1 - SMOOTHING) + next * SMOOTHING));
  }
}
