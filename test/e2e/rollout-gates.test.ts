/**
 * Rollout gates with real replica processes: a canary of a version many times slower is
 * rolled back by the latency analysis at its first step; webhook gates (a real HTTP
 * receiver) let a canary be promoted on 2xx and roll it back on a refusal or on silence,
 * with each call recorded; an A/B test by header keeps each user on one variant; a
 * blue-green bake sends a preview key's requests to the new version only.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { Pool } from 'undici';
import { startAloft, type RunningAloft } from '../../src/aloft.js';
import { AdminClient } from '../../src/api/client.js';
import type { RevisionDetail } from '../../src/api/types.js';
import type { RolloutStatus } from '../../src/control/rollouts.js';
import { mlp, type DenseLayer } from '../../src/onnx/mlp.js';
import { bearer, newAdminKey } from '../helpers/auth.js';
import { FEATURES, inferBody, ROW } from '../helpers/credit-risk.js';
import { creditModel, random } from '../helpers/models.js';
import { until } from '../helpers/poll.js';

const DEPLOYMENT = 'credit-risk';
const BODY = JSON.stringify(inferBody());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The spec: one process replica of credit-risk from `file`, rolled out by `rollout` (a YAML flow mapping). */
const spec = (file: string, rollout: string) => [
  'models:', `  ${DEPLOYMENT}:`, `    path: ./${file}`,
  'deployments:', `  ${DEPLOYMENT}:`, `    model: ${DEPLOYMENT}`, '    replicas: 1', '    runtime: { isolation: process }', `    rollout: ${rollout}`, '',
].join('\n');

interface Tally { sent: number; failed: number; byVersion: Map<string, number>; ms: Map<string, number[]>; errors: string[] }

/** Closed-loop load: `connections` loops, one request at a time each, until stopped or `max` requests. */
function load(url: string, key: string, connections: number, max = 200_000) {
  const pool = new Pool(url, { connections });
  const tally: Tally = { sent: 0, failed: 0, byVersion: new Map(), ms: new Map(), errors: [] };
  let stopped = false;
  const loop = async () => {
    while (!stopped && tally.sent < max) {
      tally.sent++;
      const t0 = performance.now();
      try {
        const r = await pool.request({ method: 'POST', path: `/v2/models/${DEPLOYMENT}/infer`, headers: { ...bearer(key), 'content-type': 'application/json' }, body: BODY });
        const text = await r.body.text();
        if (r.statusCode !== 200) {
          tally.failed++;
          if (tally.errors.length < 5) tally.errors.push(`${r.statusCode}: ${text.slice(0, 200)}`);
          continue;
        }
        const v = (JSON.parse(text) as { model_version: string }).model_version;
        tally.byVersion.set(v, (tally.byVersion.get(v) ?? 0) + 1);
        const ms = tally.ms.get(v) ?? [];
        if (ms.length < 50_000) ms.push(performance.now() - t0);
        tally.ms.set(v, ms);
      } catch (err) {
        tally.failed++;
        if (tally.errors.length < 5) tally.errors.push(String(err));
      }
    }
  };
  const loops = Array.from({ length: connections }, loop);
  return { tally, stop: async () => { stopped = true; await Promise.all(loops); await pool.close(); } };
}

const count = (t: Tally, v: string) => t.byVersion.get(v) ?? 0;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)]!;
}

function outcome(admin: AdminClient, n: number, ms = 90_000): Promise<RevisionDetail> {
  return until(`revision ${n}'s outcome`, ms, async () => {
    const r = await admin.revision(n);
    return r.outcome === 'applying' ? undefined : r;
  }, 50);
}

async function rollout(admin: AdminClient): Promise<RolloutStatus | undefined> {
  return (await admin.rollouts()).rollouts.find((r) => r.deployment === DEPLOYMENT);
}

function untilState(admin: AdminClient, state: RolloutStatus['state'], ms = 60_000): Promise<RolloutStatus> {
  return until(`the rollout to be ${state}`, ms, async () => {
    const r = await rollout(admin);
    return r?.state === state ? r : undefined;
  }, 50);
}

/** One unversioned inference with `key` (and extra headers); its model_version. */
async function versionFor(url: string, key: string, headers: Record<string, string> = {}, path = `/v2/models/${DEPLOYMENT}/infer`): Promise<string> {
  const r = await fetch(`${url}${path}`, { method: 'POST', headers: { ...bearer(key), 'content-type': 'application/json', ...headers }, body: BODY });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return (JSON.parse(text) as { model_version: string }).model_version;
}

async function withAloft(prefix: string, files: Record<string, Uint8Array>, first: string, body: (aloft: RunningAloft, admin: AdminClient, key: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  let aloft: RunningAloft | undefined;
  try {
    for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
    await writeFile(join(dir, 'aloft.yaml'), first);
    const key = newAdminKey();
    aloft = await startAloft({ spec: join(dir, 'aloft.yaml'), port: 0, host: '127.0.0.1', adminKey: key, databaseUrl: `sqlite:${join(dir, '.aloft', 'aloft.db')}` });
    await aloft.waitReady(60_000);
    await body(aloft, new AdminClient({ url: aloft.url, key }), key, dir);
  } finally {
    await aloft?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// ── 1. a slow version ────────────────────────────────────────────────────────────────────

const SLOW_WIDTH = 1024;
const SLOW_HIDDEN = 24;

/**
 * `features` FP32 [-1,22] → `probability` FP32 [-1,1] through 22 → 1024, 24 × (1024 → 1024) and
 * 1024 → 1 layers (about 25 M weights, a 100 MB file): the credit-risk signature, far more work
 * per row. Small uniform weights (1e-6 on the raw features, then ±1/√width) keep every unit finite.
 *
 * Why so big: under 8 closed-loop connections on two cores the baseline's own p99 is several
 * times its median (the slow replica takes a core), and the latency gate counts the
 * candidate's answers above that p99. With 10 hidden layers (about 4 ms a row) only 10–40% of
 * the candidate's answers were above it and a step could even pass; with 24 it was 58–92%.
 */
function slowModel(): Uint8Array {
  const r = random(4242);
  const dense = (nIn: number, nOut: number, scale: number): DenseLayer => {
    const weights = new Float32Array(nIn * nOut);
    for (let i = 0; i < weights.length; i++) weights[i] = (r() * 2 - 1) * scale;
    return { in: nIn, out: nOut, weights, bias: new Float32Array(nOut).fill(0.01) };
  };
  const layers = [dense(FEATURES, SLOW_WIDTH, 1e-6)];
  for (let i = 0; i < SLOW_HIDDEN; i++) layers.push(dense(SLOW_WIDTH, SLOW_WIDTH, 1 / Math.sqrt(SLOW_WIDTH)));
  layers.push(dense(SLOW_WIDTH, 1, 1 / Math.sqrt(SLOW_WIDTH)));
  return mlp(layers, { inputName: 'features', outputName: 'probability', activation: 'sigmoid', name: 'credit-slow' });
}

/** Median ms of one row straight through ONNX Runtime (one thread), and the answer. */
async function directMs(path: string): Promise<{ ms: number; p: number }> {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const feeds = { features: new ort.Tensor('float32', Float32Array.from(ROW), [1, FEATURES]) };
    let p = Number.NaN;
    for (let i = 0; i < 3; i++) await session.run(feeds);
    const ms: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t0 = performance.now();
      const out = await session.run(feeds);
      ms.push(performance.now() - t0);
      p = (out.probability!.data as Float32Array)[0]!;
    }
    return { ms: median(ms), p };
  } finally {
    await session.release();
  }
}

const CANARY = '{ strategy: canary, steps: [10, 50, 100], interval: 3s, analysis: { minSamples: 100 } }';

test('canary of a version many times slower is rolled back automatically at its first step', { timeout: 150_000 }, async (t) => {
  await withAloft('aloft-gates-slow-', { 'a.onnx': creditModel(1), 'slow.onnx': slowModel() }, spec('a.onnx', CANARY), async (aloft, admin, key, dir) => {
    // Straight through ONNX Runtime first: how much more work one row of the slow version is.
    const fast = await directMs(join(dir, 'a.onnx'));
    const slow = await directMs(join(dir, 'slow.onnx'));
    t.diagnostic(`direct ONNX Runtime, one row, one thread, median of 15: credit-risk ${fast.ms.toFixed(3)} ms, slow ${slow.ms.toFixed(3)} ms: ${(slow.ms / fast.ms).toFixed(0)}× (slow answers p = ${slow.p.toFixed(4)})`);
    assert.ok(Number.isFinite(slow.p) && slow.p > 0 && slow.p < 1, `the slow model's answer is a probability, got ${slow.p}`);
    assert.ok(slow.ms >= 10 * fast.ms, `the slow version is at least 10× the work (${slow.ms} vs ${fast.ms} ms)`);

    const traffic = load(aloft.url, key, 8);
    // The count of requests sent, every 20 ms, to know what was sent in any window.
    const sentAt: { at: number; sent: number }[] = [];
    const sampler = setInterval(() => sentAt.push({ at: Date.now(), sent: traffic.tally.sent }), 20);
    const sentBy = (at: number) => sentAt.findLast((s) => s.at <= at)?.sent ?? 0;
    try {
      await until('some v1 answers', 30_000, () => (count(traffic.tally, '1') > 200 ? true : undefined));
      const t0 = Date.now();
      const sent0 = traffic.tally.sent;
      const answered2Before = count(traffic.tally, '2');
      assert.equal(answered2Before, 0);
      assert.equal((await admin.apply({ spec: spec('slow.onnx', CANARY), file: 'aloft.yaml', base: 1 })).revision, 2);
      const two = await outcome(admin, 2);
      const seenAfter = Date.now() - t0;
      const ro = (await rollout(admin))!;
      const history = ro.verdicts.filter((v) => v.action !== 'hold' || v.latency.verdict !== 'inconclusive').map((v) => `step ${v.step + 1} ${v.action}: latency ${v.latency.verdict} (${v.latency.reason})`).join('\n');
      assert.equal(two.outcome, 'rolled_back', `revision 2: ${two.outcome}: ${two.reason ?? ''}\n${history}`);
      assert.match(two.reason ?? '', /canary rolled back at step 1 \(10%\): answers slower than the baseline's p99 \([0-9.]+ ms\): the candidate is worse by more than 5\.00%/, history);
      assert.equal(ro.state, 'rolled_back');
      const decided = ro.verdicts.findLast((v) => v.action === 'rollback')!;
      assert.equal(decided.step, 0);
      assert.equal(decided.weight, 10);
      assert.equal(decided.latency.verdict, 'fail');
      const stepAt = Date.parse(ro.stepStartedAt!);
      const rolledAt = Date.parse(decided.at);
      // Let the requests in flight at the rollback finish, then count.
      await sleep(500);
      const sentApplyToRollback = sentBy(rolledAt) - sent0;
      const sentInStep = sentBy(rolledAt) - sentBy(stepAt);
      const reached = count(traffic.tally, '2');
      const ms1 = median(traffic.tally.ms.get('1') ?? []);
      const ms2 = median(traffic.tally.ms.get('2') ?? []);
      t.diagnostic(`slow canary: warm ${stepAt - t0} ms after apply, rolled back ${rolledAt - t0} ms after apply (${rolledAt - stepAt} ms into step 1; outcome seen at ${seenAfter} ms)`);
      t.diagnostic(`slow canary: ${reached} requests reached v2; sent between apply and rollback ${sentApplyToRollback} (10% = ${Math.round(sentApplyToRollback * 0.1)}), during step 1 ${sentInStep} (10% = ${Math.round(sentInStep * 0.1)})`);
      t.diagnostic(`slow canary: revision 2 ${two.reason}`);
      t.diagnostic(`slow canary: end-to-end median under load v1 ${ms1.toFixed(2)} ms, v2 ${ms2.toFixed(2)} ms (${(ms2 / ms1).toFixed(1)}×); ${decided.latency.reason}`);
      assert.ok(reached >= 100, `the analysis waited for minSamples (${reached} reached v2)`);
      assert.ok(reached <= Math.max(300, sentInStep * 0.15), `${reached} reached the slow version, of ${sentInStep} sent during its step`);

      // After the rollback, every answer is from v1.
      const mark = { v1: count(traffic.tally, '1'), v2: count(traffic.tally, '2') };
      await sleep(1500);
      assert.equal(count(traffic.tally, '2'), mark.v2, 'nothing reaches the rolled-back version any more');
      assert.ok(count(traffic.tally, '1') > mark.v1 + 100, 'v1 serves on');
      assert.equal((await admin.status()).current?.number, 1, 'revision 1 still runs');
      assert.equal(traffic.tally.failed, 0, `no request failed: ${traffic.tally.errors.join('; ')}`);
      t.diagnostic(`slow canary: ${traffic.tally.sent} requests in all, ${traffic.tally.failed} failed; v1 ${count(traffic.tally, '1')}, v2 ${count(traffic.tally, '2')}`);
    } finally {
      clearInterval(sampler);
      await traffic.stop();
    }
  });
});

// ── 2. webhook gates ─────────────────────────────────────────────────────────────────────

/** What the gate receiver does with a call: answer (after a delay), or never answer. */
type Script = { status: number; body?: string; delayMs?: number } | 'silent';

interface Receiver { url: string; calls: { at: number; body: Record<string, unknown> }[]; close: () => Promise<void> }

/** A webhook receiver on 127.0.0.1: records each POST's JSON body and answers per `script`, in order (500 past its end). */
async function receiver(script: Script[]): Promise<Receiver> {
  const calls: Receiver['calls'] = [];
  const held: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown>;
      try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>; } catch { body = { unparsable: true }; }
      const step = script[calls.length] ?? { status: 500, body: 'unscripted call' };
      calls.push({ at: Date.now(), body: { method: req.method, path: req.url, token: req.headers['x-gate-token'], ...body } });
      if (step === 'silent') { held.push(res); return; }
      setTimeout(() => res.writeHead(step.status, { 'content-type': 'text/plain' }).end(step.body ?? ''), step.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/gate`, calls,
    close: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

test('webhook gates: a 2xx lets the canary go on, a refusal rolls it back, with the call recorded', { timeout: 150_000 }, async (t) => {
  const gate = await receiver([{ status: 200, body: 'ok', delayMs: 400 }, { status: 422, body: 'accuracy too low' }, 'silent']);
  const gated = (timeout?: string) => `{ strategy: canary, steps: [50, 100], interval: 2s, analysis: { minSamples: 50, onInconclusive: promote }, webhooks: [{ url: "${gate.url}", before: promotion, headers: { x-gate-token: t0k3n }${timeout ? `, timeout: ${timeout}` : ''} }] }`;
  try {
    await withAloft('aloft-gates-hook-', { 'a.onnx': creditModel(1), 'b.onnx': creditModel(2), 'c.onnx': creditModel(3), 'd.onnx': creditModel(4) }, spec('a.onnx', gated()), async (aloft, admin, key) => {
      const traffic = load(aloft.url, key, 2);
      try {
        // (a) The receiver answers 200 (after 400 ms): promoted, one call, before promotion.
        const t0 = Date.now();
        await admin.apply({ spec: spec('b.onnx', gated()), file: 'aloft.yaml', base: 1 });
        const waiting = await until('the rollout to wait for the webhook gate', 60_000, async () => (await rollout(admin))?.waitingFor, 20);
        assert.equal(waiting, `webhook gate ${gate.url}`);
        const held = (await rollout(admin))!;
        assert.equal((await admin.revision(2)).outcome, 'applying', 'the promotion holds while the gate has not answered');
        assert.equal(held.state, 'progressing');
        assert.equal(held.weight, 50);
        const two = await outcome(admin, 2);
        assert.equal(two.outcome, 'applied', `revision 2: ${two.outcome}: ${two.reason ?? ''}`);
        t.diagnostic(`webhook 200: promoted ${Date.now() - t0} ms after apply; receiver calls ${gate.calls.length}; waitingFor seen: '${waiting}'`);
        assert.equal(gate.calls.length, 1, 'exactly one call, before promotion');
        const call = gate.calls[0]!.body as { method: string; path: string; deployment: string; strategy: string; before: string; baseline: { version: number; group: string }; candidate: { version: number; group: string }; step: number; weight: number; next: number; state: string; analysis: { failures: { verdict: string; reason: string }; latency: object; latencyP50: object; outputShift: object } };
        t.diagnostic(`webhook body: ${JSON.stringify({ ...call, analysis: { failures: call.analysis.failures.reason } })}`);
        assert.equal(call.method, 'POST');
        assert.equal((call as { token?: string }).token, 't0k3n', 'the gate\'s headers are sent');
        assert.equal(call.path, '/gate');
        assert.equal(call.deployment, DEPLOYMENT);
        assert.equal(call.strategy, 'canary');
        assert.equal(call.before, 'promotion');
        assert.equal(call.baseline.version, 1);
        assert.equal(call.candidate.version, 2);
        assert.match(call.candidate.group, /^credit-risk@2\./);
        assert.equal(call.step, 0, 'the index in steps, as rollout status gives it');
        assert.equal(call.weight, 50);
        assert.equal(call.next, 100);
        assert.equal(call.state, 'progressing');
        assert.equal(typeof call.analysis.failures, 'object');
        assert.ok(['pass', 'fail', 'inconclusive'].includes(call.analysis.failures.verdict));
        for (const k of ['latency', 'latencyP50', 'outputShift'] as const) assert.equal(typeof call.analysis[k], 'object', k);
        const promoted = (await rollout(admin))!;
        assert.equal(promoted.state, 'promoted');
        assert.equal(promoted.waitingFor, undefined);
        const hooks = promoted.verdicts.filter((v) => v.webhook);
        assert.equal(hooks.length, 1);
        assert.deepEqual({ ...hooks[0]!.webhook!, ms: 0 }, { url: gate.url, before: 'promotion', verdict: 'pass', status: 200, ms: 0, detail: 'ok' });
        assert.ok(hooks[0]!.webhook!.ms >= 350, `the call took the receiver's 400 ms (${hooks[0]!.webhook!.ms} ms)`);
        assert.equal(await versionFor(aloft.url, key), '2');

        // (b) The receiver answers 422 'accuracy too low': rolled back, v2 serves on.
        await admin.apply({ spec: spec('c.onnx', gated()), file: 'aloft.yaml', base: 2 });
        const three = await outcome(admin, 3);
        t.diagnostic(`webhook 422: revision 3 ${three.outcome}: ${three.reason}`);
        assert.equal(three.outcome, 'rolled_back');
        assert.match(three.reason ?? '', /canary rolled back at step 1 \(50%\): webhook gate http:\/\/127\.0\.0\.1:\d+\/gate answered 422: accuracy too low/);
        assert.equal(gate.calls.length, 2);
        assert.equal((gate.calls[1]!.body as { candidate: { version: number } }).candidate.version, 3);
        const refused = (await rollout(admin))!;
        assert.equal(refused.state, 'rolled_back');
        assert.deepEqual(refused.verdicts.filter((v) => v.webhook).map((v) => ({ ...v.webhook!, ms: 0 })), [{ url: gate.url, before: 'promotion', verdict: 'fail', status: 422, ms: 0, detail: 'answered 422: accuracy too low' }]);
        assert.equal((await admin.status()).current?.number, 2, 'revision 2 still runs');
        const mark = { v2: count(traffic.tally, '2'), v3: count(traffic.tally, '3') };
        await sleep(800);
        assert.ok(count(traffic.tally, '2') > mark.v2, 'v2 serves on');
        assert.equal(count(traffic.tally, '3'), mark.v3, 'nothing reaches v3 any more');
        assert.equal(await versionFor(aloft.url, key), '2');

        // (c) The receiver does not answer within 500 ms: rolled back.
        const t2 = Date.now();
        await admin.apply({ spec: spec('d.onnx', gated('500ms')), file: 'aloft.yaml', base: 3 });
        const silentWait = await until('the rollout to wait for the silent gate', 60_000, async () => (await rollout(admin))?.waitingFor, 20);
        assert.equal(silentWait, `webhook gate ${gate.url}`);
        const four = await outcome(admin, 4);
        t.diagnostic(`webhook silent: revision 4 ${four.outcome} ${Date.now() - t2} ms after apply: ${four.reason}`);
        assert.equal(four.outcome, 'rolled_back');
        assert.match(four.reason ?? '', /webhook gate http:\/\/127\.0\.0\.1:\d+\/gate did not answer within 500 ms/);
        const silent = (await rollout(admin))!.verdicts.filter((v) => v.webhook).map((v) => v.webhook!);
        assert.equal(silent.length, 1);
        assert.equal(silent[0]!.verdict, 'fail');
        assert.equal(silent[0]!.status, undefined);
        assert.ok(silent[0]!.ms >= 450 && silent[0]!.ms < 5000, `${silent[0]!.ms} ms`);
        assert.equal(gate.calls.length, 3);
        assert.equal(await versionFor(aloft.url, key), '2');
        assert.equal(traffic.tally.failed, 0, `no request failed: ${traffic.tally.errors.join('; ')}`);
        t.diagnostic(`webhook gates: ${traffic.tally.sent} requests under 2 connections, ${traffic.tally.failed} failed; by version ${JSON.stringify(Object.fromEntries(traffic.tally.byVersion))}`);
      } finally {
        await traffic.stop();
      }
    });
  } finally {
    await gate.close();
  }
});

// ── 3. A/B by header ─────────────────────────────────────────────────────────────────────

test('A/B by header: one user always meets one variant', { timeout: 120_000 }, async (t) => {
  const ab = '{ strategy: abTest, split: 50, stickyHeader: x-user-id }';
  await withAloft('aloft-gates-ab-', { 'a.onnx': creditModel(1), 'b.onnx': creditModel(2) }, spec('a.onnx', ab), async (aloft, admin, key) => {
    await admin.apply({ spec: spec('b.onnx', ab), file: 'aloft.yaml', base: 1 });
    await untilState(admin, 'testing');
    const USERS = 200;
    const seen = new Map<string, string[]>();
    const pool = new Pool(aloft.url, { connections: 8 });
    try {
      let next = 0;
      const worker = async () => {
        for (let u = next++; u < USERS; u = next++) {
          const id = `user-${u}`;
          for (let n = 0; n < 5; n++) {
            const r = await pool.request({ method: 'POST', path: `/v2/models/${DEPLOYMENT}/infer`, headers: { ...bearer(key), 'content-type': 'application/json', 'x-user-id': id }, body: BODY });
            const text = await r.body.text();
            assert.equal(r.statusCode, 200, text);
            seen.set(id, [...(seen.get(id) ?? []), (JSON.parse(text) as { model_version: string }).model_version]);
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
    } finally {
      await pool.close();
    }
    assert.equal(seen.size, USERS);
    const mixed = [...seen].filter(([, vs]) => new Set(vs).size !== 1);
    assert.deepEqual(mixed, [], 'each user id always got the same model_version');
    const users2 = [...seen.values()].filter((vs) => vs[0] === '2').length;
    const share2 = users2 / USERS;
    t.diagnostic(`A/B by x-user-id, split 50: ${USERS} users × 5 requests, one key: ${USERS - users2} users on v1 (${((1 - share2) * 100).toFixed(1)}%), ${users2} on v2 (${(share2 * 100).toFixed(1)}%); users who met both: ${mixed.length}`);
    assert.ok(share2 >= 0.35 && share2 <= 0.65, `v2's share of the users ${share2}`);
    assert.ok([...seen.values()].every((vs) => vs.every((v) => v === '1' || v === '2')));
    // Without the header the caller's key decides: one variant for all its requests.
    const byKey = new Set(await Promise.all(Array.from({ length: 10 }, () => versionFor(aloft.url, key))));
    assert.equal(byKey.size, 1, `without x-user-id the key meets one variant: ${[...byKey]}`);

    const aborted = await admin.rolloutCommand(DEPLOYMENT, 'abort');
    assert.equal(aborted.rollout.state, 'rolled_back');
    const two = await outcome(admin, 2);
    assert.equal(two.outcome, 'rolled_back');
    assert.match(two.reason ?? '', /A\/B test aborted by .+ at testing/);
    const onV2 = [...seen].filter(([, vs]) => vs[0] === '2').slice(0, 10).map(([id]) => id);
    const after = await Promise.all(onV2.map((id) => versionFor(aloft.url, key, { 'x-user-id': id })));
    assert.deepEqual(after, onV2.map(() => '1'), 'after abort the users who met v2 meet v1');
  });
});

// ── 4. blue-green preview key ────────────────────────────────────────────────────────────

test('blue-green preview key: during bake the ci-smoke key meets the new version, every other caller the old one', { timeout: 120_000 }, async (t) => {
  const bg = '{ strategy: blueGreen, bake: 60s, previewKeys: [ci-smoke] }';
  await withAloft('aloft-gates-bg-', { 'a.onnx': creditModel(1), 'b.onnx': creditModel(2) }, spec('a.onnx', bg), async (aloft, admin, key) => {
    const smoke = await admin.createKey({ name: 'ci-smoke', role: 'predictor' });
    assert.equal(smoke.name, 'ci-smoke');
    assert.equal(smoke.role, 'predictor');
    const other = await admin.createKey({ name: 'app', role: 'predictor' });
    // Before the rollout both keys meet v1.
    assert.equal(await versionFor(aloft.url, smoke.key), '1');
    await admin.apply({ spec: spec('b.onnx', bg), file: 'aloft.yaml', base: 1 });
    const baking = await untilState(admin, 'baking');
    assert.ok((baking.timeLeft?.min ?? 0) > 30_000, `the bake has most of its 60 s left (${baking.timeLeft?.min} ms)`);
    const asSmoke = await Promise.all(Array.from({ length: 20 }, () => versionFor(aloft.url, smoke.key)));
    const asOther = await Promise.all(Array.from({ length: 20 }, () => versionFor(aloft.url, other.key)));
    const asAdmin = await Promise.all(Array.from({ length: 20 }, () => versionFor(aloft.url, key)));
    const named = await versionFor(aloft.url, other.key, {}, `/v2/models/${DEPLOYMENT}/versions/2/infer`);
    const tallyOf = (vs: string[]) => JSON.stringify(Object.fromEntries([...new Set(vs)].map((v) => [v, vs.filter((x) => x === v).length])));
    t.diagnostic(`blue-green bake: ci-smoke key ${tallyOf(asSmoke)}, app key ${tallyOf(asOther)}, admin key ${tallyOf(asAdmin)}; versions/2 with the app key → v${named}`);
    assert.deepEqual(asSmoke, asSmoke.map(() => '2'), 'the preview key meets the new version');
    assert.deepEqual(asOther, asOther.map(() => '1'), 'another key meets the old one');
    assert.deepEqual(asAdmin, asAdmin.map(() => '1'));
    assert.equal(named, '2', 'a request naming the new version reaches it');
    assert.equal((await rollout(admin))?.state, 'baking', 'still baking');

    const aborted = await admin.rolloutCommand(DEPLOYMENT, 'abort');
    assert.equal(aborted.rollout.state, 'rolled_back');
    const two = await outcome(admin, 2);
    assert.equal(two.outcome, 'rolled_back');
    assert.match(two.reason ?? '', /blue-green aborted by .+ at baking/);
    assert.equal(await versionFor(aloft.url, smoke.key), '1', 'after abort the preview key meets v1 again');
    assert.equal(await versionFor(aloft.url, other.key), '1');
  });
});
