/**
 * Bursts of failed logins from one address, turned into audit entries: one entry per burst,
 * not one per failure, with the address and the count.
 */
import { systemClock, type Clock } from '../../clock.js';
import { SYSTEM_ACTOR, type AuditInput } from './chain.js';

export interface FailureBurst {
  ip: string;
  /** Failures from this IP within the window, including this one. */
  count: number;
  windowMs: number;
}

export interface FailureBurstOptions {
  /** Called once per window per IP when failures reach the threshold. Errors (and rejections) are passed to onError. */
  onBurst: (burst: FailureBurst) => void | Promise<unknown>;
  onError?: (err: unknown) => void;
  clock?: Clock;
  /** Failures within the window that make a burst; default 10. */
  threshold?: number;
  /** Sliding window; default 60 s. */
  windowMs?: number;
  /** IPs remembered at once (oldest forgotten first); default 10,000. */
  maxTrackedIps?: number;
}

interface IpState {
  times: number[];
  reportedAt: number | undefined;
}

/** Failures kept per IP: enough to count a burst well past the threshold, bounded. */
const MAX_TIMES_PER_IP = 10_000;

/**
 * Counts authentication failures per source IP in a sliding window and reports a burst
 * (default 10 failures in 60 s) once per window per IP, for the audit trail.
 *
 * @example
 * const bursts = new FailureBurstDetector({ clock, onBurst: (b) => audit.append(authFailuresEntry(b)) });
 * bursts.record(req.ip); // on every 401
 */
export class FailureBurstDetector {
  readonly #onBurst: FailureBurstOptions['onBurst'];
  readonly #onError: (err: unknown) => void;
  readonly #clock: Clock;
  readonly #threshold: number;
  readonly #windowMs: number;
  readonly #maxIps: number;
  readonly #ips = new Map<string, IpState>();

  constructor(opts: FailureBurstOptions) {
    this.#onBurst = opts.onBurst;
    this.#onError = opts.onError ?? (() => {});
    this.#clock = opts.clock ?? systemClock;
    this.#threshold = opts.threshold ?? 10;
    this.#windowMs = opts.windowMs ?? 60_000;
    this.#maxIps = opts.maxTrackedIps ?? 10_000;
  }

  /** Record one failure from `ip`; returns true when it completed a burst that was reported. */
  record(ip: string): boolean {
    const now = this.#clock.now();
    let state = this.#ips.get(ip);
    if (!state) {
      if (this.#ips.size >= this.#maxIps) this.#forget(now);
      state = { times: [], reportedAt: undefined };
      this.#ips.set(ip, state);
    }
    const times = state.times;
    times.push(now);
    let drop = 0;
    while (drop < times.length && times[drop]! <= now - this.#windowMs) drop++;
    if (times.length - drop > MAX_TIMES_PER_IP) drop = times.length - MAX_TIMES_PER_IP;
    if (drop > 0) times.splice(0, drop);
    if (times.length < this.#threshold) return false;
    if (state.reportedAt !== undefined && now - state.reportedAt < this.#windowMs) return false;
    state.reportedAt = now;
    const burst: FailureBurst = { ip, count: times.length, windowMs: this.#windowMs };
    try {
      const r = this.#onBurst(burst);
      if (r && typeof (r as Promise<unknown>).catch === 'function') (r as Promise<unknown>).catch(this.#onError);
    } catch (err) {
      this.#onError(err);
    }
    return true;
  }

  /** How many IPs are remembered. */
  get trackedIps(): number {
    return this.#ips.size;
  }

  /** Forget IPs with nothing in the window; if still full, the least recently added tenth. */
  #forget(now: number): void {
    for (const [ip, s] of this.#ips) {
      const last = s.times[s.times.length - 1] ?? -Infinity;
      const reported = s.reportedAt ?? -Infinity;
      if (last <= now - this.#windowMs && reported <= now - this.#windowMs) this.#ips.delete(ip);
    }
    if (this.#ips.size < this.#maxIps) return;
    let excess = this.#ips.size - Math.floor(this.#maxIps * 0.9);
    for (const ip of this.#ips.keys()) {
      if (excess-- <= 0) break;
      this.#ips.delete(ip);
    }
  }
}

/** The audit entry for a burst of failed logins: actor system, target and source the IP. */
export function authFailuresEntry(burst: FailureBurst): AuditInput {
  return {
    actor: SYSTEM_ACTOR,
    action: 'auth.failures',
    target: burst.ip,
    source: burst.ip,
    details: { count: burst.count, windowMs: burst.windowMs },
  };
}

