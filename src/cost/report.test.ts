/**
 * The cost of a rollout's second group: which group it is in each state, and its arithmetic
 * from the reservation, the prices and the replicas running.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { costSchema } from '../spec/schema.js';
import type { CostSpec, DeploymentSpec } from '../spec/types.js';
import { oversubscription, rolloutCost, type LiveDeployment } from './report.js';

const spec = (prices: Record<string, number>) => costSchema.parse({ prices }) as CostSpec;
const dep: LiveDeployment = { name: 'd', version: 2, spec: {} as DeploymentSpec, reservation: { cpu: 2, memoryGiB: 1.5, gpu: 0 }, replicas: 3, labels: {} };
const base = { deployment: 'd', baseline: { version: 1, group: 'd@1' }, candidate: { version: 2, group: 'd@2' }, startedAt: new Date(Date.UTC(2026, 0, 1)).toISOString() };
const replicas = [
  { group: 'd@1', state: 'ready' as const }, { group: 'd@1', state: 'ready' as const }, { group: 'd@1', state: 'ready' as const },
  { group: 'd@2', state: 'ready' as const }, { group: 'd@2', state: 'starting' as const }, { group: 'd@2', state: 'stopped' as const },
];
const at = (minutes: number) => Date.UTC(2026, 0, 1) + minutes * 60_000;

test('the second group is the candidate while it runs beside the baseline, the old group after a blue-green switch, and nothing once decided', () => {
  const c = rolloutCost({ ...base, state: 'progressing' }, [dep], replicas, spec({ cpu: 0.04, memory: 0.005 }), at(30))!;
  // Two replicas not stopped, each 2 vCPU × 0.04 + 1.5 GiB × 0.005 = 0.0875 an hour.
  assert.equal(c.group, 'candidate');
  assert.equal(c.version, 2);
  assert.equal(c.replicas, 2);
  assert.ok(Math.abs(c.hourly - 0.175) < 1e-12);
  assert.ok(Math.abs(c.monthly - 0.175 * 730) < 1e-9);
  assert.ok(Math.abs(c.soFar - 0.0875) < 1e-12, 'half an hour at 0.175');
  assert.deepEqual(c.unpriced, []);
  const switched = rolloutCost({ ...base, state: 'switched' }, [dep], replicas, spec({ cpu: 0.04, memory: 0.005 }), at(60))!;
  assert.equal(switched.group, 'baseline');
  assert.equal(switched.version, 1);
  assert.equal(switched.replicas, 3);
  assert.equal(rolloutCost({ ...base, state: 'promoted' }, [dep], replicas, spec({ cpu: 1 }), at(60)), undefined);
  assert.equal(rolloutCost({ ...base, state: 'rolled_back' }, [dep], replicas, spec({ cpu: 1 }), at(60)), undefined);
  assert.equal(rolloutCost({ ...base, state: 'warming', deployment: 'other' }, [dep], replicas, spec({ cpu: 1 }), at(60)), undefined, 'a deployment not running');
});

test('resources without a price are named, not counted as zero', () => {
  const c = rolloutCost({ ...base, state: 'warming' }, [dep], replicas, spec({ cpu: 0.04 }), at(0))!;
  assert.deepEqual(c.unpriced, ['memory']);
  assert.ok(Math.abs(c.hourly - 0.16) < 1e-12, 'CPU only: 2 replicas × 2 vCPU × 0.04');
  assert.equal(c.soFar, 0);
});

test('oversubscription: a rollout\'s second group is temporary and said so; replicas without resources.cpu are named', () => {
  const live = (o: { replicas: number; max: number; cpu?: number; reserved?: number }): LiveDeployment => ({
    name: 'credit-risk', version: 2, labels: {}, replicas: o.replicas, reservation: { cpu: o.reserved ?? 1, memoryGiB: 0.5, gpu: 0 },
    spec: { replicas: { min: o.max, max: o.max, initial: o.max }, resources: { gpu: 0, ...(o.cpu !== undefined ? { cpu: o.cpu } : {}) } } as DeploymentSpec,
  });
  assert.deepEqual(oversubscription([live({ replicas: 2, max: 2 })], 2, new Set()), { level: 'ok', reserved: 2 });
  // A canary of a 2-replica deployment on 2 cores: 4 replicas run until it ends.
  const canary = oversubscription([live({ replicas: 4, max: 2 })], 2, new Set(['credit-risk']));
  assert.equal(canary.level, 'rollout');
  assert.match(canary.message!, /reserve 4 vCPU on 2 cores \('credit-risk' sets no resources\.cpu, so each replica reserves its runtime threads\) while the rollout of 'credit-risk' runs both groups; that ends with the rollout \(2 vCPU after it\)/);
  // Over the machine with or without a rollout.
  const over = oversubscription([live({ replicas: 4, max: 4, cpu: 1 })], 2, new Set());
  assert.equal(over.level, 'over');
  assert.match(over.message!, /^the running replicas reserve 4 vCPU on 2 cores: they slow each other down; lower resources\.cpu/);
});
