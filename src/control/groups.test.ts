import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rolloutSchema } from '../spec/schema.js';
import { autoThreads, planGroups, runningThreads, type ResolvedDeployment } from './groups.js';

const dep = (name: string, replicas: number, threads: 'auto' | number): ResolvedDeployment => ({
  name, model: name, version: 3, artifactPath: `/state/${name}`, sha256: 'ab'.repeat(32), signature: { inputs: [], outputs: [], batchable: true },
  spec: {
    model: { name, selector: { kind: 'latest' } },
    replicas: { min: replicas, max: replicas, initial: replicas },
    batching: { enabled: true, maxBatchSize: 64, maxQueueDelay: 0, maxQueueSize: 1024 },
    runtime: { intraOpThreads: threads, interOpThreads: 1, graphOptimization: 'all', executionMode: 'sequential', allowSpinning: false, isolation: 'process' },
    timeout: 30000,
    public: false,
    rollout: rolloutSchema.parse({}), slos: [], admission: { limit: 'off', refuseLate: true }, resources: { gpu: 0 },
  },
});

test('auto threads share the cores among all replicas, at least one each', () => {
  assert.equal(autoThreads(8, 2), 4);
  assert.equal(autoThreads(2, 2), 1);
  assert.equal(autoThreads(2, 5), 1);
  assert.equal(autoThreads(16, 0), 16);
});

test('planGroups keys groups by deployment, version and what replicas run, and sizes threads over every replica', () => {
  const groups = planGroups([dep('a', 2, 'auto'), dep('b', 2, 3)], 8);
  assert.deepEqual(groups.map((g) => [g.key.replace(/\.[0-9a-f]{6}$/, ''), g.replicas, g.spec.runtime.intraOpThreads]), [['a@3', 2, 2], ['b@3', 2, 3]]);
  assert.match(groups[0]!.key, /^a@3\.[0-9a-f]{6}$/);
  assert.equal(groups[0]!.spec.servedAs, 'a');
  assert.equal(groups[0]!.spec.runtime.allowSpinning, false);
  const spinning = dep('c', 1, 2);
  const c = planGroups([{ ...spinning, spec: { ...spinning.spec, runtime: { ...spinning.spec.runtime, allowSpinning: true } } }], 8);
  assert.equal(c[0]!.spec.runtime.allowSpinning, true, 'the spec field reaches every replica');
});

test('a replica count change keeps the group and its threads; a runtime change gives a new group', () => {
  const [two] = planGroups([dep('a', 2, 'auto')], 8);
  const running = new Map([[two!.key, two!]]);
  const [three] = planGroups([dep('a', 3, 'auto')], 8, running);
  assert.equal(three!.key, two!.key, 'same group');
  assert.equal(three!.replicas, 3);
  assert.equal(three!.spec.runtime.intraOpThreads, 4, 'keeps the thread count it started with, so no replica restarts');
  const [fresh3] = planGroups([dep('a', 3, 'auto')], 8);
  assert.equal(fresh3!.spec.runtime.intraOpThreads, 2, 'a new group sizes auto threads for the replicas desired now');
  const d = dep('a', 2, 'auto');
  const [other] = planGroups([{ ...d, spec: { ...d.spec, runtime: { ...d.spec.runtime, graphOptimization: 'basic' } } }], 8, running);
  assert.notEqual(other!.key, two!.key, 'a runtime setting replicas must restart for is a new group');
  const [moved] = planGroups([{ ...d, version: 4, sha256: 'cd'.repeat(32) }], 8, running);
  assert.match(moved!.key, /^a@4\./);
  const [batching] = planGroups([{ ...d, spec: { ...d.spec, batching: { ...d.spec.batching, maxBatchSize: 8 }, timeout: 5 } }], 8, running);
  assert.equal(batching!.key, two!.key, 'batching and timeouts are route settings, not replica settings');
});

test('runningThreads: a running group is priced at the threads it runs, a new one at the auto share now', () => {
  // 'a' started alone on 2 cores (2 threads); adding 'b' makes the auto share 1, but 'a' keeps 2.
  const [a] = planGroups([dep('a', 1, 'auto')], 2);
  assert.equal(a!.spec.runtime.intraOpThreads, 2);
  const running = new Map([[a!.key, a!]]);
  const both = [dep('a', 1, 'auto'), dep('b', 1, 'auto')];
  assert.deepEqual(planGroups(both, 2, running).map((g) => g.spec.runtime.intraOpThreads), [2, 1], 'what the reconciler runs');
  assert.equal(runningThreads(both[0]!, 2, 2, (k) => running.get(k)), 2, 'the running group, as it runs');
  assert.equal(runningThreads(both[1]!, 2, 2, (k) => running.get(k)), 1, 'a group not running yet: the share now');
  assert.equal(runningThreads(both[0]!, 2, 2), 1, 'without the running groups: the share now');
});

test('a range shares the cores at its max, so scaling up never oversubscribes them', () => {
  const range = (name: string, min: number, max: number): ResolvedDeployment => {
    const d = dep(name, 1, 'auto');
    return { ...d, spec: { ...d.spec, replicas: { min, max, initial: Math.max(1, min) } } };
  };
  // 1 to 4 on 4 cores: 1 thread each, so 4 replicas use the 4 cores; sized at the starting
  // count it would be 4 threads each, 16 threads on 4 cores once the autoscaler reaches 4.
  const [g] = planGroups([range('a', 1, 4)], 4);
  assert.equal(g!.replicas, 1, 'starts at min');
  assert.equal(g!.spec.runtime.intraOpThreads, 1);
  // Scaled by the autoscaler: same group, same threads.
  const [up] = planGroups([range('a', 1, 4)], 4, new Map([[g!.key, g!]]), () => 4);
  assert.equal(up!.key, g!.key);
  assert.equal(up!.replicas * up!.spec.runtime.intraOpThreads, 4, 'at the top of the range, as many threads as cores');
  // Beside a fixed deployment: 2 + 2 replicas at most on 8 cores → 2 threads each.
  assert.deepEqual(planGroups([range('a', 0, 2), dep('b', 2, 'auto')], 8).map((x) => x.spec.runtime.intraOpThreads), [2, 2]);
  // A fixed count is unchanged: 2 replicas on 8 cores, 4 threads each.
  assert.equal(planGroups([dep('b', 2, 'auto')], 8)[0]!.spec.runtime.intraOpThreads, 4);
});

test('the autoscaler\'s count is taken within the range as it is now (an apply that raised min acts in this pass)', () => {
  const ranged = (min: number, max: number): ResolvedDeployment => {
    const d = dep('a', 1, 1);
    return { ...d, spec: { ...d.spec, replicas: { min, max, initial: Math.max(1, min) } } };
  };
  assert.equal(planGroups([ranged(2, 3)], 8, new Map(), () => 1)[0]!.replicas, 2, 'raised min');
  assert.equal(planGroups([ranged(1, 2)], 8, new Map(), () => 4)[0]!.replicas, 2, 'lowered max');
  assert.equal(planGroups([ranged(0, 4)], 8, new Map(), () => 0)[0]!.replicas, 0, 'scaled to zero stays');
  assert.equal(planGroups([ranged(1, 4)], 8, new Map(), () => undefined)[0]!.replicas, 1, 'not scaled yet: the initial count');
});
