/**
 * Canary rollouts with real replica processes under a closed-loop load of 8 connections:
 * a good version goes through every step and is promoted with no failed request; a version
 * whose outputs are NaN is rolled back automatically at its first step, and the requests
 * that reached it (the blast radius) are counted against what the step's weight predicts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Pool, request } from 'undici';
import { startAloft, type RunningAloft } from '../../src/aloft.js';
import { AdminClient } from '../../src/api/client.js';
import type { RevisionDetail } from '../../src/api/types.js';
import { mlp } from '../../src/onnx/mlp.js';
import { bearer, newAdminKey } from '../helpers/auth.js';
import { inferBody } from '../helpers/credit-risk.js';
import { creditModel } from '../helpers/models.js';
import { until } from '../helpers/poll.js';

const CONNECTIONS = 8;
const ROLLOUT = '    rollout: { strategy: canary, steps: [10, 50, 100], interval: 3s, analysis: { minSamples: 100, onInconclusive: promote } }';

const spec = (file: string) => ['models:', '  credit-risk:', `    path: ./${file}`, 'deployments:', '  credit-risk:', '    model: credit-risk', '    replicas: 1', '    runtime: { isolation: process }', ROLLOUT, ''].join('\n');

interface Tally { sent: number; failed: number; byVersion: Map<string, number>; nan: number }

/** Closed-loop load: 8 loops, one request at a time each, until stopped or 200,000 requests. */
function load(url: string, key: string) {
  const pool = new Pool(url, { connections: CONNECTIONS });
  const tally: Tally = { sent: 0, failed: 0, byVersion: new Map(), nan: 0 };
  let stopped = false;
  const body = JSON.stringify(inferBody());
  const loop = async () => {
    while (!stopped && tally.sent < 200_000) {
      tally.sent++;
      try {
        const r = await pool.request({ method: 'POST', path: '/v2/models/credit-risk/infer', headers: { ...bearer(key), 'content-type': 'application/json' }, body });
        const text = await r.body.text();
        if (r.statusCode !== 200) { tally.failed++; continue; }
        const a = JSON.parse(text) as { model_version: string; outputs: { data: (number | null)[] }[] };
        tally.byVersion.set(a.model_version, (tally.byVersion.get(a.model_version) ?? 0) + 1);
        if (!Number.isFinite(a.outputs[0]!.data[0])) tally.nan++;
      } catch {
        tally.failed++;
      }
    }
  };
  const loops = Array.from({ length: CONNECTIONS }, loop);
  return { tally, stop: async () => { stopped = true; await Promise.all(loops); await pool.close(); } };
}

function outcome(admin: AdminClient, n: number, ms = 120_000): Promise<RevisionDetail> {
  return until(`revision ${n}'s outcome`, ms, async () => {
    const r = await admin.revision(n);
    return r.outcome === 'applying' ? undefined : r;
  }, 50);
}

test('canary: a good version is promoted through every step with no failed request; a NaN version is rolled back at its first step', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-canary-'));
  let aloft: RunningAloft | undefined;
  let traffic: ReturnType<typeof load> | undefined;
  try {
    await writeFile(join(dir, 'a.onnx'), creditModel(1));
    await writeFile(join(dir, 'b.onnx'), creditModel(2));
    await writeFile(join(dir, 'nan.onnx'), mlp([{ in: 22, out: 1, weights: new Float32Array(22).fill(0.001), bias: Float32Array.of(Number.NaN) }], { inputName: 'features', outputName: 'probability', activation: 'sigmoid' }));
    await writeFile(join(dir, 'aloft.yaml'), spec('a.onnx'));
    const key = newAdminKey();
    aloft = await startAloft({ spec: join(dir, 'aloft.yaml'), port: 0, adminKey: key, databaseUrl: `sqlite:${join(dir, '.aloft', 'aloft.db')}` });
    await aloft.waitReady(60_000);
    const admin = new AdminClient({ url: aloft.url, key });
    traffic = load(aloft.url, key);

    // 1. A good version: promoted through 10% and 50%, nothing fails.
    const t0 = Date.now();
    const good = await admin.apply({ spec: spec('b.onnx'), file: 'aloft.yaml', base: 1 });
    assert.equal(good.revision, 2);
    const two = await outcome(admin, 2);
    const promotedAfter = Date.now() - t0;
    assert.equal(two.outcome, 'applied', `revision 2: ${two.outcome}: ${two.reason ?? ''}`);
    const goodTally = { sent: traffic.tally.sent, failed: traffic.tally.failed, v1: traffic.tally.byVersion.get('1') ?? 0, v2: traffic.tally.byVersion.get('2') ?? 0 };
    t.diagnostic(`good canary: promoted ${promotedAfter} ms after apply; ${goodTally.sent} requests, ${goodTally.failed} failed; answered by v1 ${goodTally.v1}, v2 ${goodTally.v2}`);
    assert.equal(goodTally.failed, 0);
    assert.ok(promotedAfter >= 6000, 'two steps of at least 3 s each');
    const audit = await admin.audit(new URLSearchParams({ action: 'rollout.promoted' }));
    assert.equal(audit.entries.length, 1);

    // 2. A version whose outputs are NaN: rolled back at its first step (10%).
    const before = { sent: traffic.tally.sent, v3: traffic.tally.byVersion.get('3') ?? 0 };
    const t1 = Date.now();
    const bad = await admin.apply({ spec: spec('nan.onnx'), file: 'aloft.yaml', base: 2 });
    assert.equal(bad.revision, 3);
    const three = await outcome(admin, 3);
    const rolledBackAfter = Date.now() - t1;
    assert.equal(three.outcome, 'rolled_back');
    assert.match(three.reason ?? '', /canary rolled back at step 1 \(10%\): failures: the candidate is worse/);
    // Let the requests in flight at the rollback finish, then count.
    await new Promise((r) => setTimeout(r, 500));
    const reached = (traffic.tally.byVersion.get('3') ?? 0) - before.v3;
    const sentDuring = traffic.tally.sent - before.sent;
    t.diagnostic(`NaN canary: rolled back ${rolledBackAfter} ms after apply; ${reached} requests reached it (its NaN answers), of ${sentDuring} sent meanwhile; the 10% step predicts at most ~${Math.round(sentDuring * 0.1)} (every answer failing: about 20 decide, not minSamples 100)`);
    assert.ok(reached >= 20, 'the failure test needs its 20 answers');
    assert.ok(reached < 100, `a candidate failing every answer is rolled back before minSamples (100): ${reached} reached it`);
    assert.ok(reached <= Math.max(400, sentDuring * 0.15), `${reached} reached the bad version`);
    const status = await admin.status();
    assert.equal(status.current?.number, 2, 'revision 2 still runs');
    const after = traffic.tally.byVersion.get('2') ?? 0;
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok((traffic.tally.byVersion.get('2') ?? 0) > after, 'v2 serves on');
    assert.equal(traffic.tally.byVersion.get('3') ?? 0, before.v3 + reached, 'nothing reaches the rolled-back version any more');
    const rolled = await admin.audit(new URLSearchParams({ action: 'rollout.rolled_back' }));
    assert.equal(rolled.entries.length, 1);
    assert.equal((await admin.verifyAudit()).ok, true);
    assert.equal(traffic.tally.failed, 0, 'no request failed at any point (NaN answers are 200s; they are counted as the blast radius)');
  } finally {
    await traffic?.stop();
    await aloft?.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('rollout commands: status, pause, resume, promote and abort a running canary; bad input is refused and changes nothing', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-canary-cmd-'));
  let aloft: RunningAloft | undefined;
  let traffic: ReturnType<typeof load> | undefined;
  // Priced, so the status says what the second group costs while it runs.
  const slow = (file: string) => `${spec(file).replace('interval: 3s', 'interval: 10m').replace('    replicas: 1\n', '    replicas: 1\n    resources: { cpu: 1, memory: 1Gi }\n')}cost:\n  prices: { cpu: 0.04, memory: 0.005 }\n`;
  try {
    for (const [f, seed] of [['a.onnx', 1], ['b.onnx', 2], ['c.onnx', 3]] as const) await writeFile(join(dir, f), creditModel(seed));
    await writeFile(join(dir, 'aloft.yaml'), slow('a.onnx'));
    const key = newAdminKey();
    aloft = await startAloft({ spec: join(dir, 'aloft.yaml'), port: 0, adminKey: key, databaseUrl: `sqlite:${join(dir, '.aloft', 'aloft.db')}` });
    await aloft.waitReady(60_000);
    const admin = new AdminClient({ url: aloft.url, key });
    const viewer = new AdminClient({ url: aloft.url, key: (await admin.createKey({ name: 'v', role: 'viewer' })).key });
    await assert.rejects(admin.rolloutCommand('credit-risk', 'promote'), /no rollout is running for deployment 'credit-risk'/);
    traffic = load(aloft.url, key);

    // Abort: the apply ends rolled back, v1 serves on.
    await admin.apply({ spec: slow('b.onnx'), file: 'aloft.yaml', base: 1 });
    const at10 = async () => (await admin.rollouts()).rollouts.find((r) => r.state === 'progressing' && r.weight === 10);
    for (let i = 0; i < 600 && !(await at10()); i++) await new Promise((r) => setTimeout(r, 50));
    const first = await at10();
    assert.ok(first, 'the canary reached its first step');
    // The candidate's one replica at 1 vCPU × 0.04 + 1 GiB × 0.005 an hour.
    assert.equal(first.cost?.group, 'candidate');
    assert.equal(first.cost?.version, 2);
    assert.equal(first.cost?.replicas, 1);
    assert.ok(Math.abs(first.cost!.hourly - 0.045) < 1e-12, `hourly ${first.cost!.hourly}`);
    assert.ok(Math.abs(first.cost!.monthly - 0.045 * 730) < 1e-9);
    assert.deepEqual(first.cost!.unpriced, []);
    const ranH = (Date.now() - Date.parse(first.startedAt)) / 3_600_000;
    assert.ok(first.cost!.soFar > 0 && first.cost!.soFar <= 0.045 * ranH + 1e-12, `so far ${first.cost!.soFar} after ${ranH} h`);
    const metrics = await (await fetch(`${aloft.url}/metrics`, { headers: bearer(key) })).text();
    assert.match(metrics, /aloft_traffic_weight_percent\{deployment="credit-risk",version="1"\} 90/);
    assert.match(metrics, /aloft_traffic_weight_percent\{deployment="credit-risk",version="2"\} 10/);
    assert.match(metrics, /aloft_rollout_state\{deployment="credit-risk",strategy="canary",state="progressing",candidate="2"\} 1/);
    await assert.rejects(viewer.rolloutCommand('credit-risk', 'abort'), /role 'viewer'/);
    const paused = await admin.rolloutCommand('credit-risk', 'pause');
    assert.deepEqual([paused.rollout.paused, paused.changed], [true, true]);
    const again = await admin.rolloutCommand('credit-risk', 'pause');
    assert.deepEqual([again.rollout.paused, again.changed], [true, false], 'pausing a paused rollout changes nothing, and says so');
    const resumed = await admin.rolloutCommand('credit-risk', 'resume');
    assert.deepEqual([resumed.rollout.paused, resumed.changed], [false, true]);
    assert.equal((await admin.rolloutCommand('credit-risk', 'resume')).changed, false, 'nor resuming a running one');
    const aborted = await admin.rolloutCommand('credit-risk', 'abort');
    assert.equal(aborted.rollout.state, 'rolled_back');
    const two = await outcome(admin, 2);
    assert.equal(two.outcome, 'rolled_back');
    assert.match(two.reason ?? '', /canary aborted by admin at step 1 \(10%\)/);
    const abortedAgain = await admin.rolloutCommand('credit-risk', 'abort');
    assert.deepEqual([abortedAgain.rollout.state, abortedAgain.changed, abortedAgain.rollout.reason], ['rolled_back', false, aborted.rollout.reason], 'a second abort changes nothing and says so');

    // The CLI says it plainly and exits 1 for a rolled-back rollout.
    // Spawned asynchronously: Aloft runs in this process and must keep answering.
    const { execFile } = await import('node:child_process');
    const cli = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', join(process.cwd(), 'src/cli/bin.ts'), 'rollout', 'status', 'credit-risk', '--url', aloft!.url, '--key', key], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
      });
    });
    t.diagnostic(`aloft rollout status after abort (exit ${cli.status}):\n${cli.stdout}`);
    assert.doesNotMatch(cli.stdout, /cost of the second group/, 'rolled back: no second group to pay for');
    assert.equal(cli.status, 1, cli.stderr);
    assert.match(cli.stdout, /rolled back/);
    assert.match(cli.stdout, /ROLLED BACK: canary aborted by admin/);

    // Promote: straight to the new version.
    await admin.apply({ spec: slow('c.onnx'), file: 'aloft.yaml', base: 2 });
    for (let i = 0; i < 600 && !(await at10()); i++) await new Promise((r) => setTimeout(r, 50));
    const running = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', join(process.cwd(), 'src/cli/bin.ts'), 'rollout', 'status', 'credit-risk', '--url', aloft!.url, '--key', key], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
      });
    });
    t.diagnostic(`aloft rollout status while running:\n${running.stdout}`);
    assert.equal(running.status, 0, running.stderr);
    assert.match(running.stdout, /cost of the second group: v3 \(the new version, 1 replica\) [\d.]+ \w+ an hour \([\d.]+ \w+ a month at this size\); about [\d.]+ \w+ so far/);
    await admin.rolloutCommand('credit-risk', 'promote');
    const three = await outcome(admin, 3);
    assert.equal(three.outcome, 'applied');
    const promotedAgain = await admin.rolloutCommand('credit-risk', 'promote');
    assert.deepEqual([promotedAgain.rollout.state, promotedAgain.changed], ['promoted', false], 'a second promote changes nothing and says so');
    const served = (await admin.status()).deployments.find((d) => d.name === 'credit-risk');
    assert.equal(served?.routed, served?.group);
    assert.match(served?.group ?? '', /^credit-risk@3\./);
    assert.equal(traffic.tally.failed, 0, 'no request failed through abort and promote');
    const actions = (await admin.audit(new URLSearchParams({ action: 'rollout.*' }))).entries.map((e) => e.action);
    assert.deepEqual(actions, ['rollout.paused', 'rollout.resumed', 'rollout.aborted', 'rollout.rolled_back', 'rollout.promote_requested', 'rollout.promoted']);
    // A rollback is instant: no canary back to v1 (its interval here is 10 minutes), v1 serves once warm, no request fails.
    const back = await admin.rollback({ to: 1 });
    assert.equal((await outcome(admin, back.revision!, 60_000)).outcome, 'applied');
    const after = (await admin.status()).deployments.find((d) => d.name === 'credit-risk');
    assert.match(after?.routed ?? '', /^credit-risk@1\./);
    assert.equal(traffic.tally.failed, 0, 'no request failed through the rollback');
    // The promoted rollout is history now: promote no longer answers with it.
    const superseded = await until('the promoted rollout marked superseded', 30_000, async () => (await admin.rollouts()).rollouts.find((r) => r.deployment === 'credit-risk' && r.superseded), 50);
    assert.equal(superseded.superseded!.version, 1);
    await assert.rejects(admin.rolloutCommand('credit-risk', 'promote'), /no rollout is running for deployment 'credit-risk' \(its last one, v1 → v3, was promoted; v1 serves since/);
  } finally {
    await traffic?.stop();
    await aloft?.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('blue-green: the answers flip at one point with no failed request, and abort switches back at once while the old group is still warm', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-bluegreen-'));
  let aloft: RunningAloft | undefined;
  const bg = (file: string) => spec(file).replace(ROLLOUT, '    rollout: { strategy: blueGreen, bake: 1s, keepOld: 10m }');
  try {
    await writeFile(join(dir, 'a.onnx'), creditModel(1));
    await writeFile(join(dir, 'b.onnx'), creditModel(2));
    await writeFile(join(dir, 'aloft.yaml'), bg('a.onnx'));
    const key = newAdminKey();
    aloft = await startAloft({ spec: join(dir, 'aloft.yaml'), port: 0, adminKey: key, databaseUrl: `sqlite:${join(dir, '.aloft', 'aloft.db')}` });
    await aloft.waitReady(60_000);
    const admin = new AdminClient({ url: aloft.url, key });
    // A sequence of answers in the order they were sent, from one connection, for the flip point.
    const order: string[] = [];
    let stop = false;
    let failed = 0;
    const pool = new Pool(aloft.url, { connections: 1 });
    const body = JSON.stringify(inferBody());
    const serial = (async () => {
      while (!stop && order.length < 100_000) {
        const r = await pool.request({ method: 'POST', path: '/v2/models/credit-risk/infer', headers: { ...bearer(key), 'content-type': 'application/json' }, body }).catch(() => undefined);
        if (!r || r.statusCode !== 200) { failed++; await r?.body.dump(); continue; }
        order.push((JSON.parse(await r.body.text()) as { model_version: string }).model_version);
      }
    })();
    const traffic = load(aloft.url, key);
    await admin.apply({ spec: bg('b.onnx'), file: 'aloft.yaml', base: 1 });
    const state = async () => (await admin.rollouts()).rollouts.find((r) => r.deployment === 'credit-risk')?.state;
    for (let i = 0; i < 1200 && (await state()) !== 'switched'; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await state(), 'switched');
    await new Promise((r) => setTimeout(r, 1000));
    const flips = (xs: string[]) => xs.filter((v, i) => i > 0 && v !== xs[i - 1]).length;
    const afterSwitch = [...order];
    t.diagnostic(`blue-green switch: serial answers ${afterSwitch.length}, version changes in that sequence: ${flips(afterSwitch)} (v1 ${afterSwitch.filter((v) => v === '1').length}, v2 ${afterSwitch.filter((v) => v === '2').length})`);
    assert.equal(flips(afterSwitch), 1, 'one flip: v1 … v1 v2 … v2');
    assert.equal(afterSwitch.at(-1), '2');
    assert.equal((await admin.revision(2)).outcome, 'applying', 'the old group is kept warm: the apply has not converged yet');

    // Instant rollback: the old group is warm, the answers flip back.
    const mark = order.length;
    const t0 = Date.now();
    await admin.rolloutCommand('credit-risk', 'abort');
    const two = await outcome(admin, 2);
    const back = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    await serial;
    await traffic.stop();
    await pool.close();
    // From the last answer before the abort (a v2), so the flip back is inside the window even when it came at once.
    const afterAbort = order.slice(mark - 1);
    t.diagnostic(`blue-green abort: rolled back ${back} ms after the command; serial answers since ${afterAbort.length}, version changes ${flips(afterAbort)}; failed requests ${failed + traffic.tally.failed} of ${order.length + traffic.tally.sent}`);
    assert.equal(two.outcome, 'rolled_back');
    assert.equal(afterAbort[0], '2', 'v2 answered last before the abort');
    assert.equal(flips(afterAbort), 1);
    assert.equal(afterAbort.at(-1), '1');
    assert.equal(failed + traffic.tally.failed, 0);
  } finally {
    await aloft?.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('abTest: each API key always meets the same variant, both variants are used, and promote ends it', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-abtest-'));
  let aloft: RunningAloft | undefined;
  const ab = (file: string) => spec(file).replace(ROLLOUT, '    rollout: { strategy: abTest, split: 50 }');
  try {
    await writeFile(join(dir, 'a.onnx'), creditModel(1));
    await writeFile(join(dir, 'b.onnx'), creditModel(2));
    await writeFile(join(dir, 'aloft.yaml'), ab('a.onnx'));
    const key = newAdminKey();
    aloft = await startAloft({ spec: join(dir, 'aloft.yaml'), port: 0, adminKey: key, databaseUrl: `sqlite:${join(dir, '.aloft', 'aloft.db')}` });
    await aloft.waitReady(60_000);
    const admin = new AdminClient({ url: aloft.url, key });
    const keys = await Promise.all(Array.from({ length: 16 }, async (_, i) => (await admin.createKey({ name: `app-${i}`, role: 'predictor' })).key));
    await admin.apply({ spec: ab('b.onnx'), file: 'aloft.yaml', base: 1 });
    const state = async () => (await admin.rollouts()).rollouts.find((r) => r.deployment === 'credit-risk')?.state;
    for (let i = 0; i < 1200 && (await state()) !== 'testing'; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await state(), 'testing');
    const body = JSON.stringify(inferBody());
    const seen = new Map<number, Set<string>>();
    await Promise.all(keys.map(async (k, i) => {
      for (let n = 0; n < 20; n++) {
        const r = await fetch(`${aloft!.url}/v2/models/credit-risk/infer`, { method: 'POST', headers: { ...bearer(k), 'content-type': 'application/json' }, body });
        assert.equal(r.status, 200);
        const v = ((await r.json()) as { model_version: string }).model_version;
        seen.set(i, (seen.get(i) ?? new Set()).add(v));
      }
    }));
    const perKey = [...seen.values()].map((s) => [...s].join(','));
    t.diagnostic(`abTest 50/50 over 16 keys × 20 requests: variants per key ${perKey.join(' ')}`);
    assert.ok(perKey.every((v) => v === '1' || v === '2'), 'one variant per key');
    assert.ok(perKey.includes('1') && perKey.includes('2'), 'both variants are used');
    const report = (await admin.rollouts()).rollouts.find((r) => r.deployment === 'credit-risk')!;
    assert.ok(report.verdicts.length > 0 && report.verdicts.at(-1)!.failures.reason.includes('always-valid'), 'the comparison is reported');
    await admin.rolloutCommand('credit-risk', 'promote');
    assert.equal((await outcome(admin, 2)).outcome, 'applied');
    const r = await fetch(`${aloft.url}/v2/models/credit-risk/infer`, { method: 'POST', headers: { ...bearer(keys[0]!), 'content-type': 'application/json' }, body });
    assert.equal(((await r.json()) as { model_version: string }).model_version, '2');
  } finally {
    await aloft?.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('blue-green to a NaN version nobody previewed: the switch happens on the bake\'s time, and the errors gate switches back at once while the old group is warm', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-bluegreen-nan-'));
  let aloft: RunningAloft | undefined;
  const bg = (file: string) => spec(file).replace(ROLLOUT, '    rollout: { strategy: blueGreen, bake: 1s, keepOld: 10m }');
  try {
    await writeFile(join(dir, 'a.onnx'), creditModel(1));
    await writeFile(join(dir, 'nan.onnx'), mlp([{ in: 22, out: 1, weights: new Float32Array(22).fill(0.001), bias: Float32Array.of(Number.NaN) }], { inputName: 'features', outputName: 'probability', activation: 'sigmoid' }));
    await writeFile(join(dir, 'aloft.yaml'), bg('a.onnx'));
    const key = newAdminKey();
    aloft = await startAloft({ spec: join(dir, 'aloft.yaml'), port: 0, adminKey: key, databaseUrl: `sqlite:${join(dir, '.aloft', 'aloft.db')}` });
    await aloft.waitReady(60_000);
    const admin = new AdminClient({ url: aloft.url, key });
    const traffic = load(aloft.url, key);
    const t0 = Date.now();
    await admin.apply({ spec: bg('nan.onnx'), file: 'aloft.yaml', base: 1 });
    const two = await outcome(admin, 2);
    const took = Date.now() - t0;
    const nanBefore = traffic.tally.nan;
    await new Promise((r) => setTimeout(r, 500));
    await traffic.stop();
    const r = (await admin.rollouts()).rollouts.find((x) => x.deployment === 'credit-risk')!;
    t.diagnostic(`blue-green NaN: ${two.outcome} ${took} ms after apply; NaN answers ${traffic.tally.nan} of ${traffic.tally.sent}; reason: ${two.reason}`);
    assert.equal(two.outcome, 'rolled_back', `${two.reason}`);
    assert.match(r.reason ?? '', /blue-green rolled back after the switch \(the old group was still warm\): failures:/);
    assert.equal(traffic.tally.nan, nanBefore, 'no NaN answer once it was rolled back');
    assert.ok(traffic.tally.nan > 0 && traffic.tally.nan < traffic.tally.sent / 2, `the NaN version answered for a moment only: ${traffic.tally.nan} of ${traffic.tally.sent}`);
    assert.equal(traffic.tally.failed, 0);
    const after = await request(`${aloft.url}/v2/models/credit-risk/infer`, { method: 'POST', headers: { ...bearer(key), 'content-type': 'application/json' }, body: JSON.stringify(inferBody()) });
    assert.equal(((await after.body.json()) as { model_version: string }).model_version, '1', 'the old version answers again');
  } finally {
    await aloft?.close();
    await rm(dir, { recursive: true, force: true });
  }
});
