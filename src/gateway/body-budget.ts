/**
 * How much request-body memory the gateway holds at once, across every connection and
 * every front (spec `server.bodyMemory`). Without it, each connection may hold one body of
 * up to `server.bodyLimit`, so 64 authenticated clients sending 31 MiB bodies held 2.1 GiB.
 *
 * A request opens a reservation after it is authenticated and before its body is read: a
 * declared Content-Length is charged at once, and bytes of bodies whose length is not
 * known in advance (chunked, compressed) are charged as they arrive. The reservation is
 * released when the request has been answered. A charge that would go past the limit is
 * refused, and the request gets 503 with Retry-After.
 *
 * @example
 * const budget = new BodyBudget(128 * 1024 * 1024);
 * const r = budget.open();
 * if (!r.charge(contentLength)) throw budget.refusal();
 * try { ... } finally { r.release(); }
 */
import { fail, type AloftError } from '../errors.js';

export class BodyBudget {
  #used = 0;
  #peak = 0;
  #refused = 0;

  /** @param limit bytes of request bodies held at once, at least 1 */
  constructor(readonly limit: number) {}

  /** Bytes reserved now. */
  get used(): number {
    return this.#used;
  }

  /** The most bytes ever reserved at once. */
  get peak(): number {
    return this.#peak;
  }

  /** Charges refused since the start. */
  get refused(): number {
    return this.#refused;
  }

  /** A new, empty reservation. */
  open(): BodyReservation {
    return new BodyReservation(this);
  }

  /** The error a refused request gets: 503 with Retry-After (ALOFT_OVERLOADED). */
  refusal(): AloftError {
    return fail('ALOFT_OVERLOADED', `the gateway is holding as much request-body memory as it may (server.bodyMemory, ${this.limit} bytes across all connections); retry after a second, or raise server.bodyMemory`);
  }

  /** @internal */
  take(n: number): boolean {
    if (this.#used + n > this.limit) {
      this.#refused++;
      return false;
    }
    this.#used += n;
    if (this.#used > this.#peak) this.#peak = this.#used;
    return true;
  }

  /** @internal */
  give(n: number): void {
    this.#used -= n;
  }
}

/** One request's share of the budget. */
export class BodyReservation {
  #held = 0;
  #released = false;

  constructor(private readonly budget: BodyBudget) {}

  /** Bytes this request holds. */
  get held(): number {
    return this.#held;
  }

  /** Reserve `n` more bytes; false (and nothing reserved) when they do not fit. */
  charge(n: number): boolean {
    if (this.#released) return false;
    if (n <= 0) return true;
    if (!this.budget.take(n)) return false;
    this.#held += n;
    return true;
  }

  /** The error for a refused charge (503 with Retry-After). */
  refusal(): AloftError {
    return this.budget.refusal();
  }

  /** Give everything back. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.budget.give(this.#held);
    this.#held = 0;
  }
}
