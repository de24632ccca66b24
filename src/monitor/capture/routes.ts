/**
 * The capture's HTTP surface (api/routes.ts declares both):
 *
 * - POST /v2/models/{name}/feedback: ground-truth labels by request id. Each entry is
 *   checked on its own; good entries are kept even when others in the batch are not, and
 *   the answer says which were accepted, which ids were never captured, and which entries
 *   were rejected and why. Labels for ids Aloft did not capture are counted, not kept.
 * - GET /api/v1/capture/{name}?since=24h&format=jsonl|csv: the deployment's records,
 *   decrypted, oldest first (admin only).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { routeOf } from '../../api/routes.js';
import { fail, isAloftError } from '../../errors.js';
import type { Principal } from '../../security/principal.js';
import { parseDuration } from '../../spec/units.js';
import type { Clock } from '../../clock.js';
import { MAX_ID, type Capture, type CaptureConfig } from './capture.js';
import { readRecord, type CaptureRecord, type CellValue } from './record.js';
import type { CaptureStore, StoredCapture } from './store.js';
import { labelFitError, labelFitWarning, pairsOf, quality, type Pair, type QualityFigures } from '../quality.js';
import type { SloStatus } from '../slo.js';
import type { Alert } from '../alerts/model.js';
import type { DriftCheck, DriftMonitor } from '../drift-monitor.js';

export interface CaptureRoutesContext {
  capture: Capture;
  store: CaptureStore;
  clock: Clock;
  /** The deployment's capture settings now; undefined when it does not capture. */
  config(deployment: string): CaptureConfig | undefined;
  /** Whether the deployment is served. */
  exists(deployment: string): boolean;
  /** Told of each feedback call's outcome counts. */
  onFeedback?(deployment: string, counts: { accepted: number; notCaptured: number; rejected: number }): void;
  /** Drift checks, when any deployment has a drift section. */
  drift?: DriftMonitor;
  /** Feedback counts so far, per deployment. */
  feedbackCounts?(deployment: string): { accepted: number; notCaptured: number; rejected: number } | undefined;
  /** Told of the labelled predictions of each feedback call, by version (accuracy SLOs, rollout gates). */
  onLabels?(deployment: string, labelled: readonly { version: number; pairs: Pair[] }[]): void;
  /** The deployment's SLOs evaluated now. */
  slos?(deployment: string): Promise<SloStatus[]>;
  /** Its pending and firing alerts. */
  alerts?(deployment: string): Alert[];
}

/** The windows quality is reported over, most recent first. */
export const QUALITY_WINDOWS = [['1h', 3_600_000], ['24h', 86_400_000], ['7d', 7 * 86_400_000]] as const;

export interface MonitorReport {
  deployment: string;
  at: string;
  capture?: { sampleRate: number; written: Record<string, number>; droppedFull: number; droppedSink: number; repeated: number; queued: number };
  feedback: { accepted: number; notCaptured: number; rejected: number };
  /** Per version and window: quality from the labels joined so far (absent where no labelled prediction). */
  quality: ({ version: number; window: string } & QualityFigures)[];
  /** The last scheduled drift check and one run now (deployments with a drift section). */
  drift?: { scheduled?: DriftCheck; now?: DriftCheck };
  /** Each SLO evaluated now: budget left, burn rate per window, the rules that hold. */
  slos: SloStatus[];
  /** Pending and firing alerts of the deployment. */
  alerts: Alert[];
  /** Labelled records left out of quality because no configured key opens them (see the note). */
  unreadable?: { records: number; note: string };
}

export const MAX_FEEDBACK = 10_000;

export interface FeedbackAnswer {
  accepted: number;
  /** Ids that were never captured (or are past retention): counted, not kept. */
  notCaptured: string[];
  rejected: { index: number; id?: string; error: string }[];
  /** Accepted labels that look like a mistake (a binary classifier's label that is neither 0 nor 1). */
  warnings?: { index: number; id: string; warning: string }[];
}

type Label = number | number[];

function labelError(label: unknown): string | undefined {
  if (typeof label === 'number') return Number.isFinite(label) ? undefined : 'label must be a finite number';
  if (Array.isArray(label)) {
    if (label.length === 0 || label.length > 1000) return 'a label array has 1 to 1000 numbers';
    return label.every((x) => typeof x === 'number' && Number.isFinite(x)) ? undefined : 'a label array holds finite numbers only';
  }
  return `label must be a number or an array of numbers, got ${label === null ? 'null' : typeof label}`;
}

function parseJson(req: FastifyRequest): unknown {
  const raw = (req.body as Buffer | undefined)?.toString('utf8') ?? '';
  try {
    return JSON.parse(raw);
  } catch {
    throw fail('ALOFT_FEEDBACK_INVALID', 'the body is not JSON; send {"feedback": [{"id": "<request id>", "label": 1}, …]}');
  }
}

/** A stored record, decrypted (with the ring the store read it with) and decoded. @throws ALOFT_CAPTURE_KEY */
export function openRecord(r: StoredCapture): CaptureRecord {
  return readRecord(r.plain());
}

/**
 * The record, or undefined when it was sealed under a key that is neither capture.key nor
 * in capture.previousKeys: figures computed from many records (quality, drift) skip those
 * and say how many, instead of failing whole. Other errors are thrown.
 */
export function openReadable(r: StoredCapture): CaptureRecord | undefined {
  try {
    return openRecord(r);
  } catch (err) {
    if (isAloftError(err) && err.code === 'ALOFT_CAPTURE_KEY') return undefined;
    throw err;
  }
}

/** The note for records skipped because no configured key opens them. */
export const unreadableNote = (n: number) => `${n} captured record${n === 1 ? ' was' : 's were'} sealed under a key that is neither capture.key nor in capture.previousKeys, and ${n === 1 ? 'is' : 'are'} left out; list the old key in previousKeys to count ${n === 1 ? 'it' : 'them'}`;

const csvCell = (v: unknown) => {
  const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The CSV export's header: the record's fields, the named columns, then each other input and each output. */
export function csvHeader(columns: readonly string[], others: readonly string[], outputs: readonly string[]): string {
  return `${['id', 'at', 'deployment', 'version', 'model', 'key', 'latencyMs', 'row', ...columns, ...others.map((o) => `input.${o}`), ...outputs.map((o) => `output.${o}`), 'label'].map(csvCell).join(',')}\n`;
}

/** A record's CSV lines: one per row of its batch; a tensor with several values per row gives a JSON array cell. */
export function csvRows(r: CaptureRecord & { label?: number | number[] }, columns: readonly string[], others: readonly string[], outputs: readonly string[]): string {
  const n = Math.max(1, r.rows.length);
  let out = '';
  for (let i = 0; i < n; i++) {
    const row = r.rows[i] ?? {};
    const rowOf = (t: { data: CellValue[] } | undefined) => {
      if (!t) return '';
      const per = t.data.length / n;
      return per === 1 ? t.data[i] : t.data.slice(i * per, (i + 1) * per);
    };
    const ins = others.map((name) => rowOf(r.inputs?.[name]));
    const outs = outputs.map((name) => rowOf(r.outputs[name]));
    // The ground-truth label sent by feedback, if any: one per row (an array labels the rows of a batch).
    const label = r.label === undefined ? '' : Array.isArray(r.label) ? r.label[i] : r.label;
    out += `${[r.id, r.at, r.deployment, r.version, r.model, r.key, r.latencyMs, i, ...columns.map((k) => row[k]), ...ins, ...outs, label].map(csvCell).join(',')}\n`;
  }
  return out;
}

export function registerFeedbackRoute(app: FastifyInstance, ctx: CaptureRoutesContext): void {
  app.route({ ...routeOf('model.feedback'), handler: async (req, reply): Promise<FeedbackAnswer> => {
    const deployment = (req.params as { name: string }).name;
    const body = parseJson(req) as { feedback?: unknown } | null;
    const list = body !== null && typeof body === 'object' && !Array.isArray(body) ? body.feedback : undefined;
    if (!Array.isArray(list) || list.length === 0) throw fail('ALOFT_FEEDBACK_INVALID', 'send {"feedback": [{"id": "<request id>", "label": 1}, …]}: a non-empty array under "feedback"');
    if (list.length > MAX_FEEDBACK) throw fail('ALOFT_FEEDBACK_INVALID', `at most ${MAX_FEEDBACK} labels per call; this one has ${list.length}: split it`);
    if (!ctx.exists(deployment)) throw fail('ALOFT_MODEL_NOT_FOUND', `deployment '${deployment.slice(0, 80)}' is not served here; aloft status lists the deployments`);
    const c = ctx.config(deployment);
    if (!c) throw fail('ALOFT_NOT_CAPTURED', `deployment '${deployment}' does not capture predictions, so labels have nothing to join; add a capture section to it (docs/spec.md)`);
    const rejected: FeedbackAnswer['rejected'] = [];
    let warnings: FeedbackAnswer['warnings'];
    const good = new Map<string, Label>();
    const indexOf = new Map<string, number>();
    list.forEach((e: unknown, index) => {
      if (e === null || typeof e !== 'object' || Array.isArray(e)) return rejected.push({ index, error: 'an entry is an object {"id": "...", "label": ...}' });
      const { id, label } = e as { id?: unknown; label?: unknown };
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID) return rejected.push({ index, error: `id must be the request id, a string of 1 to ${MAX_ID} characters` });
      const why = labelError(label);
      if (why) return rejected.push({ index, id, error: why });
      // The same id twice in one call: the last label is kept, and the earlier entry is answered as such.
      const earlier = indexOf.get(id);
      if (earlier !== undefined) rejected.push({ index: earlier, id, error: `entry #${index} of this call labels the same id; the last label is kept` });
      good.set(id, label as Label);
      indexOf.set(id, index);
      return undefined;
    });
    // Predictions answered a moment ago may still be queued for the sink.
    await ctx.capture.flush();
    const ids = [...good.keys()];
    const known = await ctx.store.get(deployment, ids, ctx.capture.ring(deployment, c.capture));
    const notCaptured = ids.filter((id) => !known.has(id));
    // A label must give one value per row of the prediction it labels: else it could never be judged.
    const opened = new Map<string, CaptureRecord>();
    for (const id of ids) {
      const stored = known.get(id);
      if (!stored) continue;
      let record: CaptureRecord;
      try { record = openRecord(stored); } catch { continue; } // a record under a key no longer configured: kept, not judged
      opened.set(id, record);
      const why = labelFitError(record, good.get(id)!);
      if (why) {
        rejected.push({ index: indexOf.get(id)!, id, error: why });
        known.delete(id);
        continue;
      }
      const warning = labelFitWarning(record, good.get(id)!);
      if (warning) (warnings ??= []).push({ index: indexOf.get(id)!, id, warning });
    }
    rejected.sort((a, b) => a.index - b.index);
    const keep = ids.filter((id) => known.has(id)).map((id) => ({ id, label: good.get(id)! }));
    // A label resent or corrected replaces the stored one (quality uses the latest) but is judged once: the SLO counts each prediction once.
    const before = keep.length > 0 && ctx.onLabels ? await ctx.store.labelledIds(deployment, keep.map((k) => k.id)) : new Set<string>();
    if (keep.length > 0) await ctx.store.putFeedback(deployment, keep, (req as { principal?: Principal }).principal?.name ?? 'anonymous', ctx.clock.date().toISOString());
    if (keep.length > 0 && ctx.onLabels) {
      // Judged now, when the labels arrive: the predictions they label, by version.
      const labelled = keep.filter((k) => !before.has(k.id) && opened.has(k.id)).map((k) => {
        const record = opened.get(k.id)!;
        return { version: record.version, pairs: pairsOf(record, k.label) };
      });
      ctx.onLabels(deployment, labelled);
    }
    ctx.onFeedback?.(deployment, { accepted: keep.length, notCaptured: notCaptured.length, rejected: rejected.length });
    const answer: FeedbackAnswer = { accepted: keep.length, notCaptured, rejected, ...(warnings ? { warnings: warnings.sort((a, b) => a.index - b.index) } : {}) };
    if (keep.length === 0 && notCaptured.length === 0) return reply.code(400).send({ error: `every entry was rejected: ${rejected.slice(0, 3).map((r) => `#${r.index}: ${r.error}`).join('; ')}`, code: 'ALOFT_FEEDBACK_INVALID', ...answer }) as never;
    return answer;
  } });
}

/** Records joined to their labels per query. */
const EXPORT_PAGE = 500;

export function registerCaptureExportRoute(app: FastifyInstance, ctx: CaptureRoutesContext): void {
  app.route({ ...routeOf('admin.capture.export'), handler: async (req, reply) => {
    const deployment = (req.params as { name: string }).name;
    const q = req.query as { since?: string; format?: string };
    const sinceMs = parseDuration(q.since ?? '24h');
    if (sinceMs === undefined) throw fail('ALOFT_BAD_REQUEST', `since must be a duration back from now, such as 24h or 30m, got '${String(q.since).slice(0, 40)}'`);
    const format = q.format ?? 'jsonl';
    if (format !== 'jsonl' && format !== 'csv') throw fail('ALOFT_BAD_REQUEST', `format must be jsonl or csv, got '${String(format).slice(0, 40)}'`);
    if (!ctx.exists(deployment)) throw fail('ALOFT_MODEL_NOT_FOUND', `deployment '${deployment.slice(0, 80)}' is not served here; aloft status lists the deployments`);
    const c = ctx.config(deployment);
    const since = new Date(ctx.clock.date().getTime() - sinceMs).toISOString();
    if (!c) {
      // Records kept from an earlier revision (a rollback to one without capture) are still there, but their key is not.
      const kept = await ctx.store.kids(deployment, since);
      throw fail('ALOFT_NOT_CAPTURED', kept.length === 0
        ? `deployment '${deployment}' does not capture predictions (no capture section), so there is nothing to export`
        : `deployment '${deployment}' has no capture section in the running revision, so its key is not at hand; records since ${since} written under an earlier revision (key id${kept.length > 1 ? 's' : ''} ${kept.join(', ')}) are kept until their retention ends. To export them, apply a capture section with that key (sampleRate: 0 keeps capture off) and export again`);
    }
    await ctx.capture.flush();
    // Every key the records need must be at hand before answering: a missing one is a clear error, not a cut-off stream.
    const ring = ctx.capture.ring(deployment, c.capture);
    const missing = (await ctx.store.kids(deployment, since)).filter((k) => !ring.has(k));
    if (missing.length > 0) throw fail('ALOFT_CAPTURE_KEY', `records since ${since} were encrypted with key id${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which ${missing.length > 1 ? 'are' : 'is'} neither capture.key (id ${ring.id}) nor in capture.previousKeys; add the key${missing.length > 1 ? 's' : ''} they were written with to capture.previousKeys`);
    const rows = ctx.store.list(deployment, since, ring);
    // Decrypt the first record before answering, so a wrong key is a clear error, not a cut-off stream.
    const first = await rows.next();
    const firstRecord = first.done ? undefined : openRecord(first.value);
    const columns = firstRecord ? Object.keys(firstRecord.rows[0] ?? {}) : [];
    const outputs = firstRecord ? Object.keys(firstRecord.outputs) : [];
    // The inputs besides the one whose columns are named (a model with several inputs): one column each, as outputs are.
    const others = firstRecord?.inputs ? Object.keys(firstRecord.inputs) : [];
    const store = ctx.store;
    const lines = async function* (): AsyncGenerator<string> {
      if (format === 'csv') yield csvHeader(columns, others, outputs);
      // Records go out a page at a time, each with the label feedback gave it (a training set needs both).
      const emit = async (page: CaptureRecord[]): Promise<string> => {
        const labels = await store.labels(deployment, page.map((r) => r.id));
        return page.map((r) => {
          const label = labels.get(r.id);
          const withLabel = label === undefined ? r : { ...r, label };
          return format === 'jsonl' ? `${JSON.stringify(withLabel)}\n` : csvRows(withLabel, columns, others, outputs);
        }).join('');
      };
      let page: CaptureRecord[] = firstRecord ? [firstRecord] : [];
      for await (const r of rows) {
        page.push(openRecord(r));
        if (page.length >= EXPORT_PAGE) {
          yield await emit(page);
          page = [];
        }
      }
      if (page.length > 0) yield await emit(page);
    };
    const { Readable } = await import('node:stream');
    return reply.header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson').send(Readable.from(lines()));
  } });
}

/** What `aloft monitor` shows: capture and feedback counts, and quality per version and window. */
export async function monitorReport(ctx: CaptureRoutesContext, deployment: string): Promise<MonitorReport> {
  const c = ctx.config(deployment);
  const now = ctx.clock.date().getTime();
  const now0 = now;
  const counts = ctx.capture.counts().find((x) => x.deployment === deployment)?.counts;
  const report: MonitorReport = {
    deployment, at: new Date(now).toISOString(),
    ...(c ? { capture: { sampleRate: c.capture.sampleRate, written: counts?.written ?? {}, droppedFull: counts?.droppedFull ?? 0, droppedSink: counts?.droppedSink ?? 0, repeated: counts?.repeated ?? 0, queued: counts?.queued ?? 0 } } : {}),
    feedback: ctx.feedbackCounts?.(deployment) ?? { accepted: 0, notCaptured: 0, rejected: 0 },
    quality: [],
    slos: ctx.slos ? await ctx.slos(deployment) : [],
    alerts: ctx.alerts?.(deployment) ?? [],
  };
  if (!c) return report;
  if (ctx.drift) {
    // A drift check that cannot run (a reference file with the wrong columns) says why, and the rest of the report stands.
    const now = await ctx.drift.check(deployment, 'on demand').catch((err: unknown): DriftCheck => ({
      deployment, at: new Date(now0).toISOString(), trigger: 'on demand', window: '', reference: { source: '', rows: 0 }, currentRows: 0, skipped: [],
      note: `drift check failed: ${(err as Error).message}`,
    }));
    const scheduled = ctx.drift.last(deployment);
    if (now || scheduled) report.drift = { ...(scheduled ? { scheduled } : {}), ...(now ? { now } : {}) };
  }
  await ctx.capture.flush();
  const longest = QUALITY_WINDOWS[QUALITY_WINDOWS.length - 1]![1];
  const labelled = await ctx.store.labelled(deployment, new Date(now - longest).toISOString(), ctx.capture.ring(deployment, c.capture));
  let unreadable = 0;
  const rows = labelled.flatMap((l) => {
    const record = openReadable(l.capture);
    if (!record) return unreadable++, [];
    return [{ version: record.version, atMs: Date.parse(record.at), pairs: pairsOf(record, l.label) }];
  });
  if (unreadable > 0) report.unreadable = { records: unreadable, note: unreadableNote(unreadable) };
  const versions = [...new Set(rows.map((r) => r.version))].sort((a, b) => b - a);
  for (const version of versions) {
    for (const [window, ms] of QUALITY_WINDOWS) {
      const q = quality(rows.filter((r) => r.version === version && r.atMs >= now - ms).flatMap((r) => r.pairs));
      if (q) report.quality.push({ version, window, ...q });
    }
  }
  return report;
}

export function registerMonitorRoute(app: FastifyInstance, ctx: CaptureRoutesContext): void {
  app.route({ ...routeOf('admin.monitor'), handler: async (req): Promise<MonitorReport> => {
    const deployment = (req.params as { name: string }).name;
    if (!ctx.exists(deployment)) throw fail('ALOFT_MODEL_NOT_FOUND', `deployment '${deployment.slice(0, 80)}' is not served here; aloft status lists the deployments`);
    return monitorReport(ctx, deployment);
  } });
}
