/**
 * What every orchestrator that runs replicas itself shares: groups of numbered slots,
 * converged level-based by `apply` (start missing slots, stop extra ones, replace a group
 * whose template changed), merged status, change events, stop. Subclasses supply the slot:
 * a child process (local.ts) or a worker thread (thread.ts).
 */
import { systemClock, type Clock } from '../../clock.js';
import { silentLogger, type Logger } from '../../log.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import type { Orchestrator, ReplicaGroup, ReplicaStatus } from './types.js';

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
