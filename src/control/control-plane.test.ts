/**
 * The control plane with its reconciler, on an injected clock: real SQLite store, real
 * registry and audit trail, real gateway routing; a fake orchestrator whose replicas the
 * test makes ready or failed. Nothing sleeps: time moves with `clock.advance`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { ManualClock } from '../clock.js';
import { isAloftError } from '../errors.js';
import { Routing } from '../gateway/routing.js';
import { silentLogger } from '../log.js';
import { mlp } from '../onnx/mlp.js';
import { ArtifactStore } from '../registry/artifacts.js';
import { Registry } from '../registry/registry.js';
import { AuditLog, SYSTEM_ACTOR } from '../security/audit.js';
import { parseSpec } from '../spec/load.js';
import { openStore, type Store } from '../store/db.js';
import { Lease, Membership } from '../store/leases.js';
import type { RevisionRecord } from '../store/revisions.js';
import { APPLY_LEASE_MS, ControlPlane } from './control-plane.js';
import { Controller } from './controller.js';
import { base, FakeOrchestrator } from './orchestrators/fake.testing.js';
import { ALL, DEPLOYMENTS, DeploymentsReconciler } from './reconcilers/deployments.js';

const ALICE = { actor: { kind: 'key' as const, id: 'k1', name: 'alice' }, source: '127.0.0.1' };

function model(seed: number, inputs = 4): Uint8Array {
  const w = Float32Array.from({ length: inputs }, (_, i) => (i + seed) / 100);
  return mlp([{ in: inputs, out: 1, weights: w, bias: Float32Array.of(seed) }], { inputName: 'x', outputName: 'y', activation: 'sigmoid' });
}

const yaml = (o: { file?: string; replicas?: number; port?: number; publicDep?: boolean } = {}) => [
  'server:', `  port: ${o.port ?? 8080}`,
  'models:', '  m:', `    path: ./${o.file ?? 'a.onnx'}`,
  'deployments:', '  m:', '    model: m', `    replicas: ${o.replicas ?? 2}`, ...(o.publicDep ? ['    public: true'] : []), '',
].join('\n');

interface World {
  dir: string;
  clock: ManualClock;
  store: Store;
  audit: AuditLog;
  orchestrator: FakeOrchestrator;
  routing: Routing;
  controller: Controller;
  control: ControlPlane;
  settle(): Promise<void>;
  /** Start (or restart) the control plane on the spec file's current text. */
  boot(text?: string): Promise<{ revision: number; recorded: boolean }>;
  stop(): Promise<void>;
}

let world: World;

async function makeWorld(dir: string, clock = new ManualClock(), opts: { shared?: string } = {}): Promise<World> {
  const store = await openStore({ url: `sqlite:${join(dir, 'aloft.db')}`, stateDir: dir });
  const registry = new Registry(store, new ArtifactStore(join(dir, 'artifacts')));
  const audit = new AuditLog(store, { clock });
  const orchestrator = new FakeOrchestrator();
  const routing = new Routing({ clock, connect: () => ({ infer: async (x) => x, abandon: () => undefined, close: async () => undefined }) });
  const controller = new Controller({ clock, logger: silentLogger });
  // A shared database: this process's membership and the apply lease, as aloft.ts makes them.
  const members = opts.shared !== undefined ? new Membership(store, { holder: opts.shared, clock }) : undefined;
  await members?.renew(15_000);
  const control = new ControlPlane({
    ...(members ? { shared: { applyLease: new Lease(store, { name: 'apply', holder: opts.shared!, clock }), peers: () => members.peers() } } : {}),
    store, registry, audit, clock, logger: silentLogger, dir, applyTimeoutMs: 60_000,
    enqueue: () => controller.enqueue(DEPLOYMENTS, ALL), recentRequests: () => 0,
  });
  controller.add(new DeploymentsReconciler({
    desired: () => control.deployments(), orchestrator, routing, cores: 2, enqueue: () => controller.enqueue(DEPLOYMENTS, ALL), onPass: (r) => control.onPass(r),
  }));
  const abort = new AbortController();
  const loop = controller.start(abort.signal);
  const settle = async () => {
    for (let i = 0; i < 6; i++) {
      await controller.settled();
      await new Promise((r) => setImmediate(r));
    }
  };
  return {
    dir, clock, store, audit, orchestrator, routing, controller, control, settle,
    async boot(text) {
      const file = join(dir, 'aloft.yaml');
      if (text !== undefined) await writeFile(file, text);
      const { readFile } = await import('node:fs/promises');
      const t = await readFile(file, 'utf8');
      return control.start(parseSpec(t, file), t);
    },
    async stop() {
      control.close();
      abort.abort();
      await loop;
      await store.close();
    },
  };
}

beforeEach(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-control-'));
  await writeFile(join(dir, 'a.onnx'), model(1));
  await writeFile(join(dir, 'b.onnx'), model(2));
  await writeFile(join(dir, 'wide.onnx'), model(3, 6));
  world = await makeWorld(dir);
});

afterEach(async () => {
  await world.stop().catch(() => undefined);
  await rm(world.dir, { recursive: true, force: true });
});

/** Let the old groups drain: passes mid-transition look again every 50 ms of the clock. */
async function drain(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await world.settle();
    world.clock.advance(50);
  }
  await world.settle();
}

/** Apply `spec` on `world`, make `group`'s replicas ready and let the old group drain: the revision once it has ended. */
async function land(spec: string, group: string): Promise<RevisionRecord> {
  const r = await world.control.apply({ spec, file: 'aloft.yaml' }, ALICE);
  await world.settle();
  world.orchestrator.ready(group);
  await drain();
  return world.control.wait(r.revision!);
}

const routedVersion = () => world.routing.config.deployments.map((d) => `${d.name}→${base(d.versions[0]!.group)}`);
const running = () => world.orchestrator.groups.map((g) => `${base(g.key)}×${g.replicas}`).sort();

test('the first start records revision 1 as applying, and applied once every replica is ready; a restart on the same file records nothing', async () => {
  const first = await world.boot(yaml());
  assert.deepEqual([first.revision, first.recorded], [1, true]);
  await world.settle();
  assert.equal((await world.control.revisions.get(1))!.outcome, 'applying', 'not applied until the replicas are ready');
  assert.equal((await world.control.status()).converged, false);
  world.orchestrator.ready('m@1');
  const done = await world.control.wait(1);
  assert.equal(done.outcome, 'applied');
  assert.equal(done.kind, 'startup');
  assert.deepEqual(done.deployments.map((d) => `${d.name}=${d.model}@${d.version}`), ['m=m@1']);
  await world.settle();
  assert.equal((await world.control.status()).converged, true);

  // A restart (a new control plane on the same database) with the unchanged file.
  await world.stop();
  world = await makeWorld(world.dir);
  const again = await world.boot();
  assert.equal(again.recorded, false);
  assert.equal(again.revision, 1);
  assert.equal((await world.control.revisions.list()).length, 1);
});

test('a replica change converges in place and is recorded with author, message, diff and an audit entry', async () => {
  await world.boot(yaml());
  world.orchestrator.ready('m@1');
  await world.control.wait(1);
  const plan = await world.control.plan({ spec: yaml({ replicas: 3 }), file: 'aloft.yaml' });
  assert.equal(plan.changes, true);
  assert.deepEqual(plan.deployments.map((d) => [d.name, d.effect, d.replicasToStart, d.replicasToStop]), [['m', 'scale', 1, 0]]);
  assert.deepEqual(plan.deployments[0]!.fields, [{ field: 'replicas', from: 2, to: 3 }]);
  assert.equal((await world.control.revisions.list()).length, 1, 'a plan records nothing');

  const r = await world.control.apply({ spec: yaml({ replicas: 3 }), file: 'aloft.yaml' }, ALICE, { base: 1, message: 'more capacity' });
  assert.equal(r.revision, 2);
  await world.settle();
  assert.deepEqual(running(), ['m@1×3'], 'the same group, one more replica');
  assert.deepEqual(routedVersion(), ['m→m@1'], 'no route switch');
  world.orchestrator.ready('m@1');
  const rev = await world.control.wait(2);
  assert.equal(rev.outcome, 'applied');
  assert.equal(rev.author, 'alice');
  assert.equal(rev.message, 'more capacity');
  const audit = await world.audit.list({ action: 'spec.applied' });
  const entry = audit.find((e) => e.target === 'revision 2');
  assert.ok(entry, 'spec.applied is audited');
  assert.equal((entry.after as { author: string }).author, 'alice');
  assert.equal((entry.after as { diff: { deployments: { fields: unknown[] }[] } }).diff.deployments[0]!.fields.length, 1);
  assert.equal((await world.audit.verify()).ok, true);
});

test('a new version starts beside the old one and the route switches only when all new replicas are ready', async () => {
  await world.boot(yaml());
  world.orchestrator.ready('m@1');
  await world.control.wait(1);
  await world.control.apply({ spec: yaml({ file: 'b.onnx' }), file: 'aloft.yaml' }, ALICE);
  await world.settle();
  assert.deepEqual(running(), ['m@1×2', 'm@2×2']);
  assert.deepEqual(routedVersion(), ['m→m@1'], 'still on the old version');
  assert.equal((await world.control.revisions.get(2))!.outcome, 'applying');
  world.orchestrator.ready('m@2');
  await world.settle();
  assert.deepEqual(routedVersion(), ['m→m@2']);
  world.clock.advance(50);
  await world.settle();
  assert.deepEqual(running(), ['m@2×2'], 'the old group is stopped once idle');
  assert.equal((await world.control.wait(2)).outcome, 'applied');
  const models = (await world.control.revisions.get(2))!.models;
  assert.deepEqual(models.map((m) => [m.model, m.version, m.created]), [['m', 2, true]]);
});

test('a replica that fails terminally fails the apply with the reason, and the previous revision keeps serving', async () => {
  await world.boot(yaml());
  world.orchestrator.ready('m@1');
  await world.control.wait(1);
  await world.control.apply({ spec: yaml({ file: 'b.onnx' }), file: 'aloft.yaml' }, ALICE);
  await world.settle();
  world.orchestrator.fail('m@2', 'the model failed to load: bad graph');
  const rev = await world.control.wait(2);
  assert.equal(rev.outcome, 'failed');
  assert.match(rev.reason!, /deployment 'm': the model failed to load: bad graph/);
  await world.settle();
  assert.deepEqual(routedVersion(), ['m→m@1']);
  assert.deepEqual(running(), ['m@1×2'], 'the failed group is stopped');
  assert.equal((await world.control.revisions.current())!.number, 1);
  // The next apply is not blocked by the failed one.
  const next = await world.control.apply({ spec: yaml({ replicas: 1 }), file: 'aloft.yaml' }, ALICE, { base: 2 });
  assert.equal(next.revision, 3);
});

test('an apply that does not converge within the apply timeout fails (time is stepped, not waited for)', async () => {
  await world.boot(yaml());
  world.orchestrator.ready('m@1');
  await world.control.wait(1);
  await world.control.apply({ spec: yaml({ file: 'b.onnx' }), file: 'aloft.yaml' }, ALICE);
  await world.settle();
  const waiting = world.control.wait(2);
  world.clock.advance(59_000);
  await world.settle();
  assert.equal((await world.control.revisions.get(2))!.outcome, 'applying');
  world.clock.advance(1_000);
  const rev = await waiting;
  assert.equal(rev.outcome, 'failed');
  assert.match(rev.reason!, /did not converge within 60 s \(m 0\/2 ready\)/);
  await world.settle();
  assert.deepEqual(routedVersion(), ['m→m@1']);
});

test('applies are refused while another converges and when planned against an older revision; nothing half-done', async () => {
  await world.boot(yaml());
  world.orchestrator.ready('m@1');
  await world.control.wait(1);
  await world.control.apply({ spec: yaml({ replicas: 3 }), file: 'aloft.yaml' }, ALICE, { base: 1 });
  await assert.rejects(world.control.apply({ spec: yaml({ replicas: 1 }), file: 'aloft.yaml' }, ALICE), (e: unknown) => isAloftError(e) && e.code === 'ALOFT_REVISION_CONFLICT' && /still being applied/.test(e.message));
  world.orchestrator.ready('m@1');
  await world.control.wait(2);
  await assert.rejects(world.control.apply({ spec: yaml({ replicas: 1 }), file: 'aloft.yaml' }, ALICE, { base: 1 }), (e: unknown) => isAloftError(e) && e.code === 'ALOFT_REVISION_CONFLICT' && /planned against revision 1, but revision 2/.test(e.message));
  // Two applies planned against the same revision, at once: exactly one lands.
  const both = await Promise.allSettled([
    world.control.apply({ spec: yaml({ replicas: 1 }), file: 'aloft.yaml' }, ALICE, { base: 2 }),
    world.control.apply({ spec: yaml({ replicas: 4 }), file: 'aloft.yaml' }, ALICE, { base: 2 }),
  ]);
  assert.deepEqual(both.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  assert.equal((await world.control.revisions.list()).length, 3);
});

test('settings a running system cannot change are refused with nothing recorded; public changes live with a warning', async () => {
  await world.boot(yaml());
  world.orchestrator.ready('m@1');
  await world.control.wait(1);
  const plan = await world.control.plan({ spec: yaml({ port: 9090 }), file: 'aloft.yaml' });
  assert.deepEqual(plan.settings, [{ field: 'server.port', from: 8080, to: 9090, live: false }]);
  assert.match(plan.restart[0]!, /server\.port: 8080 → 9090 needs a restart/);
  await assert.rejects(world.control.apply({ spec: yaml({ port: 9090 }), file: 'aloft.yaml' }, ALICE), (e: unknown) => isAloftError(e) && e.code === 'ALOFT_NEEDS_RESTART');
  assert.equal((await world.control.revisions.list()).length, 1);
  const pub = await world.control.plan({ spec: yaml({ publicDep: true }), file: 'aloft.yaml' });
  assert.deepEqual(pub.deployments.map((d) => d.effect), ['in-place']);
  assert.match(pub.warnings.join('\n'), /becomes public/);
  await world.control.apply({ spec: yaml({ publicDep: true }), file: 'aloft.yaml' }, ALICE);
  await world.settle();
  assert.equal(world.control.desired.loaded.spec.deployments.m!.public, true, 'live settings read the desired revision');
  assert.equal((await world.control.wait(2)).outcome, 'applied');
});

test('a start after a crash mid-apply records the interrupted revision as failed and converges to the spec file', async () => {
  await world.boot(yaml());
  world.orchestrator.ready('m@1');
  await world.control.wait(1);
  await world.control.apply({ spec: yaml({ file: 'b.onnx' }), file: 'aloft.yaml' }, ALICE);
  await world.settle();
  // The process dies here (no close, no outcome recorded); a new one starts on the same state.
  world.control.close();
  const dir = world.dir;
  world = await makeWorld(dir);
  const r = await world.boot();
  assert.equal(r.recorded, false, 'the file is revision 1 again');
  const two = (await world.control.revisions.get(2))!;
  assert.equal(two.outcome, 'failed');
  assert.match(two.reason!, /interrupted/);
  await world.settle();
  world.orchestrator.ready('m@1');
  await world.settle();
  assert.deepEqual(routedVersion(), ['m→m@1']);
  assert.equal((await world.control.status()).converged, true);
});

test('rollback restores a revision exactly by hash, even when the file on disk changed, and marks what it undid', async () => {
  await world.boot(yaml());
  world.orchestrator.ready('m@1');
  await world.control.wait(1);
  await world.control.apply({ spec: yaml({ file: 'wide.onnx' }), file: 'aloft.yaml' }, ALICE);
  const plan2 = (await world.control.revisions.get(2))!;
  assert.match(JSON.stringify(plan2.diff), /different signature/, 'the signature change is a warning');
  await world.settle();
  world.orchestrator.ready('m@2');
  await drain();
  await world.control.wait(2);
  await writeFile(join(world.dir, 'a.onnx'), model(9)); // the file revision 1 used is overwritten
  const r = await world.control.rollback(ALICE, {});
  assert.equal(r.revision, 3);
  await world.settle();
  world.orchestrator.ready('m@1');
  await drain();
  const three = await world.control.wait(3);
  assert.equal(three.outcome, 'applied');
  assert.equal(three.kind, 'rollback');
  assert.equal(three.rollbackOf, 1);
  const one = (await world.control.revisions.get(1))!;
  assert.deepEqual(three.deployments.map((d) => d.sha256), one.deployments.map((d) => d.sha256), 'the exact hash revision 1 ran');
  const two = (await world.control.revisions.get(2))!;
  assert.equal(two.outcome, 'rolled_back');
  assert.equal(two.reason, 'rolled back by revision 3');
  assert.ok(two.finishedAt! <= three.createdAt, 'revision 2 keeps the time it was applied');
  assert.equal((await world.audit.list({ action: 'spec.rolled_back' })).length, 1);
  await assert.rejects(world.control.rollback(SYSTEM_ACTOR_AUTHOR, { to: 99 }), (e: unknown) => isAloftError(e) && e.code === 'ALOFT_REVISION_NOT_FOUND');
});

const SYSTEM_ACTOR_AUTHOR = { actor: SYSTEM_ACTOR, source: 'system' };

test('a version in use cannot be deleted; once no live revision uses it, it can, its number is not reused, and gc frees its file', async () => {
  await world.boot(yaml());
  world.orchestrator.ready('m@1');
  await world.control.wait(1);
  await assert.rejects(world.control.deleteVersion('m', 1, ALICE), (e: unknown) => isAloftError(e) && e.code === 'ALOFT_VERSION_IN_USE' && /revision 1 \(current\)/.test(e.message) && /deployment 'm'/.test(e.message));
  await world.control.apply({ spec: yaml({ file: 'b.onnx' }), file: 'aloft.yaml' }, ALICE);
  await world.settle();
  world.orchestrator.ready('m@2');
  await drain();
  assert.equal((await world.control.wait(2)).outcome, 'applied');
  const registry = new Registry(world.store, new ArtifactStore(join(world.dir, 'artifacts')));
  const v1 = await registry.getVersion('m', 1);
  await world.control.deleteVersion('m', 1, ALICE);
  await assert.rejects(registry.getVersion('m', 1), (e: unknown) => isAloftError(e) && e.code === 'ALOFT_VERSION_NOT_FOUND');
  // Rolling back to the revision that ran it says what is gone and the way out; nothing is recorded.
  await assert.rejects(world.control.rollback(ALICE, { to: 1 }), (e: unknown) => isAloftError(e) && e.code === 'ALOFT_VERSION_NOT_FOUND'
    && /^revision 1 ran m@1 \(sha256 [0-9a-f]{12}\) for deployment 'm', and that version has been deleted since: .*roll back to another revision/.test(e.message));
  assert.equal((await world.control.revisions.latest())!.number, 2);
  assert.deepEqual(await world.control.gc(ALICE, { dryRun: true }), [], 'a file stored in the last 10 minutes is kept');
  const later = Date.now() + 3_600_000;
  const removed = await registry.gc({ now: later, dryRun: true });
  assert.deepEqual(removed.map((r) => r.sha256), [v1.sha256], 'only the deleted version\'s file is garbage');
  await registry.gc({ now: later });
  assert.equal(await registry.artifacts.has(v1.sha256, v1.sizeBytes), false);
  // A file with the deleted version's content is a new version: numbers name one file forever.
  await writeFile(join(world.dir, 'c.onnx'), model(5));
  await world.control.apply({ spec: yaml({ file: 'c.onnx' }), file: 'aloft.yaml' }, ALICE);
  assert.deepEqual((await world.control.revisions.get(3))!.models.map((m) => m.version), [3]);
  const audit = await world.audit.list({ action: 'model.version.deleted' });
  assert.equal(audit.length, 1);
  await assert.rejects(world.control.rollback(ALICE, { to: 1 }), (e: unknown) => isAloftError(e) && /applying|being applied/.test(e.message), 'an apply is converging');
});

test('secrets are stored as their templates: the revision, its canonical spec, its diff and the audit trail never hold the value', async () => {
  process.env.ALOFT_TEST_REVISION_SECRET = 'hunter2-very-secret-value';
  try {
    const withSecret = yaml().replace('    model: m\n', '    model: m\n    description: "owner token ${env:ALOFT_TEST_REVISION_SECRET}"\n');
    await world.boot(yaml());
    world.orchestrator.ready('m@1');
    await world.control.wait(1);
    await world.control.apply({ spec: withSecret, file: 'aloft.yaml' }, ALICE);
    assert.equal(world.control.desired.loaded.spec.deployments.m!.description, 'owner token hunter2-very-secret-value', 'the running system has the value');
    const rev = (await world.control.revisions.get(2))!;
    const stored = JSON.stringify(rev);
    assert.doesNotMatch(stored, /hunter2/);
    assert.match(rev.specText, /\$\{env:ALOFT_TEST_REVISION_SECRET\}/);
    assert.match(JSON.stringify(rev.diff), /\$\{env:ALOFT_TEST_REVISION_SECRET\}/, 'the diff shows the template');
    assert.doesNotMatch(JSON.stringify(await world.audit.list({})), /hunter2/);
  } finally {
    delete process.env.ALOFT_TEST_REVISION_SECRET;
  }
});

test('with a shared database another process joins what runs, follows what is applied once it has landed, and records an applier that stopped as interrupted', async () => {
  await world.stop();
  world = await makeWorld(world.dir, world.clock, { shared: 'a' });
  await world.boot(yaml());
  world.orchestrator.ready('m@1');
  await world.control.wait(1);
  // A second process on the same database (and artifact folder), started with another file: it joins revision 1.
  const other = await makeWorld(world.dir, world.clock, { shared: 'b' });
  try {
    const joined = await other.control.start(parseSpec(yaml({ replicas: 3 }), join(world.dir, 'aloft.yaml')), yaml({ replicas: 3 }));
    assert.deepEqual([joined.revision, joined.recorded, joined.joined], [1, false, true]);
    assert.equal(other.control.desired.deployments[0]!.spec.replicas.initial, 2, 'it runs revision 1, not its file');
    await other.settle();
    other.orchestrator.ready('m@1');
    await other.settle();
    // The first applies a new version; while it converges the other follows nothing and leaves it alone.
    await world.control.apply({ spec: yaml({ file: 'b.onnx' }), file: 'aloft.yaml' }, ALICE);
    await other.control.follow();
    assert.equal((await other.control.status()).running, 1);
    assert.equal((await other.control.revisions.get(2))!.outcome, 'applying');
    await assert.rejects(other.control.apply({ spec: yaml({ replicas: 1 }), file: 'aloft.yaml' }, ALICE), (e: unknown) => isAloftError(e) && e.code === 'ALOFT_REVISION_CONFLICT'
      && /^revision 2 is still being applied by gateway \S+; if that gateway stopped, its apply lease runs out at \S+ \(in 30 s\)/.test(e.message));
    await world.settle();
    world.orchestrator.ready('m@2');
    await world.settle();
    world.clock.advance(50);
    await world.settle();
    assert.equal((await world.control.wait(2)).outcome, 'applied');
    // A plan on the other, before its follow timer runs, plans against revision 2 (it catches up first), not what it ran.
    const planned = await other.control.plan({ spec: yaml({ file: 'b.onnx' }), file: 'aloft.yaml' });
    assert.deepEqual([planned.base, planned.current, planned.changes], [2, 2, false], 'the file revision 2 was applied from plans no change');
    assert.equal(other.control.desired.revision, 2);
    assert.equal(other.control.desired.deployments[0]!.version, 2);
    assert.equal(other.control.desired.deployments[0]!.rollback, true, 'a followed revision switches once warm, without a second rollout');
    assert.deepEqual((await other.control.revisions.list()).map((r) => r.number), [2, 1], 'following records nothing');
    // The first applies again and stops before the revision lands: once its lease has run out, the other records it interrupted.
    await world.control.apply({ spec: yaml({ file: 'b.onnx', replicas: 3 }), file: 'aloft.yaml' }, ALICE);
    world.control.close();
    await other.control.follow();
    assert.equal((await other.control.revisions.get(3))!.outcome, 'applying', 'the lease still holds');
    world.clock.advance(APPLY_LEASE_MS + 1);
    await other.control.follow();
    const three = (await other.control.revisions.get(3))!;
    assert.equal(three.outcome, 'failed');
    assert.match(three.reason!, /interrupted: the gateway applying revision 3 stopped/);
    assert.equal(other.control.desired.revision, 2);
  } finally {
    await other.stop();
  }
});

test('rollback by default restores the revision that ran before: one its own rollout rolled back is skipped, one a rollback undid is not', async () => {
  await world.boot(yaml());
  world.orchestrator.ready('m@1');
  await world.control.wait(1);
  assert.equal((await land(yaml({ file: 'b.onnx' }), 'm@2')).outcome, 'applied');
  assert.equal((await land(yaml({ file: 'b.onnx', replicas: 3 }), 'm@2')).outcome, 'applied');
  // Revision 2 as a rollout that failed its analysis leaves it (the outcome a canary's rollback records).
  assert.equal(await world.control.revisions.finish(2, 'rolled_back', 'canary rolled back at step 1: failures: the candidate is worse', 'applied'), true);
  const r = await world.control.rollback(ALICE, {});
  await world.settle();
  world.orchestrator.ready('m@1');
  await drain();
  const four = await world.control.wait(r.revision!);
  assert.deepEqual([four.rollbackOf, four.outcome], [1, 'applied'], 'revision 1, not revision 2 whose rollout refused it');
  assert.equal((await world.control.revisions.get(3))!.reason, 'rolled back by revision 4');
  // Named with --to, a revision its own rollout rolled back is refused too (a rollback would switch all traffic to it unjudged), dry run or not.
  for (const dryRun of [true, false]) {
    await assert.rejects(world.control.rollback(ALICE, { to: 2, dryRun }), (e: unknown) => isAloftError(e) && /^revision 2 was rolled back by its own rollout \(canary rolled back at step 1: failures: the candidate is worse\): .*apply a spec that names it/.test(e.message));
  }
  assert.equal((await world.control.revisions.latest())!.number, 4, 'nothing recorded');
  // Again: revision 3 ran and was undone by revision 4, so it is the one before.
  const again = await world.control.rollback(ALICE, {});
  assert.equal((await world.control.revisions.get(again.revision!))!.rollbackOf, 3);
});

test('with a shared database a revision whose model is missing from the artifact store is not followed: status says behind and why, and a start while others serve refuses instead of replacing it', async () => {
  await world.stop();
  world = await makeWorld(world.dir, world.clock, { shared: 'a' });
  await world.boot(yaml());
  world.orchestrator.ready('m@1');
  await world.control.wait(1);
  const other = await makeWorld(world.dir, world.clock, { shared: 'b' });
  try {
    await other.control.start(parseSpec(yaml(), join(world.dir, 'aloft.yaml')), yaml());
    const two = await land(yaml({ file: 'b.onnx' }), 'm@2');
    assert.equal(two.outcome, 'applied');
    // The folder lost the new model's file (pruned by hand, a volume not shared after all).
    const { rm: remove, chmod } = await import('node:fs/promises');
    const path = join(world.dir, 'artifacts', 'sha256', two.deployments[0]!.sha256.slice(0, 2), two.deployments[0]!.sha256);
    await chmod(path, 0o644);
    await remove(path);
    await other.control.follow();
    const s = await other.control.status();
    assert.equal(s.running, 1);
    assert.equal(s.behind?.revision, 2);
    assert.match(s.behind!.reason, /^m@2 \(sha256 [0-9a-f]{12}\) is not in this gateway's artifact store .*: gateways that share a database must share state\.artifacts$/);
    // A third process starting now cannot open what the others run: it refuses, and records nothing.
    const third = await makeWorld(world.dir, world.clock, { shared: 'c' });
    try {
      await assert.rejects(third.control.start(parseSpec(yaml(), join(world.dir, 'aloft.yaml')), yaml()), (e: unknown) => isAloftError(e) && /^revision 2, the newest applied on this database, cannot be opened here: m@2 .* must share state\.artifacts; this gateway will not replace it with its own file while others serve/.test(e.message));
      assert.equal((await third.control.revisions.latest())!.number, 2);
    } finally {
      await third.stop();
    }
  } finally {
    await other.stop();
  }
});

test('a restart whose file still names a version that was rolled back runs the revision that replaced it, and says so', async () => {
  await world.boot(yaml());
  world.orchestrator.ready('m@1');
  await world.control.wait(1);
  assert.equal((await land(yaml({ file: 'b.onnx' }), 'm@2')).outcome, 'applied');
  await world.control.rollback(ALICE, {});
  await world.settle();
  world.orchestrator.ready('m@1');
  await drain();
  assert.equal((await world.control.wait(3)).outcome, 'applied');
  // The file on disk still names b.onnx: a restart does not undo the rollback.
  world.control.close();
  world = await makeWorld(world.dir, world.clock);
  const r = await world.boot(yaml({ file: 'b.onnx' }));
  assert.deepEqual([r.revision, r.recorded], [3, false]);
  assert.match((r as { held?: string }).held ?? '', /^deployment 'm': the file moves it to m@2 \(sha256 [0-9a-f]{12}\), which revision 2 ran until it was rolled back by hand \(rolled back by revision 3\): this file was not applied at start, and revision 3 runs/);
  assert.equal(world.control.desired.deployments[0]!.version, 1);
  assert.equal((await world.control.revisions.latest())!.number, 3, 'nothing recorded');
});

test('a rollback dry run names the revision it would restore and plans it, recording nothing', async () => {
  await world.boot(yaml());
  world.orchestrator.ready('m@1');
  await world.control.wait(1);
  assert.equal((await land(yaml({ replicas: 3 }), 'm@1')).outcome, 'applied');
  const dry = await world.control.rollback(ALICE, { dryRun: true });
  assert.deepEqual([dry.revision, dry.restores, dry.dryRun, dry.plan.changes], [null, 1, true, true]);
  assert.deepEqual(dry.plan.deployments.map((d) => [d.name, d.replicasToStop]), [['m', 1]]);
  assert.equal((await world.control.revisions.latest())!.number, 2, 'nothing recorded');
  assert.equal(world.control.desired.revision, 2);
});
