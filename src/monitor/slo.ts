/**
 * Service-level objectives (deployments.<name>.slos): events counted at the observation
 * point (availability, latency) and at feedback (accuracy), kept per time bucket in the
 * state database (migration 0007), so that budgets and burn rates survive restarts and
 * add up across gateways. A reconciler flushes the counts and evaluates every SLO:
 *
 *   error budget = 1 − objective              (99.9% ⇒ 0.1% of the window's events may be bad)
 *   burn rate    = bad share over a window ÷ error budget   (1 spends the budget exactly)
 *
 * Alerting follows the SRE workbook's multi-window, multi-burn-rate rules (Table 5-8): a
 * rule holds when the burn rate over its long window and over its short one (1/12 of it)
 * are both at least its rate, so an alert fires fast on a real burn and resets within
 * minutes of recovery. The workbook's windows are for a 30-day objective; for another
 * window they scale with it (as Pyrra does), so every rule still means "this share of the
 * budget spent in this share of the window":
 *
 *   severity  long  short  rate   budget spent
 *   page      1h    5m     14.4   2%
 *   page      6h    30m    6      5%
 *   ticket    1d    2h     3      10%
 *   ticket    3d    6h     1      10%
 *
 * Buckets are window / 43 200 wide (1 min for 30 days), at least 1 s and at most 1 min, so
 * the shortest short window spans at least five of them.
 */
import { sql, type Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Reconciler, ReconcileResult } from '../control/controller.js';
import type { Observer } from '../gateway/observe.js';
import type { Logger } from '../log.js';
import type { SloSpec } from '../spec/types.js';
import type { Store } from '../store/db.js';
import type { Database } from '../store/schema.js';
import { formatDuration } from '../spec/units.js';

export const SLO = 'slo';

const DAY = 86_400_000;
const BASE_PERIOD = 30 * DAY;

export interface BurnRule {
  severity: 'page' | 'ticket';
  /** ms */
  long: number;
  /** ms */
  short: number;
  rate: number;
}

/** The workbook's rules for a 30-day objective. */
const BASE_RULES: readonly BurnRule[] = [
  { severity: 'page', long: 3_600_000, short: 300_000, rate: 14.4 },
  { severity: 'page', long: 21_600_000, short: 1_800_000, rate: 6 },
  { severity: 'ticket', long: DAY, short: 7_200_000, rate: 3 },
  { severity: 'ticket', long: 3 * DAY, short: 21_600_000, rate: 1 },
];

/** The burn rules of an objective over `windowMs`: the workbook's windows scaled to it, rounded to whole seconds. */
export function burnRules(windowMs: number): BurnRule[] {
  const k = windowMs / BASE_PERIOD;
  const round = (ms: number) => Math.max(1000, Math.round((ms * k) / 1000) * 1000);
  return BASE_RULES.map((r) => ({ ...r, long: round(r.long), short: round(r.short) }));
}

/** The bucket width of an objective's events, ms: window / 43 200, within [1 s, 1 min]. */
export function resolutionOf(windowMs: number): number {
  return Math.min(60_000, Math.max(1000, Math.round(windowMs / 43_200 / 1000) * 1000));
}

export interface Events { good: number; total: number }

export interface BurnWindow {
  /** e.g. '1h' */
  window: string;
  ms: number;
  events: Events;
  /** bad share ÷ budget; 0 without events. */
  rate: number;
}

export interface RuleState {
  severity: 'page' | 'ticket';
  rate: number;
  long: BurnWindow;
  short: BurnWindow;
  /** Both windows burn at least `rate`. */
  active: boolean;
}

export interface SloStatus {
  deployment: string;
  name: string;
  kind: SloSpec['kind'];
  /** percent */
  objective: number;
  window: string;
  threshold?: string;
  /** Events over the whole window. */
  events: Events;
  /** Good share over the window, percent; undefined without events. */
  sli?: number;
  budget: {
    /** Bad events the window's events allow: (1 − objective) × total. */
    allowed: number;
    bad: number;
    /** Share of the budget spent (over 1 once exceeded). */
    spent: number;
    /** 1 − spent, at least 0. */
    remaining: number;
  };
  rules: RuleState[];
  /** The highest severity with an active rule. */
  burning?: 'page' | 'ticket';
  at: string;
}

/** Evaluate one objective from its event sums: `sums(ms)` gives the events of the last `ms`. */
export function evaluate(deployment: string, slo: SloSpec, sums: (ms: number) => Events, at: Date): SloStatus {
  const budget = 1 - slo.objective / 100;
  const win = (ms: number): BurnWindow => {
    const events = sums(ms);
    const bad = events.total - events.good;
    return { window: formatDuration(ms), ms, events, rate: events.total > 0 ? bad / events.total / budget : 0 };
  };
  const events = sums(slo.window);
  const bad = events.total - events.good;
  const allowed = budget * events.total;
  const spent = events.total > 0 ? bad / allowed : 0;
  const rules = burnRules(slo.window).map((r): RuleState => {
    const long = win(r.long);
    const short = win(r.short);
    return { severity: r.severity, rate: r.rate, long, short, active: long.events.total > 0 && short.events.total > 0 && long.rate >= r.rate && short.rate >= r.rate };
  });
  const burning = rules.some((r) => r.active && r.severity === 'page') ? 'page' : rules.some((r) => r.active) ? 'ticket' : undefined;
  return {
    deployment, name: slo.name, kind: slo.kind, objective: slo.objective, window: formatDuration(slo.window),
    ...(slo.threshold !== undefined ? { threshold: formatDuration(slo.threshold) } : {}),
    events,
    ...(events.total > 0 ? { sli: (100 * events.good) / events.total } : {}),
    budget: { allowed, bad, spent, remaining: Math.max(0, 1 - spent) },
    rules,
    ...(burning ? { burning } : {}),
    at: at.toISOString(),
  };
}

interface SloEventsTable {
  deployment: string;
  slo: string;
  /** The bucket's start, epoch seconds. */
  bucket: number | string;
  good: number | string;
  total: number | string;
}

type Tables = { slo_events: SloEventsTable };

/** One bucket's counts to add. */
export interface EventRow { deployment: string; slo: string; bucket: number; good: number; total: number }

/** The slo_events table: counts added per bucket, windows summed in SQL. */
export class SloStore {
  readonly #db: Kysely<Database & Tables>;

  constructor(store: Store) {
    this.#db = store.db.withTables<Tables>();
  }

  /** Add counts to their buckets (rows of one key are merged first). */
  async add(rows: readonly EventRow[]): Promise<void> {
    const merged = new Map<string, EventRow>();
    for (const r of rows) {
      const k = `${r.deployment}\0${r.slo}\0${r.bucket}`;
      const m = merged.get(k);
      if (m) { m.good += r.good; m.total += r.total; } else merged.set(k, { ...r });
    }
    const all = [...merged.values()];
    for (let i = 0; i < all.length; i += 500) {
      await this.#db.insertInto('slo_events').values(all.slice(i, i + 500))
        .onConflict((oc) => oc.columns(['deployment', 'slo', 'bucket']).doUpdateSet((eb) => ({
          good: sql<number>`${eb.ref('slo_events.good')} + ${eb.ref('excluded.good')}`,
          total: sql<number>`${eb.ref('slo_events.total')} + ${eb.ref('excluded.total')}`,
        })))
        .execute();
    }
  }

  /** The events of each of `since` (epoch seconds): one query. */
  async sums(deployment: string, slo: string, since: readonly number[]): Promise<Events[]> {
    const from = Math.min(...since);
    const cols = since.flatMap((s, i) => [
      sql<string>`coalesce(sum(case when bucket >= ${s} then good else 0 end), 0)`.as(`g${i}`),
      sql<string>`coalesce(sum(case when bucket >= ${s} then total else 0 end), 0)`.as(`t${i}`),
    ]);
    const row = await this.#db.selectFrom('slo_events').select(cols)
      .where('deployment', '=', deployment).where('slo', '=', slo).where('bucket', '>=', from)
      .executeTakeFirst() as Record<string, string | number | null> | undefined;
    return since.map((_, i) => ({ good: Number(row?.[`g${i}`] ?? 0), total: Number(row?.[`t${i}`] ?? 0) }));
  }

  /** Delete a deployment's buckets of `slo` older than `before` (epoch seconds); every SLO of a removed deployment without `slo`. */
  async deleteBefore(deployment: string, slo: string | undefined, before: number): Promise<number> {
    let q = this.#db.deleteFrom('slo_events').where('deployment', '=', deployment).where('bucket', '<', before);
    if (slo !== undefined) q = q.where('slo', '=', slo);
    const r = await q.executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async keys(): Promise<{ deployment: string; slo: string }[]> {
    return this.#db.selectFrom('slo_events').select(['deployment', 'slo']).distinct().execute();
  }
}

interface Counter { slo: SloSpec; res: number; bucket: number; good: number; total: number }

export interface SloTrackerOptions {
  clock: Clock;
  logger: Logger;
  store: SloStore;
  /** The live SLOs of a deployment (the same array until the spec changes). */
  slos(deployment: string): readonly SloSpec[];
  deployments(): string[];
  /** Evaluation interval. Default 15 s. */
  everyMs?: () => number;
  /** Told of every evaluation (alerts, metrics). */
  onEvaluate?(statuses: readonly SloStatus[]): void;
}

/** Unflushed bucket rows kept at most while the store cannot be written; older ones are dropped (and logged). */
const MAX_PENDING = 100_000;

export class SloTracker implements Reconciler {
  readonly name = SLO;
  readonly #o: SloTrackerOptions;
  readonly #counters = new Map<string, { slos: readonly SloSpec[]; counters: Counter[] }>();
  #pending: EventRow[] = [];
  #last: SloStatus[] = [];
  #lastMs = -Infinity;
  #lastPruneMs = -Infinity;

  constructor(o: SloTrackerOptions) {
    this.#o = o;
  }

  /** Availability and latency events, from every answer. */
  observer(): Observer {
    return (o) => {
      const slos = this.#o.slos(o.deployment);
      if (slos.length === 0) return;
      const { counters } = this.#of(o.deployment, slos);
      for (const c of counters) {
        if (c.slo.kind === 'availability') this.#add(o.deployment, c, o.at, o.status < 500 && o.nonFinite !== true, 1);
        else if (c.slo.kind === 'latency' && o.status < 500) this.#add(o.deployment, c, o.at, o.totalMs <= c.slo.threshold!, 1);
      }
    };
  }

  /** Accuracy events: labelled predictions judged right or wrong, counted when the labels arrive. */
  recordLabels(deployment: string, right: number, wrong: number): void {
    const slos = this.#o.slos(deployment);
    if (slos.length === 0 || right + wrong === 0) return;
    const at = this.#o.clock.date().getTime();
    for (const c of this.#of(deployment, slos).counters) if (c.slo.kind === 'accuracy') this.#addMany(deployment, c, at, right, right + wrong);
  }

  /** The last evaluation of every SLO. */
  last(deployment?: string): SloStatus[] {
    return deployment === undefined ? this.#last : this.#last.filter((s) => s.deployment === deployment);
  }

  /** Write the counts so far to the store. */
  async flush(): Promise<void> {
    for (const [deployment, e] of this.#counters) for (const c of e.counters) this.#close(deployment, c);
    if (this.#pending.length === 0) return;
    const rows = this.#pending;
    this.#pending = [];
    try {
      await this.#o.store.add(rows);
    } catch (err) {
      this.#pending = rows.concat(this.#pending);
      if (this.#pending.length > MAX_PENDING) {
        const lost = this.#pending.length - MAX_PENDING;
        this.#pending.splice(0, lost);
        this.#o.logger.warn({ lost }, 'SLO event buckets dropped: the store cannot be written');
      }
      throw err;
    }
  }

  /** Flush and evaluate every SLO of `deployment` (all deployments without one). */
  async evaluate(deployment?: string): Promise<SloStatus[]> {
    await this.flush();
    const at = this.#o.clock.date();
    const nowSec = at.getTime() / 1000;
    const out: SloStatus[] = [];
    for (const d of deployment === undefined ? this.#o.deployments() : [deployment]) {
      for (const slo of this.#o.slos(d)) {
        const res = resolutionOf(slo.window) / 1000;
        const spans = [slo.window, ...burnRules(slo.window).flatMap((r) => [r.long, r.short])];
        // A window of w covers the buckets starting after now − w (the current bucket included).
        const since = spans.map((ms) => Math.floor((nowSec - ms / 1000) / res + 1) * res);
        const sums = await this.#o.store.sums(d, slo.name, since);
        const byMs = new Map(spans.map((ms, i) => [ms, sums[i]!]));
        out.push(evaluate(d, slo, (ms) => byMs.get(ms) ?? { good: 0, total: 0 }, at));
      }
    }
    return out;
  }

  /** The last evaluation if it is at most `maxAgeMs` old, else a new one (the alert rules and the reconciler share one). */
  async recent(maxAgeMs: number): Promise<SloStatus[]> {
    return this.#o.clock.now() - this.#lastMs <= maxAgeMs ? this.#last : this.refresh();
  }

  /** Evaluate every SLO now and keep the result as the last evaluation. */
  async refresh(): Promise<SloStatus[]> {
    const statuses = await this.evaluate();
    this.#last = statuses;
    this.#lastMs = this.#o.clock.now();
    this.#o.onEvaluate?.(statuses);
    return statuses;
  }

  async reconcile(): Promise<ReconcileResult> {
    await this.refresh();
    const now = this.#o.clock.now();
    if (now - this.#lastPruneMs >= 3_600_000) {
      this.#lastPruneMs = now;
      await this.#prune();
    }
    return { requeueAfterMs: this.#o.everyMs?.() ?? 15_000 };
  }

  /** Buckets older than their SLO's window (or of SLOs no longer declared) are deleted. */
  async #prune(): Promise<void> {
    const nowSec = Math.floor(this.#o.clock.date().getTime() / 1000);
    const live = new Set(this.#o.deployments());
    for (const { deployment, slo } of await this.#o.store.keys()) {
      const spec = live.has(deployment) ? this.#o.slos(deployment).find((s) => s.name === slo) : undefined;
      await this.#o.store.deleteBefore(deployment, slo, spec ? nowSec - Math.ceil(spec.window / 1000) - 60 : nowSec + 1);
    }
  }

  #of(deployment: string, slos: readonly SloSpec[]): { slos: readonly SloSpec[]; counters: Counter[] } {
    let e = this.#counters.get(deployment);
    if (e && e.slos === slos) return e;
    // The spec changed: what was counted under the old list is kept for the flush.
    if (e) for (const c of e.counters) this.#close(deployment, c);
    e = { slos, counters: slos.map((slo) => ({ slo, res: resolutionOf(slo.window), bucket: -1, good: 0, total: 0 })) };
    this.#counters.set(deployment, e);
    return e;
  }

  #add(deployment: string, c: Counter, atMs: number, good: boolean, total: number): void {
    this.#addMany(deployment, c, atMs, good ? total : 0, total);
  }

  #addMany(deployment: string, c: Counter, atMs: number, good: number, total: number): void {
    const b = Math.floor(atMs / c.res);
    if (b !== c.bucket) {
      this.#close(deployment, c);
      c.bucket = b;
    }
    c.good += good;
    c.total += total;
  }

  /** Move a counter's counts to the pending rows. */
  #close(deployment: string, c: Counter): void {
    if (c.total === 0) return;
    this.#pending.push({ deployment, slo: c.slo.name, bucket: (c.bucket * c.res) / 1000, good: c.good, total: c.total });
    c.good = 0;
    c.total = 0;
  }
}
