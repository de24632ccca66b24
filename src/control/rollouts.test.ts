/**
 * Canary steps and their analysis on a stepped clock, fed like the gateway feeds them
 * (monitor/variants.ts). Nothing sleeps.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../clock.js';
import { AloftError } from '../errors.js';
import { ShadowCounts } from '../monitor/shadow.js';
import { VariantWindows } from '../monitor/variants.js';
import { validateSpecText } from '../spec/load.js';
import { rolloutSchema, sloSchema } from '../spec/schema.js';
import type { RolloutSpec, SloSpec } from '../spec/types.js';
import { Rollouts, type RolloutDecision } from './rollouts.js';

const BASE = { version: 1, group: 'd@1.aaaaaa' };
const CAND = { version: 2, group: 'd@2.bbbbbb' };
const spec = (o: Record<string, unknown> = {}): RolloutSpec => rolloutSchema.parse({ strategy: 'canary', steps: [10, 50, 100], interval: '30s', ...o }) as RolloutSpec;

function world(rollout: RolloutSpec) {
  const clock = new ManualClock(0);
  const windows = new VariantWindows();
  const rollouts = new Rollouts({ clock, windows });
  const generation = {};
  const decide = (ready = true) => rollouts.decide('d', rollout, BASE, CAND, ready, generation);
  /** `rps` requests per second for `seconds`, split by the current weight; the candidate fails `bad` of its answers. */
  const traffic = (seconds: number, rps: number, opts: { bad?: number; candMs?: number } = {}) => {
    let last: RolloutDecision = decide();
    let toCandidate = 0;
    for (let s = 0; s < seconds; s++) {
      const w = last.kind === 'split' ? last.weight : last.kind === 'promoted' ? 100 : 0;
      for (let i = 0; i < rps; i++) {
        const cand = (i * 100) / rps < w;
        if (cand) {
          toCandidate++;
          windows.record('d', 2, 200, opts.candMs ?? 5, (opts.bad ?? 0) > 0 && toCandidate % Math.round(1 / opts.bad!) === 0);
        } else windows.record('d', 1, 200, 5, false);
      }
      clock.advance(1000);
      last = decide();
      if (last.kind === 'promoted' || last.kind === 'rolled_back') break;
    }
    return { last, toCandidate, at: clock.now() };
  };
  return { clock, rollouts, decide, traffic };
}

test('a good candidate goes through every step and is promoted; each step lasts at least its interval', () => {
  const w = world(spec());
  assert.deepEqual(w.decide(false), { kind: 'warming' }, 'nothing moves while the candidate warms up');
  assert.deepEqual(w.decide(true), { kind: 'split', weight: 10 });
  const r = w.traffic(600, 200);
  assert.equal(r.last.kind, 'promoted');
  assert.ok(r.at >= 60_000, `two analysed steps of at least 30 s each (promoted at ${r.at} ms)`);
  const st = w.rollouts.status()[0]!;
  assert.equal(st.state, 'promoted');
  assert.deepEqual(st.verdicts.filter((v) => v.action === 'next').map((v) => v.weight), [10, 50]);
  assert.ok(st.verdicts.filter((v) => v.action === 'next').every((v) => v.failures.verdict === 'pass' && v.latency.verdict === 'pass'));
});

test('a candidate whose outputs are NaN for a quarter of requests is rolled back at its first step; the blast radius is about its weight', () => {
  const w = world(spec());
  w.decide(true);
  const r = w.traffic(600, 200, { bad: 0.25 });
  assert.equal(r.last.kind, 'rolled_back');
  assert.match((r.last as { reason: string }).reason, /canary rolled back at step 1 \(10%\): failures: the candidate is worse/);
  const sent = r.at / 1000 * 200;
  assert.ok(r.toCandidate <= sent * 0.1 + 1, `${r.toCandidate} of ${sent} requests reached the candidate (10% weight)`);
  assert.ok(r.at < 30_000, `rolled back before the step's interval ended (${r.at} ms)`);
});

test('a candidate many times slower is rolled back at its first step', () => {
  const w = world(spec());
  w.decide(true);
  const r = w.traffic(600, 200, { candMs: 40 });
  assert.equal(r.last.kind, 'rolled_back');
  assert.match((r.last as { reason: string }).reason, /slower than the baseline's p99/);
});

test('low traffic: neither promoted nor rolled back on too little data; after maxDuration, wait rolls back', () => {
  const w = world(spec({ analysis: { maxDuration: '5m' } }));
  w.decide(true);
  const early = w.traffic(299, 1);
  assert.deepEqual(early.last, { kind: 'split', weight: 10 }, 'inconclusive: it waits');
  assert.equal(w.rollouts.status()[0]!.verdicts.at(-1)!.failures.verdict, 'inconclusive');
  const late = w.traffic(5, 1);
  assert.equal(late.last.kind, 'rolled_back');
  assert.match((late.last as { reason: string }).reason, /stayed inconclusive for 300 s/);
});

test('low traffic with onInconclusive: promote moves on after each interval; rollback rolls back at once', () => {
  const promote = world(spec({ analysis: { onInconclusive: 'promote' } }));
  promote.decide(true);
  const p = promote.traffic(200, 1);
  assert.equal(p.last.kind, 'promoted');
  assert.ok(p.at >= 60_000 && p.at <= 62_000, `${p.at}`);
  const rollback = world(spec({ analysis: { onInconclusive: 'rollback' } }));
  rollback.decide(true);
  const b = rollback.traffic(200, 1);
  assert.equal(b.last.kind, 'rolled_back');
  assert.ok(b.at >= 30_000 && b.at <= 31_000);
});

test('a new apply of the same candidate starts a new rollout', () => {
  const w = world(spec());
  w.decide(true);
  w.traffic(600, 200, { bad: 0.25 });
  assert.equal(w.rollouts.status()[0]!.state, 'rolled_back');
  const again = w.rollouts.decide('d', spec(), BASE, CAND, true, {});
  assert.deepEqual(again, { kind: 'split', weight: 10 });
});

test('the rollout spec: steps must increase and stay within 1-100; unknown strategies are named, at file:line:col', () => {
  const spec = (rollout: string) => `models:\n  m:\n    path: ./m.onnx\ndeployments:\n  m:\n    rollout: ${rollout}\n`;
  const issues = (rollout: string) => {
    const r = validateSpecText(spec(rollout), 'aloft.yaml');
    return r.ok ? [] : r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`);
  };
  assert.deepEqual(issues('{ strategy: canary, steps: [50, 10] }'), ['6:41 deployments.m.rollout.steps: canary steps must increase, e.g. [10, 50, 100]']);
  assert.match(issues('{ strategy: canary, steps: [10, 150] }').join(), /rollout\.steps\[1\]: a canary step is a percentage of at most 100/);
  assert.match(issues('{ strategy: linear }').join(), /deployments\.m\.rollout\.strategy: unknown rollout strategy "linear"; use one of: replace, canary/);
  assert.deepEqual(issues('{ strategy: canary, steps: [10, 50, 100], interval: 30s }'), [], 'the form of the issue works as written');
  assert.equal(rolloutSchema.parse({}).strategy, 'replace');
});

test('promote, abort, pause and resume act on the running rollout; with none running they say so', () => {
  const w = world(spec({ interval: '10s' }));
  assert.throws(() => w.rollouts.promote('d', 'alice'), /no rollout is running for deployment 'd'/);
  w.decide(false);
  assert.throws(() => w.rollouts.promote('d', 'alice'), /still warming up/);
  w.decide(true);
  w.rollouts.pause('d');
  const held = w.traffic(60, 100);
  assert.deepEqual(held.last, { kind: 'split', weight: 10 }, 'paused: a minute later still at step 1');
  w.rollouts.resume('d');
  const moved = w.traffic(11, 100);
  assert.deepEqual(moved.last, { kind: 'split', weight: 50 }, 'resumed: the interval counts from the resume');
  assert.equal(w.rollouts.promote('d', 'alice').state, 'promoted');
  assert.deepEqual(w.decide(), { kind: 'promoted' });
  assert.throws(() => w.rollouts.abort('d', 'alice'), /its last one, v1 → v2, was promoted\)/);
  assert.equal(w.rollouts.promote('d', 'alice').state, 'promoted', 'a second promote is answered with the rollout as it ended');
  // Then a rollback puts v1 back alone: the promoted rollout is history, and promote says so.
  w.rollouts.serving('d', 2);
  assert.equal(w.rollouts.status()[0]!.superseded, undefined, 'v2, what it promoted, still serves');
  w.clock.advance(5000);
  w.rollouts.serving('d', 1);
  assert.deepEqual(w.rollouts.status()[0]!.superseded, { version: 1, at: w.clock.date().toISOString() });
  assert.throws(() => w.rollouts.promote('d', 'alice'), (e: unknown) => e instanceof AloftError && e.code === 'ALOFT_NO_ROLLOUT' && /its last one, v1 → v2, was promoted; v1 serves since/.test(e.message));

  const b = world(spec());
  b.decide(true);
  const aborted = b.rollouts.abort('d', 'bob');
  assert.equal(aborted.reason, 'canary aborted by bob at step 1 (10%)');
  assert.deepEqual(b.decide(), { kind: 'rolled_back', reason: 'canary aborted by bob at step 1 (10%)' });
});

test('blueGreen: warm, bake on preview requests only, switch at once, keep the old group for keepOld, then promote; abort switches back at once', () => {
  const bg = (o: Record<string, unknown> = {}) => rolloutSchema.parse({ strategy: 'blueGreen', bake: '10s', keepOld: '60s', ...o }) as RolloutSpec;
  const clock = new ManualClock(0);
  const windows = new VariantWindows();
  const rollouts = new Rollouts({ clock, windows });
  const gen = {};
  const decide = () => rollouts.decide('d', bg(), BASE, CAND, true, gen);
  assert.deepEqual(rollouts.decide('d', bg(), BASE, CAND, false, gen), { kind: 'warming' });
  assert.deepEqual(decide(), { kind: 'split', weight: 0, preview: true }, 'baking: the candidate takes only requests that name it');
  clock.advance(9_000);
  assert.deepEqual(decide(), { kind: 'split', weight: 0, preview: true });
  clock.advance(1_000);
  assert.deepEqual(decide(), { kind: 'split', weight: 100, current: 'candidate' }, 'switched at one instant; the old group stays routed at 0');
  assert.equal(rollouts.status()[0]!.state, 'switched');
  clock.advance(59_000);
  assert.deepEqual(decide(), { kind: 'split', weight: 100, current: 'candidate' });
  clock.advance(1_000);
  assert.deepEqual(decide(), { kind: 'promoted' }, 'keepOld over: the old group is released');

  const again = new Rollouts({ clock, windows });
  const g2 = {};
  again.decide('d', bg(), BASE, CAND, true, g2);
  clock.advance(10_000);
  again.decide('d', bg(), BASE, CAND, true, g2);
  assert.equal(again.abort('d', 'carol').reason, 'blue-green aborted by carol at switched');
  assert.deepEqual(again.decide('d', bg(), BASE, CAND, true, g2), { kind: 'rolled_back', reason: 'blue-green aborted by carol at switched' });

  // Preview requests that fail roll it back during the bake.
  const bad = new Rollouts({ clock, windows });
  const g3 = {};
  bad.decide('e', bg(), BASE, CAND, true, g3);
  for (let i = 0; i < 200; i++) windows.record('e', 1, 200, 5, false);
  for (let i = 0; i < 30; i++) windows.record('e', 2, 200, 5, true);
  const r = bad.decide('e', bg(), BASE, CAND, true, g3);
  assert.equal(r.kind, 'rolled_back');
  assert.match((r as { reason: string }).reason, /blue-green rolled back during bake: failures of preview requests/);
});

test('blueGreen keeps judging after the switch: failing live answers switch back at once; preview answers that fail roll back without a baseline; an undecided bake rolls back only when told to', () => {
  const bg = (o: Record<string, unknown> = {}) => rolloutSchema.parse({ strategy: 'blueGreen', bake: '10s', keepOld: '60s', ...o }) as RolloutSpec;
  const clock = new ManualClock(0);
  const windows = new VariantWindows();
  // The old version serves every request during the bake; nobody previews the new one.
  const live = new Rollouts({ clock, windows });
  const g1 = {};
  live.decide('a', bg(), BASE, CAND, true, g1);
  for (let i = 0; i < 500; i++) windows.record('a', 1, 200, 5, false);
  clock.advance(10_000);
  assert.deepEqual(live.decide('a', bg(), BASE, CAND, true, g1), { kind: 'split', weight: 100, current: 'candidate' }, 'nothing to judge in the bake: switched on its time');
  // After the switch, the new version fails every answer (a NaN model): back at once, well before keepOld.
  for (let i = 0; i < 40; i++) windows.record('a', 2, 200, 5, true);
  clock.advance(1_000);
  const back = live.decide('a', bg(), BASE, CAND, true, g1);
  assert.equal(back.kind, 'rolled_back');
  assert.match((back as { reason: string }).reason, /blue-green rolled back after the switch \(the old group was still warm\): failures: /);
  assert.equal(live.status()[0]!.state, 'rolled_back');

  // Preview answers only, every one failed, and no answers of the old version to compare with.
  const preview = new Rollouts({ clock, windows });
  const g2 = {};
  preview.decide('b', bg(), BASE, CAND, true, g2);
  for (let i = 0; i < 40; i++) windows.record('b', 2, 200, 5, true);
  const r = preview.decide('b', bg(), BASE, CAND, true, g2);
  assert.equal(r.kind, 'rolled_back');
  assert.match((r as { reason: string }).reason, /during bake: failures of preview requests: over the limit: failed answers 100\.00% \(40\/40\).*the old version has too few answers to compare with: 0/);

  // A bake nobody previewed, with onInconclusive: rollback: rolled back when the bake ends, not switched.
  const strict = new Rollouts({ clock, windows });
  const g3 = {};
  const spec3 = bg({ analysis: { onInconclusive: 'rollback' } });
  strict.decide('c', spec3, BASE, CAND, true, g3);
  for (let i = 0; i < 100; i++) windows.record('c', 1, 200, 5, false);
  clock.advance(10_000);
  const undecided = strict.decide('c', spec3, BASE, CAND, true, g3);
  assert.equal(undecided.kind, 'rolled_back');
  assert.match((undecided as { reason: string }).reason, /at the end of its bake: the preview requests could not be judged and onInconclusive is rollback/);
});

test('abTest: a sticky split at the configured share until promoted or aborted by hand, with a comparison at every check', () => {
  const clock = new ManualClock(0);
  const windows = new VariantWindows();
  const rollouts = new Rollouts({ clock, windows });
  const ab = rolloutSchema.parse({ strategy: 'abTest', split: 20 }) as RolloutSpec;
  const gen = {};
  assert.deepEqual(rollouts.decide('d', ab, BASE, CAND, true, gen), { kind: 'split', weight: 20, sticky: true });
  for (let i = 0; i < 500; i++) { windows.record('d', 1, 200, 5, false); windows.record('d', 2, i % 10 === 0 ? 503 : 200, 5, false); }
  clock.advance(3_600_000);
  assert.deepEqual(rollouts.decide('d', ab, BASE, CAND, true, gen), { kind: 'split', weight: 20, sticky: true }, 'never decided automatically');
  const last = rollouts.status()[0]!.verdicts.at(-1)!;
  assert.equal(last.failures.verdict, 'fail', 'the report says the new variant fails more');
  assert.ok(last.failures.difference > 0.05 && last.failures.lower > 0, `effect ${last.failures.difference} in [${last.failures.lower}, ${last.failures.upper}]`);
  rollouts.promote('d', 'dana');
  assert.deepEqual(rollouts.decide('d', ab, BASE, CAND, true, gen), { kind: 'promoted' });
});

/** A shadow world: the baseline answers `rps` requests a second, each copied to the candidate, which agrees on a share. */
function shadowWorld(o: Record<string, unknown> = {}) {
  const clock = new ManualClock(0);
  const windows = new VariantWindows();
  const shadows = new ShadowCounts();
  const rollouts = new Rollouts({ clock, windows, shadows });
  const rollout = rolloutSchema.parse({ strategy: 'shadow', interval: '30s', ...o }) as RolloutSpec;
  const gen = {};
  const decide = () => rollouts.decide('d', rollout, BASE, CAND, true, gen);
  const run = (seconds: number, rps: number, agree: number, candStatus = 200) => {
    let last = decide();
    let n = 0;
    for (let s = 0; s < seconds && last.kind === 'shadow'; s++) {
      for (let i = 0; i < rps; i++) {
        windows.record('d', 1, 200, 5, false);
        const e = shadows.entry('d', 2);
        e.copies++;
        if (candStatus >= 500) { e.failed++; windows.record('d', 2, candStatus, 5, false); continue; }
        e.compared++;
        if ((n++ % 1000) < agree * 1000) e.agreed++;
        windows.record('d', 2, 200, 5, false);
      }
      clock.advance(1000);
      last = decide();
    }
    return last;
  };
  return { clock, rollouts, decide, run };
}

test('shadow: copies are compared; promoted once agreement is surely at its target after the interval, rolled back when surely below', () => {
  const good = shadowWorld({ shadow: { agreement: 0.95 } });
  assert.deepEqual(good.decide(), { kind: 'shadow' });
  const promoted = good.run(600, 50, 0.995);
  assert.equal(promoted.kind, 'promoted');
  const st = good.rollouts.status()[0]!;
  assert.ok(good.clock.now() >= 30_000, 'not before its interval');
  assert.equal(st.shadow!.target, 0.95);
  assert.ok(st.shadow!.agreement! > 0.99, `agreement ${st.shadow!.agreement}`);
  assert.equal(st.verdicts.at(-1)!.agreement!.verdict, 'pass');

  const bad = shadowWorld({ shadow: { agreement: 0.95 } });
  const rolled = bad.run(600, 50, 0.8);
  assert.equal(rolled.kind, 'rolled_back');
  assert.match((rolled as { reason: string }).reason, /shadow rolled back: agreement with the baseline below 95\.0%: over the limit: disagreement \d+\.\d+% \(\d+\/\d+\)/);
  assert.ok(bad.clock.now() < 30_000, `rolled back as soon as it was sure (${bad.clock.now()} ms), not at the interval`);
});

test('shadow: without a target it waits for a hand; a candidate whose copies fail is rolled back on the errors gate', () => {
  const manual = shadowWorld();
  assert.equal(manual.run(3600, 20, 0.5).kind, 'shadow', 'an hour of 50% agreement decides nothing without shadow.agreement');
  assert.equal(manual.rollouts.status()[0]!.state, 'shadowing');
  manual.rollouts.promote('d', 'erin');
  assert.deepEqual(manual.decide(), { kind: 'promoted' });

  const failing = shadowWorld({ shadow: { agreement: 0.9 } });
  const r = failing.run(600, 50, 1, 503);
  assert.equal(r.kind, 'rolled_back');
  assert.match((r as { reason: string }).reason, /shadow rolled back: failures: the candidate is worse/);
});

test('the outputShift gate rolls back a canary whose predictions moved; it is reported (not gated) by default', () => {
  const clock = new ManualClock(0);
  const windows = new VariantWindows();
  const rollouts = new Rollouts({ clock, windows });
  const gated = rolloutSchema.parse({ strategy: 'canary', steps: [50, 100], interval: '10s', analysis: { gates: ['errors', 'outputShift'], maxShift: 0.2 } }) as RolloutSpec;
  const plain = rolloutSchema.parse({ strategy: 'canary', steps: [50, 100], interval: '10s' }) as RolloutSpec;
  const score = (v: number) => [{ name: 'p', datatype: 'FP32' as const, shape: [1, 2], data: new Float32Array(v > 0.5 ? [0.1, 0.9] : [0.9, 0.1]) }];
  for (const [dep, rollout] of [['g', gated], ['p', plain]] as const) {
    const gen = {};
    rollouts.decide(dep, rollout, BASE, CAND, true, gen);
    // The baseline predicts class 1 for 30% of rows, the candidate for 90%.
    for (let i = 0; i < 400; i++) {
      windows.record(dep, 1, 200, 5, false, score(i % 10 < 3 ? 1 : 0));
      windows.record(dep, 2, 200, 5, false, score(i % 10 < 9 ? 1 : 0));
    }
    clock.advance(10_000);
    const r = rollouts.decide(dep, rollout, BASE, CAND, true, gen);
    const st = rollouts.status().find((x) => x.deployment === dep)!;
    const shift = st.verdicts.at(-1)!.outputShift!;
    assert.equal(shift.verdict, 'fail');
    assert.ok(shift.score! > 0.4, `distance ${shift.score}`);
    if (dep === 'g') {
      assert.equal(r.kind, 'rolled_back');
      assert.match((r as { reason: string }).reason, /predictions moved: Jensen–Shannon distance of the predictions 0\.\d+ > 0\.2/);
    } else assert.deepEqual(r, { kind: 'split', weight: 50 }, 'reported, not gated: the step goes on');
  }
});

test('latencyP50 gates the median: a candidate slower on every answer but under the p99 fails it', () => {
  const clock = new ManualClock(0);
  const windows = new VariantWindows();
  const rollouts = new Rollouts({ clock, windows });
  const rollout = rolloutSchema.parse({ strategy: 'canary', steps: [50, 100], interval: '10s', analysis: { gates: ['errors', 'latency', 'latencyP50'] } }) as RolloutSpec;
  const gen = {};
  rollouts.decide('d', rollout, BASE, CAND, true, gen);
  for (let i = 0; i < 1000; i++) {
    windows.record('d', 1, 200, 2 + (i % 100) / 10, false); // 2 .. 12 ms
    windows.record('d', 2, 200, 9, false); // always 9 ms: above the median, below the p99
  }
  clock.advance(10_000);
  const r = rollouts.decide('d', rollout, BASE, CAND, true, gen);
  assert.equal(r.kind, 'rolled_back');
  assert.match((r as { reason: string }).reason, /answers slower than the baseline's median/);
  assert.equal(rollouts.status()[0]!.verdicts.at(-1)!.latency.verdict !== 'fail', true, 'the p99 gate alone would not have failed it');
});

test('webhook gates: called once before each later step and before promotion; 2xx goes on, anything else rolls back with the answer recorded', async () => {
  const clock = new ManualClock(0);
  const windows = new VariantWindows();
  const calls: { url: string; body: Record<string, unknown> }[] = [];
  let answer = 200;
  const fetchStub = (async (url: string, init: RequestInit) => {
    calls.push({ url, body: JSON.parse(String(init.body)) as Record<string, unknown> });
    return new Response(answer === 200 ? 'ok' : 'accuracy 0.61 < 0.7', { status: answer });
  }) as unknown as typeof fetch;
  const rollouts = new Rollouts({ clock, windows, fetch: fetchStub });
  const rollout = rolloutSchema.parse({
    strategy: 'canary', steps: [10, 50, 100], interval: '10s', analysis: { onInconclusive: 'promote' },
    webhooks: [{ url: 'http://127.0.0.1:9/step' }, { url: 'http://127.0.0.1:9/final', before: 'promotion' }],
  }) as RolloutSpec;
  const gen = {};
  const decide = () => rollouts.decide('d', rollout, BASE, CAND, true, gen);
  const settle = () => new Promise((r) => setImmediate(r));
  assert.deepEqual(decide(), { kind: 'split', weight: 10 });
  clock.advance(10_000);
  assert.deepEqual(decide(), { kind: 'split', weight: 10 }, 'holds while the step gate has not answered');
  assert.match(rollouts.status()[0]!.waitingFor!, /webhook gate http:\/\/127\.0\.0\.1:9\/step/);
  await settle();
  assert.deepEqual(decide(), { kind: 'split', weight: 50 }, 'the gate answered 200: next step');
  assert.deepEqual(calls.map((c) => c.url), ['http://127.0.0.1:9/step']);
  assert.equal(calls[0]!.body.next, 50);
  assert.ok((calls[0]!.body.analysis as Record<string, unknown>).failures, 'the gate gets the analysis');
  clock.advance(10_000);
  answer = 422;
  decide();
  await settle();
  const r = decide();
  assert.equal(r.kind, 'rolled_back');
  assert.match((r as { reason: string }).reason, /webhook gate http:\/\/127\.0\.0\.1:9\/(step|final) answered 422: accuracy 0\.61 < 0\.7/);
  assert.deepEqual(calls.slice(1).map((c) => c.url).sort(), ['http://127.0.0.1:9/final', 'http://127.0.0.1:9/step'], 'before promotion both gates are called');
  const hooks = rollouts.status()[0]!.verdicts.filter((v) => v.webhook);
  assert.ok(hooks.some((v) => v.webhook!.status === 422 && v.webhook!.verdict === 'fail'));
  assert.equal(rollouts.status()[0]!.waitingFor, undefined, 'a rolled-back rollout waits for nothing');

  // Aborted while a gate is pending: its late answer is not recorded, and nothing is waited for.
  let answerLate: ((r: Response) => void) | undefined;
  const slow = new Rollouts({ clock, windows, fetch: (() => new Promise<Response>((r) => { answerLate = r; })) as unknown as typeof fetch });
  const g3 = {};
  const gated = rolloutSchema.parse({ strategy: 'canary', steps: [50, 100], interval: '2s', analysis: { onInconclusive: 'promote' }, webhooks: [{ url: 'http://127.0.0.1:9/late', before: 'promotion' }] }) as RolloutSpec;
  slow.decide('f', gated, BASE, CAND, true, g3);
  clock.advance(2_000);
  slow.decide('f', gated, BASE, CAND, true, g3);
  assert.ok(slow.status()[0]!.waitingFor);
  slow.abort('f', 'admin');
  answerLate!(new Response('ok', { status: 200 }));
  await settle();
  const after = slow.status()[0]!;
  assert.equal(after.waitingFor, undefined);
  assert.equal(after.verdicts.filter((v) => v.webhook).length, 0, 'the late answer is not recorded on the aborted rollout');

  // A gate that cannot be reached fails, saying so.
  const down = new Rollouts({ clock, windows, fetch: (async () => { throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9') }); }) as unknown as typeof fetch });
  const g2 = {};
  const one = rolloutSchema.parse({ strategy: 'canary', steps: [50, 100], interval: '10s', analysis: { onInconclusive: 'promote' }, webhooks: [{ url: 'http://127.0.0.1:9/x' }] }) as RolloutSpec;
  down.decide('e', one, BASE, CAND, true, g2);
  clock.advance(10_000);
  down.decide('e', one, BASE, CAND, true, g2);
  await settle();
  const d2 = down.decide('e', one, BASE, CAND, true, g2);
  assert.match((d2 as { reason: string }).reason, /webhook gate http:\/\/127\.0\.0\.1:9\/x could not be called: connect ECONNREFUSED/);
});

test('status tells the time left in a step and to maxDuration', () => {
  const w = world(spec({ interval: '30s', analysis: { maxDuration: '5m' } }));
  w.decide();
  w.clock.advance(12_000);
  w.decide();
  assert.deepEqual(w.rollouts.status()[0]!.timeLeft, { min: 18_000, max: 288_000 });
});

test('status: the newest check is refreshed at every pass though the history keeps only changes; the steps are listed', () => {
  const w = world(spec());
  w.decide();
  w.traffic(3, 10);
  const first = w.rollouts.status()[0]!;
  assert.deepEqual(first.steps, [10, 50, 100]);
  const history = first.verdicts.length;
  w.traffic(5, 10);
  const later = w.rollouts.status()[0]!;
  assert.equal(later.verdicts.length, history, 'an unchanged verdict is not added to the history');
  assert.equal(later.check!.at, new Date(w.clock.date().getTime()).toISOString(), 'the check is from the last pass');
  assert.ok(later.check!.failures.samples.baseline.n > first.check!.failures.samples.baseline.n, `counts move: ${first.check!.failures.samples.baseline.n} → ${later.check!.failures.samples.baseline.n}`);
  assert.match(later.check!.failures.reason, /too little data/);
});

test('spec: an unknown gate, a bad sticky header, a shadow share over 1 and a webhook that is not http are each refused with what is allowed', () => {
  const issues = (rollout: string) => validateSpecText(`version: 1\nmodels:\n  m: {path: ./m.onnx}\ndeployments:\n  m:\n    rollout: ${rollout}\n`, 'aloft.yaml').issues.map((i) => i.message).join('\n');
  assert.match(issues('{strategy: canary, analysis: {gates: [errors, accuracyy]}}'), /unknown rollout gate "accuracyy"; the analysis can gate on: errors, latency, latencyP50, outputShift/);
  assert.match(issues('{strategy: abTest, stickyHeader: "x user"}'), /stickyHeader is an HTTP header name/);
  assert.match(issues('{strategy: shadow, shadow: {sample: 1.5}}'), /1/);
  assert.match(issues('{strategy: canary, webhooks: [{url: "ftp://x/y"}]}'), /a webhook gate url is an http:\/\/ or https:\/\/ URL/);
  assert.match(issues('{strategy: mirror}'), /unknown rollout strategy "mirror"; use one of: replace, canary, blueGreen, abTest, shadow/);
});

// ── gates from the monitoring loop: SLO burn, accuracy, drift ───────────────────────────

function gated(rollout: RolloutSpec, o: { slos?: Parameters<typeof sloSchema.parse>[0][]; drift?: { drifted: boolean } } = {}) {
  const clock = new ManualClock(0);
  const windows = new VariantWindows();
  const slos = (o.slos ?? []).map((s) => { const p = sloSchema.parse(s); return { ...p, name: p.name ?? p.kind } as SloSpec; });
  const rollouts = new Rollouts({ clock, windows, slos: () => slos, drift: () => (o.drift ? { ...o.drift, at: 'now', features: o.drift.drifted ? ['income'] : [] } : undefined) });
  const generation = {};
  const decide = () => rollouts.decide('d', rollout, BASE, CAND, true, generation);
  return { clock, windows, rollouts, decide };
}

test('slo gate: a candidate failing 2% against a 99.5% availability SLO is rolled back; without SLOs the gate is inconclusive, not a pass', () => {
  const w = gated(spec({ analysis: { gates: ['slo'] } }), { slos: [{ kind: 'availability', objective: 99.5 }] });
  w.decide();
  let last: RolloutDecision = w.decide();
  for (let s = 0; s < 600 && last.kind === 'split'; s++) {
    for (let i = 0; i < 100; i++) w.windows.record('d', 2, i < 2 ? 503 : 200, 5, false);
    w.clock.advance(1000);
    last = w.decide();
  }
  assert.equal(last.kind, 'rolled_back');
  assert.match((last as { reason: string }).reason, /SLO burn: the availability SLO: over the limit/);
  const v = w.rollouts.status()[0]!.verdicts.at(-1)!;
  assert.ok(Math.abs(v.slo!.slos[0]!.limit - 0.005) < 1e-12);

  const none = gated(spec({ analysis: { gates: ['errors', 'slo'], maxDuration: '2m', onInconclusive: 'wait' } }));
  none.decide();
  for (let s = 0; s < 60; s++) { for (let i = 0; i < 50; i++) { none.windows.record('d', 1, 200, 5, false); none.windows.record('d', 2, 200, 5, false); } none.clock.advance(1000); none.decide(); }
  const nv = none.rollouts.status()[0]!.verdicts.at(-1)!;
  assert.equal(nv.slo!.verdict, 'inconclusive');
  assert.match(nv.slo!.reason, /declares no availability or latency SLO/);
});

test('slo gate on latency: answers over the threshold count against the budget; a candidate within it passes', () => {
  const w = gated(spec({ steps: [50, 100], analysis: { gates: ['slo'], minSamples: 200 } }), { slos: [{ kind: 'latency', objective: 90, threshold: '20ms' }] });
  w.decide();
  let last: RolloutDecision = w.decide();
  for (let s = 0; s < 300 && last.kind === 'split'; s++) {
    for (let i = 0; i < 50; i++) w.windows.record('d', 2, 200, i === 0 ? 30 : 5, false);
    w.clock.advance(1000);
    last = w.decide();
  }
  assert.equal(last.kind, 'promoted', '2% over 20 ms against a 10% allowance');
});

test('accuracy gate: labels of the candidate wrong 40% against the baseline\'s 10% roll it back; drift holds a rollout', () => {
  const w = gated(spec({ analysis: { gates: ['accuracy'] } }));
  w.decide();
  let last: RolloutDecision = w.decide();
  for (let s = 0; s < 600 && last.kind === 'split'; s++) {
    w.windows.recordLabels('d', 1, 45, 5);
    w.windows.recordLabels('d', 2, 6, 4);
    w.clock.advance(1000);
    last = w.decide();
  }
  assert.equal(last.kind, 'rolled_back');
  assert.match((last as { reason: string }).reason, /wrong labelled predictions: the candidate is worse/);

  const d = gated(spec({ analysis: { gates: ['errors', 'drift'], maxDuration: '2m' } }), { drift: { drifted: true } });
  d.decide();
  let dl: RolloutDecision = d.decide();
  for (let s = 0; s < 200 && dl.kind === 'split'; s++) {
    for (let i = 0; i < 50; i++) { d.windows.record('d', 1, 200, 5, false); d.windows.record('d', 2, 200, 5, false); }
    d.clock.advance(1000);
    dl = d.decide();
  }
  assert.equal(dl.kind, 'rolled_back', 'held while drifted, then maxDuration with wait rolls back');
  const verdicts = d.rollouts.status()[0]!.verdicts;
  assert.ok(verdicts.some((v) => v.drift?.verdict === 'inconclusive' && /drifted from the reference/.test(v.drift.reason)));
  assert.ok(verdicts.every((v) => v.action !== 'next'), 'never stepped on drifted traffic');
});

test('a rollout whose apply was given up ends when its old version serves alone again, instead of reading as running', () => {
  const w = world(spec());
  w.decide(true);
  assert.equal(w.rollouts.status()[0]!.state, 'progressing');
  // The apply timed out (or was rolled back): desired is the old version again, and it serves alone.
  w.rollouts.serving('d', 1);
  const st = w.rollouts.status()[0]!;
  assert.equal(st.state, 'rolled_back');
  assert.match(st.reason!, /canary ended without a decision: v1 serves alone now/);
  assert.deepEqual(w.rollouts.deploymentsUnderWay(), new Set());
});

test('an apply waits as long as the rollout it starts may take by its own bounds', async () => {
  const { rolloutBoundMs } = await import('./control-plane.js');
  assert.equal(rolloutBoundMs(spec({ steps: [10, 50, 100], interval: '30s', analysis: { maxDuration: '10m' } })), 2 * 600_000, 'two analysed steps, each up to maxDuration');
  assert.equal(rolloutBoundMs(rolloutSchema.parse({ strategy: 'blueGreen', bake: '5m', keepOld: '10m' }) as RolloutSpec), 600_000 + 600_000);
  assert.equal(rolloutBoundMs(rolloutSchema.parse({ strategy: 'abTest' }) as RolloutSpec), Infinity, 'an A/B test ends by hand');
  assert.equal(rolloutBoundMs(rolloutSchema.parse({}) as RolloutSpec), 0);
});

test('a candidate failing every answer is rolled back after about 20 of them, not minSamples (100); passing still needs minSamples', () => {
  const w = world(spec());
  w.decide(true);
  const r = w.traffic(60, 100, { bad: 1 });
  assert.equal(r.last.kind, 'rolled_back');
  const v = w.rollouts.status()[0]!.verdicts.at(-1)!;
  assert.ok(v.failures.samples.candidate.n >= 20 && v.failures.samples.candidate.n < 100, `rolled back after ${v.failures.samples.candidate.n} candidate answers`);
  // A good one is not promoted from a step before minSamples.
  const good = world(spec({ interval: '1s' }));
  good.decide(true);
  good.traffic(3, 100);
  assert.equal(good.rollouts.status()[0]!.step, 0, 'still at its first step: 30 candidate answers are too few to pass it');
});
