/**
 * Cost meters (issue 16), off the hot path: a reconciler samples the replicas every
 * `cost.every` and adds, per deployment, version and hour, OpenCost's allocation:
 *
 *   allocated = replica-seconds × what one replica reserves (vCPU, GiB, GPU)
 *   cost      = allocated hours × the price table's rates        (priced at report time)
 *
 * and what was used: CPU seconds and resident GiB-seconds of each replica process, read
 * from /proc (thread replicas share the gateway's process, so their use is not told apart
 * and is reported as unmeasured). Requests and rows come from the observation point. A
 * replica counts as allocated while it is starting, ready or unhealthy (it holds its
 * reservation), not while it backs off, has stopped or failed.
 *
 * The rows are added to the store (migration 0008) with an upsert, so they survive restarts
 * and several gateways add up; `report` sums them and prices them.
 */
import { readFileSync } from 'node:fs';
import { sql, type Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Reconciler, ReconcileResult } from '../control/controller.js';
import type { ReplicaStatus } from '../control/orchestrators/types.js';
import type { Observer } from '../gateway/observe.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/db.js';
import type { Database } from '../store/schema.js';
import { hourlyCost, HOURS_PER_MONTH, type Rates, type Reservation } from './prices.js';

export const COST = 'cost';
const HOUR_S = 3600;

export interface MeterRow {
  deployment: string;
  version: number;
  /** The hour's start, epoch seconds. */
  bucket: number;
  replicaS: number;
  cpuAllocS: number;
  memAllocGiBS: number;
  gpuAllocS: number;
  cpuUsedS: number;
  memUsedGiBS: number;
  /** vCPU-seconds reserved by replicas whose CPU use was measured (process replicas): what cpuUsedS is a share of. */
  cpuMeasuredS: number;
  /** GiB-seconds reserved by replicas whose memory was measured. */
  memMeasuredGiBS: number;
  requests: number;
  rows: number;
  /** Epoch seconds this row's metering began (its first replica-second), when known. */
  firstS?: number;
}

interface CostMetersTable {
  deployment: string;
  version: number;
  bucket: number | string;
  replica_s: number;
  cpu_alloc_s: number;
  mem_alloc_gib_s: number;
  gpu_alloc_s: number;
  cpu_used_s: number;
  mem_used_gib_s: number;
  cpu_measured_s: number;
  mem_measured_gib_s: number;
  requests: number | string;
  rows: number | string;
  first_s: number | null;
}

type Tables = { cost_meters: CostMetersTable };

const FIELDS = ['replicaS', 'cpuAllocS', 'memAllocGiBS', 'gpuAllocS', 'cpuUsedS', 'memUsedGiBS', 'cpuMeasuredS', 'memMeasuredGiBS', 'requests', 'rows'] as const;
const COLUMNS = {
  replicaS: 'replica_s', cpuAllocS: 'cpu_alloc_s', memAllocGiBS: 'mem_alloc_gib_s', gpuAllocS: 'gpu_alloc_s', cpuUsedS: 'cpu_used_s', memUsedGiBS: 'mem_used_gib_s',
  cpuMeasuredS: 'cpu_measured_s', memMeasuredGiBS: 'mem_measured_gib_s', requests: 'requests', rows: 'rows',
} as const;

export type Quantities = Omit<MeterRow, 'deployment' | 'version' | 'bucket' | 'firstS'>;
const zero = (): Quantities => ({ replicaS: 0, cpuAllocS: 0, memAllocGiBS: 0, gpuAllocS: 0, cpuUsedS: 0, memUsedGiBS: 0, cpuMeasuredS: 0, memMeasuredGiBS: 0, requests: 0, rows: 0 });

export class CostStore {
  readonly #db: Kysely<Database & Tables>;

  constructor(store: Store) {
    this.#db = store.db.withTables<Tables>();
  }

  async add(rows: readonly MeterRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 200) {
      const values = rows.slice(i, i + 200).map((r) => ({
        deployment: r.deployment, version: r.version, bucket: r.bucket, replica_s: r.replicaS, cpu_alloc_s: r.cpuAllocS, mem_alloc_gib_s: r.memAllocGiBS,
        gpu_alloc_s: r.gpuAllocS, cpu_used_s: r.cpuUsedS, mem_used_gib_s: r.memUsedGiBS, cpu_measured_s: r.cpuMeasuredS, mem_measured_gib_s: r.memMeasuredGiBS, requests: r.requests, rows: r.rows,
        first_s: r.firstS ?? null,
      }));
      // Sums add up; first_s keeps the earliest (CASE, not min/least: the same SQL on SQLite and PostgreSQL).
      await this.#db.insertInto('cost_meters').values(values)
        .onConflict((oc) => oc.columns(['deployment', 'version', 'bucket']).doUpdateSet((eb) => ({
          ...Object.fromEntries(FIELDS.map((f) => [COLUMNS[f], sql`${eb.ref(`cost_meters.${COLUMNS[f]}`)} + ${eb.ref(`excluded.${COLUMNS[f]}`)}`])),
          first_s: sql`case when ${eb.ref('cost_meters.first_s')} is null or ${eb.ref('excluded.first_s')} < ${eb.ref('cost_meters.first_s')} then ${eb.ref('excluded.first_s')} else ${eb.ref('cost_meters.first_s')} end`,
        }) as never))
        .execute();
    }
  }

  /** Sums per deployment and version of the hours starting at or after `sinceSec`. */
  /**
   * Sums per deployment and version of the hours starting at or after `sinceSec`, with the
   * first such hour (`first`) and when metering began in it (`firstS`, when recorded).
   */
  async sums(sinceSec: number): Promise<(Quantities & { deployment: string; version: number; first: number; firstS?: number })[]> {
    const rows = await this.#db.selectFrom('cost_meters')
      .select((eb) => [
        'deployment', 'version', eb.fn.min('bucket').as('first'),
        ...FIELDS.map((f) => eb.fn.sum(COLUMNS[f]).as(f)),
      ])
      .where('bucket', '>=', sinceSec).groupBy(['deployment', 'version']).execute() as unknown as Record<string, string | number>[];
    // When metering began within each group's first hour (NULL in rows written before 0018).
    const starts = rows.length === 0 ? [] : await this.#db.selectFrom('cost_meters').select(['deployment', 'version', 'bucket', 'first_s'])
      .where('bucket', '>=', sinceSec).where('first_s', 'is not', null).execute();
    const startOf = new Map(starts.map((s) => [`${s.deployment}\u0000${s.version}\u0000${Number(s.bucket)}`, Number(s.first_s)]));
    return rows.map((r) => {
      const firstS = startOf.get(`${String(r.deployment)}\u0000${Number(r.version)}\u0000${Number(r.first)}`);
      return { deployment: String(r.deployment), version: Number(r.version), first: Number(r.first), ...(firstS !== undefined ? { firstS } : {}), ...Object.fromEntries(FIELDS.map((f) => [f, Number(r[f] ?? 0)])) as Quantities };
    });
  }
}

/** CPU seconds (user + system) and resident bytes of a process, from /proc; undefined when unreadable. */
export interface ProcessUsage {
  cpuSeconds(pid: number): number | undefined;
  rssBytes(pid: number): number | undefined;
}

const CLK_TCK = 100;

export const procUsage: ProcessUsage = {
  cpuSeconds(pid) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command (which may hold spaces): state is field 3; utime 14, stime 15.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / CLK_TCK;
    } catch {
      return undefined;
    }
  },
  rssBytes(pid) {
    try {
      const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  },
};

export interface CostMetersOptions {
  clock: Clock;
  logger: Logger;
  store: CostStore;
  replicas(): readonly ReplicaStatus[];
  /** What one replica of a deployment's version reserves; undefined when it is not known (not metered). */
  reservation(deployment: string, version: number): Reservation | undefined;
  usage?: ProcessUsage;
  everyMs(): number;
  /**
   * How far back `window` must answer exactly (idle detection's idle.for); the samples of
   * that span are kept in memory. Default 0: none kept.
   */
  windowMs?(): number;
}

/** What the replicas of one deployment were allocated and used over a span, from this process's samples. */
export interface WindowQuantities {
  replicaS: number;
  cpuAllocS: number;
  cpuUsedS: number;
  cpuMeasuredS: number;
  requests: number;
}

/** One sample of one deployment: what it added since the sample before (wall ms). */
interface Tick extends WindowQuantities {
  wallMs: number;
}

/** How far back `recentReplicas` looks, and how often it is read again. */
export const RECENT_WINDOW_S = 7 * 24 * HOUR_S;
const RECENT_REFRESH_MS = 5 * 60_000;

export interface RecentReplicas {
  /** Replicas running on average (replica-seconds ÷ seconds covered). */
  average: number;
  /** Hours of history behind it. */
  hours: number;
}

const ALLOCATED: ReadonlySet<ReplicaStatus['state']> = new Set(['starting', 'ready', 'unhealthy']);

export class CostMeters implements Reconciler {
  readonly name = COST;
  readonly #o: CostMetersOptions;
  readonly #usage: ProcessUsage;
  /** Per replica id: when it was last sampled (clock ms), its CPU seconds then, and its pid. */
  readonly #seen = new Map<string, { atMs: number; cpu?: number; pid?: number }>();
  /** Unflushed counts per deployment, version and hour. */
  readonly #pending = new Map<string, MeterRow>();
  /** Wall ms of the previous sample. */
  #lastWall: number | undefined;
  /** Per deployment and version: running totals, and the pending row answers are counted into. */
  readonly #served = new Map<string, Map<number, { answered: number; rows: number; row: MeterRow | undefined; bucket: number; generation: number }>>();
  /** Bumped by every flush: a cached pending row of an older generation has been written. */
  #generation = 0;
  /** Per deployment: the replicas it ran on average over the recent window (from the store), and how long that covers. */
  #recent = new Map<string, RecentReplicas>();
  #recentAtMs = -Infinity;
  /** Wall ms of this process's first sample: the store's hours start on the hour, the meters may have started within it. */
  #firstWall: number | undefined;
  /** Per deployment: each sample's additions over the last `windowMs`, oldest first. */
  readonly #ticks = new Map<string, Tick[]>();
  /** Per deployment: answers counted at the previous sample (the running totals of `served`). */
  readonly #answeredAt = new Map<string, number>();

  constructor(o: CostMetersOptions) {
    this.#o = o;
    this.#usage = o.usage ?? procUsage;
  }

  /**
   * Requests and rows per deployment version, from every answer: the successful ones counted into the hour's
   * pending row (found by key once per flush and hour, not per answer) and into running
   * totals (`served`, which the autoscaler reads).
   */
  observer(): Observer {
    return (o) => {
      let versions = this.#served.get(o.deployment);
      if (!versions) {
        versions = new Map();
        this.#served.set(o.deployment, versions);
      }
      let c = versions.get(o.version);
      if (!c) {
        c = { answered: 0, rows: 0, row: undefined, bucket: -1, generation: -1 };
        versions.set(o.version, c);
      }
      const rows = o.rows ?? 1;
      c.answered++;
      c.rows += rows;
      // A prediction is an answer the model gave: refusals (429, 503) and errors are demand
      // (counted above, for the autoscaler and idle detection), not predictions to price.
      if (o.status < 200 || o.status >= 300) return;
      const bucket = Math.floor(o.at / 1000 / HOUR_S);
      if (c.row === undefined || c.bucket !== bucket || c.generation !== this.#generation) {
        c.row = this.#row(o.deployment, o.version, Math.floor(o.at / 1000));
        c.bucket = bucket;
        c.generation = this.#generation;
      }
      c.row.requests++;
      c.row.rows += rows;
    };
  }

  /** Answers and rows of a deployment version since this process started (counters). */
  served(deployment: string, version: number): { answered: number; rows: number } {
    const c = this.#served.get(deployment)?.get(version);
    return { answered: c?.answered ?? 0, rows: c?.rows ?? 0 };
  }

  /** Sample the replicas now: allocation since the last sample, and what they used. */
  sample(): void {
    const now = this.#o.clock.now();
    const wall = this.#o.clock.date().getTime();
    const bucketSec = Math.floor(wall / 1000);
    const previousWall = this.#lastWall;
    this.#lastWall = wall;
    this.#firstWall ??= wall;
    const live = new Set<string>();
    const ticks = new Map<string, Tick>();
    const tickOf = (deployment: string): Tick => {
      let t = ticks.get(deployment);
      if (!t) { t = { wallMs: wall, replicaS: 0, cpuAllocS: 0, cpuUsedS: 0, cpuMeasuredS: 0, requests: 0 }; ticks.set(deployment, t); }
      return t;
    };
    for (const r of this.#o.replicas()) {
      if (!ALLOCATED.has(r.state)) { this.#seen.delete(r.id); continue; }
      live.add(r.id);
      const last = this.#seen.get(r.id);
      const cpu = r.pid !== undefined ? this.#usage.cpuSeconds(r.pid) : undefined;
      const samePid = last?.pid === r.pid;
      this.#seen.set(r.id, { atMs: now, ...(cpu !== undefined ? { cpu } : {}), ...(r.pid !== undefined ? { pid: r.pid } : {}) });
      // A replica seen for the first time holds its reservation since it started (its state's
      // `since`), or since the previous sample if that is later; on the very first sample, from now.
      const dt = last ? (now - last.atMs) / 1000 : previousWall === undefined ? 0 : Math.max(0, wall - Math.max(r.since, previousWall)) / 1000;
      const res = this.#o.reservation(r.deployment, r.version);
      if (!res || dt <= 0) continue;
      const row = this.#row(r.deployment, r.version, bucketSec);
      const tick = tickOf(r.deployment);
      const began = wall / 1000 - dt;
      if (row.firstS === undefined || began < row.firstS) row.firstS = began;
      row.replicaS += dt;
      tick.replicaS += dt;
      row.cpuAllocS += dt * res.cpu;
      tick.cpuAllocS += dt * res.cpu;
      row.memAllocGiBS += dt * res.memoryGiB;
      row.gpuAllocS += dt * res.gpu;
      // A process that started since the previous sample (a new replica, or a restart with a new
      // pid) used all of its CPU time in this interval: /proc counts from the process's start.
      const started = cpu !== undefined && r.pid !== undefined && (last ? !samePid : previousWall !== undefined && r.since >= previousWall);
      if (cpu !== undefined && (started || (last?.cpu !== undefined && samePid))) {
        const used = started ? cpu : Math.max(0, cpu - last!.cpu!);
        row.cpuUsedS += used;
        tick.cpuUsedS += used;
        row.cpuMeasuredS += dt * res.cpu;
        tick.cpuMeasuredS += dt * res.cpu;
      }
      const rss = r.pid !== undefined ? this.#usage.rssBytes(r.pid) : undefined;
      if (rss !== undefined) {
        row.memUsedGiBS += dt * (rss / 2 ** 30);
        row.memMeasuredGiBS += dt * res.memoryGiB;
      }
    }
    for (const id of this.#seen.keys()) if (!live.has(id)) this.#seen.delete(id);
    this.#keepTicks(wall, ticks);
  }

  /** Add this sample's ticks (with the answers since the previous sample) and drop those older than the window. */
  #keepTicks(wall: number, ticks: Map<string, Tick>): void {
    const keepMs = this.#o.windowMs?.() ?? 0;
    for (const [deployment, versions] of this.#served) {
      let answered = 0;
      for (const c of versions.values()) answered += c.answered;
      const before = this.#answeredAt.get(deployment);
      this.#answeredAt.set(deployment, answered);
      if (before !== undefined && answered > before) ticks.set(deployment, { ...(ticks.get(deployment) ?? { wallMs: wall, replicaS: 0, cpuAllocS: 0, cpuUsedS: 0, cpuMeasuredS: 0, requests: 0 }), requests: answered - before });
    }
    if (keepMs <= 0) { this.#ticks.clear(); return; }
    for (const [deployment, t] of ticks) {
      const list = this.#ticks.get(deployment);
      if (list) list.push(t);
      else this.#ticks.set(deployment, [t]);
    }
    for (const [deployment, list] of this.#ticks) {
      let drop = 0;
      while (drop < list.length && list[drop]!.wallMs < wall - keepMs) drop++;
      if (drop === list.length) this.#ticks.delete(deployment);
      else if (drop > 0) list.splice(0, drop);
    }
  }

  /**
   * What a deployment's replicas were allocated and used after `sinceWallMs` (to within one
   * sample), summed over its versions; undefined when this process has not sampled since
   * then (after a restart), or the span is longer than `windowMs` keeps.
   */
  window(deployment: string, sinceWallMs: number): WindowQuantities | undefined {
    if (this.#firstWall === undefined || this.#firstWall > sinceWallMs) return undefined;
    if (this.#lastWall !== undefined && this.#lastWall - sinceWallMs > (this.#o.windowMs?.() ?? 0)) return undefined;
    const q: WindowQuantities = { replicaS: 0, cpuAllocS: 0, cpuUsedS: 0, cpuMeasuredS: 0, requests: 0 };
    for (const t of this.#ticks.get(deployment) ?? []) {
      if (t.wallMs <= sinceWallMs) continue;
      q.replicaS += t.replicaS;
      q.cpuAllocS += t.cpuAllocS;
      q.cpuUsedS += t.cpuUsedS;
      q.cpuMeasuredS += t.cpuMeasuredS;
      q.requests += t.requests;
    }
    return q;
  }

  async flush(): Promise<void> {
    if (this.#pending.size === 0) return;
    const rows = [...this.#pending.values()];
    this.#pending.clear();
    this.#generation++;
    try {
      await this.#o.store.add(rows);
    } catch (err) {
      for (const r of rows) this.#merge(r);
      throw err;
    }
  }

  async reconcile(): Promise<ReconcileResult> {
    this.sample();
    await this.flush();
    if (this.#o.clock.now() - this.#recentAtMs >= RECENT_REFRESH_MS) await this.refreshRecent();
    return { requeueAfterMs: this.#o.everyMs() };
  }

  /**
   * The replicas a deployment ran on average over the last RECENT_WINDOW (7 days, or since
   * metering began), summed over its versions: what `plan` expects an autoscaled range to
   * cost. Undefined before a minute of history.
   */
  recentReplicas(deployment: string): RecentReplicas | undefined {
    return this.#recent.get(deployment);
  }

  /** Read the recent averages from the store again (the reconciler does it every 5 min). */
  async refreshRecent(): Promise<void> {
    this.#recentAtMs = this.#o.clock.now();
    const nowSec = this.#o.clock.date().getTime() / 1000;
    const sinceSec = nowSec - RECENT_WINDOW_S;
    const sums = await this.#o.store.sums(Math.floor(sinceSec / HOUR_S) * HOUR_S);
    // Per deployment: its replica-seconds, and when its metering began: the recorded first sample
    // of its earliest row, or for a row from before that was recorded, its hour's start.
    const by = new Map<string, { replicaS: number; first: number; began: number | undefined }>();
    for (const r of sums) {
      const b = by.get(r.deployment) ?? { replicaS: 0, first: Infinity, began: undefined };
      b.replicaS += r.replicaS;
      // The versions whose rows start in the deployment's earliest hour say when it began: the earliest of them, unknown if one did not record it.
      if (r.first < b.first) [b.first, b.began] = [r.first, r.firstS];
      else if (r.first === b.first) b.began = r.firstS === undefined || b.began === undefined ? undefined : Math.min(b.began, r.firstS);
      by.set(r.deployment, b);
    }
    const firstSample = this.#firstWall !== undefined ? this.#firstWall / 1000 : Infinity;
    const recent = new Map<string, RecentReplicas>();
    for (const [d, b] of by) {
      // From the window's start, or when metering began; without that record, the first metered hour or (within it) this process's first sample.
      const start = Math.max(sinceSec, b.began ?? Math.max(b.first, firstSample < b.first + HOUR_S ? firstSample : -Infinity));
      const covered = nowSec - start;
      if (covered >= 60) recent.set(d, { average: b.replicaS / covered, hours: covered / HOUR_S });
    }
    this.#recent = recent;
  }

  #row(deployment: string, version: number, atSec: number): MeterRow {
    const bucket = Math.floor(atSec / HOUR_S) * HOUR_S;
    const key = `${deployment}\0${version}\0${bucket}`;
    let r = this.#pending.get(key);
    if (!r) {
      r = { deployment, version, bucket, ...zero() };
      this.#pending.set(key, r);
    }
    return r;
  }

  #merge(r: MeterRow): void {
    const into = this.#row(r.deployment, r.version, r.bucket);
    for (const f of FIELDS) into[f] += r[f];
    if (r.firstS !== undefined && (into.firstS === undefined || r.firstS < into.firstS)) into.firstS = r.firstS;
  }
}

export interface CostGroup {
  /** The deployment, `deployment@version` (the version of the model it serves), or `label=value`. */
  key: string;
  /** By version: `model@version`, for the version a deployment serves now. */
  model?: string;
  replicaHours: number;
  allocated: { cpuHours: number; memoryGiBHours: number; gpuHours: number };
  /** What the replicas used; null where it is not measured (thread replicas share the gateway's process). */
  used: { cpuHours: number | null; memoryGiBHours: number | null };
  /** The priced part of the allocation; null when nothing allocated has a price (never 0 for unpriced). */
  cost: number | null;
  /** Resources allocated here that have no price: not in cost. */
  unpriced: ('cpu' | 'memory' | 'gpu')[];
  requests: number;
  predictions: number;
  /** cost ÷ predictions × 1000; undefined without predictions, null when cost is. */
  costPer1kPredictions?: number | null;
  /** used ÷ allocated (undefined where use is not measured). */
  efficiency: { cpu?: number; memory?: number };
}

/** Price summed quantities. */
export function price(key: string, q: Quantities, rates: Rates): CostGroup {
  const alloc = { cpuHours: q.cpuAllocS / HOUR_S, memoryGiBHours: q.memAllocGiBS / HOUR_S, gpuHours: q.gpuAllocS / HOUR_S };
  const { priced, unpriced } = hourlyCost({ cpu: alloc.cpuHours, memoryGiB: alloc.memoryGiBHours, gpu: alloc.gpuHours }, rates);
  const cost = priced === 0 && unpriced.length > 0 ? null : priced;
  return {
    key, replicaHours: q.replicaS / HOUR_S, allocated: alloc,
    used: { cpuHours: measuredCpu(q) > 0 ? q.cpuUsedS / HOUR_S : null, memoryGiBHours: measuredMemory(q) > 0 ? q.memUsedGiBS / HOUR_S : null },
    cost, unpriced, requests: q.requests, predictions: q.rows,
    ...(q.rows > 0 ? { costPer1kPredictions: cost === null ? null : (cost / q.rows) * 1000 } : {}),
    efficiency: {
      ...(measuredCpu(q) > 0 ? { cpu: q.cpuUsedS / measuredCpu(q) } : {}),
      ...(measuredMemory(q) > 0 ? { memory: q.memUsedGiBS / measuredMemory(q) } : {}),
    },
  };
}

/**
 * The vCPU-seconds reserved by replicas whose CPU use was measured (thread replicas share the
 * gateway's process: not measured). Rows written before this was metered count their whole
 * allocation where they recorded use.
 */
export function measuredCpu(q: Pick<Quantities, 'cpuMeasuredS' | 'cpuUsedS' | 'cpuAllocS'>): number {
  return q.cpuMeasuredS > 0 ? q.cpuMeasuredS : q.cpuUsedS > 0 ? q.cpuAllocS : 0;
}

function measuredMemory(q: Quantities): number {
  return q.memMeasuredGiBS > 0 ? q.memMeasuredGiBS : q.memUsedGiBS > 0 ? q.memAllocGiBS : 0;
}

/** Sum quantity records. */
export function total(qs: readonly Quantities[]): Quantities {
  const t = zero();
  for (const q of qs) for (const f of FIELDS) t[f] += q[f];
  return t;
}

/** $ per month of `replicas` replicas reserving `r` (unpriced resources listed). */
export function monthly(r: Reservation, replicas: number, rates: Rates): { cost: number; unpriced: ('cpu' | 'memory' | 'gpu')[] } {
  const h = hourlyCost(r, rates);
  return { cost: h.priced * replicas * HOURS_PER_MONTH, unpriced: replicas > 0 ? h.unpriced : [] };
}
