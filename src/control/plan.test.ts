/**
 * makePlan as a table: the same inputs give the same plan. Each row changes one thing of
 * a running spec and names what the plan must say about it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { captureSchema, rolloutSchema } from '../spec/schema.js';
import type { ModelSignature } from '../runtime/tensor.js';
import type { CaptureSpec, DeploymentSpec } from '../spec/types.js';
import { captureWarnings, diffFields, makePlan, rolloutWaitWarning, signatureChange, type CanonicalSpec, type PlanSide, type TargetDeployment } from './plan.js';

const SIG: ModelSignature = { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }], batchable: true };

const depSpec = (o: Partial<{ replicas: number; public: boolean; limits: { rate: number; burst: number; daily?: number } }> = {}): DeploymentSpec => ({
  model: { name: 'm', selector: { kind: 'latest' } }, replicas: { min: o.replicas ?? 2, max: o.replicas ?? 2, initial: o.replicas ?? 2 },
  batching: { enabled: true, maxBatchSize: 32, maxQueueDelay: 2, maxQueueSize: 1024 },
  runtime: { intraOpThreads: 'auto', interOpThreads: 1, graphOptimization: 'all', executionMode: 'sequential', allowSpinning: false, isolation: 'process' },
  timeout: 30000, public: o.public ?? false, rollout: rolloutSchema.parse({}), slos: [], admission: { limit: 'off', refuseLate: true }, resources: { gpu: 0 }, ...(o.limits ? { limits: o.limits } : {}),
});

function side(deps: Record<string, { spec: DeploymentSpec; version?: number; sig?: ModelSignature; sha?: string }>, extra: Record<string, unknown> = {}): PlanSide {
  const deployments: TargetDeployment[] = Object.entries(deps).map(([name, d]) => ({
    name, spec: d.spec, ref: 'm', model: 'm', version: d.version ?? 1, sha256: d.sha ?? String(d.version ?? 1).repeat(64), signature: d.sig ?? SIG,
  }));
  const canonical = {
    version: 1, server: { port: 8080, host: '127.0.0.1' }, limits: { backend: 'memory' }, security: { auth: { enabled: true } }, ...extra,
    models: { m: { sha256: '1'.repeat(64) } },
    deployments: Object.fromEntries(Object.entries(deps).map(([n, d]) => [n, { model: 'm', replicas: d.spec.replicas.min, public: d.spec.public, ...(d.spec.limits ? { limits: d.spec.limits } : {}) }])),
  } as CanonicalSpec;
  return { canonical, deployments };
}

const before = side({ m: { spec: depSpec() } });
const plan = (after: PlanSide, recent = 0) => makePlan({ base: 3, current: 3, before, after, models: [], recentRequests: () => recent });

test('nothing changed: no changes, no steps', () => {
  const p = plan(before);
  assert.equal(p.changes, false);
  assert.deepEqual([p.deployments, p.settings, p.steps, p.warnings], [[], [], [], []]);
});

test('the table: what each change plans', () => {
  const rows: { name: string; after: PlanSide; recent?: number; effect?: string; fields?: string[]; warning?: RegExp; restart?: RegExp; steps: RegExp }[] = [
    { name: 'replicas 2 → 3', after: side({ m: { spec: depSpec({ replicas: 3 }) } }), effect: 'scale', fields: ['replicas'], steps: /start 1 more replica of m@1 \(2 → 3\)/ },
    { name: 'replicas 3 → 1', after: side({ m: { spec: depSpec({ replicas: 1 }) } }), effect: 'scale', fields: ['replicas'], steps: /drain and stop 1 replica of m@1 \(2 → 1\)/ },
    { name: 'a new version', after: side({ m: { spec: depSpec(), version: 2 } }), effect: 'replace', fields: ['model'], steps: /switch deployment 'm' from m@1 to m@2 at one instant/ },
    { name: 'public', after: side({ m: { spec: depSpec({ public: true }) } }), effect: 'in-place', fields: ['public'], warning: /'m' becomes public/, steps: /update deployment 'm' in place: public/ },
    { name: 'a signature change', after: side({ m: { spec: depSpec(), version: 2, sig: { ...SIG, inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 6] }] } } }), effect: 'replace', warning: /different signature .*inputs x FP32\[\?,4\] → x FP32\[\?,6\]/, steps: /start 2 replicas of m@2/ },
    { name: 'add a deployment', after: side({ m: { spec: depSpec() }, n: { spec: depSpec({ replicas: 1 }) } }), effect: 'start', steps: /start 1 replica of m@1 and route deployment 'n'/ },
    { name: 'remove a deployment that is called', after: side({}), recent: 600, effect: 'stop', warning: /removing deployment 'm', which answered 600 requests in the last 5 minutes \(2\.00\/s\)/, steps: /drain and stop m@1 \(2 replicas\)/ },
    { name: 'a port change', after: side({ m: { spec: depSpec() } }, { server: { port: 9090, host: '127.0.0.1' } }), restart: /server\.port: 8080 → 9090 needs a restart/, steps: /^$/ },
    { name: 'a looser limit', after: side({ m: { spec: depSpec({ limits: { rate: 100, burst: 100 } }) } }), effect: 'in-place', warning: /rate limit loosened/, steps: /in place: limits/ },
    { name: 'auth off', after: side({ m: { spec: depSpec() } }, { security: { auth: { enabled: false } } }), warning: /authentication is turned off/, steps: /update security\.auth\.enabled: true → false in place/ },
  ];
  const limited = side({ m: { spec: depSpec({ limits: { rate: 10, burst: 10 } }) } });
  for (const row of rows) {
    const p = row.name === 'a looser limit' ? makePlan({ base: 3, current: 3, before: limited, after: row.after, models: [], recentRequests: () => 0 }) : plan(row.after, row.recent);
    assert.equal(p.changes, true, row.name);
    if (row.effect) assert.equal(p.deployments.find((d) => d.name === (row.name === 'add a deployment' ? 'n' : 'm'))?.effect, row.effect, row.name);
    if (row.fields) assert.deepEqual(p.deployments[0]!.fields.map((f) => f.field), row.fields, row.name);
    if (row.warning) assert.match(p.warnings.join('\n'), row.warning, row.name);
    else if (row.name !== 'auth off') assert.deepEqual(p.warnings, [], row.name);
    if (row.restart) assert.match(p.restart.join('\n'), row.restart, row.name);
    else assert.deepEqual(p.restart, [], row.name);
    assert.match(p.steps.join('\n'), row.steps, row.name);
  }
});

test('a new version with the bytes already serving plans no canary, and says so', () => {
  const canary = rolloutSchema.parse({ strategy: 'canary' });
  const same = plan(side({ m: { spec: { ...depSpec(), rollout: canary }, version: 2, sha: '1'.repeat(64) } }));
  const d = same.deployments[0]!;
  assert.equal(d.effect, 'replace');
  assert.equal(d.rollout, undefined, 'no canary steps planned');
  assert.match(same.warnings.join('\n'), /'m' moves to m@2, the same bytes \(sha256 111111111111\) as the m@1 it serves: it switches once warm, without the canary rollout/);
  const other = plan(side({ m: { spec: { ...depSpec(), rollout: canary }, version: 2 } }));
  assert.notEqual(other.deployments[0]!.rollout, undefined, 'new bytes: the canary is planned');
  assert.doesNotMatch(other.warnings.join('\n'), /same bytes/);
});

test('diffFields and signatureChange', () => {
  assert.deepEqual(diffFields({ a: { b: 1, c: [1] } }, { a: { b: 2, c: [1] }, d: 'x' }), [{ field: 'a.b', from: 1, to: 2 }, { field: 'd', from: null, to: 'x' }]);
  assert.equal(signatureChange(SIG, structuredClone(SIG)), undefined);
  assert.match(signatureChange(SIG, { ...SIG, outputs: [{ name: 'p', datatype: 'FP32', shape: [-1, 1] }] })!, /outputs y FP32\[\?,1\] → p FP32\[\?,1\]/);
});

test('a canary to a version with another signature is refused unless the spec allows it; a replace only warns', () => {
  const wide = { ...SIG, inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [-1, 6] }] };
  const canary = rolloutSchema.parse({ strategy: 'canary' });
  const cand = (rollout: typeof canary) => side({ m: { spec: { ...depSpec(), rollout }, version: 2, sig: wide } });
  const refused = plan(cand(canary));
  assert.match(refused.refused.join('\n'), /a canary from m@1 to m@2 changes the signature \(inputs x FP32\[\?,4\] → x FP32\[\?,6\]\).*rollout\.allowSignatureChange: true/);
  assert.deepEqual(plan(cand({ ...canary, allowSignatureChange: true })).refused, []);
  assert.match(plan(cand({ ...canary, allowSignatureChange: true })).warnings.join(), /different signature/);
  assert.deepEqual(plan(side({ m: { spec: depSpec(), version: 2, sig: wide } })).refused, [], 'the default strategy warns only');
});

test('scale to zero on a public or latency-sensitive deployment is a warning, not an error', async () => {
  const { autoscalingSchema } = await import('../spec/schema.js');
  const zero = (o: { public?: boolean; timeout?: number }): DeploymentSpec => ({ ...depSpec({ public: o.public ?? false }), replicas: { min: 0, max: 2, initial: 1 }, autoscaling: autoscalingSchema.parse({}) as NonNullable<DeploymentSpec['autoscaling']>, timeout: o.timeout ?? 30000 });
  const pub = plan(side({ m: { spec: depSpec() }, z: { spec: zero({ public: true }) } }));
  assert.ok(pub.warnings.some((w) => /'z' scales to zero \(replicas.min 0\) and it is public: the first request after 30s idle waits while a replica starts/.test(w)), pub.warnings.join('\n'));
  const tight = plan(side({ m: { spec: depSpec() }, z: { spec: zero({ timeout: 500 }) } }));
  assert.ok(tight.warnings.some((w) => /its deadline is 500 ms/.test(w)));
  const relaxed = plan(side({ m: { spec: depSpec() }, z: { spec: zero({}) } }));
  assert.deepEqual(relaxed.warnings, [], 'private, a 30 s deadline, no latency SLO: nothing to warn about');
});

test('sections left at their defaults are not in the canonical spec, so revisions from before them compare equal', async () => {
  const { parseSpec } = await import('../spec/load.js');
  const { canonicalSpec } = await import('./plan.js');
  const canon = (yaml: string) => canonicalSpec({ file: '/p/aloft.yaml', dir: '/p', spec: parseSpec(yaml, '/p/aloft.yaml').spec } as never, {});
  const plain = canon('models: { m: { path: ./m.onnx } }\ndeployments: { m: { replicas: { min: 1, max: 2 } } }\n');
  assert.deepEqual(Object.keys(plain).filter((k) => k === 'alerts' || k === 'cost'), []);
  assert.deepEqual(Object.keys(plain.deployments.m!).filter((k) => ['slos', 'admission', 'resources', 'autoscaling'].includes(k)), []);
  const written = canon('models: { m: { path: ./m.onnx } }\ndeployments: { m: { resources: { cpu: 2 }, admission: { limit: adaptive } } }\ncost: { prices: { cpu: 0.04 } }\n');
  assert.deepEqual(written.deployments.m!.resources, { cpu: 2, gpu: 0 });
  assert.equal((written.deployments.m!.admission as { limit: string }).limit, 'adaptive');
  assert.ok(written.cost, 'a written section is kept');
});

test('cost lines, golden: replicas 2 → 4, a range, a new deployment, a removed one, an unpriced GPU', async () => {
  const { renderPlan } = await import('../cli/plan-render.js');
  const { hourlyCost } = await import('../cost/prices.js');
  const { reservationOf } = await import('../cost/report.js');
  const rates = { cpu: 0.04, memory: 0.005 };
  const cost = { currency: 'USD', hourly: (d: TargetDeployment) => hourlyCost(reservationOf(d.spec, 1, 0), rates) };
  const res = (spec: DeploymentSpec, r: DeploymentSpec['resources'], replicas?: DeploymentSpec['replicas']): DeploymentSpec => ({ ...spec, resources: r, ...(replicas ? { replicas } : {}) });
  const one = { cpu: 1, memory: 1, gpu: 0 };
  const beforeCost = side({ a: { spec: res(depSpec({ replicas: 2 }), one) }, b: { spec: res(depSpec({ replicas: 1 }), one) }, gone: { spec: res(depSpec({ replicas: 1 }), one) } });
  const after = side({
    a: { spec: res(depSpec({ replicas: 4 }), one) },
    b: { spec: res(depSpec({ replicas: 1 }), one, { min: 1, max: 3, initial: 1 }) },
    new: { spec: res(depSpec({ replicas: 1 }), { cpu: 2, memory: 4, gpu: 0 }) },
    gpu: { spec: res(depSpec({ replicas: 1 }), { cpu: 1, memory: 1, gpu: 1 }) },
  });
  after.canonical.deployments.b!.replicas = { min: 1, max: 3 };
  const p = makePlan({ base: 3, current: 3, before: beforeCost, after, models: [], recentRequests: () => 0, cost });
  const lines = renderPlan(p).split('\n').filter((l) => /cost:|^Cost:/.test(l.trim()) || l.startsWith('Cost:')).map((l) => l.trim());
  assert.deepEqual(lines, [
    // 2 → 4 replicas of 1 vCPU + 1 GiB at 0.045 $/h × 730 h.
    'cost: 65.70 USD/month → 131.40 USD/month (+65.70 USD/month)',
    // A range: from min to max.
    'cost: 32.85 USD/month → 32.85–98.55 USD/month',
    'cost: 32.85 USD/month → nothing (-32.85 USD/month at most)',
    // The GPU has no price: named, not counted as free.
    'cost: nothing → 32.85 USD/month + unpriced gpu',
    // 2 vCPU + 4 GiB = 0.1 $/h.
    'cost: nothing → 73.00 USD/month',
    'Cost: 131.40 USD/month → 270.10–335.80 USD/month + unpriced gpu for every deployment',
  ]);
});

test('cost lines, golden: a range with metered history shows what its recent average would cost, held inside the new range', async () => {
  const { renderPlan } = await import('../cli/plan-render.js');
  const { hourlyCost } = await import('../cost/prices.js');
  const { reservationOf } = await import('../cost/report.js');
  const cost = { currency: 'USD', hourly: (d: TargetDeployment) => hourlyCost(reservationOf(d.spec, 1, 0), { cpu: 0.04, memory: 0.005 }) };
  const one = { cpu: 1, memory: 1, gpu: 0 };
  const spec = (replicas: DeploymentSpec['replicas']) => ({ ...depSpec({ replicas: 1 }), resources: one, replicas });
  const before = side({ a: { spec: spec({ min: 1, max: 4, initial: 1 }) }, b: { spec: spec({ min: 1, max: 4, initial: 1 }) }, c: { spec: spec({ min: 2, max: 2, initial: 2 }) } });
  const after = side({ a: { spec: spec({ min: 1, max: 6, initial: 1 }) }, b: { spec: spec({ min: 3, max: 6, initial: 3 }) }, c: { spec: spec({ min: 2, max: 2, initial: 2 }) } });
  after.canonical.deployments.a!.replicas = { min: 1, max: 6 };
  after.canonical.deployments.b!.replicas = { min: 3, max: 6 };
  // a ran 2.5 replicas on average over 3 days; b 1.2 over 5 hours, under its new min of 3.
  const recent: Record<string, { average: number; hours: number }> = { a: { average: 2.5, hours: 72 }, b: { average: 1.2, hours: 5 } };
  const p = makePlan({ base: 3, current: 3, before, after, models: [], recentRequests: () => 0, cost, recentReplicas: (d) => recent[d] });
  const lines = renderPlan(p).split('\n').map((l) => l.trim()).filter((l) => l.startsWith('cost:') || l.startsWith('Cost:'));
  assert.deepEqual(lines, [
    // 0.045 $/h a replica: 2.5 × 0.045 × 730 = 82.125 (82.12 as printed).
    'cost: 32.85–131.40 USD/month, expected 82.12 (2.5 replicas, as on average over the last 3.0 days) → 32.85–197.10 USD/month, expected 82.12 (2.5 replicas, as on average over the last 3.0 days)',
    // The new min holds the expectation up: 3 × 0.045 × 730 = 98.55.
    'cost: 32.85–131.40 USD/month, expected 39.42 (1.2 replicas, as on average over the last 5.0 h) → 98.55–197.10 USD/month, expected 98.55 (3.0 replicas, as on average over the last 5.0 h)',
    // The fixed count is exact (65.70) and counts as its own expectation in the total.
    'Cost: 131.40–328.50 USD/month, expected 187.25 (5.7 replicas, as on average over the last 5.0 h) → 197.10–459.90 USD/month, expected 246.38 (7.5 replicas, as on average over the last 5.0 h) for every deployment',
  ]);
  assert.deepEqual(p.deployments.find((d) => d.name === 'b')!.cost!.to!.expected, { monthly: 0.045 * 3 * 730, replicas: 3, hours: 5 });
  // Without history there is no expectation.
  const fresh = makePlan({ base: 3, current: 3, before, after, models: [], recentRequests: () => 0, cost, recentReplicas: () => undefined });
  assert.equal(fresh.deployments.find((d) => d.name === 'a')!.cost!.to!.expected, undefined);
  assert.equal(fresh.cost!.to.expected, undefined);
  // ... and the plan says why there is none.
  const why = renderPlan(fresh).split('\n').map((l) => l.trim()).filter((l) => l.startsWith('cost:'));
  assert.equal(why[0], 'cost: 32.85–131.40 USD/month → 32.85–197.10 USD/month; no expected figure: too little metered history yet (it is read again every 5 min)');
  const added = makePlan({ base: 3, current: 3, before, after: side({ ...Object.fromEntries(Object.entries({ a: 1, b: 1, c: 1 }).map(([n]) => [n, { spec: before.deployments.find((d) => d.name === n)!.spec }])), n: { spec: spec({ min: 1, max: 3, initial: 1 }) } }), models: [], recentRequests: () => 0, cost, recentReplicas: () => undefined });
  assert.match(renderPlan(added), /cost: nothing → 32\.85–98\.55 USD\/month; no expected figure: a new deployment has no load history$/m);
});

test('a plan that would reserve more vCPU than the machine has warns, at the starting count and at the top of a range, and names who reserves what', () => {
  const at = (cpu: number | undefined, replicas: DeploymentSpec['replicas']): DeploymentSpec => ({ ...depSpec(), replicas, resources: { gpu: 0, ...(cpu !== undefined ? { cpu } : {}) } });
  // Replicas without resources.cpu reserve their runtime threads: 1 here.
  const machine = { cores: 2, cpu: (d: TargetDeployment) => d.spec.resources.cpu ?? 1 };
  const run = (b: PlanSide, a: PlanSide) => makePlan({ base: 3, current: 3, before: b, after: a, models: [], recentRequests: () => 0, machine }).warnings;
  const fits = side({ m: { spec: at(1, { min: 2, max: 2, initial: 2 }) } });
  assert.deepEqual(run(before, fits), [], '2 × 1 vCPU on 2 cores fits');
  const added = run(fits, side({ m: { spec: at(1, { min: 2, max: 2, initial: 2 }) }, n: { spec: at(undefined, { min: 1, max: 1, initial: 1 }) } }));
  assert.deepEqual(added, ["the replicas would reserve 3 vCPU on this machine's 2 cores (2 now): 'm' 2 × 1, 'n' 1 × 1 (its runtime threads: resources.cpu is unset); they would slow each other down: lower resources.cpu, runtime.intraOpThreads or replicas"]);
  const range = run(fits, side({ m: { spec: at(1, { min: 1, max: 4, initial: 1 }) } }));
  assert.deepEqual(range, ["scaled to the top of their ranges, the replicas would reserve 4 vCPU on this machine's 2 cores (2 now): 'm' 4 × 1; they would slow each other down there: lower replicas.max, resources.cpu or runtime.intraOpThreads"]);
  assert.deepEqual(run(fits, side({ m: { spec: at(undefined, { min: 1, max: 4, initial: 1 }) } })), [], 'a range of replicas on the runtime threads Aloft chose is not warned of');
  // Already over and not made worse: said by the running system (log, aloft cost), not again by every plan.
  const over = side({ m: { spec: at(2, { min: 2, max: 2, initial: 2 }) } });
  assert.deepEqual(run(over, side({ m: { spec: { ...at(2, { min: 2, max: 2, initial: 2 }), public: true } } })).filter((w) => /vCPU/.test(w)), []);
});

test('a blue-green rollout\'s plan says what the second group costs while both run', async () => {
  const { renderPlan } = await import('../cli/plan-render.js');
  const { hourlyCost } = await import('../cost/prices.js');
  const { reservationOf } = await import('../cost/report.js');
  const cost = { currency: 'USD', hourly: (d: TargetDeployment) => hourlyCost(reservationOf(d.spec, 1, 0), { cpu: 0.04, memory: 0.005 }) };
  const spec = (): DeploymentSpec => ({ ...depSpec({ replicas: 2 }), resources: { cpu: 1, memory: 1, gpu: 0 }, rollout: rolloutSchema.parse({ strategy: 'blueGreen', bake: '10m', keepOld: '50m' }) as DeploymentSpec['rollout'] });
  const p = makePlan({ base: 3, current: 3, before: side({ a: { spec: spec(), version: 1 } }), after: side({ a: { spec: spec(), version: 2 } }), models: [], recentRequests: () => 0, cost });
  const line = renderPlan(p).split('\n').map((l) => l.trim()).find((l) => l.startsWith('during'));
  assert.equal(line, 'during the blueGreen rollout: +0.0900 USD/hour for the new group beside the old (at least 1h: 0.09 USD)');
});

test('a canary\'s plan says how apply will move traffic, and its text leaves out other strategies\' settings and shows durations as written', async () => {
  const { renderPlan } = await import('../cli/plan-render.js');
  // keepOld is a blue-green setting written here by mistake: a canary's plan text leaves it out.
  const rollout = rolloutSchema.parse({ strategy: 'canary', steps: [10, 50, 100], interval: '45s', keepOld: '37m', analysis: { maxDuration: '15m' } }) as DeploymentSpec['rollout'];
  const withCanary = (version: number, canonicalRollout: boolean): PlanSide => {
    const s = side({ m: { spec: { ...depSpec(), rollout }, version } });
    if (canonicalRollout) s.canonical.deployments.m!.rollout = JSON.parse(JSON.stringify(rollout)) as Record<string, unknown>;
    return s;
  };
  // The rollout section lands with the new version, as a user writes both in one change.
  const p = makePlan({ base: 3, current: 3, before, after: withCanary(2, true), models: [], recentRequests: () => 0 });
  const d = p.deployments[0]!;
  assert.equal(d.effect, 'replace');
  assert.deepEqual(d.rollout, { strategy: 'canary', steps: [10, 50, 100], interval: 45_000, gates: ['errors', 'latency'], onInconclusive: 'wait', maxDuration: 900_000 });
  const steps = p.steps.join('\n');
  assert.match(steps, /start 2 replicas of m@2 beside m@1 for deployment 'm' \(a canary\)/);
  assert.match(steps, /move traffic to m@2 in steps of 10% → 50% → 100%, each held at least 45s and until the analysis \(errors, latency\) against m@1 passes; a failed gate rolls back to m@1 at once; an undecided step waits, then rolls back 15m after it began \(analysis.maxDuration\)/);
  assert.doesNotMatch(steps, /at one instant/, 'a canary is not a switch at one instant');
  const text = renderPlan(p);
  assert.match(text, /~ m {2}\(canary rollout to m@2 \(2 replicas\) beside m@1; steps below\)/);
  assert.match(text, /rollout\.strategy: replace → canary/);
  assert.match(text, /rollout\.interval: 30s → 45s/, 'what differs from the defaults, as written');
  assert.match(text, /rollout\.analysis\.maxDuration: 10m → 15m/);
  assert.doesNotMatch(text, /rollout\.analysis\.alpha/, 'a default left as it was is no change');
  assert.doesNotMatch(text, /rollout\.(bake|keepOld|split|shadow\.)/, 'blue-green, A/B and shadow settings are left out of a canary');
  assert.match(text, /\(1 setting of other rollout strategies, unused by canary: see --json\)/);
  assert.ok(d.fields.some((f) => f.field === 'rollout.keepOld'), 'the JSON plan keeps every field');
  // The same version with only its settings changed runs no rollout.
  const same = makePlan({ base: 3, current: 3, before: withCanary(1, false), after: withCanary(1, true), models: [], recentRequests: () => 0 });
  assert.equal(same.deployments[0]!.rollout, undefined);
});

test('features that miss some of the input\'s columns, or name columns it does not have, are a warning', () => {
  const wide: ModelSignature = { ...SIG, inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }] };
  const feats = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `f${i}`, kind: 'numeric' as const }));
  const withFeatures = (n: number): PlanSide => {
    const s = side({ m: { spec: { ...depSpec(), features: feats(n) }, sig: wide } });
    s.canonical.deployments.m!.features = feats(n);
    return s;
  };
  const fewer = makePlan({ base: 3, current: 3, before, after: withFeatures(2), models: [], recentRequests: () => 0 });
  assert.deepEqual(fewer.warnings, ["deployment 'm': features names 2 of the 4 columns of input 'x'; columns 2–3 are captured and checked for drift as input[2]…input[3], unredacted: name them all (capture.redact can only drop named columns)"]);
  const more = makePlan({ base: 3, current: 3, before, after: withFeatures(5), models: [], recentRequests: () => 0 });
  assert.deepEqual(more.warnings, ["deployment 'm': features names 5 columns, and input 'x' has 4; 'f4' names no column"]);
  assert.deepEqual(makePlan({ base: 3, current: 3, before, after: withFeatures(4), models: [], recentRequests: () => 0 }).warnings, []);
  // A new deployment is checked too.
  const added = makePlan({ base: 0, current: null, before: undefined, after: withFeatures(3), models: [], recentRequests: () => 0 });
  assert.match(added.warnings.join('\n'), /features names 3 of the 4 columns/);
});

test('a canary whose analysis.maxDuration is not longer than its interval is warned about: an undecided step is rolled back when the interval ends', () => {
  const spec = (o: Record<string, unknown>): DeploymentSpec => ({ ...depSpec({ replicas: 1 }), rollout: rolloutSchema.parse({ strategy: 'canary', ...o }) as DeploymentSpec['rollout'] });
  const w = rolloutWaitWarning('d', spec({ interval: '1h' }));
  assert.match(w ?? '', /rollout.analysis.maxDuration \(10m\) is not longer than rollout.interval \(1h\), so a step without enough answers when its interval ends is rolled back at once.*e\.g\. 2h/);
  assert.equal(rolloutWaitWarning('d', spec({ interval: '1m' })), undefined, 'the default 10m waits past a 1m interval');
  assert.equal(rolloutWaitWarning('d', spec({ interval: '1h', analysis: { onInconclusive: 'promote' } })), undefined, 'nothing waits: nothing to warn of');
  assert.equal(rolloutWaitWarning('d', { ...depSpec({ replicas: 1 }), rollout: rolloutSchema.parse({ strategy: 'blueGreen' }) as DeploymentSpec['rollout'] }), undefined);
});

test('diffFields: an empty object that gains fields shows the fields, not the object going away', () => {
  assert.deepEqual(diffFields({ cost: { prices: {} } }, { cost: { prices: { cpu: 0.04 } } }), [{ field: 'cost.prices.cpu', from: null, to: 0.04 }]);
  assert.deepEqual(diffFields({ cost: { prices: { cpu: 0.04 } } }, { cost: { prices: {} } }), [{ field: 'cost.prices.cpu', from: 0.04, to: null }]);
  assert.deepEqual(diffFields({ a: {} }, {}), [{ field: 'a', from: {}, to: null }], 'an empty object removed is still a change');
});

test('a range the autoscaler has moved is planned from the count it runs, not from its initial count', () => {
  const ranged = (min: number, max: number): DeploymentSpec => ({ ...depSpec(), replicas: { min, max, initial: min } });
  const b = side({ m: { spec: ranged(1, 4) } });
  b.canonical.deployments.m!.replicas = { min: 1, max: 4 };
  const to = (spec: DeploymentSpec, replicas: unknown) => {
    const a = side({ m: { spec } });
    a.canonical.deployments.m!.replicas = replicas;
    return makePlan({ base: 3, current: 3, before: b, after: a, models: [], recentRequests: () => 0, runningReplicas: () => 3 });
  };
  const fixed = to(depSpec({ replicas: 2 }), 2);
  assert.deepEqual([fixed.deployments[0]!.effect, fixed.deployments[0]!.replicasToStop], ['scale', 1]);
  assert.match(fixed.steps.join('\n'), /drain and stop 1 replica of m@1 \(3 → 2\)/);
  const wider = to(ranged(1, 6), { min: 1, max: 6 });
  assert.deepEqual([wider.deployments[0]!.effect, wider.deployments[0]!.replicasToStart, wider.deployments[0]!.replicasToStop], ['in-place', 0, 0], 'the autoscaler keeps its 3');
  const higher = to(ranged(4, 6), { min: 4, max: 6 });
  assert.match(higher.steps.join('\n'), /start 1 more replica of m@1 \(3 → 4\)/);
  const gone = makePlan({ base: 3, current: 3, before: b, after: side({}), models: [], recentRequests: () => 0, runningReplicas: () => 3 });
  assert.match(gone.steps.join('\n'), /drain and stop m@1 \(3 replicas\)/);
});

test('changed fields read as written: lists of objects by element and field, durations and memory in their units', async () => {
  const { expandLists, showField } = await import('./plan.js');
  const slos = (latency: Record<string, unknown>) => [{ name: 'availability', kind: 'availability', objective: 99.9, window: 2_592_000_000 }, { name: 'latency', kind: 'latency', objective: 99, window: 2_592_000_000, threshold: 50, ...latency }];
  const fields = expandLists([
    { field: 'slos', from: slos({}), to: [...slos({ objective: 99.5, threshold: 40 }), { name: 'accuracy', kind: 'accuracy', objective: 90, window: 604_800_000 }] },
    { field: 'replicas.max', from: 3, to: 4 },
  ]);
  assert.deepEqual(fields.map((f) => `${f.field}: ${showField(`deployment:${f.field}`, f.from)} → ${showField(`deployment:${f.field}`, f.to)}`), [
    'slos[latency].objective: 99 → 99.5',
    'slos[latency].threshold: 50ms → 40ms',
    'slos[accuracy]: (none) → {name: accuracy, kind: accuracy, objective: 90, window: 7d}',
    'replicas.max: 3 → 4',
  ]);
  assert.equal(showField('deployment:slos[latency].window', 2_592_000_000), '30d');
  assert.equal(showField('deployment:resources.memory', 0.5), '512Mi');
  assert.equal(showField('deployment:resources.memory', 2), '2Gi');
  assert.equal(showField('alerts.every', 10_000), '10s');
  assert.equal(showField('deployment:replicas.max', 4), '4');
});

test('a value that changes shape is one change: a fixed count becoming a range', async () => {
  const { diffFields } = await import('./plan.js');
  assert.deepEqual(diffFields({ replicas: 1, timeout: 5 }, { replicas: { min: 1, max: 3 }, timeout: 6 }), [
    { field: 'replicas', from: 1, to: { min: 1, max: 3 } },
    { field: 'timeout', from: 5, to: 6 },
  ]);
  assert.deepEqual(diffFields({ replicas: { min: 1, max: 3 } }, { replicas: 2 }), [{ field: 'replicas', from: { min: 1, max: 3 }, to: 2 }]);
});

test('a model declaration removed (its deployment pinned to a registered version) is no metadata change; one edited on both sides is', () => {
  const labelled = side({ m: { spec: depSpec() } });
  (labelled.canonical as { models: Record<string, unknown> }).models = { m: { sha256: '1'.repeat(64), labels: { team: 'risk' } } };
  const gone = side({ m: { spec: depSpec() } });
  (gone.canonical as { models: Record<string, unknown> }).models = {};
  const p = makePlan({ base: 3, current: 3, before: labelled, after: gone, models: [], recentRequests: () => 0 });
  assert.deepEqual(p.settings.filter((s) => s.field.startsWith('models.')), [], 'no models.m.labels: {…} → (none)');
  const edited = makePlan({ base: 3, current: 3, before, after: labelled, models: [], recentRequests: () => 0 });
  assert.deepEqual(edited.settings.filter((s) => s.field.startsWith('models.')).map((s) => s.field), ['models.m.labels.team']);
});

test('a rollback plans no rollout: each deployment switches once warm', () => {
  const canary = { ...depSpec({ replicas: 1 }), rollout: rolloutSchema.parse({ strategy: 'canary', steps: [10, 100], interval: '30s' }) as DeploymentSpec['rollout'] };
  const to = side({ m: { spec: canary, version: 2 } });
  const from = side({ m: { spec: canary, version: 1 } });
  const forward = makePlan({ base: 3, current: 3, before: from, after: to, models: [], recentRequests: () => 0 });
  assert.equal(forward.deployments[0]!.rollout?.strategy, 'canary', 'an apply to a new version rolls out');
  const back = makePlan({ base: 3, current: 3, before: from, after: to, models: [], recentRequests: () => 0, rollback: true });
  assert.equal(back.deployments[0]!.rollout, undefined);
});

test('capture changes that lose something are warned about, never showing a key: a shorter retention, a key replaced without previousKeys, a new hashKey', () => {
  const [k1, k2] = [Buffer.alloc(32, 1).toString('base64'), Buffer.alloc(32, 2).toString('base64')];
  const cap = (o: Record<string, unknown>): CaptureSpec => captureSchema.parse({ key: k1, hash: ['region'], hashKey: 'a-secret-of-16-chars', ...o }) as CaptureSpec;
  const base = cap({ retention: '30d' });
  assert.deepEqual(captureWarnings('d', base, base), []);
  assert.deepEqual(captureWarnings('d', base, cap({ retention: '90d' })), [], 'a longer retention loses nothing');
  assert.deepEqual(captureWarnings('d', base, cap({ retention: '1m' })), ["deployment 'd': capture.retention shortens from 30d to 1m; captured records older than 1m are deleted within a minute of the apply"]);
  const rekeyed = captureWarnings('d', base, cap({ key: k2 }));
  assert.equal(rekeyed.length, 1);
  assert.match(rekeyed[0]!, /capture\.key changes and the key it replaces is not in capture\.previousKeys; records captured so far can no longer be read/);
  assert.equal(rekeyed[0]!.includes(k1) || rekeyed[0]!.includes(k2), false, 'no key in the text');
  assert.deepEqual(captureWarnings('d', base, cap({ key: k2, previousKeys: [k1] })), [], 'rotated properly');
  assert.match(captureWarnings('d', base, cap({ hashKey: 'another-secret-16ch' }))[0]!, /capture\.hashKey changes, so 'region' hash differently/);
  assert.deepEqual(captureWarnings('d', undefined, base), [], 'capture turned on: nothing lost');
});
