/**
 * Shadow rollouts with real replica processes under a closed-loop load of 8 connections.
 *
 * The models are two-class scorers built for the purpose: one dense layer 22 → 2 whose
 * first score is x[0] and whose second is a constant c, so the predicted class is 0 iff
 * x[0] ≥ c. v1 has c = 0; a "disagreeing" candidate has c = 0.3, so with x[0] uniform in
 * [-1, 1) the two disagree exactly on the inputs with 0 ≤ x[0] < 0.3 (15% of them; the test
 * counts the exact share among the inputs it sent); an "agreeing" candidate has c = 0 under
 * another graph name (other bytes, another version, the same answers).
 *
 * 1. Manual shadow: the old version answers every request, the new one gets a copy of each,
 *    the agreement it reports is the one the sent inputs predict, and promote switches.
 * 2. With `shadow.agreement`: the agreeing candidate is promoted by itself, the disagreeing
 *    one is rolled back by itself, and no caller ever sees either candidate's answer
 *    before its promotion.
 * 3. Bad input: an out-of-range sample is refused and changes nothing; promote without a
 *    rollout is ALOFT_NO_ROLLOUT (409).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Pool } from 'undici';
import { startAloft, type RunningAloft } from '../../src/aloft.js';
import { AdminClient } from '../../src/api/client.js';
import type { RevisionDetail, RolloutStatus } from '../../src/api/types.js';
import { ERRORS } from '../../src/errors.js';
import { mlp } from '../../src/onnx/mlp.js';
import { bearer, newAdminKey } from '../helpers/auth.js';
import { FEATURES, featuresInput } from '../helpers/credit-risk.js';
import { random } from '../helpers/models.js';
import { until } from '../helpers/poll.js';

const CONNECTIONS = 8;
/** Requests one load sends at most, whatever happens. */
const MAX_REQUESTS = 200_000;
const DEPLOYMENT = 'credit-risk';
/** The disagreeing candidates' threshold. */
const C_DISAGREE = 0.3;

/**
 * The default gates: a shadow gates on errors (and outputShift when listed) but only
 * reports its copies' latency, since copies are sent open-loop and timed from their
 * sending (an identical candidate measured that way looked slower than the callers' p99
 * in about one run in three).
 */
const MANUAL = '    rollout: { strategy: shadow, shadow: { sample: 1 } }';
const AUTO = '    rollout: { strategy: shadow, interval: 2s, shadow: { agreement: 0.95 }, analysis: { minSamples: 200 } }';

const spec = (file: string, rollout: string) => [
  'models:', `  ${DEPLOYMENT}:`, `    path: ./${file}`,
  'deployments:', `  ${DEPLOYMENT}:`, `    model: ${DEPLOYMENT}`, '    replicas: 1', '    runtime: { isolation: process }', rollout, '',
].join('\n');

/** 22 → 2, no activation: scores [x[0], c]; class 0 iff x[0] ≥ c (argmax keeps the first of equals). */
function scoreModel(c: number, name: string): Uint8Array {
  const weights = new Float32Array(FEATURES * 2); // row-major [in, out]
  weights[0] = 1; // x[0] → score 0; every weight of score 1 is 0
  return mlp([{ in: FEATURES, out: 2, weights, bias: Float32Array.of(0, c) }], { inputName: 'features', outputName: 'scores', activation: 'none', name });
}

/** The class a model with threshold c predicts for x[0] = x, in the model's own FP32 arithmetic. */
const predicted = (x: number, c: number) => (Math.fround(x) >= Math.fround(c) ? 0 : 1);

interface Answer { x0: number; version: string; sentAt: number; doneAt: number }
interface Tally { sent: number; failed: number; failures: string[]; answers: Answer[]; byVersion: Map<string, number>; wrong: string[] }

/**
 * Closed-loop load: 8 loops, one request at a time each, until stopped or MAX_REQUESTS.
 * Every request carries x[0] from one seeded sequence (the other features 0); every answer
 * is kept in the order it arrived, with its x[0], and checked against the version that
 * claims it (score 0 must be x[0], score 1 that version's c).
 */
function load(url: string, key: string, seed: number, thresholds: Record<string, number>) {
  const pool = new Pool(url, { connections: CONNECTIONS });
  const draw = random(seed);
  const tally: Tally = { sent: 0, failed: 0, failures: [], answers: [], byVersion: new Map(), wrong: [] };
  let stopped = false;
  const headers = { ...bearer(key), 'content-type': 'application/json' };
  const loop = async () => {
    while (!stopped && tally.sent < MAX_REQUESTS) {
      tally.sent++;
      const x0 = draw() * 2 - 1;
      const data = new Array<number>(FEATURES).fill(0);
      data[0] = x0;
      const sentAt = Date.now();
      try {
        const r = await pool.request({ method: 'POST', path: `/v2/models/${DEPLOYMENT}/infer`, headers, body: JSON.stringify({ inputs: [featuresInput({ data })] }) });
        const text = await r.body.text();
        if (r.statusCode !== 200) {
          tally.failed++;
          if (tally.failures.length < 5) tally.failures.push(`${r.statusCode}: ${text.slice(0, 200)}`);
          continue;
        }
        const a = JSON.parse(text) as { model_version: string; outputs: { name: string; data: number[] }[] };
        const v = a.model_version;
        tally.byVersion.set(v, (tally.byVersion.get(v) ?? 0) + 1);
        tally.answers.push({ x0, version: v, sentAt, doneAt: Date.now() });
        const out = a.outputs[0]!;
        const c = thresholds[v];
        if (out.name !== 'scores' || out.data[0] !== Math.fround(x0) || c === undefined || out.data[1] !== Math.fround(c)) {
          if (tally.wrong.length < 5) tally.wrong.push(`x0 ${x0} answered by v${v}: ${JSON.stringify(a.outputs)}`);
        }
      } catch (err) {
        tally.failed++;
        if (tally.failures.length < 5) tally.failures.push(String(err));
      }
    }
  };
  const loops = Array.from({ length: CONNECTIONS }, loop);
  return { tally, stop: async () => { stopped = true; await Promise.all(loops); await pool.close(); } };
}

function outcome(admin: AdminClient, n: number, ms = 90_000): Promise<RevisionDetail> {
  return until(`revision ${n}'s outcome`, ms, async () => {
    const r = await admin.revision(n);
    return r.outcome === 'applying' ? undefined : r;
  }, 50);
}

const rolloutOf = async (admin: AdminClient): Promise<RolloutStatus | undefined> => (await admin.rollouts()).rollouts.find((r) => r.deployment === DEPLOYMENT);

async function metricsText(url: string, key: string): Promise<string> {
  const r = await fetch(`${url}/metrics`, { headers: bearer(key) });
  assert.equal(r.status, 200);
  return r.text();
}

/** A counter's value in /metrics text, or undefined when the series is absent. */
function series(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(2)}%`);

async function started(dir: string, file: string, rollout: string): Promise<{ aloft: RunningAloft; admin: AdminClient; key: string }> {
  await writeFile(join(dir, 'aloft.yaml'), spec(file, rollout));
  const key = newAdminKey();
  const aloft = await startAloft({ spec: join(dir, 'aloft.yaml'), port: 0, host: '127.0.0.1', adminKey: key, databaseUrl: `sqlite:${join(dir, '.aloft', 'aloft.db')}` });
  await aloft.waitReady(60_000);
  return { aloft, admin: new AdminClient({ url: aloft.url, key }), key };
}

test('shadow: the old version answers every request while the new one gets copies; a candidate that disagrees on a known share of inputs is reported within ±2 points of it; promote by hand switches', { timeout: 150_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-shadow-'));
  let aloft: RunningAloft | undefined;
  let traffic: ReturnType<typeof load> | undefined;
  try {
    const v1 = scoreModel(0, 'score-v1');
    const v2 = scoreModel(C_DISAGREE, 'score-v2-disagree');
    await writeFile(join(dir, 'v1.onnx'), v1);
    await writeFile(join(dir, 'v2.onnx'), v2);
    const up = await started(dir, 'v1.onnx', MANUAL);
    aloft = up.aloft;
    const { admin, key } = up;
    const thresholds = { 1: 0, 2: C_DISAGREE };
    traffic = load(aloft.url, key, 1301, thresholds);

    // Shadowing: v1 answers everything; v2 gets a copy of every answered request.
    const t0 = Date.now();
    const applied = await admin.apply({ spec: spec('v2.onnx', MANUAL), file: 'aloft.yaml', base: 1 });
    assert.equal(applied.revision, 2);
    const shadowing = await until('shadowing', 60_000, async () => {
      const r = await rolloutOf(admin);
      assert.notEqual(r?.state, 'rolled_back', r?.reason);
      return r?.state === 'shadowing' ? r : undefined;
    }, 50);
    const shadowingAfter = Date.now() - t0;
    assert.equal(shadowing.strategy, 'shadow');
    assert.equal(shadowing.shadow?.sample, 1);
    assert.equal(shadowing.shadow?.target, undefined, 'no agreement target: promotion by hand');
    const busy = await until('2000 compared copies', 60_000, async () => {
      const r = await rolloutOf(admin);
      return r?.shadow && r.shadow.compared >= 2000 ? r : undefined;
    }, 50);
    const comparedAfter = Date.now() - t0;
    const live = busy.shadow!;
    // Copies under way at that instant: at most the queue (64 by default).
    const inflight = live.copies - live.compared - live.failed;
    assert.ok(inflight >= 0 && inflight <= 64, `copies ${live.copies} = compared ${live.compared} + failed ${live.failed} + in flight ${inflight}`);
    assert.equal(busy.state, 'shadowing', 'without an agreement target it waits for a person');
    const metricsLive = await metricsText(aloft.url, key);
    assert.match(metricsLive, /aloft_rollout_state\{deployment="credit-risk",strategy="shadow",state="shadowing",candidate="2"\} 1/);
    await traffic.stop();
    const phase1 = traffic.tally;
    traffic = undefined;

    // Settled: every copy answered and counted. /metrics reads the counters live; the
    // rollout status takes them at each reconciler pass (every 50 ms while shadowing).
    const copies = (text: string, version: number, outcome: string) => series(text, 'aloft_shadow_copies_total', `deployment="credit-risk",version="${version}",outcome="${outcome}"`);
    const final = await until('the copies to settle', 30_000, async () => {
      const text = await metricsText(aloft!.url, key);
      const sent = copies(text, 2, 'sent');
      const inflightNow = series(text, 'aloft_shadow_inflight', 'deployment="credit-risk",version="2"');
      return sent !== undefined && inflightNow === 0 && sent === copies(text, 2, 'compared')! + copies(text, 2, 'failed')! ? text : undefined;
    }, 100);
    const sh = await until('the rollout status to catch up with the counters', 10_000, async () => {
      const s = (await rolloutOf(admin))?.shadow;
      return s && s.copies === copies(final, 2, 'sent') && s.compared === copies(final, 2, 'compared') && s.agreed === copies(final, 2, 'agreed')
        && s.failed === copies(final, 2, 'failed') && s.dropped === copies(final, 2, 'dropped') ? s : undefined;
    }, 50);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual((await rolloutOf(admin))?.shadow, sh, 'nothing moves once the load has stopped');
    assert.equal(phase1.failed, 0, `failed requests: ${phase1.failures.join('; ')}`);
    assert.deepEqual(phase1.wrong, [], 'every answer is the answering version\'s own');
    assert.deepEqual([...phase1.byVersion.keys()], ['1'], 'v1 answered every request while v2 warmed and shadowed');

    // The copied requests are the last ones answered (sample 1: every answer since the
    // shadow route was in place, unless dropped); pair them with their inputs.
    const sampled = sh.copies + sh.dropped;
    assert.ok(sampled <= phase1.answers.length, `${sampled} copies of ${phase1.answers.length} answers`);
    const copied = phase1.answers.slice(-sampled);
    const disagreeing = copied.filter((a) => predicted(a.x0, 0) !== predicted(a.x0, C_DISAGREE)).length;
    const expected = 1 - disagreeing / copied.length;
    const reported = sh.agreement!;
    t.diagnostic(`manual shadow: shadowing ${shadowingAfter} ms after apply, ${live.compared} compared ${comparedAfter} ms after; ${phase1.sent} requests sent, all answered by v1; copies ${sh.copies} sent, ${sh.compared} compared, ${sh.dropped} dropped, ${sh.failed} failed (in flight at the 2000 mark: ${inflight}); agreement reported ${pct(reported)} (${sh.agreed}/${sh.compared}), expected from the inputs ${pct(expected)} (${copied.length - disagreeing}/${copied.length}), theory 85.00%; disagreeing copies reported ${sh.compared - sh.agreed}, expected ${disagreeing}; mean |Δ| ${sh.meanAbsDiff?.toPrecision(3)}`);
    assert.ok(sh.compared >= 2000);
    assert.ok(Math.abs(reported - expected) <= 0.02, `agreement ${pct(reported)}, expected ${pct(expected)}`);
    assert.ok(Math.abs(reported - 0.85) <= 0.03, `agreement ${pct(reported)}, theory 85%`);
    if (sh.dropped === 0 && sh.failed === 0) {
      // Only requests in flight as the route changed can be on one side and not the other.
      assert.ok(Math.abs(sh.compared - sh.agreed - disagreeing) <= 2 * CONNECTIONS, `disagreeing copies: ${sh.compared - sh.agreed} reported, ${disagreeing} expected`);
    }
    // The mean absolute difference of [x, 0] and [x, 0.3]: 0.3 / 2 per answer.
    assert.ok(Math.abs(sh.meanAbsDiff! - C_DISAGREE / 2) < 1e-3, `mean |Δ| ${sh.meanAbsDiff}`);

    const metrics = await metricsText(aloft.url, key);
    assert.ok(metrics.includes('aloft_shadow_copies_total{deployment="credit-risk",version="2",outcome="compared"} '), 'the compared series');
    const m = (outcome: string) => copies(metrics, 2, outcome);
    assert.equal(m('compared'), sh.compared, 'aloft_shadow_copies_total{…,outcome="compared"}');
    assert.equal(m('agreed'), sh.agreed);
    assert.equal(m('sent'), sh.copies);
    assert.equal(m('dropped'), sh.dropped);
    assert.equal(m('failed'), sh.failed);
    assert.equal(series(metrics, 'aloft_shadow_inflight', 'deployment="credit-risk",version="2"'), 0);
    assert.equal(copies(metrics, 1, 'sent'), undefined, 'the version that answers is not shadowed');

    // Promote by hand under load: the answers move to v2 with no failed request.
    traffic = load(aloft.url, key, 1302, thresholds);
    await until('answers in the second load', 30_000, () => (traffic!.tally.answers.length >= 200 ? true : undefined));
    const t1 = Date.now();
    const promoted = await admin.rolloutCommand(DEPLOYMENT, 'promote');
    assert.equal(promoted.rollout.state, 'promoted');
    const two = await outcome(admin, 2);
    const appliedAt = Date.now();
    assert.equal(two.outcome, 'applied', `revision 2: ${two.outcome}: ${two.reason ?? ''}`);
    await until('answers sent after the promotion', 30_000, () => (traffic!.tally.answers.filter((a) => a.sentAt > appliedAt).length >= 200 ? true : undefined));
    await traffic.stop();
    const phase2 = traffic.tally;
    traffic = undefined;
    const after = phase2.answers.filter((a) => a.sentAt > appliedAt);
    const byVersion = Object.fromEntries(phase2.byVersion);
    t.diagnostic(`manual shadow: promote → applied in ${appliedAt - t1} ms; ${phase2.sent} requests in the second load, answered by ${JSON.stringify(byVersion)}, ${after.length} sent after the outcome, ${phase2.failed} failed`);
    assert.equal(phase2.failed, 0, `failed requests: ${phase2.failures.join('; ')}`);
    assert.deepEqual(phase2.wrong, []);
    assert.ok(after.every((a) => a.version === '2'), `answers after the promotion: ${[...new Set(after.map((a) => a.version))].join(',')}`);
    const served = (await admin.status()).deployments.find((d) => d.name === DEPLOYMENT);
    assert.equal(served?.routed, served?.group);
    assert.match(served?.group ?? '', /^credit-risk@2\./);
    const actions = (await admin.audit(new URLSearchParams({ action: 'rollout.*' }))).entries.map((e) => e.action);
    assert.ok(actions.includes('rollout.promoted'), `audit: ${actions.join(', ')}`);
    // It is over: a second promote (a retried script, say) is answered as nothing
    // changed, not as an error, and is not audited a second time.
    const again = await admin.send('POST', `/api/v1/rollouts/${DEPLOYMENT}/promote`, '{}', { 'content-type': 'application/json' });
    assert.equal(again.status, 200, again.body.toString());
    const repeat = JSON.parse(again.body.toString()) as { changed: boolean; rollout: { state: string } };
    assert.equal(repeat.changed, false);
    assert.equal(repeat.rollout.state, 'promoted');
    const promotions = (await admin.audit(new URLSearchParams({ action: 'rollout.*' }))).entries.filter((e) => e.action === 'rollout.promoted');
    assert.equal(promotions.length, 1, `rollout.promoted audited ${promotions.length} times`);
  } finally {
    await traffic?.stop();
    await aloft?.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('shadow with an agreement target: an agreeing candidate is promoted automatically, a disagreeing one is rolled back automatically', { timeout: 150_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-shadow-auto-'));
  let aloft: RunningAloft | undefined;
  let traffic: ReturnType<typeof load> | undefined;
  try {
    const files = { 'v1.onnx': scoreModel(0, 'score-v1'), 'v2.onnx': scoreModel(0, 'score-v2-agree'), 'v3.onnx': scoreModel(C_DISAGREE, 'score-v3-disagree') };
    assert.notEqual(Buffer.compare(Buffer.from(files['v1.onnx']), Buffer.from(files['v2.onnx'])), 0, 'the agreeing candidate is another file');
    for (const [f, bytes] of Object.entries(files)) await writeFile(join(dir, f), bytes);
    const up = await started(dir, 'v1.onnx', AUTO);
    aloft = up.aloft;
    const { admin, key } = up;
    traffic = load(aloft.url, key, 2301, { 1: 0, 2: 0, 3: C_DISAGREE });
    await until('first answers', 30_000, () => (traffic!.tally.answers.length >= 100 ? true : undefined));

    // 1. The agreeing candidate: promoted by itself once the interval has passed and the agreement is surely ≥ 95%.
    const t0 = Date.now();
    assert.equal((await admin.apply({ spec: spec('v2.onnx', AUTO), file: 'aloft.yaml', base: 1 })).revision, 2);
    const two = await outcome(admin, 2);
    const promotedAfter = Date.now() - t0;
    assert.equal(two.outcome, 'applied', `revision 2: ${two.outcome}: ${two.reason ?? ''}`);
    const good = (await rolloutOf(admin))!;
    assert.equal(good.state, 'promoted', good.reason);
    assert.equal(good.strategy, 'shadow');
    const goodShadow = good.shadow!;
    assert.equal(goodShadow.target, 0.95);
    assert.ok(goodShadow.compared >= 200, `compared ${goodShadow.compared}`);
    assert.equal(goodShadow.agreed, goodShadow.compared, 'the same answers agree on every copy');
    const decided = good.verdicts.at(-1)!;
    assert.equal(decided.action, 'promote');
    assert.equal(decided.agreement?.verdict, 'pass');
    assert.ok(promotedAfter >= 2000, 'not before the interval');
    const promoteAt = Date.parse(decided.at);
    const beforePromotion = traffic.tally.answers.filter((a) => a.doneAt < promoteAt);
    assert.ok(beforePromotion.length > 0 && beforePromotion.every((a) => a.version === '1'), 'v1 answered every request until the promotion');
    const appliedAt = Date.now();
    await until('answers from v2', 30_000, () => (traffic!.tally.answers.filter((a) => a.sentAt > appliedAt).length >= 200 ? true : undefined));
    const afterPromotion = traffic.tally.answers.filter((a) => a.sentAt > appliedAt);
    assert.ok(afterPromotion.every((a) => a.version === '2'), 'v2 answers once promoted');
    t.diagnostic(`agreeing shadow: promoted ${promotedAfter} ms after apply; copies ${goodShadow.copies} sent, ${goodShadow.compared} compared, ${goodShadow.agreed} agreed, ${goodShadow.dropped} dropped, ${goodShadow.failed} failed; agreement ${decided.agreement?.reason}; latency (recorded, not a gate here) ${decided.latency.verdict}: ${decided.latency.reason}`);

    // 2. From there, a disagreeing candidate (15%): rolled back by itself, v2 answers on.
    const beforeBad = traffic.tally.answers.length;
    const t1 = Date.now();
    assert.equal((await admin.apply({ spec: spec('v3.onnx', AUTO), file: 'aloft.yaml', base: 2 })).revision, 3);
    const three = await outcome(admin, 3);
    const rolledBackAfter = Date.now() - t1;
    assert.equal(three.outcome, 'rolled_back', `revision 3: ${three.outcome}: ${three.reason ?? ''}`);
    assert.match(three.reason ?? '', /shadow rolled back: agreement with the baseline below 95\.0%/);
    const bad = (await rolloutOf(admin))!;
    assert.equal(bad.state, 'rolled_back');
    assert.equal(bad.candidate.version, 3);
    assert.equal(bad.baseline.version, 2);
    const badShadow = bad.shadow!;
    assert.ok(badShadow.compared >= 200, `compared ${badShadow.compared}`);
    assert.ok(badShadow.agreement! < 0.95, `agreement ${pct(badShadow.agreement)}`);
    assert.equal(bad.verdicts.at(-1)?.action, 'rollback');
    assert.equal(bad.verdicts.at(-1)?.agreement?.verdict, 'fail');
    assert.equal(bad.verdicts.at(-1)?.failures.verdict === 'fail', false, 'rolled back for its agreement, not its failures');
    const rolledAt = Date.now();
    await until('answers after the rollback', 30_000, () => (traffic!.tally.answers.filter((a) => a.sentAt > rolledAt).length >= 200 ? true : undefined));
    await traffic.stop();
    const tally = traffic.tally;
    traffic = undefined;
    const during = tally.answers.slice(beforeBad);
    const badLast = bad.verdicts.at(-1)!;
    t.diagnostic(`disagreeing shadow: rolled back ${rolledBackAfter} ms after apply; copies ${badShadow.copies} sent, ${badShadow.compared} compared, agreement ${pct(badShadow.agreement)}, ${badShadow.dropped} dropped, ${badShadow.failed} failed; ${during.length} answers meanwhile and after, by ${[...new Set(during.map((a) => a.version))].join(',')}; reason: ${three.reason}; latency (recorded, not a gate here) ${badLast.latency.verdict}: ${badLast.latency.reason}`);
    assert.ok(during.every((a) => a.version === '2'), 'v2 answered every request while v3 shadowed and after');
    assert.equal(tally.byVersion.get('3'), undefined, 'no caller ever got an answer of v3');
    assert.equal(tally.failed, 0, `failed requests: ${tally.failures.join('; ')}`);
    assert.deepEqual(tally.wrong, []);
    assert.equal((await admin.status()).current?.number, 2, 'revision 2 still runs');
    const metrics = await metricsText(aloft.url, key);
    assert.match(metrics, /aloft_rollout_state\{deployment="credit-risk",strategy="shadow",state="rolled_back",candidate="3"\} 1/);
    assert.ok((series(metrics, 'aloft_shadow_copies_total', 'deployment="credit-risk",version="3",outcome="compared"') ?? 0) >= badShadow.compared);
  } finally {
    await traffic?.stop();
    await aloft?.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('shadow, bad input: a sample out of (0, 1] is refused naming the field and changes nothing; promote without a rollout is ALOFT_NO_ROLLOUT (409)', { timeout: 90_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-shadow-bad-'));
  let aloft: RunningAloft | undefined;
  try {
    await writeFile(join(dir, 'v1.onnx'), scoreModel(0, 'score-v1'));
    await writeFile(join(dir, 'v2.onnx'), scoreModel(C_DISAGREE, 'score-v2-disagree'));
    const up = await started(dir, 'v1.onnx', MANUAL);
    aloft = up.aloft;
    const { admin } = up;
    const infer = async () => {
      const r = await admin.infer(DEPLOYMENT, JSON.stringify({ inputs: [featuresInput({ data: new Array<number>(FEATURES).fill(0) })] }));
      assert.equal(r.status, 200, r.body.toString());
      return (JSON.parse(r.body.toString()) as { model_version: string }).model_version;
    };
    assert.equal(await infer(), '1');
    const revisions = (await admin.revisions()).revisions.length;

    // Promote with no rollout: ALOFT_NO_ROLLOUT, which is 409 on the wire (the body is
    // {"error"} as for every error but a spec's; docs/errors.md), through the client too.
    await assert.rejects(admin.rolloutCommand(DEPLOYMENT, 'promote'), /no rollout is running for deployment 'credit-risk'/);
    const promote = await admin.send('POST', `/api/v1/rollouts/${DEPLOYMENT}/promote`, '{}', { 'content-type': 'application/json' });
    assert.equal(promote.status, ERRORS.ALOFT_NO_ROLLOUT.status);
    assert.equal(promote.status, 409);
    assert.match((JSON.parse(promote.body.toString()) as { error: string }).error, /^no rollout is running for deployment 'credit-risk'; a rollout starts when apply moves a deployment whose rollout\.strategy is canary, blueGreen, abTest or shadow/);

    for (const [bad, expect] of [['sample: 1.5', /rollout\.shadow\.sample/], ['sample: 0', /rollout\.shadow\.sample/]] as const) {
      const text = spec('v2.onnx', `    rollout: { strategy: shadow, shadow: { ${bad} } }`);
      await assert.rejects(admin.apply({ spec: text, file: 'aloft.yaml', base: 1 }), expect, bad);
      const raw = await admin.send('POST', '/api/v1/apply', JSON.stringify({ spec: text, file: 'aloft.yaml', base: 1 }), { 'content-type': 'application/json' });
      assert.equal(raw.status, 400, raw.body.toString());
      const body = JSON.parse(raw.body.toString()) as { code: string; error: string; issues?: { path: string; line: number }[] };
      assert.equal(body.code, 'ALOFT_SPEC_INVALID', bad);
      assert.match(body.error, expect);
      t.diagnostic(`${bad}: ${raw.status} ${body.code}: ${body.error}`);
      assert.ok(body.issues?.some((i) => i.path === 'deployments.credit-risk.rollout.shadow.sample' && i.line === 9), JSON.stringify(body.issues));
    }

    // Nothing changed: the same revisions, no rollout, v1 answers.
    assert.equal((await admin.revisions()).revisions.length, revisions);
    assert.equal((await admin.status()).current?.number, 1);
    assert.deepEqual((await admin.rollouts()).rollouts, []);
    assert.equal(await infer(), '1');
  } finally {
    await aloft?.close();
    await rm(dir, { recursive: true, force: true });
  }
});
