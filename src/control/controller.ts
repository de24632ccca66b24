/**
 * The controller: one work queue for every reconciler (deployments now; rollouts, the
 * autoscaler, drift, SLOs and cost next), in the manner of controller-runtime. A
 * reconciler takes a key, reads desired and actual state, converges and says when to look
 * again; it is level-based, so an event only says "look at this key", never what changed.
 *
 * - A key is queued at most once; one enqueued while it runs is run again afterwards.
 * - Errors decide retries (errors.ts `retryOf`): a terminal error is recorded and not
 *   retried until something enqueues the key again; any other backs off exponentially per
 *   key (`backoff`), reset by a success.
 * - Time comes from the injected clock: tests step it instead of sleeping.
 * - `start(signal)` runs until the signal aborts (the Runnable shape of lifecycle.ts).
 *
 * @example
 * const controller = new Controller({ clock, logger });
 * controller.add({ name: 'deployments', reconcile: async (key) => { ...; return { requeueAfterMs: 100 }; } });
 * controller.enqueue('deployments', 'all');
 * void controller.start(signal);
 */
import type { Clock, Timer } from '../clock.js';
import { retryOf } from '../errors.js';
import type { Logger } from '../log.js';
import { backoffDelay, type BackoffPolicy } from './orchestrators/backoff.js';

export interface ReconcileResult {
  /** Look at the key again after this long, even if nothing enqueues it. */
  requeueAfterMs?: number;
}

export interface Reconciler {
  readonly name: string;
  /** Converge `key`. Throwing retries per the error's kind. */
  reconcile(key: string): Promise<ReconcileResult | void>;
}

/** What the controller did, for logs, status and tests. */
export interface ControllerEvent {
  reconciler: string;
  key: string;
  outcome: 'converged' | 'requeued' | 'retrying' | 'failed';
  /** For retrying and failed. */
  error?: string;
  /** Consecutive failures of this key. */
  failures: number;
  /** ms until it runs again (requeued, retrying). */
  afterMs?: number;
  at: Date;
}

export interface ControllerOptions {
  clock: Clock;
  logger: Logger;
  /** Retry delays of failed keys. Default 100 ms doubling to 30 s. */
  backoff?: BackoffPolicy;
  random?: () => number;
  onEvent?(e: ControllerEvent): void;
}

const DEFAULT: BackoffPolicy = { baseMs: 100, maxMs: 30_000, resetAfterMs: 0 };

interface Item {
  reconciler: Reconciler;
  key: string;
}

export class Controller {
  readonly #opts: ControllerOptions;
  readonly #reconcilers = new Map<string, Reconciler>();
  readonly #queue: Item[] = [];
  readonly #queued = new Set<string>();
  readonly #running = new Set<string>();
  readonly #again = new Set<string>();
  readonly #timers = new Map<string, Timer>();
  readonly #failures = new Map<string, number>();
  readonly #last = new Map<string, ControllerEvent>();
  #started = false;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #idleWaiters: (() => void)[] = [];

  constructor(opts: ControllerOptions) {
    this.#opts = opts;
  }

  add(reconciler: Reconciler): void {
    if (this.#reconcilers.has(reconciler.name)) throw new Error(`a reconciler named '${reconciler.name}' is already added`);
    this.#reconcilers.set(reconciler.name, reconciler);
  }

  /** Look at `key` of reconciler `name`, now or after `afterMs`. */
  enqueue(name: string, key: string, afterMs = 0): void {
    const reconciler = this.#reconcilers.get(name);
    if (!reconciler) throw new Error(`no reconciler named '${name}'`);
    if (this.#stopped) return;
    const id = `${name}\u0000${key}`;
    if (afterMs > 0) {
      if (this.#timers.has(id)) return; // the earlier timer will run it
      this.#timers.set(id, this.#opts.clock.setTimeout(() => {
        this.#timers.delete(id);
        this.enqueue(name, key);
      }, afterMs));
      return;
    }
    if (this.#running.has(id)) {
      this.#again.add(id);
      return;
    }
    if (this.#queued.has(id)) return;
    this.#queued.add(id);
    this.#queue.push({ reconciler, key });
    this.#wake?.();
  }

  /** The last thing done for each key. */
  events(): ControllerEvent[] {
    return [...this.#last.values()];
  }

  /** Process the queue until `signal` aborts; resolves once the work in hand has finished. */
  start(signal: AbortSignal): Promise<void> {
    if (this.#started) throw new Error('the controller is already started');
    this.#started = true;
    const stop = () => {
      this.#stopped = true;
      for (const t of this.#timers.values()) t.cancel();
      this.#timers.clear();
      this.#wake?.();
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
    this.#loop = this.#run();
    return this.#loop;
  }

  /** Resolves when nothing is queued or running (timers may be pending): for tests. */
  settled(): Promise<void> {
    if (this.#queue.length === 0 && this.#running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const item = this.#queue.shift();
      if (!item) {
        for (const w of this.#idleWaiters.splice(0)) w();
        await new Promise<void>((resolve) => { this.#wake = resolve; });
        this.#wake = undefined;
        continue;
      }
      await this.#process(item);
    }
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  async #process({ reconciler, key }: Item): Promise<void> {
    const id = `${reconciler.name}\u0000${key}`;
    this.#queued.delete(id);
    this.#running.add(id);
    const { clock, logger } = this.#opts;
    let event: ControllerEvent;
    try {
      const result = await reconciler.reconcile(key);
      this.#failures.delete(id);
      const after = result?.requeueAfterMs;
      event = { reconciler: reconciler.name, key, outcome: after === undefined ? 'converged' : 'requeued', failures: 0, ...(after !== undefined ? { afterMs: after } : {}), at: clock.date() };
      this.#running.delete(id);
      if (after !== undefined) this.enqueue(reconciler.name, key, Math.max(1, after));
    } catch (err) {
      const failures = (this.#failures.get(id) ?? 0) + 1;
      this.#failures.set(id, failures);
      const message = (err as Error)?.message ?? String(err);
      this.#running.delete(id);
      if (retryOf(err) === 'terminal') {
        event = { reconciler: reconciler.name, key, outcome: 'failed', error: message, failures, at: clock.date() };
        logger.error({ err, reconciler: reconciler.name, key }, 'reconcile failed; not retried until the key changes');
      } else {
        const delay = Math.round(backoffDelay(failures, this.#opts.backoff ?? DEFAULT, this.#opts.random));
        event = { reconciler: reconciler.name, key, outcome: 'retrying', error: message, failures, afterMs: delay, at: clock.date() };
        logger.warn({ err, reconciler: reconciler.name, key, retryInMs: delay }, 'reconcile failed; retrying');
        this.enqueue(reconciler.name, key, Math.max(1, delay));
      }
    }
    this.#last.set(id, event);
    this.#opts.onEvent?.(event);
    if (this.#again.delete(id)) this.enqueue(reconciler.name, key);
  }
}
