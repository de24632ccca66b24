/**
 * What every orchestrator that runs replicas itself shares: groups of numbered slots,
 * converged level-based by `apply` (start missing slots, stop extra ones, replace a group
 * whose spec changed), merged status, change events, stop; and one replica lifecycle,
 * `ReplicaSlot`: starting → ready (→ unhealthy) → on exit backoff and restart, or failed
 * when the error is terminal (errors.ts), stopping → stopped with a grace period on the
 * injected clock. Subclasses supply how a replica is launched and ended: a child process
 * (local.ts) or a worker thread (thread.ts).
 */
import { systemClock, type Clock, type Timer } from '../../clock.js';
import { retryOfCode } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import type { Orchestrator, ReplicaGroup, ReplicaStartup, ReplicaState, ReplicaStatus } from './types.js';

export interface SlotOrchestratorOptions {
  clock?: Clock;
  backoff?: BackoffPolicy;
  logger?: Logger;
  random?: () => number;
}

/** Crash bookkeeping a slot keeps for its restart delays. */
export interface CrashRecord {
  failures: number;
  restarts: number;
  /** clock.now() when the slot last became ready; 0 when not ready since the last crash. */
  readySince: number;
}

export interface Slot {
  readonly id: string;
  status(): ReplicaStatus;
  start(): void;
  /** Stop for good (drain, then force after a grace period). */
  stop(): Promise<void>;
}

/**
 * One replica slot's lifecycle, the same for every kind of replica. A subclass launches
 * the replica (`launch`) and reports what happens to it: `ready()`, `startupError()`,
 * `exited()`; and ends it on request (`terminate`: gracefully, or forcibly after the grace
 * period).
 */
export abstract class ReplicaSlot implements Slot {
  state: ReplicaState = 'stopped';
  restarts = 0;
  failures = 0;
  lastError: string | undefined;
  since: number;
  readySince = 0;
  startup: ReplicaStartup | undefined;
  #launchedAt = 0;
  /** The last error is one no restart can fix: the slot goes to `failed`. */
  terminal = false;
  /** False once stopped for good. */
  wanted = true;
  #timer: Timer | undefined;
  #stopped: Promise<void> | undefined;
  #resolveStopped: (() => void) | undefined;

  constructor(readonly id: string, readonly group: ReplicaGroup, readonly orch: SlotOrchestrator<ReplicaSlot>, readonly stopGraceMs: number) {
    this.since = orch.clock.date().getTime();
  }

  /** Where the ready replica is reached (undefined when not ready). */
  abstract get url(): string | undefined;
  /** The process id, where there is one. */
  abstract get pid(): number | undefined;
  /** The Unix socket the ready replica serves the wire protocol on, where it has one. */
  get socket(): string | undefined {
    return undefined;
  }
  /** True while a replica is launched (running or starting). */
  protected abstract get running(): boolean;
  /** Launch the replica; report with ready(), startupError() and exited(). */
  protected abstract launch(): void;
  /** End the running replica: gracefully (it drains), or `force`d. */
  protected abstract terminate(force: boolean): void;

  status(): ReplicaStatus {
    const url = this.url;
    const socket = this.socket;
    const pid = this.pid;
    const live = this.state !== 'stopped' && this.state !== 'backoff' && this.state !== 'failed';
    return {
      id: this.id, group: this.group.key, deployment: this.group.deployment, version: this.group.spec.version,
      state: this.state, restarts: this.restarts, since: this.since, ...(this.startup ? { startup: this.startup } : {}),
      ...(url && this.state === 'ready' ? { url } : {}), ...(socket && this.state === 'ready' ? { socket } : {}), ...(pid !== undefined && live ? { pid } : {}), ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  protected set(state: ReplicaState): void {
    if (this.state === state) return;
    this.state = state;
    this.since = this.orch.clock.date().getTime();
    this.orch.emit(this);
  }

  start(): void {
    this.#launchedAt = this.orch.clock.now();
    this.set('starting');
    this.launch();
  }

  /** The replica loaded, warmed up and answers; `parts` is its own account of where the start went. */
  protected ready(parts?: Omit<ReplicaStartup, 'totalMs'>): void {
    this.readySince = this.orch.clock.now();
    this.startup = { totalMs: this.readySince - this.#launchedAt, ...parts };
    this.set('ready');
  }

  /** The replica reported why it cannot start; a terminal code is not restarted. */
  protected startupError(code: string | undefined, message: string | undefined): void {
    this.lastError = message ? `${code ?? 'error'}: ${message}` : code;
    if (retryOfCode(code) === 'terminal') this.terminal = true;
  }

  /** The replica ended (`how`: "code 1", "SIGKILL", …). */
  protected exited(how: string): void {
    this.#cancel();
    if (!this.wanted) {
      this.set('stopped');
      this.#resolveStopped?.();
      return;
    }
    if (!this.lastError || this.state === 'ready') this.lastError = `replica exited (${how})`;
    this.orch.logger.warn({ replica: this.id, how }, 'replica exited');
    if (this.terminal) {
      this.set('failed');
      return;
    }
    const delay = this.orch.restartDelay(this);
    this.set('backoff');
    this.#timer = this.orch.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.wanted) this.start();
    }, delay);
  }

  /** A timer of the slot's own (start timeout, probes), cancelled on exit and stop. */
  protected after(ms: number, fn: () => void): void {
    this.#cancel();
    this.#timer = this.orch.clock.setTimeout(() => {
      this.#timer = undefined;
      fn();
    }, ms);
  }

  #cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** Stop for good: ask the replica to drain, force it after the grace period. */
  stop(): Promise<void> {
    this.wanted = false;
    this.#cancel();
    if (!this.running) {
      this.set('stopped');
      return Promise.resolve();
    }
    if (!this.#stopped) {
      this.#stopped = new Promise<void>((resolve) => { this.#resolveStopped = resolve; });
      this.set('stopping');
      this.terminate(false);
      const force = this.orch.clock.setTimeout(() => this.terminate(true), this.stopGraceMs);
      void this.#stopped.then(() => force.cancel());
    }
    return this.#stopped;
  }
}

export abstract class SlotOrchestrator<S extends Slot> implements Orchestrator {
  abstract readonly kind: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly random: () => number;
  readonly #backoff: BackoffPolicy;
  #groups = new Map<string, { template: string; slots: S[] }>();
  #listeners: ((s: ReplicaStatus) => void)[] = [];

  constructor(opts: SlotOrchestratorOptions) {
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.random = opts.random ?? Math.random;
    this.#backoff = opts.backoff ?? DEFAULT_BACKOFF;
  }

  protected abstract makeSlot(id: string, group: ReplicaGroup): S;

  /**
   * Count a crash and return how long to wait before restarting: exponential with jitter,
   * the count reset once the slot had stayed ready for the policy's reset period.
   */
  restartDelay(c: CrashRecord): number {
    if (c.readySince && this.clock.now() - c.readySince >= this.#backoff.resetAfterMs) c.failures = 0;
    c.readySince = 0;
    c.failures++;
    c.restarts++;
    return backoffDelay(c.failures, this.#backoff, this.random);
  }

  async apply(groups: readonly ReplicaGroup[]): Promise<void> {
    const stopping: Promise<void>[] = [];
    const wanted = new Set(groups.map((g) => g.key));
    for (const [key, g] of this.#groups) {
      if (!wanted.has(key)) {
        stopping.push(...g.slots.map((s) => s.stop()));
        this.#groups.delete(key);
      }
    }
    for (const group of groups) {
      const template = JSON.stringify(group.spec);
      let g = this.#groups.get(group.key);
      if (g && g.template !== template) {
        // Same key, different program: replace every replica.
        stopping.push(...g.slots.map((s) => s.stop()));
        g = undefined;
      }
      if (!g) {
        g = { template, slots: [] };
        this.#groups.set(group.key, g);
      }
      while (g.slots.length > group.replicas) stopping.push(g.slots.pop()!.stop());
      while (g.slots.length < group.replicas) {
        const slot = this.makeSlot(`${group.key}#${g.slots.length}`, group);
        g.slots.push(slot);
        slot.start();
      }
    }
    await Promise.all(stopping);
  }

  status(): ReplicaStatus[] {
    return this.slots().map((s) => s.status());
  }

  onChange(listener: (s: ReplicaStatus) => void): void {
    this.#listeners.push(listener);
  }

  /** @internal called by slots when their state changes. */
  emit(slot: S): void {
    const s = slot.status();
    for (const l of this.#listeners) l(s);
  }

  async stop(): Promise<void> {
    const all = this.slots();
    this.#groups.clear();
    await Promise.all(all.map((s) => s.stop()));
  }

  protected slots(): S[] {
    return [...this.#groups.values()].flatMap((g) => g.slots);
  }
}
