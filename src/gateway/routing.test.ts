import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../clock.js';
import type { Tensor } from '../runtime/tensor.js';
import type { ReplicaTransport } from './replica-set.js';
import { Routing, type RouteConfig, type VersionRoute } from './routing.js';

const signature = { inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [-1, 1] }], outputs: [{ name: 'y', datatype: 'FP32' as const, shape: [-1, 1] }], batchable: true };

/** A replica that answers y = x * factor, holding every batch until released. */
class Held implements ReplicaTransport {
  readonly held: (() => void)[] = [];
  constructor(readonly factor: number) {}
  infer(inputs: Tensor[]): Promise<Tensor[]> {
    return new Promise((resolve) => this.held.push(() => {
      const x = inputs[0]!;
      resolve([{ name: 'y', datatype: 'FP32', shape: [...x.shape], data: Float32Array.from(x.data as Float32Array, (v) => v * this.factor) }]);
    }));
  }
  release(): void { while (this.held.length > 0) this.held.shift()!(); }
  abandon(): void {}
  async close(): Promise<void> {}
}

const version = (v: number, batching: Partial<VersionRoute['batching']> = {}): VersionRoute => ({
  group: `m@${v}`, model: 'm', version: v, signature, transport: 'http', desiredReplicas: 1,
  batching: { maxBatchSize: 8, maxQueueDelayMs: 0, maxQueueSize: 100, coalesce: false, ...batching },
});
const config = (current: number, versions: VersionRoute[], timeoutMs = 1000): RouteConfig => ({ deployments: [{ name: 'm', timeoutMs, current, versions }] });
const row = (x: number): Tensor[] => [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: Float32Array.of(x) }];
const flush = () => new Promise((r) => setImmediate(r));

function setup() {
  const clock = new ManualClock();
  const replicas = new Map<string, Held>([['m@1', new Held(10)], ['m@2', new Held(100)]]);
  const routing = new Routing({ clock, connect: (_kind, info) => replicas.get(info.id.split('#')[0]!)! });
  return { clock, replicas, routing };
}

const infer = (routing: Routing, x: number) => {
  const dep = routing.table.get('m')!;
  return dep.versions.get(dep.current)!.batcher.infer(row(x), dep.timeoutMs).then(([y]) => (y!.data as Float32Array)[0]);
};

test('a route config is plain data, applied whole: the table names what it says', () => {
  const { routing } = setup();
  const c = config(1, [version(1)]);
  routing.apply(c);
  assert.deepEqual(structuredClone(routing.config), c);
  assert.deepEqual(routing.table.names(), ['m']);
  assert.equal(routing.table.get('m')!.versions.get(1)!.group, 'm@1');
  assert.throws(() => routing.apply(config(3, [version(1)])), /routes to version 3, which it does not list/);
  assert.deepEqual(routing.table.names(), ['m'], 'a refused config changes nothing');
});

test('applying the same config again keeps the batcher and the replicas', () => {
  const { routing } = setup();
  routing.apply(config(1, [version(1)]));
  const before = routing.table.get('m')!.versions.get(1)!;
  routing.apply(config(1, [version(1)], 2000));
  const after = routing.table.get('m')!.versions.get(1)!;
  assert.equal(after.batcher, before.batcher);
  assert.equal(after.replicas, before.replicas);
  assert.equal(routing.table.get('m')!.timeoutMs, 2000, 'the timeout changes in place');
});

test('a batching change gets a new batcher over the same replicas; the old one finishes its queue first', async () => {
  const { routing, replicas } = setup();
  routing.apply(config(1, [version(1)]));
  routing.setEndpoints('m@1', [{ id: 'm@1#0', url: 'http://r' }]);
  const first = infer(routing, 1);
  const old = routing.table.get('m')!.versions.get(1)!;
  routing.apply(config(1, [version(1, { maxBatchSize: 4 })]));
  const now = routing.table.get('m')!.versions.get(1)!;
  assert.notEqual(now.batcher, old.batcher);
  assert.equal(now.replicas, old.replicas, 'no new replicas for a batching change');
  replicas.get('m@1')!.release();
  assert.equal(await first, 10, 'the request in the old batcher is answered');
  const second = infer(routing, 2);
  replicas.get('m@1')!.release();
  assert.equal(await second, 20);
});

test('a switch to another version happens at one instant; the old version finishes its work, then is dropped', async () => {
  const { routing, replicas } = setup();
  routing.apply(config(1, [version(1)]));
  routing.setEndpoints('m@1', [{ id: 'm@1#0', url: 'http://r1' }]);
  const before = infer(routing, 1);
  routing.apply(config(2, [version(2)]));
  routing.setEndpoints('m@2', [{ id: 'm@2#0', url: 'http://r2' }]);
  const after = infer(routing, 1);
  const held = () => Object.fromEntries(routing.status().map((s) => [s.group, [s.routed, s.busy]]));
  assert.deepEqual(held(), { 'm@1': [false, 1], 'm@2': [true, 1] });
  replicas.get('m@2')!.release();
  assert.equal(await after, 100, 'new requests go to the new version');
  replicas.get('m@1')!.release();
  assert.equal(await before, 10, 'the request already with the old version is answered by it');
  await flush();
  assert.deepEqual(held(), { 'm@1': [false, 0], 'm@2': [true, 0] });
  await routing.drop('m@1');
  await routing.drop('m@2'); // routed: not dropped
  assert.deepEqual(routing.status().map((s) => s.group), ['m@2']);
});

test('weights split unversioned requests by ticket; a refused split changes nothing; metadata and named versions ignore the split', async () => {
  const { routing } = setup();
  const { resolveVersion } = await import('./oip/resolve.js');
  const { TICKETS } = await import('./route-table.js');
  routing.apply({ deployments: [{ name: 'm', timeoutMs: 1000, current: 1, versions: [{ ...version(1), weight: 90 }, { ...version(2), weight: 10 }] }] });
  const counts = new Map<number, number>();
  for (let t = 0; t < TICKETS; t++) {
    const v = resolveVersion(routing.table, 'm', undefined, {}, t).served.version;
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  assert.deepEqual([...counts], [[1, 9000], [2, 1000]], 'tickets map onto the weights exactly');
  assert.equal(resolveVersion(routing.table, 'm', undefined, {}).served.version, 1, 'metadata (no ticket) shows current');
  assert.equal(resolveVersion(routing.table, 'm', '2', {}, 5).served.version, 2, 'a named version is kept');
  for (const bad of [[50, 60], [101, -1], [100, Number.NaN]]) {
    assert.throws(() => routing.apply({ deployments: [{ name: 'm', timeoutMs: 1000, current: 1, versions: [{ ...version(1), weight: bad[0]! }, { ...version(2), weight: bad[1]! }] }] }), /weight/);
  }
  assert.throws(() => routing.apply({ deployments: [{ name: 'm', timeoutMs: 1000, current: 1, versions: [{ ...version(1), weight: 100 }, version(2)] }] }), /some versions but not all/);
  assert.equal(routing.table.get('m')!.split!.bounds.length, 2, 'the refused configs left the split as it was');
  // Weight 0 drains a version: no unversioned request reaches it.
  routing.apply({ deployments: [{ name: 'm', timeoutMs: 1000, current: 1, versions: [{ ...version(1), weight: 100 }, { ...version(2), weight: 0 }] }] });
  for (let t = 0; t < TICKETS; t += 97) assert.equal(resolveVersion(routing.table, 'm', undefined, {}, t).served.version, 1);
});

test('sticky splits: over 10,000 keys one key always meets one version, and the split is within 2 points of the weights', async (t) => {
  const { routing } = setup();
  const { resolveVersion } = await import('./oip/resolve.js');
  routing.apply({ deployments: [{ name: 'm', timeoutMs: 1000, current: 1, sticky: true, versions: [{ ...version(1), weight: 70 }, { ...version(2), weight: 30 }] }] });
  const principal = (id: string) => ({ principal: { kind: 'key' as const, id, name: id, role: 'predictor' as const, scopes: ['*'] } });
  let second = 0;
  for (let k = 0; k < 10_000; k++) {
    const caller = principal(`key-${k.toString(16)}`);
    const first = resolveVersion(routing.table, 'm', undefined, caller, 1).served.version;
    for (const t of [0, 4999, 9999]) assert.equal(resolveVersion(routing.table, 'm', undefined, caller, t).served.version, first, 'the same key, whatever the random ticket');
    if (first === 2) second++;
  }
  const share = second / 10_000;
  t.diagnostic(`sticky 70/30 over 10,000 keys: ${(share * 100).toFixed(1)}% met version 2`);
  assert.ok(Math.abs(share - 0.3) <= 0.02, `share ${share}`);
});

test('sticky by header: 10,000 header values each always meet one variant, split within 2 points; no header falls back to the key; a preview key meets the candidate', async (t) => {
  const { routing } = setup();
  const { resolveVersion } = await import('./oip/resolve.js');
  routing.apply({ deployments: [{ name: 'm', timeoutMs: 1000, current: 1, sticky: true, stickyHeader: 'x-user-id', versions: [{ ...version(1), weight: 50 }, { ...version(2), weight: 50 }] }] });
  const one = { principal: { kind: 'key' as const, id: 'k1', name: 'app', role: 'predictor' as const, scopes: ['*'] } };
  let second = 0;
  for (let u = 0; u < 10_000; u++) {
    const header = (name: string) => (name === 'x-user-id' ? `user-${u}` : undefined);
    const first = resolveVersion(routing.table, 'm', undefined, one, 17, header).served.version;
    for (const ticket of [0, 5000, 9999]) assert.equal(resolveVersion(routing.table, 'm', undefined, one, ticket, header).served.version, first);
    if (first === 2) second++;
  }
  t.diagnostic(`sticky by x-user-id 50/50 over 10,000 users: ${(second / 100).toFixed(1)}% met version 2`);
  assert.ok(Math.abs(second / 10_000 - 0.5) <= 0.02, `share ${second / 10_000}`);
  // One API key, many users: the header spreads them. Without the header the key decides, always the same way.
  const byKey = new Set([0, 1234, 9999].map((ticket) => resolveVersion(routing.table, 'm', undefined, one, ticket, () => undefined).served.version));
  assert.equal(byKey.size, 1);

  routing.apply({ deployments: [{ name: 'm', timeoutMs: 1000, current: 1, preview: { version: 2, names: ['ci-smoke'] }, versions: [{ ...version(1), weight: 100 }, { ...version(2), weight: 0 }] }] });
  const smoke = { principal: { ...one.principal, id: 'k2', name: 'ci-smoke' } };
  for (const ticket of [0, 9999]) {
    assert.equal(resolveVersion(routing.table, 'm', undefined, smoke, ticket).served.version, 2, 'the preview key meets the candidate');
    assert.equal(resolveVersion(routing.table, 'm', undefined, one, ticket).served.version, 1, 'everyone else the baseline');
  }
  assert.equal(resolveVersion(routing.table, 'm', undefined, smoke).served.version, 1, 'metadata shows current');
  assert.throws(() => routing.apply({ deployments: [{ name: 'm', timeoutMs: 1000, current: 1, preview: { version: 7, names: ['x'] }, versions: [version(1)] }] }), /previews version 7, which it does not list/);
});

test('shadow: a sampled copy goes to the candidate after the answer, compared by argmax or absdiff; a full queue drops and counts; failures are counted', async () => {
  const { ShadowCounts } = await import('../monitor/shadow.js');
  const { shadowSender } = await import('./shadow.js');
  const { routing, replicas, clock } = setup();
  routing.apply({ deployments: [{ name: 'm', timeoutMs: 1000, current: 1, versions: [version(1), version(2)], shadow: { version: 2, sample: 0.25, compare: 'absdiff', tolerance: 0.5, queue: 2 } }] });
  routing.setEndpoints('m@1', [{ id: 'm@1#0', url: 'x' }]);
  routing.setEndpoints('m@2', [{ id: 'm@2#0', url: 'x' }]);
  const dep = routing.table.get('m')!;
  const sh = dep.shadow!;
  assert.equal(sh.below, 2500, 'a 25% sample is tickets below 2500');
  assert.equal(sh.served.version, 2);
  assert.throws(() => routing.apply({ deployments: [{ name: 'm', timeoutMs: 1000, current: 1, versions: [version(1)], shadow: { version: 1, sample: 1, compare: 'absdiff', tolerance: 0, queue: 1 } }] }), /shadows the version it serves/);

  const counts = new ShadowCounts();
  const seen: number[] = [];
  const send = shadowSender({ counts, clock, observe: (o) => seen.push(o.status) });
  const primary = (x: number): Tensor[] => [{ name: 'y', datatype: 'FP32', shape: [1, 1], data: Float32Array.of(x * 100) }];
  // The candidate answers x*100; the primary's answers given here are x*100 for x=1 and off by 3 for x=2.
  send(dep, sh, row(1), primary(1));
  send(dep, sh, row(2), [{ name: 'y', datatype: 'FP32', shape: [1, 1], data: Float32Array.of(203) }]);
  send(dep, sh, row(3), primary(3)); // the queue holds 2: dropped
  assert.deepEqual({ ...counts.entry('m', 2) }, { copies: 2, dropped: 1, failed: 0, compared: 0, agreed: 0, absDiff: 0, nonFinite: 0, inflight: 2 });
  replicas.get('m@2')!.release();
  await flush();
  await flush();
  const e = counts.entry('m', 2);
  assert.deepEqual([e.copies, e.compared, e.agreed, e.inflight, e.dropped], [2, 2, 1, 0, 1], 'one agrees (|Δ| 0), one does not (|Δ| 3 > 0.5)');
  assert.equal(e.absDiff, 3);
  assert.deepEqual(seen, [200, 200], "the candidate's answers are observed as its own");
  // A primary answer of NaN: compared (it disagrees) but not in the mean difference, and counted as such.
  send(dep, sh, row(4), [{ name: 'y', datatype: 'FP32', shape: [1, 1], data: Float32Array.of(Number.NaN) }]);
  replicas.get('m@2')!.release();
  await flush();
  await flush();
  assert.deepEqual([e.compared, e.agreed, e.absDiff, e.nonFinite], [3, 1, 3, 1]);

  // A candidate that fails: counted as failed, observed as a 5xx of the candidate.
  await routing.drop('m@2');
  routing.apply({ deployments: [{ name: 'm', timeoutMs: 1000, current: 1, versions: [version(1), version(2)], shadow: { version: 2, sample: 1, compare: 'absdiff', tolerance: 0.5, queue: 2 } }] });
  const dep2 = routing.table.get('m')!;
  dep2.shadow!.served.batcher.close();
  send(dep2, dep2.shadow!, row(1), primary(1));
  await flush();
  assert.equal(counts.entry('m', 2).failed, 1);
  assert.equal(seen.at(-1), 503);
});

test('shadow comparisons: argmax per row of class scores, mean absolute difference otherwise', async () => {
  const { meanAbsDiff, sameClasses } = await import('./shadow.js');
  const scores = (...rows: number[][]): Tensor[] => [{ name: 'p', datatype: 'FP32', shape: [rows.length, rows[0]!.length], data: Float32Array.from(rows.flat()) }];
  const a = scores([0.1, 0.9], [0.8, 0.2]);
  assert.equal(sameClasses(a, scores([0.4, 0.6], [0.6, 0.4]), meanAbsDiff(a, scores([0.4, 0.6], [0.6, 0.4])), 0), true, 'the same class in every row');
  assert.equal(sameClasses(a, scores([0.4, 0.6], [0.4, 0.6]), 0, 1), false, 'the second row changed class');
  assert.ok(Math.abs(meanAbsDiff(a, scores([0.4, 0.6], [0.6, 0.4])) - 0.25) < 1e-6);
  assert.equal(meanAbsDiff(a, scores([0.1, 0.9])), Infinity, 'a different size never agrees');
  assert.equal(meanAbsDiff(a, scores([Number.NaN, 0.9], [0.8, 0.2])), Infinity, 'NaN against a number never agrees');
  const labels = (...xs: bigint[]): Tensor[] => [{ name: 'label', datatype: 'INT64', shape: [xs.length], data: BigInt64Array.from(xs) }];
  assert.equal(meanAbsDiff(labels(1n, 0n), labels(1n, 1n)), 0.5, 'INT64 labels compare as numbers');
  assert.equal(sameClasses(labels(1n), labels(1n), 0, 0), true, 'no scored output: absdiff decides');
});
