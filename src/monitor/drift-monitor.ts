/**
 * Drift checks of capturing deployments (deployments.<name>.drift): on a schedule (as a
 * reconciler, every drift.every) and on demand (aloft monitor). Each check decrypts the
 * recent window of captured predictions, turns its rows into columns by feature, and
 * compares them with the reference (a training file, or the first referenceSize captured
 * predictions) feature by feature (drift.ts). Redacted features are never stored, so they
 * are not tested (and said so); hashed ones are compared as categories, the reference's
 * values hashed the same way.
 */
import { stat } from 'node:fs/promises';
import type { Clock } from '../clock.js';
import type { Reconciler, ReconcileResult } from '../control/controller.js';
import type { Logger } from '../log.js';
import type { DeploymentSpec } from '../spec/types.js';
import type { Capture } from './capture/capture.js';
import { hmacOf } from './capture/record.js';
import { openReadable, unreadableNote } from './capture/routes.js';
import type { CaptureStore } from './capture/store.js';
import { datasetDrift, featureDrift, tooManyCategories, type Cell, type DatasetDrift, type FeatureDrift } from './drift.js';
import type { CaptureRecord } from './capture/record.js';
import { loadReference } from './reference.js';
import { formatDuration } from '../spec/units.js';

export const DRIFT = 'drift';
/** The most recent-window records one check reads. */
export const MAX_WINDOW_ROWS = 20_000;

export interface DriftCheck {
  deployment: string;
  at: string;
  /** 'scheduled' or 'on demand'. */
  trigger: 'scheduled' | 'on demand';
  window: string;
  reference: { source: string; rows: number };
  currentRows: number;
  /** Features not tested, and why. */
  skipped: { feature: string; reason: string }[];
  /** Undefined when the window had fewer than drift.minRows rows (or the reference is not there yet). */
  result?: DatasetDrift;
  /** Prediction drift: each output against the first referenceSize captured predictions' (judged like a feature, not counted in the dataset's share). */
  predictions?: FeatureDrift[];
  /** While the first referenceSize predictions (prediction drift's reference) are still being captured: how many are. */
  predictionReference?: { rows: number; needed: number };
  /** Why there is no result; or, beside one, what it left out. */
  note?: string;
}

export interface DriftMonitorOptions {
  clock: Clock;
  logger: Logger;
  capture: Capture;
  store: CaptureStore;
  /** The live spec of a deployment. */
  spec(deployment: string): DeploymentSpec | undefined;
  deployments(): string[];
  /** Told of every check (metrics, alerts). */
  onCheck?(check: DriftCheck): void;
}

export class DriftMonitor implements Reconciler {
  readonly name = DRIFT;
  readonly #o: DriftMonitorOptions;
  readonly #last = new Map<string, { check: DriftCheck; atMs: number }>();
  readonly #files = new Map<string, { mtimeMs: number; columns: Record<string, Cell[]> }>();
  /** The first referenceSize captured rows per deployment, once there are that many (they do not change). */
  readonly #firsts = new Map<string, { cols: Record<string, Cell[]>; rows: number; preds: Record<string, { kind: 'numeric' | 'categorical'; cells: Cell[] }>; lastAt: string; firstAt?: string }>();

  constructor(o: DriftMonitorOptions) {
    this.#o = o;
  }

  /** The last scheduled check of a deployment. */
  last(deployment: string): DriftCheck | undefined {
    return this.#last.get(deployment)?.check;
  }

  async reconcile(): Promise<ReconcileResult> {
    const now = this.#o.clock.now();
    let next = 60_000;
    for (const d of this.#o.deployments()) {
      const drift = this.#o.spec(d)?.drift;
      if (!drift) continue;
      next = Math.min(next, drift.every);
      const last = this.#last.get(d);
      if (last && now - last.atMs < drift.every) continue;
      try {
        const check = await this.check(d, 'scheduled');
        if (check) this.#last.set(d, { check, atMs: now });
      } catch (err) {
        this.#o.logger.warn({ deployment: d, err: (err as Error).message }, 'drift check failed');
        this.#last.set(d, { check: { deployment: d, at: this.#o.clock.date().toISOString(), trigger: 'scheduled', window: '', reference: { source: '', rows: 0 }, currentRows: 0, skipped: [], note: (err as Error).message }, atMs: now });
      }
    }
    return { requeueAfterMs: next };
  }

  /** Compare the recent window with the reference now. Undefined when the deployment has no drift section. */
  async check(deployment: string, trigger: DriftCheck['trigger']): Promise<DriftCheck | undefined> {
    const spec = this.#o.spec(deployment);
    const drift = spec?.drift;
    const capture = spec?.capture;
    if (!spec || !drift || !capture || !spec.features) return undefined;
    await this.#o.capture.flush();
    const names = spec.features.map((f) => f.name);
    const redacted = new Set(capture.redact);
    const hashed = new Set(capture.hash);
    const tested = spec.features.filter((f) => !redacted.has(f.name)).map((f) => ({ name: f.name, kind: hashed.has(f.name) ? 'categorical' as const : f.kind }));
    const skipped = spec.features.filter((f) => redacted.has(f.name)).map((f) => ({ feature: f.name, reason: 'redacted: never stored, so not tested' }));
    let unreadable = 0;
    const done = (c: DriftCheck) => this.#done(unreadable === 0 ? c : { ...c, note: c.note ? `${c.note}; ${unreadableNote(unreadable)}` : unreadableNote(unreadable) });
    const columnsOf = async (since: string, limit: number) => {
      const cols: Record<string, Cell[]> = Object.fromEntries(tested.map((f) => [f.name, [] as Cell[]]));
      const preds: Record<string, { kind: 'numeric' | 'categorical'; cells: Cell[] }> = {};
      let rows = 0;
      let lastAt = since;
      let firstAt: string | undefined;
      for await (const stored of this.#o.store.list(deployment, since, this.#o.capture.ring(deployment, capture))) {
        const r = openReadable(stored);
        if (!r) {
          unreadable++;
          continue;
        }
        if (r.at > lastAt) lastAt = r.at;
        if (firstAt === undefined || r.at < firstAt) firstAt = r.at;
        for (const row of r.rows) {
          for (const f of tested) cols[f.name]!.push(row[f.name] ?? null);
          rows++;
        }
        predictionsOf(r.outputs, preds);
        if (rows >= limit) break;
      }
      return { cols, rows, preds, lastAt, ...(firstAt !== undefined ? { firstAt } : {}) };
    };
    // The first referenceSize captured rows: the reference without a file, and always the predictions' (a training file holds no outputs).
    const first = this.#firsts.get(deployment) ?? await columnsOf(new Date(0).toISOString(), drift.referenceSize);
    if (first.rows >= drift.referenceSize) this.#firsts.set(deployment, first);
    let ref: Record<string, Cell[]>;
    let source: string;
    if (drift.reference) {
      const s = await stat(drift.reference).catch(() => undefined);
      const cached = this.#files.get(drift.reference);
      if (cached && s && cached.mtimeMs === s.mtimeMs) ref = cached.columns;
      else {
        ref = await loadReference(drift.reference, names);
        this.#files.set(drift.reference, { mtimeMs: s?.mtimeMs ?? 0, columns: ref });
      }
      source = drift.reference;
      // The captured values of hashed features are HMACs (of the value the model saw, float32 for FP32 inputs): hash the reference's the same way.
      for (const f of hashed) if (ref[f]) ref = { ...ref, [f]: ref[f].map((v) => (v === null ? null : hmacOf(capture.hashKey ?? '', typeof v === 'number' ? Math.fround(v) : v))) };
    } else {
      ref = first.cols;
      // When they were captured: retention deletes them in time, and the reference moves on to the oldest rows kept.
      source = `the first ${drift.referenceSize} captured rows${first.firstAt ? ` (captured ${first.firstAt} to ${first.lastAt})` : ''}`;
      if (first.rows < drift.referenceSize) {
        return done({ deployment, at: this.#o.clock.date().toISOString(), trigger, window: formatDuration(drift.window), reference: { source, rows: first.rows }, currentRows: 0, skipped, note: `the reference is not complete yet (${first.rows} of ${drift.referenceSize} captured rows)` });
      }
    }
    // With the first captured rows as the reference, the window starts after them: rows are not compared with themselves.
    let since = new Date(this.#o.clock.date().getTime() - drift.window).toISOString();
    if (!drift.reference && first.lastAt >= since) since = new Date(Date.parse(first.lastAt) + 1).toISOString();
    const cur = await columnsOf(since, MAX_WINDOW_ROWS);
    const refRows = ref[tested[0]?.name ?? '']?.length ?? 0;
    const base: DriftCheck = { deployment, at: this.#o.clock.date().toISOString(), trigger, window: formatDuration(drift.window), reference: { source, rows: refRows }, currentRows: cur.rows, skipped };
    if (cur.rows < drift.minRows) return done({ ...base, note: `too few rows in the window to judge (${cur.rows} of drift.minRows ${drift.minRows})` });
    const predictions = first.rows >= drift.referenceSize
      ? Object.entries(cur.preds).flatMap(([name, p]) => {
        const r = first.preds[name];
        const d = r && r.kind === p.kind ? featureDrift(name, p.kind, r.cells, p.cells) : undefined;
        return d ? [d] : [];
      })
      : [];
    // A categorical (or hashed) feature whose reference values rarely repeat cannot be compared as categories: said, not tested.
    const comparable = tested.filter((f) => {
      const why = f.kind === 'categorical' ? tooManyCategories(ref[f.name] ?? []) : undefined;
      if (why) skipped.push({ feature: f.name, reason: hashed.has(f.name) ? `hashed, and ${why}; only a feature whose values repeat (a category) can be tested once hashed, so leave a continuous value in the clear to test it` : why });
      return why === undefined;
    });
    return done({
      ...base, result: datasetDrift(comparable, ref, cur.cols, drift.share), ...(predictions.length > 0 ? { predictions } : {}),
      ...(first.rows < drift.referenceSize ? { predictionReference: { rows: first.rows, needed: drift.referenceSize } } : {}),
    });
  }

  #done(c: DriftCheck): DriftCheck {
    this.#o.onCheck?.(c);
    return c;
  }
}

/** At most this many classes make an output categorical (its argmax); wider ones are not tested. */
const MAX_CLASSES = 64;

/**
 * The predictions of one record, per output: one value per row for a single score or
 * value (numeric), the predicted class (argmax) for 2 to 64 class scores (categorical).
 */
export function predictionsOf(outputs: CaptureRecord['outputs'], into: Record<string, { kind: 'numeric' | 'categorical'; cells: Cell[] }>): void {
  for (const [name, o] of Object.entries(outputs)) {
    const width = o.shape.length >= 2 ? o.shape[o.shape.length - 1]! : 1;
    if (width < 1 || width > MAX_CLASSES || typeof o.data[0] !== 'number') continue;
    const kind = width === 1 ? 'numeric' : 'categorical';
    const slot = into[name] ?? (into[name] = { kind, cells: [] });
    if (slot.kind !== kind) continue;
    for (let i = 0; i + width <= o.data.length; i += width) {
      if (width === 1) {
        const v = o.data[i];
        slot.cells.push(typeof v === 'number' && Number.isFinite(v) ? v : null);
        continue;
      }
      let best = 0;
      for (let k = 1; k < width; k++) if ((o.data[i + k] as number) > (o.data[i + best] as number)) best = k;
      slot.cells.push(best);
    }
  }
}
