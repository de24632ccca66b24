/**
 * Time as a dependency: production uses the real clock; tests step a ManualClock
 * instead of sleeping. Leaf module.
 */

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds, monotonic, fractional. */
  now(): number;
  /** Wall-clock time for records. */
  date(): Date;
  setTimeout(fn: () => void, ms: number): Timer;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  date: () => new Date(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

/** A clock that moves only when told to; timers fire in due order during `advance`. */
export class ManualClock implements Clock {
  #now: number;
  #epoch: number;
  #timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];
  #seq = 0;

  constructor(startMs = 0, epochMs = Date.UTC(2026, 0, 1)) {
    this.#now = startMs;
    this.#epoch = epochMs - startMs;
  }

  now(): number {
    return this.#now;
  }

  date(): Date {
    return new Date(this.#epoch + this.#now);
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const t = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, live: true };
    this.#timers.push(t);
    return { cancel: () => { t.live = false; } };
  }

  /** Move time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => t.live);
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#timers[0];
      if (!next || next.at > end) break;
      next.live = false;
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = end;
  }

  /** Number of timers still pending. */
  pending(): number {
    return this.#timers.filter((t) => t.live).length;
  }
}
