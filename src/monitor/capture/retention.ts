/**
 * Capture retention as a reconciler: every pass deletes, per capturing deployment, the
 * records (store) and closed files (jsonl) older than its capture.retention, then asks to
 * run again in a minute. A retention shortened by an apply takes effect at the next pass
 * (within a minute). Deployments that stopped capturing keep their records until the
 * retention they last had is over; records of deployments this process never saw
 * capture are kept 30 days.
 */
import type { Clock } from '../../clock.js';
import type { Reconciler, ReconcileResult } from '../../control/controller.js';
import type { Logger } from '../../log.js';
import type { CaptureConfig } from './capture.js';
import type { JsonlSink } from './jsonl.js';
import type { CaptureStore } from './store.js';

export const CAPTURE_RETENTION = 'capture-retention';

/** How long records of a deployment with no capture section in this process's life are kept. */
export const UNKNOWN_RETENTION_MS = 30 * 86_400_000;

export interface RetentionOptions {
  clock: Clock;
  logger: Logger;
  store: CaptureStore;
  jsonl?: JsonlSink;
  /** The capturing deployments now. */
  configs(): ReadonlyMap<string, CaptureConfig>;
  /** Default 60 s. */
  everyMs?: number;
}

export class CaptureRetention implements Reconciler {
  readonly name = CAPTURE_RETENTION;
  readonly #o: RetentionOptions;
  /** Per deployment, the retention it has now, or had when it last captured. */
  readonly #retention = new Map<string, number>();

  constructor(o: RetentionOptions) {
    this.#o = o;
  }

  async reconcile(): Promise<ReconcileResult> {
    for (const [d, c] of this.#o.configs()) this.#retention.set(d, c.capture.retention);
    const now = this.#o.clock.date().getTime();
    for (const d of await this.#o.store.deployments()) if (!this.#retention.has(d)) this.#retention.set(d, UNKNOWN_RETENTION_MS);
    for (const [d, retention] of this.#retention) {
      const before = now - retention;
      const records = await this.#o.store.deleteBefore(d, new Date(before).toISOString());
      const files = (await this.#o.jsonl?.deleteBefore(d, before)) ?? 0;
      if (records > 0 || files > 0) this.#o.logger.info({ deployment: d, records, files }, 'capture retention: deleted old records');
    }
    return { requeueAfterMs: this.#o.everyMs ?? 60_000 };
  }
}
