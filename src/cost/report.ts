/**
 * From the meters to what `aloft cost` shows: spend per deployment, version or label, cost
 * per 1,000 predictions, efficiency, and idle findings (with what the idle capacity costs a
 * month and what to change). Also what one replica reserves, and the rates a spec's price
 * table gives.
 */
import type { ReplicaStatus } from '../control/orchestrators/types.js';
import type { RolloutRunCost, RolloutStatus } from '../control/rollouts.js';
import type { CostSpec, DeploymentSpec } from '../spec/types.js';
import { formatDuration } from '../spec/units.js';
import { measuredCpu, price, total, type CostGroup, type CostStore, type Quantities } from './meters.js';
import { CATALOG, HOURS_PER_MONTH, hourlyCost, splitInstance, type Rates, type Reservation } from './prices.js';

export interface ResolvedRates extends Rates {
  currency: string;
  /** Where the rates come from: 'prices', the instance type (with its price's source), or both. */
  source: string;
}

/** The per-resource rates of a spec: its instance's split rates, each overridden by a price given. */
export function ratesOf(c: CostSpec): ResolvedRates {
  let base: Rates = {};
  let source = '';
  if (c.instance !== undefined) {
    const own = c.instances.find((i) => i.name === c.instance);
    const t = own ? { vcpu: own.vcpu, memoryGiB: own.memory, gpu: own.gpu, hourly: own.hourly } : CATALOG.find((i) => i.name === c.instance);
    if (t) {
      base = splitInstance(t);
      source = own ? `instance ${c.instance} (cost.instances, ${own.hourly} ${c.currency}/h)` : `instance ${c.instance} (${(t as (typeof CATALOG)[number]).source}, ${t.hourly} USD/h)`;
    }
  }
  const given = Object.entries(c.prices).filter(([, v]) => v !== undefined).map(([k]) => k);
  if (given.length > 0) source = source ? `${source}; cost.prices for ${given.join(', ')}` : 'cost.prices';
  return { ...base, ...Object.fromEntries(Object.entries(c.prices).filter(([, v]) => v !== undefined)), currency: c.currency, source: source || 'none: every resource is unpriced' };
}

/** What one replica reserves: the spec's resources, else its threads' vCPUs and twice the model file plus 256 MiB (rounded up to 64 MiB). */
export function reservationOf(spec: DeploymentSpec, threads: number, artifactBytes: number): Reservation {
  const defaultMemory = Math.ceil((2 * artifactBytes + 256 * 2 ** 20) / (64 * 2 ** 20)) * 64 / 1024;
  return { cpu: spec.resources.cpu ?? threads, memoryGiB: spec.resources.memory ?? defaultMemory, gpu: spec.resources.gpu };
}

export interface IdleFinding {
  deployment: string;
  /** CPU used ÷ reserved over the window. */
  utilisation: number;
  window: string;
  replicas: number;
  /** $ a month the deployment's replicas cost now; null when nothing they reserve has a price. */
  monthlyCost: number | null;
  unpriced: ('cpu' | 'memory' | 'gpu')[];
  requests: number;
  recommendation: string;
}

export interface CostReport {
  currency: string;
  /** Where the figures start: the meters keep hours, so the start of the hour the asked window starts in. */
  since: string;
  until: string;
  rates: ResolvedRates;
  by: 'deployment' | 'version' | 'label';
  groups: CostGroup[];
  total: CostGroup;
  findings: IdleFinding[];
  /** Each budget's month to date and forecast (budgets.ts). */
  budgets?: import('./budgets.js').BudgetStatus[];
  /** vCPUs reserved by every replica running now against this machine's cores (local orchestrator). */
  /** What the running replicas reserve on this machine; `oversubscribed` only when it lasts (not a rollout's second group, then `duringRollout`). */
  machine?: { cores: number; reservedCpu: number; oversubscribed: boolean; duringRollout?: boolean; message?: string };
}

export interface LiveDeployment {
  name: string;
  version: number;
  spec: DeploymentSpec;
  reservation: Reservation;
  /** Replicas it runs now. */
  replicas: number;
  labels: Readonly<Record<string, string>>;
}

/**
 * Whether the running replicas reserve more vCPU than the machine has, and what to say.
 * A rollout runs two groups for a while: oversubscription that only the second group causes
 * is said as temporary (`rollout`), not as a setting to change. A replica without
 * `resources.cpu` reserves its runtime threads, and the message says so.
 */
export function oversubscription(deps: readonly LiveDeployment[], cores: number, rolling: ReadonlySet<string>): { level: 'ok' | 'rollout' | 'over'; reserved: number; message?: string } {
  const reserved = deps.reduce((n, d) => n + d.reservation.cpu * d.replicas, 0);
  if (reserved <= cores) return { level: 'ok', reserved };
  const steady = deps.reduce((n, d) => n + d.reservation.cpu * (rolling.has(d.name) ? Math.min(d.replicas, d.spec.replicas.max) : d.replicas), 0);
  const derived = deps.filter((d) => d.spec.resources.cpu === undefined && d.replicas > 0).map((d) => d.name);
  const why = derived.length > 0 ? ` (${derived.map((n) => `'${n}'`).join(', ')} set${derived.length === 1 ? 's' : ''} no resources.cpu, so each replica reserves its runtime threads)` : '';
  const what = `the running replicas reserve ${reserved} vCPU on ${cores} cores${why}`;
  if (steady <= cores) {
    return { level: 'rollout', reserved, message: `${what} while the rollout of ${[...rolling].filter((n) => deps.some((d) => d.name === n)).map((n) => `'${n}'`).join(', ')} runs both groups; that ends with the rollout (${steady} vCPU after it)` };
  }
  return { level: 'over', reserved, message: `${what}: they slow each other down; lower resources.cpu, runtime.intraOpThreads or replicas (aloft cost shows each)` };
}

function machineOf(deps: readonly LiveDeployment[], cores: number, rolling: ReadonlySet<string>): NonNullable<CostReport['machine']> {
  const o = oversubscription(deps, cores, rolling);
  return { cores, reservedCpu: o.reserved, oversubscribed: o.level === 'over', ...(o.level === 'rollout' ? { duringRollout: true } : {}), ...(o.message ? { message: o.message } : {}) };
}

export async function costReport(o: {
  store: CostStore; spec: CostSpec; nowMs: number; sinceMs: number; by: CostReport['by']; deployments: readonly LiveDeployment[]; cores?: number;
  /** The meters' exact window (CostMeters.window), for idle findings. */
  window?: IdleWindow;
  /** Deployments with a rollout under way: their second group is temporary. */
  rolling?: ReadonlySet<string>;
  /** The deployments the caller may see (its key's scopes): groups, labels, the total and findings count only those. Default: all. */
  visible?: (deployment: string) => boolean;
  /** By label: the labels of metered deployments that no longer run (removed), as their last revision gave them. */
  pastLabels?: (deployments: readonly string[]) => Promise<ReadonlyMap<string, Readonly<Record<string, string>>>>;
}): Promise<CostReport> {
  const rates = ratesOf(o.spec);
  // The meters keep hours: the figures cover whole hours, from the start of the one the window starts in, and say so.
  const fromSec = Math.floor((o.nowMs - o.sinceMs) / 1000 / 3600) * 3600;
  const visible = o.visible;
  const rows = visible ? (await o.store.sums(fromSec)).filter((r) => visible(r.deployment)) : await o.store.sums(fromSec);
  const everything = !visible || o.deployments.every((d) => visible(d.name));
  const labelsOf = new Map<string, Readonly<Record<string, string>>>(o.deployments.map((d) => [d.name, d.labels]));
  const gone = o.by === 'label' ? [...new Set(rows.map((r) => r.deployment).filter((d) => !labelsOf.has(d)))] : [];
  if (gone.length > 0 && o.pastLabels) for (const [d, l] of await o.pastLabels(gone)) labelsOf.set(d, l);
  const groups = new Map<string, Quantities[]>();
  for (const r of rows) {
    const keys = o.by === 'deployment' ? [r.deployment] : o.by === 'version' ? [`${r.deployment}@${r.version}`] : Object.entries(labelsOf.get(r.deployment) ?? {}).map(([k, v]) => `${k}=${v}`);
    for (const k of keys.length > 0 ? keys : ['(no labels)']) groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const findings = (await idleFindings({ ...o, rates })).filter((f) => !visible || visible(f.deployment));
  // By version: the model a deployment's version is of, where it is the one it serves now (the meters keep the version number only).
  const modelOf = new Map(o.by === 'version' ? o.deployments.map((d) => [`${d.name}@${d.version}`, `${d.spec.model.name}@${d.version}`]) : []);
  return {
    currency: rates.currency, since: new Date(fromSec * 1000).toISOString(), until: new Date(o.nowMs).toISOString(), rates, by: o.by,
    groups: [...groups].map(([k, qs]) => {
      const g = price(k, total(qs), rates);
      const m = modelOf.get(k);
      return m ? { ...g, model: m } : g;
    }).sort((a, b) => (b.cost ?? -1) - (a.cost ?? -1) || a.key.localeCompare(b.key)),
    total: price('total', total(rows), rates),
    findings,
    // The machine's reservation names every deployment on it: shown to a caller who may see them all.
    ...(o.cores !== undefined && everything ? { machine: machineOf(o.deployments, o.cores, o.rolling ?? new Set()) } : {}),
  };
}

/** A deployment's allocation and use after a wall time, exactly; undefined when not known (CostMeters.window). */
export type IdleWindow = (deployment: string, sinceWallMs: number) => Pick<Quantities, 'replicaS' | 'cpuAllocS' | 'cpuUsedS' | 'cpuMeasuredS' | 'requests'> | undefined;

/**
 * Deployments whose replicas used under `idle.below` of the CPU they reserve over the last
 * `idle.for`, having been allocated for (nearly) all of it: what they cost a month, and
 * what to change. The window is exact where the meters' samples cover it (`window`); else
 * (after a restart, until this process has sampled for idle.for) the store's hourly rows
 * from the hour the window starts in, so it reaches back up to an hour further.
 */
export async function idleFindings(o: { store: CostStore; spec: CostSpec; nowMs: number; deployments: readonly LiveDeployment[]; rates?: Rates; window?: IdleWindow }): Promise<IdleFinding[]> {
  const rates = o.rates ?? ratesOf(o.spec);
  const windowS = o.spec.idle.for / 1000;
  let rows: Awaited<ReturnType<CostStore['sums']>> | undefined;
  const out: IdleFinding[] = [];
  for (const d of o.deployments) {
    if (d.replicas === 0) continue;
    const q = o.window?.(d.name, o.nowMs - o.spec.idle.for)
      ?? total((rows ??= await o.store.sums(Math.floor((o.nowMs / 1000 - windowS) / 3600) * 3600)).filter((r) => r.deployment === d.name));
    // Allocated for at least 90% of the window by one replica, and its use measured (not thread replicas: they share the gateway's process).
    const measured = measuredCpu(q);
    if (q.replicaS / Math.max(1, d.replicas) < 0.9 * windowS || measured === 0) continue;
    const utilisation = q.cpuUsedS / measured;
    if (utilisation >= o.spec.idle.below) continue;
    const h = hourlyCost(d.reservation, rates);
    const r = d.spec.replicas;
    const needed = Math.max(1, Math.ceil((q.cpuUsedS / (q.replicaS / Math.max(1, d.replicas))) / (0.6 * d.reservation.cpu)));
    const recommendation = q.requests === 0
      ? (r.min === 0 ? 'no request in the window: it scales to zero once idle; check scaleToZeroAfter' : `no request in the window: let it scale to zero (replicas: { min: 0, max: ${Math.max(1, r.max)} }) or remove it`)
      : r.min !== r.max
        ? `lower replicas.min (${r.min}) or let it scale to zero (min: 0)`
        : d.replicas > needed
          ? `fewer replicas: ${needed} would carry this load at 60% of what they reserve (replicas: ${needed}, or a range { min: ${Math.min(needed, 1)}, max: ${d.replicas} })`
          : `reserve less: resources.cpu ${d.reservation.cpu} is ${(100 * utilisation).toFixed(1)}% used; fewer threads (runtime.intraOpThreads) or a smaller cpu`;
    out.push({
      deployment: d.name, utilisation, window: formatDuration(o.spec.idle.for), replicas: d.replicas,
      monthlyCost: h.priced === 0 && h.unpriced.length > 0 ? null : h.priced * d.replicas * HOURS_PER_MONTH, unpriced: h.unpriced, requests: q.requests, recommendation,
    });
  }
  return out;
}

/**
 * What the second group of a running rollout costs: the candidate's replicas while it warms,
 * bakes or takes part of the traffic, the old group's while a blue-green switch keeps it
 * warm; nothing once promoted or rolled back. At the deployment's reservation and the spec's
 * prices; so far is the hourly cost since the rollout started, at the group's present size.
 */
export function rolloutCost(
  r: Pick<RolloutStatus, 'deployment' | 'state' | 'baseline' | 'candidate' | 'startedAt'>,
  deployments: readonly LiveDeployment[],
  replicas: readonly Pick<ReplicaStatus, 'group' | 'state'>[],
  spec: CostSpec,
  /** Wall-clock ms (startedAt is a wall-clock time). */
  nowMs: number,
): RolloutRunCost | undefined {
  if (r.state === 'promoted' || r.state === 'rolled_back') return undefined;
  const d = deployments.find((x) => x.name === r.deployment);
  if (!d) return undefined;
  const second = r.state === 'switched' ? 'baseline' : 'candidate';
  const group = r[second];
  const n = replicas.filter((x) => x.group === group.group && x.state !== 'stopped' && x.state !== 'failed').length;
  const rates = ratesOf(spec);
  const h = hourlyCost(d.reservation, rates);
  const hourly = h.priced * n;
  const hours = Math.max(0, nowMs - Date.parse(r.startedAt)) / 3_600_000;
  return { group: second, version: group.version, replicas: n, currency: rates.currency, hourly, monthly: hourly * HOURS_PER_MONTH, unpriced: h.unpriced, soFar: hourly * hours };
}
