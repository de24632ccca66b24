import assert from 'node:assert/strict';
import { test } from 'node:test';
import { autoThreads, planGroups, type ResolvedDeployment } from './groups.js';

const dep = (name: string, replicas: number, threads: 'auto' | number): ResolvedDeployment => ({
  name, model: name, version: 3, artifactPath: `/state/${name}`, sha256: 'ab'.repeat(32), signature: { inputs: [], outputs: [], batchable: true },
  spec: {
    model: { name, selector: { kind: 'latest' } },
    replicas: { min: replicas, max: replicas, initial: replicas },
    batching: { enabled: true, maxBatchSize: 64, maxQueueDelay: 0, maxQueueSize: 1024 },
    runtime: { intraOpThreads: threads, interOpThreads: 1, graphOptimization: 'all', executionMode: 'sequential', allowSpinning: false, isolation: 'process' },
    timeout: 30000,
    public: false,
  },
});

test('auto threads share the cores among all replicas, at least one each', () => {
  assert.equal(autoThreads(8, 2), 4);
  assert.equal(autoThreads(2, 2), 1);
  assert.equal(autoThreads(2, 5), 1);
  assert.equal(autoThreads(16, 0), 16);
});

test('planGroups keys groups by deployment and version and sizes threads over every replica', () => {
  const groups = planGroups([dep('a', 2, 'auto'), dep('b', 2, 3)], 8);
  assert.deepEqual(groups.map((g) => [g.key, g.replicas, g.spec.runtime.intraOpThreads]), [['a@3', 2, 2], ['b@3', 2, 3]]);
  assert.equal(groups[0]!.spec.servedAs, 'a');
  assert.equal(groups[0]!.spec.runtime.allowSpinning, false);
  const spinning = dep('c', 1, 2);
  const c = planGroups([{ ...spinning, spec: { ...spinning.spec, runtime: { ...spinning.spec.runtime, allowSpinning: true } } }], 8);
  assert.equal(c[0]!.spec.runtime.allowSpinning, true, 'the spec field reaches every replica');
});
