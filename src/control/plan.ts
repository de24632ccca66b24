/**
 * What an apply would do, in the manner of `terraform plan`: from the revision the system
 * runs and a new spec resolved to exact model versions, the models to register, the
 * deployments to add, change (field by field) or remove, the replicas to start and stop,
 * the routes to switch, the settings a running system cannot change, and the warnings a
 * reviewer must see. Pure: the same inputs give the same plan, so it is tested as a table
 * (plan.test.ts) and the apply does exactly what the plan said.
 *
 * A plan is the diff stored with a revision, and what `aloft plan --json` prints.
 */
import type { ModelSignature, TensorSpec } from '../runtime/tensor.js';
import { HOURS_PER_MONTH } from '../cost/prices.js';
import { formatModelRef } from '../spec/modelref.js';
import { alertsSchema, autoscalingSchema, costSchema, rolloutSchema } from '../spec/schema.js';
import { redactSecrets } from '../spec/secrets.js';
import type { CaptureSpec, DeploymentSpec, LoadedSpec, RateLimitSpec, RolloutSpec } from '../spec/types.js';
import { formatDuration } from '../spec/units.js';
import { specFields } from '../spec/reference.js';

/** A deployment of a spec at the exact model version it resolves to. */
export interface TargetDeployment {
  name: string;
  spec: DeploymentSpec;
  /** The reference as written: `credit-risk`, `credit-risk@2`, `credit-risk@production`. */
  ref: string;
  model: string;
  version: number;
  sha256: string;
  signature: ModelSignature;
}

/** A model file of the spec and the version it is (or would be registered as). */
export interface PlannedModel {
  model: string;
  version: number;
  sha256: string;
  sizeBytes: number;
  /** Registered by this apply (false: the latest version already has this content). */
  register: boolean;
}

/** One side of a plan: a spec and what it resolved to. */
export interface PlanSide {
  /** canonicalSpec() of the spec. */
  canonical: CanonicalSpec;
  deployments: readonly TargetDeployment[];
}

export interface FieldChange {
  /** Dotted path inside the deployment or the spec, e.g. `replicas.min`, `server.port`. */
  field: string;
  from: unknown;
  to: unknown;
}

export interface DeploymentPlan {
  name: string;
  action: 'add' | 'change' | 'remove';
  /**
   * How the change is made: `replace` starts a new replica group and switches the route to
   * it once warm; `scale` starts or drains and stops replicas of the same group; `in-place`
   * changes the route's settings (batching, timeout, limits, public) without new replicas.
   */
  effect: 'start' | 'stop' | 'replace' | 'scale' | 'in-place';
  fields: FieldChange[];
  from?: { model: string; version: number; sha256: string; replicas: number };
  to?: { model: string; version: number; sha256: string; replicas: number };
  replicasToStart: number;
  replicasToStop: number;
  /** The rollout strategy in effect after the change (`replace` unless the spec declares one). */
  strategy?: RolloutSpec['strategy'];
  /** A new version under a strategy other than replace: apply moves traffic as a rollout (control/rollouts.ts), these steps. */
  rollout?: PlannedRollout;
  /** What its replicas cost a month before and after (a range: from min to max replicas). */
  cost?: { from?: MonthlyCost; to?: MonthlyCost; during?: RolloutCost };
}

/** How a rollout will move a deployment to its new version: the spec's settings that shape its steps. */
export interface PlannedRollout {
  strategy: Exclude<RolloutSpec['strategy'], 'replace'>;
  /** canary: percent of traffic per step. */
  steps?: number[];
  /** ms at least at each canary step (shadow: before an automatic promotion). */
  interval: number;
  /** blueGreen: ms of preview-only bake, then ms the old group stays warm. */
  bake?: number;
  keepOld?: number;
  /** abTest: percent of callers on the new version. */
  split?: number;
  /** shadow: share of requests copied; agreement share that promotes (none: by hand). */
  sample?: number;
  agreement?: number;
  gates: string[];
  onInconclusive: 'wait' | 'rollback' | 'promote';
  maxDuration: number;
}

/** The rollout settings the steps of `strategy` read; the plan's text leaves the others out. */
export const ROLLOUT_FIELDS: Readonly<Record<RolloutSpec['strategy'], readonly string[]>> = {
  replace: ['strategy'],
  canary: ['strategy', 'steps', 'interval', 'allowSignatureChange', 'webhooks', 'analysis'],
  blueGreen: ['strategy', 'bake', 'keepOld', 'previewKeys', 'allowSignatureChange', 'webhooks', 'analysis'],
  abTest: ['strategy', 'split', 'stickyHeader', 'allowSignatureChange', 'analysis'],
  shadow: ['strategy', 'shadow', 'interval', 'allowSignatureChange', 'webhooks', 'analysis'],
};

function plannedRollout(r: RolloutSpec): PlannedRollout | undefined {
  if (r.strategy === 'replace') return undefined;
  const base = { strategy: r.strategy, interval: r.interval, gates: [...r.analysis.gates], onInconclusive: r.analysis.onInconclusive, maxDuration: r.analysis.maxDuration };
  switch (r.strategy) {
    case 'canary': return { ...base, steps: [...r.steps] };
    case 'blueGreen': return { ...base, bake: r.bake, keepOld: r.keepOld };
    case 'abTest': return { ...base, split: r.split };
    case 'shadow': return { ...base, sample: r.shadow.sample, ...(r.shadow.agreement !== undefined ? { agreement: r.shadow.agreement } : {}) };
  }
}

/** A rollout that runs both groups at once (canary, blue-green, A/B, shadow): what the second group costs while it does. */
export interface RolloutCost {
  strategy: string;
  /** $ an hour of the new group beside the old one. */
  hourly: number;
  unpriced: string[];
  /** The least time the rollout keeps both (its steps' intervals, or bake plus keepOld), ms. */
  atLeastMs: number;
}

/** $ a month: exact for a fixed count, min to max for a range; resources without a price are named. */
export interface MonthlyCost {
  min: number;
  max: number;
  unpriced: string[];
  /**
   * A range with metered history: what the replicas it ran on average recently (cost
   * meters, up to 7 days), held inside the new min and max, would cost.
   */
  expected?: { monthly: number; replicas: number; hours: number };
  /** A range without that history, and why: no expected figure is given. */
  noExpected?: string;
}

export interface SettingPlan extends FieldChange {
  /** false: `apply` refuses it; restart `aloft up` with the new file. */
  live: boolean;
}

export interface Plan {
  /** The newest revision when planned: an apply of this plan is refused if another landed since. 0 when there is none. */
  base: number;
  /** The revision the system runs (newest applied), or null before the first. */
  current: number | null;
  /** Whether applying would change anything. */
  changes: boolean;
  models: PlannedModel[];
  deployments: DeploymentPlan[];
  settings: SettingPlan[];
  /** Settings that cannot change while running, one line each; non-empty means `apply` refuses. */
  restart: string[];
  /** Changes apply refuses whatever the restart, one line each (an incompatible signature under a canary). */
  refused: string[];
  warnings: string[];
  /** What apply does, in order. */
  steps: string[];
  /** The system as it will be after the apply (for the plan's diagram). */
  topology: Topology;
  /** The monthly cost of every deployment before and after, when the spec has prices (cost.prices or cost.instance). */
  cost?: { currency: string; from: MonthlyCost; to: MonthlyCost };
}

export interface Topology {
  port: number;
  /** The state database as written (secrets as templates); null: SQLite in the state folder. */
  database: string | null;
  stateDir: string;
  deployments: { name: string; model: string; version: number; replicas: number; isolation: string; public: boolean }[];
}

/** The spec as stored and compared: normalized, secrets as their templates, model files as content hashes. */
export type CanonicalSpec = Record<string, unknown> & {
  models: Record<string, Record<string, unknown>>;
  deployments: Record<string, Record<string, unknown>>;
};

/** Later sections as they normalize when not written (JSON), computed once. */
let deploymentDefaults: Record<string, string> | undefined;
let topDefaults: Record<string, string> | undefined;
const DEPLOYMENT_DEFAULTS = () => (deploymentDefaults ??= {
  slos: '[]',
  admission: JSON.stringify({ limit: 'off', refuseLate: true }),
  resources: JSON.stringify({ gpu: 0 }),
  autoscaling: JSON.stringify(autoscalingSchema.parse({})),
});
const TOP_DEFAULTS = () => (topDefaults ??= {
  alerts: JSON.stringify(alertsSchema.parse({})),
  cost: JSON.stringify(costSchema.parse({})),
});

/**
 * The sections canonicalSpec leaves out at their defaults, put back: what the diff of two
 * revisions compares, so that a section appearing shows only what differs from its defaults
 * (`cost.prices.cpu: (none) → 0.04`), not every default as a change.
 */
function withDefaults<T>(section: T | undefined, defaults: Readonly<Record<string, unknown>>): T | undefined {
  if (section === undefined || section === null || typeof section !== 'object') return section;
  const out: Record<string, unknown> = { ...(section as Record<string, unknown>) };
  for (const [k, v] of Object.entries(defaults)) if (out[k] === undefined) out[k] = structuredClone(v);
  return out as T;
}

const parsed = (o: Readonly<Record<string, string>>): Record<string, unknown> => Object.fromEntries(Object.entries(o).map(([k, j]) => [k, JSON.parse(j) as unknown]));
let filled: { deployment: Record<string, unknown>; top: Record<string, unknown> } | undefined;
/** The defaults canonicalSpec leaves out, as values (a deployment's sections, its replace rollout; the top-level sections), made once. */
const FILLED = () => (filled ??= {
  deployment: { ...parsed(DEPLOYMENT_DEFAULTS()), rollout: JSON.parse(JSON.stringify(rolloutSchema.parse({}))) as unknown },
  top: parsed(TOP_DEFAULTS()),
});

/** The canonical form of a loaded spec: what two revisions are compared by. */
export function canonicalSpec(loaded: LoadedSpec, files: Readonly<Record<string, { sha256: string }>>): CanonicalSpec {
  const plain = JSON.parse(JSON.stringify(redactSecrets(loaded))) as CanonicalSpec;
  for (const [name, m] of Object.entries(plain.models)) {
    delete m.path;
    m.sha256 = files[name]?.sha256 ?? null;
  }
  for (const [name, d] of Object.entries(loaded.spec.deployments)) {
    const c = plain.deployments[name]!;
    c.model = formatModelRef(d.model);
    // As a user writes it: `replicas: 2`, or {min, max} for a range (`initial` is derived).
    c.replicas = d.replicas.min === d.replicas.max ? d.replicas.min : { min: d.replicas.min, max: d.replicas.max };
    // The default strategy is left out, so specs from before rollouts compare equal.
    if (d.rollout.strategy === 'replace') delete c.rollout;
    // So are sections left at their defaults, so specs from before they existed compare equal.
    for (const [k, v] of Object.entries(DEPLOYMENT_DEFAULTS())) if (JSON.stringify(c[k]) === v) delete c[k];
  }
  for (const [k, v] of Object.entries(TOP_DEFAULTS())) if (JSON.stringify(plain[k]) === v) delete plain[k];
  return plain;
}

/**
 * Settings that a running Aloft cannot change: the listening sockets, the HTTP server's
 * limits, TLS, the state, the rate limiter's backend and JWT verification are set up once
 * at start. Everything else changes live.
 */
const RESTART_PREFIXES = [
  'version', 'server.host', 'server.port', 'server.adminPort', 'server.bodyLimit', 'server.bodyMemory', 'server.bodyTimeout', 'server.requestTimeout',
  'server.headersTimeout', 'server.fastInferPath', 'server.drainTimeout', 'state', 'security.tls', 'security.auth.jwt', 'limits.backend', 'limits.redis',
];

function needsRestart(field: string): boolean {
  return RESTART_PREFIXES.some((p) => field === p || field.startsWith(`${p}.`));
}

/** Leaf values of a JSON object by dotted path (arrays are leaves). */
export function flatten(value: unknown, prefix = '', out: Map<string, unknown> = new Map()): Map<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix) out.set(prefix, {});
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out.set(prefix, value);
  }
  return out;
}

/** Field-by-field differences of two JSON values, by dotted path, sorted. */
export function diffFields(before: unknown, after: unknown): FieldChange[] {
  const a = flatten(before);
  const b = flatten(after);
  const fields = [...new Set([...a.keys(), ...b.keys()])].sort();
  const out: FieldChange[] = [];
  const hasChildren = (m: Map<string, unknown>, field: string) => [...m.keys()].some((k) => k.startsWith(`${field}.`));
  // A value that changed shape (`replicas: 2` became `{min: 1, max: 4}`) is one change of the whole value, not a removal beside new fields.
  const reshaped = fields.filter((f) => (a.has(f) && a.get(f) !== null && typeof a.get(f) !== 'object' && hasChildren(b, f)) || (b.has(f) && b.get(f) !== null && typeof b.get(f) !== 'object' && hasChildren(a, f)));
  const valueAt = (v: unknown, path: string) => path.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), v) ?? null;
  const under = (field: string) => reshaped.find((r) => field === r || field.startsWith(`${r}.`));
  for (const r of reshaped) out.push({ field: r, from: valueAt(before, r), to: valueAt(after, r) });
  for (const field of fields) {
    if (under(field) !== undefined) continue;
    const from = a.has(field) ? a.get(field) : null;
    const to = b.has(field) ? b.get(field) : null;
    // An empty object that gained (or lost) fields: its fields are the changes, not the object.
    const emptied = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0;
    if ((emptied(from) && to === null && hasChildren(b, field)) || (emptied(to) && from === null && hasChildren(a, field))) continue;
    if (JSON.stringify(from) !== JSON.stringify(to)) out.push({ field, from, to });
  }
  return out.sort((x, y) => (x.field < y.field ? -1 : x.field > y.field ? 1 : 0));
}

export interface PlanInputs {
  base: number;
  current: number | null;
  /** What runs now; undefined before the first revision. */
  before: PlanSide | undefined;
  after: PlanSide;
  models: readonly PlannedModel[];
  /** Requests a deployment answered in the last five minutes. */
  recentRequests(deployment: string): number;
  /** Where the system listens now, when `aloft up --host/--port` overrode the spec: a spec naming these is no change. */
  listening?: { host: string; port: number };
  /**
   * Several gateways share the revisions (one PostgreSQL database): the settings only a
   * restart changes (ports, state folder, TLS files, …) are each process's own. `local` is
   * what this process started with, and a submitted file's are compared with it rather than
   * with the revision, which another gateway may have recorded with its own; `ignore` leaves
   * them out (a rollback restores deployments, not another gateway's sockets).
   */
  restartOnly?: { local: CanonicalSpec } | 'ignore';
  /** The plan of a rollback: instant, so no rollout is planned. */
  rollback?: boolean;
  /** What one replica of a deployment costs an hour (the after spec's prices), for the cost lines; absent without prices. */
  cost?: { currency: string; hourly(d: TargetDeployment): { priced: number; unpriced: string[] } };
  /** The replicas a deployment ran on average recently and the hours behind it (cost/meters.ts `recentReplicas`), for a range's expected cost. */
  recentReplicas?(deployment: string): { average: number; hours: number } | undefined;
  /** The replicas a running deployment's group runs now (the autoscaler's count for a range); absent: its initial count. */
  runningReplicas?(d: TargetDeployment): number | undefined;
  /** The machine the local orchestrator runs replicas on, and the vCPU one replica of a deployment reserves: a plan that would reserve more than the cores warns. */
  machine?: { cores: number; cpu(d: TargetDeployment): number };
}

const REPLACES = (field: string) => field === 'model' || field.startsWith('runtime.');

export function makePlan(i: PlanInputs): Plan {
  const monthlyOf = (d: TargetDeployment | undefined): MonthlyCost | undefined => {
    if (!d || !i.cost) return undefined;
    const h = i.cost.hourly(d);
    const { min, max } = d.spec.replicas;
    const recent = min === max ? undefined : i.recentReplicas?.(d.name);
    const replicas = recent && Math.min(max, Math.max(min, recent.average));
    const running = (i.before?.deployments ?? []).some((x) => x.name === d.name);
    return {
      min: h.priced * min * HOURS_PER_MONTH, max: h.priced * max * HOURS_PER_MONTH, unpriced: max > 0 ? h.unpriced : [],
      ...(recent && replicas !== undefined ? { expected: { monthly: h.priced * replicas * HOURS_PER_MONTH, replicas, hours: recent.hours } } : {}),
      ...(min !== max && !recent && i.recentReplicas ? { noExpected: running ? 'too little metered history yet (it is read again every 5 min)' : 'a new deployment has no load history' } : {}),
    };
  };
  const warnings: string[] = [];
  const refused: string[] = [];
  const deployments: DeploymentPlan[] = [];
  const beforeSpec = i.before?.canonical;
  const beforeDeps = new Map((i.before?.deployments ?? []).map((d) => [d.name, d]));
  const afterDeps = new Map(i.after.deployments.map((d) => [d.name, d]));
  // Replica counts: what a running deployment runs now (the autoscaler moves a range's count
  // away from its initial one), and what the new spec will run: a fixed count, or for a range
  // the running count held inside the new range (the autoscaler keeps it), else the initial.
  const ranged = (d: TargetDeployment) => d.spec.replicas.min !== d.spec.replicas.max;
  const running = (d: TargetDeployment) => i.runningReplicas?.(d) ?? d.spec.replicas.initial;
  const planned = (d: TargetDeployment, was?: TargetDeployment) => (ranged(d) && was && ranged(was)
    ? Math.min(d.spec.replicas.max, Math.max(d.spec.replicas.min, running(was))) : d.spec.replicas.initial);
  const side = (d: TargetDeployment, replicas: number) => ({ model: d.model, version: d.version, sha256: d.sha256, replicas });

  for (const name of [...new Set([...beforeDeps.keys(), ...afterDeps.keys()])].sort()) {
    const old = beforeDeps.get(name);
    const now = afterDeps.get(name);
    if (!old && now) {
      deployments.push({ name, action: 'add', effect: 'start', fields: diffFields({}, i.after.canonical.deployments[name]), to: side(now, now.spec.replicas.initial), replicasToStart: now.spec.replicas.initial, replicasToStop: 0 });
      if (now.spec.public) warnings.push(`deployment '${name}' is public: anyone who can reach the gateway may call it without a key`);
      const cols = featuresWarning(name, now.spec, now.signature);
      if (cols) warnings.push(cols);
      const cold = coldStartWarning(name, now.spec);
      if (cold) warnings.push(cold);
      continue;
    }
    if (old && !now) {
      deployments.push({ name, action: 'remove', effect: 'stop', fields: [], from: side(old, running(old)), replicasToStart: 0, replicasToStop: running(old) });
      const recent = i.recentRequests(name);
      if (recent > 0) warnings.push(`removing deployment '${name}', which answered ${recent} request${recent === 1 ? '' : 's'} in the last 5 minutes (${(recent / 300).toFixed(2)}/s); its callers will get 404`);
      continue;
    }
    if (!old || !now) continue;
    const fields = diffFields(withDefaults(beforeSpec?.deployments[name], FILLED().deployment), withDefaults(i.after.canonical.deployments[name], FILLED().deployment));
    const versionMoved = old.model !== now.model || old.version !== now.version || old.sha256 !== now.sha256;
    if (versionMoved && !fields.some((f) => f.field === 'model')) fields.unshift({ field: 'model', from: `${old.model}@${old.version}`, to: `${now.model}@${now.version}` });
    else if (versionMoved) {
      const f = fields.find((x) => x.field === 'model')!;
      f.from = `${old.ref} (${old.model}@${old.version})`;
      f.to = `${now.ref} (${now.model}@${now.version})`;
    }
    if (fields.length === 0) continue;
    const replace = versionMoved || fields.some((f) => REPLACES(f.field));
    const was = running(old);
    const will = planned(now, old);
    const delta = will - was;
    // The reconciler runs a rollout when the version moves under a declared strategy (control/reconcilers/deployments.ts).
    // The same bytes under a new version (a file pushed again) switch at once, with no analysis.
    const sameBytes = versionMoved && old.sha256 === now.sha256;
    // A rollback switches each deployment once warm, with no rollout phase.
    const rollout = (old.version !== now.version || old.model !== now.model) && !sameBytes && i.rollback !== true ? plannedRollout(now.spec.rollout) : undefined;
    if (sameBytes && now.spec.rollout.strategy !== 'replace') warnings.push(`deployment '${name}' moves to ${now.model}@${now.version}, the same bytes (sha256 ${now.sha256.slice(0, 12)}) as the ${old.model}@${old.version} it serves: it switches once warm, without the ${now.spec.rollout.strategy} rollout, as there is nothing to compare`);
    deployments.push({
      name, action: 'change', effect: replace ? 'replace' : delta !== 0 ? 'scale' : 'in-place', fields, from: side(old, was), to: side(now, will),
      replicasToStart: replace ? will : Math.max(0, delta),
      replicasToStop: replace ? was : Math.max(0, -delta),
      strategy: now.spec.rollout.strategy,
      ...(rollout ? { rollout } : {}),
    });
    if (!old.spec.public && now.spec.public) warnings.push(`deployment '${name}' becomes public: anyone who can reach the gateway may call it without a key`);
    const waits = rolloutWaitWarning(name, now.spec);
    if (rollout && waits) warnings.push(waits);
    const cold = coldStartWarning(name, now.spec);
    if (cold && coldStartWarning(name, old.spec) === undefined) warnings.push(cold);
    const cols = featuresWarning(name, now.spec, now.signature);
    if (cols && cols !== featuresWarning(name, old.spec, old.signature)) warnings.push(cols);
    warnings.push(...captureWarnings(name, old.spec.capture, now.spec.capture));
    const loosened = loosenedLimit(old.spec.limits, now.spec.limits);
    if (loosened) warnings.push(`deployment '${name}': rate limit loosened (${loosened})`);
    // A signature the server cannot know yet (a file not uploaded, no signature sent) is not compared.
    const unknown = now.signature.inputs.length === 0 && now.signature.outputs.length === 0;
    if (versionMoved && !unknown) {
      const sig = signatureChange(old.signature, now.signature);
      const both = { canary: 'a canary', abTest: 'an A/B test', shadow: 'a shadow' } as Record<string, string | undefined>;
      const kind = both[now.spec.rollout.strategy];
      if (sig && kind !== undefined && !now.spec.rollout.allowSignatureChange) {
        // A canary or an A/B test serves both versions to the same callers at once, and a
        // shadow sends the same requests to both: requests must fit both.
        refused.push(`deployment '${name}': ${kind} from ${old.model}@${old.version} to ${now.model}@${now.version} changes the signature (${sig}); ${now.spec.rollout.strategy === 'shadow' ? 'the copied requests would not fit the new version' : 'callers would meet both at once'}. Set rollout.allowSignatureChange: true if that is intended`);
      } else if (sig) warnings.push(`deployment '${name}': ${now.model}@${now.version} has a different signature from ${old.model}@${old.version} (${sig}); callers may break`);
    }
  }

  const strip = (c: CanonicalSpec | undefined) => {
    if (!c) return {};
    const { models: _m, deployments: _d, ...rest } = c;
    return rest;
  };
  const settings: SettingPlan[] = [];
  if (beforeSpec) {
    // The listening address changes only when the new spec names neither what the running
    // spec said nor where the system listens (`aloft up --port` overrides the spec).
    const where = { 'server.port': i.listening?.port, 'server.host': i.listening?.host } as Record<string, unknown>;
    const top = (c: CanonicalSpec) => withDefaults(strip(c), FILLED().top);
    const after = top(i.after.canonical);
    const ro = i.restartOnly;
    const fields = diffFields(top(beforeSpec), after).filter((f) => ro === undefined || !needsRestart(f.field));
    if (ro !== undefined && ro !== 'ignore') fields.push(...diffFields(top(ro.local), after).filter((f) => needsRestart(f.field)));
    fields.sort((x, y) => (x.field < y.field ? -1 : x.field > y.field ? 1 : 0));
    for (const f of fields) {
      const now = where[f.field];
      if (now !== undefined && f.to === now) continue;
      settings.push({ ...f, ...(now !== undefined ? { from: now } : {}), live: !needsRestart(f.field) });
    }
  }
  const restart = settings.filter((s) => !s.live).map((s) => `${s.field}: ${showField(s.field, s.from)} → ${showField(s.field, s.to)} needs a restart of aloft up`);
  const perKey = loosenedLimit(beforeSpec ? (beforeSpec.limits as { perKey?: RateLimitSpec }).perKey : undefined, (i.after.canonical.limits as { perKey?: RateLimitSpec }).perKey);
  if (beforeSpec && perKey) warnings.push(`per-key rate limit loosened (${perKey})`);
  const over = i.machine && oversubscribedBy(i.machine, i.before?.deployments ?? [], i.after.deployments);
  if (over) warnings.push(over);
  const authBefore = (beforeSpec?.security as { auth?: { enabled?: boolean } } | undefined)?.auth?.enabled;
  const authAfter = (i.after.canonical.security as { auth?: { enabled?: boolean } }).auth?.enabled;
  if (authBefore === true && authAfter === false) warnings.push('authentication is turned off: every endpoint answers without a key');

  const models = i.models.filter((m) => m.register);
  // Only models declared on both sides: a declaration added is a registration (above), and one
  // removed changes nothing (the registry keeps its versions), so neither is a metadata change.
  const afterModels = i.after.canonical.models;
  const both = (k: string) => Object.hasOwn(afterModels, k) && Object.hasOwn(beforeSpec?.models ?? {}, k);
  const modelFieldChanges = beforeSpec ? diffFields(
    Object.fromEntries(Object.entries(beforeSpec.models).filter(([k]) => both(k)).map(([k, v]) => [k, { ...v, sha256: null }])),
    Object.fromEntries(Object.entries(afterModels).filter(([k]) => both(k)).map(([k, v]) => [k, { ...v, sha256: null }])),
  ) : [];
  // Model metadata (description, labels) changes in place; it is named like a setting.
  for (const f of modelFieldChanges) settings.push({ field: `models.${f.field}`, from: f.from, to: f.to, live: true });
  const steps = stepsOf(models, deployments, settings);
  // Cost lines: each planned deployment's monthly cost before and after, and the system's.
  let cost: Plan['cost'];
  if (i.cost) {
    for (const d of deployments) {
      const from = monthlyOf(beforeDeps.get(d.name));
      const to = monthlyOf(afterDeps.get(d.name));
      // A new version under a strategy that runs both groups: the new one's cost meanwhile.
      const now = afterDeps.get(d.name);
      const r = now?.spec.rollout;
      let during: RolloutCost | undefined;
      if (now && r && r.strategy !== 'replace' && d.action === 'change' && d.fields.some((f) => f.field === 'model')) {
        const h = i.cost.hourly(now);
        const atLeastMs = r.strategy === 'blueGreen' ? r.bake + r.keepOld : r.strategy === 'canary' ? r.steps.filter((s) => s < 100).length * r.interval : r.interval;
        during = { strategy: r.strategy, hourly: h.priced * now.spec.replicas.initial, unpriced: h.unpriced, atLeastMs };
      }
      if (from || to) d.cost = { ...(from ? { from } : {}), ...(to ? { to } : {}), ...(during ? { during } : {}) };
    }
    // The system's expected cost: when every range in it has one (a fixed count is its own).
    const expectedOf = (m: MonthlyCost) => m.expected?.monthly ?? (m.min === m.max ? m.min : undefined);
    const sum = (ds: readonly TargetDeployment[]): MonthlyCost => {
      const ms = ds.map((d) => monthlyOf(d)!);
      const out: MonthlyCost = { min: 0, max: 0, unpriced: [...new Set(ms.flatMap((m) => m.unpriced))].sort() };
      for (const m of ms) { out.min += m.min; out.max += m.max; }
      const expected = ms.map(expectedOf);
      const withHistory = ms.filter((m) => m.expected);
      if (withHistory.length > 0 && expected.every((e) => e !== undefined)) {
        out.expected = { monthly: expected.reduce((a, b) => a! + b!, 0)!, replicas: ms.reduce((n, m, k) => n + (m.expected?.replicas ?? ds[k]!.spec.replicas.min), 0), hours: Math.min(...withHistory.map((m) => m.expected!.hours)) };
      }
      return out;
    };
    cost = { currency: i.cost.currency, from: sum(i.before?.deployments ?? []), to: sum(i.after.deployments) };
  }
  return {
    base: i.base, current: i.current,
    changes: models.length > 0 || deployments.length > 0 || settings.length > 0 || i.before === undefined,
    models: [...i.models], deployments, settings, restart, refused, warnings, steps,
    topology: { ...topologyOf(i.after), ...(i.listening && !settings.some((x) => x.field === 'server.port') ? { port: i.listening.port } : {}) },
    ...(cost ? { cost } : {}),
  };
}

/**
 * The warning when the planned replicas would reserve more vCPU than the machine has, at
 * their starting count or at the top of their ranges, and more than what runs now (an
 * oversubscription the running system already has is logged and shown by `aloft cost`).
 */
export function oversubscribedBy(
  m: NonNullable<PlanInputs['machine']>, before: readonly TargetDeployment[], after: readonly TargetDeployment[],
): string | undefined {
  const round = (x: number) => Math.round(x * 100) / 100;
  const reserved = (ds: readonly TargetDeployment[], n: (d: TargetDeployment) => number) => round(ds.reduce((t, d) => t + m.cpu(d) * n(d), 0));
  const parts = (n: (d: TargetDeployment) => number) => after.filter((d) => n(d) > 0)
    .map((d) => `'${d.name}' ${n(d)} × ${round(m.cpu(d))}${d.spec.resources.cpu === undefined ? ' (its runtime threads: resources.cpu is unset)' : ''}`).join(', ');
  const cores = `${m.cores} core${m.cores === 1 ? '' : 's'}`;
  const initial = (d: TargetDeployment) => d.spec.replicas.initial;
  // At the top of a range, only what the spec states is counted: replicas that reserve the
  // runtime threads Aloft chose ('auto', no resources.cpu) are the system's choice, not a
  // setting to warn of; they count at their starting count.
  const explicit = (d: TargetDeployment) => d.spec.resources.cpu !== undefined || d.spec.runtime.intraOpThreads !== 'auto';
  const max = (d: TargetDeployment) => (explicit(d) ? d.spec.replicas.max : d.spec.replicas.initial);
  const start = reserved(after, initial);
  const wasStart = reserved(before, initial);
  if (start > m.cores && start > wasStart) {
    return `the replicas would reserve ${start} vCPU on this machine's ${cores}${wasStart > 0 ? ` (${wasStart} now)` : ''}: ${parts(initial)}; they would slow each other down: lower resources.cpu, runtime.intraOpThreads or replicas`;
  }
  const top = reserved(after, max);
  const wasTop = reserved(before, max);
  if (top > m.cores && top > wasTop) {
    return `scaled to the top of their ranges, the replicas would reserve ${top} vCPU on this machine's ${cores}${wasTop > 0 ? ` (${wasTop} now)` : ''}: ${parts(max)}; they would slow each other down there: lower replicas.max, resources.cpu or runtime.intraOpThreads`;
  }
  return undefined;
}

function topologyOf(after: PlanSide): Topology {
  const c = after.canonical as { server?: { port?: number }; state?: { dir?: string; database?: string } };
  return {
    port: c.server?.port ?? 0, database: c.state?.database ?? null, stateDir: c.state?.dir ?? '',
    deployments: after.deployments.map((d) => ({ name: d.name, model: d.model, version: d.version, replicas: d.spec.replicas.initial, isolation: d.spec.runtime.isolation, public: d.spec.public })),
  };
}

function stepsOf(models: readonly PlannedModel[], deployments: readonly DeploymentPlan[], settings: readonly SettingPlan[]): string[] {
  const steps: string[] = [];
  for (const m of models) steps.push(`register ${m.model}@${m.version} (sha256:${m.sha256.slice(0, 12)})`);
  for (const s of settings.filter((x) => x.live)) steps.push(`update ${s.field}: ${showField(s.field, s.from)} → ${showField(s.field, s.to)} in place`);
  for (const d of deployments) {
    const to = d.to && `${d.to.model}@${d.to.version}`;
    const from = d.from && `${d.from.model}@${d.from.version}`;
    switch (d.effect) {
      case 'start': steps.push(`start ${d.replicasToStart} replica${d.replicasToStart === 1 ? '' : 's'} of ${to} and route deployment '${d.name}' to it`); break;
      case 'stop': steps.push(`stop routing deployment '${d.name}', drain and stop ${from} (${d.replicasToStop} replica${d.replicasToStop === 1 ? '' : 's'})`); break;
      case 'replace':
        if (d.rollout) {
          steps.push(...rolloutSteps(d, d.rollout, from!, to!));
          break;
        }
        steps.push(`start ${d.replicasToStart} replica${d.replicasToStart === 1 ? '' : 's'} of ${to} for deployment '${d.name}', wait until all are ready`);
        steps.push(`switch deployment '${d.name}' from ${from} to ${to} at one instant`);
        steps.push(`drain and stop the old ${from} group (${d.replicasToStop} replica${d.replicasToStop === 1 ? '' : 's'})`);
        break;
      case 'scale':
        steps.push(d.replicasToStart > 0
          ? `start ${d.replicasToStart} more replica${d.replicasToStart === 1 ? '' : 's'} of ${to} (${d.from!.replicas} → ${d.to!.replicas})`
          : `drain and stop ${d.replicasToStop} replica${d.replicasToStop === 1 ? '' : 's'} of ${to} (${d.from!.replicas} → ${d.to!.replicas})`);
        break;
      case 'in-place': steps.push(`update deployment '${d.name}' in place: ${d.fields.map((f) => f.field).join(', ')}`); break;
    }
  }
  return steps;
}

/** What a rollout will do, step by step, as `aloft rollout status` will then show it. */
function rolloutSteps(d: DeploymentPlan, r: PlannedRollout, from: string, to: string): string[] {
  const n = `${d.replicasToStart} replica${d.replicasToStart === 1 ? '' : 's'}`;
  const t = formatDuration;
  const gates = `the analysis (${r.gates.join(', ')}) against ${from}`;
  const undecided = r.onInconclusive !== 'wait'
    ? `an undecided step ${r.onInconclusive === 'promote' ? 'goes on' : 'rolls back'} after its interval (onInconclusive: ${r.onInconclusive})`
    : r.maxDuration > r.interval
      ? `an undecided step waits, then rolls back ${t(r.maxDuration)} after it began (analysis.maxDuration)`
      : `a step still undecided when its interval ends rolls back then (analysis.maxDuration ${t(r.maxDuration)} is not longer than the interval)`;
  const stop = `drain and stop the old ${from} group (${d.replicasToStop} replica${d.replicasToStop === 1 ? '' : 's'})`;
  const watch = `follow it with 'aloft rollout status ${d.name} --watch'; 'aloft rollout promote|abort|pause|resume ${d.name}' take over by hand`;
  switch (r.strategy) {
    case 'canary': return [
      `start ${n} of ${to} beside ${from} for deployment '${d.name}' (a canary), wait until all are ready`,
      `move traffic to ${to} in steps of ${r.steps!.map((p) => `${p}%`).join(' → ')}, each held at least ${t(r.interval)} and until ${gates} passes; a failed gate rolls back to ${from} at once; ${undecided}`,
      `once promoted, ${stop}; ${watch}`,
    ];
    case 'blueGreen': return [
      `start ${n} of ${to} beside ${from} for deployment '${d.name}' (blue-green), wait until all are ready`,
      `bake ${t(r.bake!)} on preview requests only (that name version ${d.to!.version}, or a preview key); a failed gate rolls back`,
      `switch all traffic to ${to} at one instant; keep ${from} warm ${t(r.keepOld!)} for an instant rollback ('aloft rollout abort ${d.name}'), then ${stop}`,
    ];
    case 'abTest': return [
      `start ${n} of ${to} beside ${from} for deployment '${d.name}' (an A/B test), wait until all are ready`,
      `send ${r.split}% of callers, each always to the same version (hashed by key), to ${to}, and compare the versions; this runs until 'aloft rollout promote ${d.name}' or 'abort'`,
      `once promoted, ${stop}`,
    ];
    case 'shadow': return [
      `start ${n} of ${to} beside ${from} for deployment '${d.name}' (a shadow), wait until all are ready`,
      `copy ${Math.round(r.sample! * 1000) / 10}% of requests to ${to}; its answers are compared with ${from}'s and never returned; ${r.agreement !== undefined ? `promote after at least ${t(r.interval)} once agreement is surely ≥ ${Math.round(r.agreement * 1000) / 10}%` : `promote by hand ('aloft rollout promote ${d.name}')`}`,
      `once promoted, switch all traffic to ${to} and ${stop}`,
    ];
  }
}

/** How a limit got looser, or undefined: removed, or a higher rate, burst or daily quota. */
function loosenedLimit(before: RateLimitSpec | undefined, after: RateLimitSpec | undefined): string | undefined {
  if (!before) return undefined;
  if (!after) return 'the limit is removed';
  const parts: string[] = [];
  if (after.rate > before.rate) parts.push(`rate ${before.rate} → ${after.rate}/s`);
  if (after.burst > before.burst) parts.push(`burst ${before.burst} → ${after.burst}`);
  if (before.daily !== undefined && (after.daily === undefined || after.daily > before.daily)) parts.push(`daily ${before.daily} → ${after.daily ?? 'none'}`);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** How two signatures differ, or undefined when they accept and return the same tensors. */
export function signatureChange(a: ModelSignature, b: ModelSignature): string | undefined {
  const fmt = (t: TensorSpec) => `${t.name} ${t.datatype}[${t.shape.map((d) => (d === -1 ? '?' : d)).join(',')}]`;
  const side = (role: string, x: readonly TensorSpec[], y: readonly TensorSpec[]) => {
    const before = x.map(fmt).join(', ');
    const after = y.map(fmt).join(', ');
    return before === after ? undefined : `${role} ${before} → ${after}`;
  };
  const parts = [side('inputs', a.inputs, b.inputs), side('outputs', a.outputs, b.outputs)].filter((p): p is string => p !== undefined);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/** A value as a plan shows it. */
export function show(v: unknown): string {
  if (v === null || v === undefined) return '(none)';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** The spec's duration fields (stored as ms), by path: deployments' relative to the deployment (`deployment:slos[].window`). */
let durationPaths: Set<string> | undefined;
function isDuration(path: string): boolean {
  durationPaths ??= new Set(specFields().filter((f) => f.type === 'duration').map((f) => f.path.replace(/^deployments\.<name>\./, 'deployment:')));
  // An element of a list named by its name or index (slos[latency].window) reads as the list's field (slos[].window).
  return durationPaths.has(path.replace(/\[[^\]]*\]/g, '[]'));
}

/** Memory as GiB (resources.memory, an instance's size) the way it is written: 512Mi, 1Gi, 1.5Gi. */
function memoryText(gib: number): string {
  const mib = gib * 1024;
  return gib >= 1 && Number.isInteger(gib * 4) ? `${gib}Gi` : Number.isInteger(mib) ? `${mib}Mi` : `${gib}Gi`;
}

/**
 * A field's value as the user writes it: a duration as 30s (not 30000), memory as 512Mi
 * (not 0.5). `path` is a setting's (alerts.every) or, prefixed `deployment:`, a
 * deployment's field (deployment:resources.memory).
 */
export function showField(path: string, v: unknown): string {
  // Objects and lists as YAML's flow form, each value in its own units: {url: http://…, before: promotion, timeout: 10s}.
  if (Array.isArray(v)) return `[${v.map((x) => showField(`${path}[]`, x)).join(', ')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}: ${showField(`${path}.${k}`, x)}`).join(', ')}}`;
  if (typeof v !== 'number') return show(v);
  if (isDuration(path)) return formatDuration(v);
  if (path === 'deployment:resources.memory' || /^cost\.instances(\[[^\]]*\])?\.memory$/.test(path)) return memoryText(v);
  return show(v);
}

/**
 * Field changes with lists of objects (slos, alert webhooks) taken apart: each element by
 * its `name` (else its index) and field, so a changed objective reads
 * `slos[latency].objective: 99 → 99.5` rather than two lines of JSON.
 */
export function expandLists(fields: readonly FieldChange[]): FieldChange[] {
  const isObjects = (v: unknown): v is Record<string, unknown>[] => Array.isArray(v) && v.length > 0 && v.every((e) => e !== null && typeof e === 'object' && !Array.isArray(e));
  const out: FieldChange[] = [];
  for (const f of fields) {
    const from = f.from ?? [];
    const to = f.to ?? [];
    if (!(isObjects(from) || isObjects(to)) || !Array.isArray(from) || !Array.isArray(to) || ![...from, ...to].every((e) => e !== null && typeof e === 'object' && !Array.isArray(e))) {
      out.push(f);
      continue;
    }
    const named = [...from, ...to].every((e) => typeof (e as Record<string, unknown>).name === 'string');
    const keyOf = (e: Record<string, unknown>, i: number) => (named ? String(e.name) : String(i));
    const a = new Map((from as Record<string, unknown>[]).map((e, i) => [keyOf(e, i), e]));
    const b = new Map((to as Record<string, unknown>[]).map((e, i) => [keyOf(e, i), e]));
    for (const k of [...new Set([...a.keys(), ...b.keys()])]) {
      const x = a.get(k);
      const y = b.get(k);
      // An element added or removed whole is one line; one that changed, a line per field.
      if (!x || !y) out.push({ field: `${f.field}[${k}]`, from: x ?? null, to: y ?? null });
      else for (const c of diffFields(x, y)) out.push({ field: `${f.field}[${k}].${c.field}`, from: c.from, to: c.to });
    }
  }
  return out;
}

/**
 * `features` that do not name every column of the model's first input: the columns past
 * them are captured and compared as input[i] (a redact or hash names none of them), and
 * names past the last column name nothing. Known only once the model's signature is.
 */
export function featuresWarning(name: string, spec: DeploymentSpec, sig: ModelSignature): string | undefined {
  const features = spec.features;
  const first = sig.inputs[0];
  if (!features || !first || first.shape.length < 2) return undefined;
  const width = first.shape.at(-1)!;
  if (width <= 0 || width === features.length) return undefined;
  if (features.length < width) {
    const rest = width - features.length === 1 ? `column ${features.length} is captured and checked for drift as input[${features.length}]` : `columns ${features.length}–${width - 1} are captured and checked for drift as input[${features.length}]…input[${width - 1}]`;
    return `deployment '${name}': features names ${features.length} of the ${width} columns of input '${first.name}'; ${rest}, unredacted: name them all (capture.redact can only drop named columns)`;
  }
  return `deployment '${name}': features names ${features.length} columns, and input '${first.name}' has ${width}; ${features.slice(width).map((f) => `'${f.name}'`).join(', ')} name${features.length - width === 1 ? 's' : ''} no column`;
}

/**
 * Capture changes that lose something: a shorter retention deletes the older records at
 * the next retention pass (within a minute); a new key without the old one in
 * previousKeys leaves the records sealed under it unreadable (export, and the quality and
 * drift figures that read them); a new hashKey hashes equal values differently from
 * before, so old and new records no longer join. Keys are compared, never shown.
 */
export function captureWarnings(name: string, before: CaptureSpec | undefined, after: CaptureSpec | undefined): string[] {
  if (!before || !after) return [];
  const out: string[] = [];
  if (after.retention < before.retention) out.push(`deployment '${name}': capture.retention shortens from ${formatDuration(before.retention)} to ${formatDuration(after.retention)}; captured records older than ${formatDuration(after.retention)} are deleted within a minute of the apply`);
  if (after.key !== before.key && !after.previousKeys.includes(before.key)) out.push(`deployment '${name}': capture.key changes and the key it replaces is not in capture.previousKeys; records captured so far can no longer be read (export, quality and drift skip them): list the old key in previousKeys`);
  if (after.hashKey !== before.hashKey && after.hash.length > 0 && before.hash.length > 0) out.push(`deployment '${name}': capture.hashKey changes, so ${after.hash.map((h) => `'${h}'`).join(', ')} hash differently from the records captured so far: old and new values no longer match (joins, drift against a captured reference)`);
  return out;
}

/**
 * A deployment that may scale to zero and is latency-sensitive (public, with a latency
 * SLO, or a deadline under 2 s): its first request after an idle spell waits for a replica
 * to start. Worth knowing, not an error.
 */
/**
 * A canary or shadow whose analysis.maxDuration is not longer than its interval: a step
 * still short of data when the interval ends is rolled back at once, with no time to
 * gather more (a rollout at low traffic then always rolls back).
 */
export function rolloutWaitWarning(name: string, spec: DeploymentSpec): string | undefined {
  const r = spec.rollout;
  if ((r.strategy !== 'canary' && r.strategy !== 'shadow') || r.analysis.onInconclusive !== 'wait' || r.analysis.maxDuration > r.interval) return undefined;
  return `deployment '${name}': rollout.analysis.maxDuration (${formatDuration(r.analysis.maxDuration)}) is not longer than rollout.interval (${formatDuration(r.interval)}), so a step without enough answers when its interval ends is rolled back at once instead of waiting for more; at low traffic raise analysis.maxDuration (e.g. ${formatDuration(r.interval * 2)})`;
}

export function coldStartWarning(name: string, spec: DeploymentSpec): string | undefined {
  if (spec.replicas.min !== 0 || !spec.autoscaling) return undefined;
  const latency = spec.slos.find((s) => s.kind === 'latency');
  const why = [
    ...(spec.public ? ['it is public'] : []),
    ...(latency ? [`it has a latency SLO (${latency.objective}% within ${latency.threshold} ms)`] : []),
    ...(spec.timeout < 2000 ? [`its deadline is ${spec.timeout} ms`] : []),
  ];
  if (why.length === 0) return undefined;
  return `deployment '${name}' scales to zero (replicas.min 0) and ${why.join(' and ')}: the first request after ${Math.round(spec.autoscaling.scaleToZeroAfter / 1000)}s idle waits while a replica starts (a cold start, a few hundred ms for a small model); set replicas.min: 1 to keep one warm`;
}
