import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rolloutSchema } from '../../spec/schema.js';
import { ManualClock } from '../../clock.js';
import { Routing } from '../../gateway/routing.js';
import { silentLogger } from '../../log.js';
import type { DeploymentSpec } from '../../spec/types.js';
import { Controller } from '../controller.js';
import type { ResolvedDeployment } from '../groups.js';
import { base, FakeOrchestrator } from '../orchestrators/fake.testing.js';
import { ALL, DEPLOYMENTS, DeploymentsReconciler } from './deployments.js';

const spec = (replicas: number): DeploymentSpec => ({
  model: { name: 'm', selector: { kind: 'latest' } }, replicas: { min: replicas, max: replicas, initial: replicas },
  batching: { enabled: true, maxBatchSize: 8, maxQueueDelay: 0, maxQueueSize: 100 },
  runtime: { intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all', executionMode: 'sequential', allowSpinning: false, isolation: 'process' },
  timeout: 1000, public: false, rollout: rolloutSchema.parse({}), slos: [], admission: { limit: 'off', refuseLate: true }, resources: { gpu: 0 },
});
const dep = (version: number, replicas: number): ResolvedDeployment => ({
  name: 'm', model: 'm', version, spec: spec(replicas), artifactPath: `/a/${version}`, sha256: String(version).repeat(64).slice(0, 64),
  signature: { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 1] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }], batchable: true },
});

function setup(opts: { rollouts?: ConstructorParameters<typeof DeploymentsReconciler>[0]['rollouts'] } = {}) {
  const clock = new ManualClock();
  const orchestrator = new FakeOrchestrator();
  const routing = new Routing({ clock, connect: () => ({ infer: async (x) => x, abandon: () => undefined, close: async () => undefined }) });
  let desired: ResolvedDeployment[] = [dep(1, 2)];
  const controller = new Controller({ clock, logger: silentLogger });
  controller.add(new DeploymentsReconciler({ desired: () => desired, orchestrator, routing, cores: 2, enqueue: () => controller.enqueue(DEPLOYMENTS, ALL), ...(opts.rollouts ? { rollouts: opts.rollouts } : {}) }));
  const stop = new AbortController();
  const stopped = controller.start(stop.signal);
  const settle = async () => { for (let i = 0; i < 5; i++) await controller.settled(); };
  return {
    clock, orchestrator, routing, controller, settle,
    desire: (d: ResolvedDeployment[]) => { desired = d; controller.enqueue(DEPLOYMENTS, ALL); },
    routed: () => routing.config.deployments.map((d) => `${d.name}→${base(d.versions[0]!.group)}`),
    running: () => orchestrator.groups.map((g) => `${base(g.key)}×${g.replicas}`),
    stop: async () => { stop.abort(); await stopped; },
  };
}

test('first deploy: the group starts and the deployment is routed to it at once; endpoints follow readiness', async () => {
  const s = setup();
  s.controller.enqueue(DEPLOYMENTS, ALL);
  await s.settle();
  assert.deepEqual(s.running(), ['m@1×2']);
  assert.deepEqual(s.routed(), ['m→m@1']);
  assert.equal(s.routing.status()[0]!.ready, 0);
  s.orchestrator.ready('m@1');
  assert.equal(s.routing.status()[0]!.ready, 2, 'endpoints are updated as replicas become ready');
  await s.stop();
});

test('a new version: started beside the old, routed once all its replicas are ready, the old one stopped once idle', async () => {
  const s = setup();
  s.controller.enqueue(DEPLOYMENTS, ALL);
  await s.settle();
  s.orchestrator.ready('m@1');
  s.desire([dep(2, 2)]);
  await s.settle();
  assert.deepEqual(s.running(), ['m@2×2', 'm@1×2'], 'both groups run');
  assert.deepEqual(s.routed(), ['m→m@1'], 'still routed to the old version');
  s.orchestrator.ready('m@2');
  await s.settle();
  assert.deepEqual(s.routed(), ['m→m@2'], 'switched at once');
  s.clock.advance(50);
  await s.settle();
  s.clock.advance(50);
  await s.settle();
  assert.deepEqual(s.running(), ['m@2×2'], 'the idle old group is stopped');
  assert.deepEqual(s.routing.status().map((v) => base(v.group)), ['m@2'], 'and released by the gateway');
  await s.stop();
});

test('under a canary, a new version with new bytes is split by the rollout; one with the bytes already serving switches once warm', async () => {
  const asked: string[] = [];
  const serving: string[] = [];
  // The reconciler's side of the rollout: what it asks and what it does with the answer (the decision itself is rollouts.test.ts').
  const rollouts = {
    decide: (_name: string, _spec: unknown, _base: unknown, cand: { version: number }) => { asked.push(`v${cand.version}`); return { kind: 'split' as const, weight: 10, current: 'baseline' as const }; },
    isCandidate: () => true,
    serving: (name: string, version: number) => { serving.push(`${name}@${version}`); },
  } as unknown as NonNullable<Parameters<typeof setup>[0]>['rollouts'];
  const s = setup({ rollouts });
  const canary = (d: ResolvedDeployment, sha?: string): ResolvedDeployment => ({ ...d, ...(sha ? { sha256: sha } : {}), spec: { ...d.spec, rollout: rolloutSchema.parse({ strategy: 'canary' }) } });
  s.desire([canary(dep(1, 1))]);
  await s.settle();
  s.orchestrator.ready('m@1');
  await s.settle();
  // v2 pushed with v1's bytes: nothing to compare, no rollout asked.
  s.desire([canary(dep(2, 1), dep(1, 1).sha256)]);
  await s.settle();
  s.orchestrator.ready('m@2');
  await s.settle();
  assert.equal(asked.length, 0, `the rollout is not asked about the same bytes (asked: ${asked.join(', ')})`);
  assert.deepEqual(s.routed(), ['m→m@2'], 'switched once warm');
  assert.equal(serving.at(-1), 'm@2', 'the rollouts are told which version serves alone (an ended rollout that put another there is history)');
  assert.ok(!serving.includes('m@2') || serving.indexOf('m@2') > serving.lastIndexOf('m@1'), 'v1 was told while it served alone, then v2');
  // v3 with bytes of its own: the canary decides.
  s.desire([canary(dep(3, 1))]);
  await s.settle();
  s.orchestrator.ready('m@3');
  await s.settle();
  assert.ok(asked.includes('v3'), `asked: ${asked.join(', ')}`);
  assert.equal(s.routing.config.deployments[0]!.versions.length, 2, 'split between v2 and v3');
  await s.stop();
});

test('a replica count change stays on the same group, without a route switch', async () => {
  const s = setup();
  s.controller.enqueue(DEPLOYMENTS, ALL);
  await s.settle();
  s.orchestrator.ready('m@1');
  const batcher = s.routing.table.get('m')!.versions.get(1)!.batcher;
  s.desire([dep(1, 3)]);
  await s.settle();
  assert.deepEqual(s.running(), ['m@1×3']);
  s.desire([dep(1, 1)]);
  await s.settle();
  assert.deepEqual(s.running(), ['m@1×1']);
  assert.equal(s.routing.table.get('m')!.versions.get(1)!.batcher, batcher, 'the same batcher and replicas serve on');
  await s.stop();
});
