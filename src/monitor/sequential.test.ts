/**
 * The sequential test by seeded simulation (no servers, fast): its false-alarm rate on
 * A/A comparisons checked after every batch of data (peeking, as a rollout does), its
 * power on known differences, and the requests it needs to see them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Random } from '../../examples/credit-risk/random.js';
import { compareRates, rateDifferenceBounds, type RateSample, type SequentialOptions } from './sequential.js';

/** The project's seeded generator: every run sees the same data. */
const rng = (seed: number): (() => number) => { const r = new Random(seed); return () => r.next(); };

interface Run { firstFail?: number; firstPass?: number }

/** One simulated rollout step: both variants get `chunk` requests at a time, checked after each chunk, up to `max`. */
function simulate(seed: number, pBase: number, pCand: number, opts: SequentialOptions & { chunk?: number; max?: number } = {}): Run {
  const r = rng(seed);
  const chunk = opts.chunk ?? 50;
  const base: RateSample = { n: 0, bad: 0 };
  const cand: RateSample = { n: 0, bad: 0 };
  const run: Run = {};
  while (base.n < (opts.max ?? 5000)) {
    for (let i = 0; i < chunk; i++) {
      base.n++; if (r() < pBase) base.bad++;
      cand.n++; if (r() < pCand) cand.bad++;
    }
    const v = compareRates(base, cand, opts).verdict;
    if (v === 'fail' && run.firstFail === undefined) run.firstFail = cand.n;
    if (v === 'pass' && run.firstPass === undefined) run.firstPass = cand.n;
  }
  return run;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

test('A/A: checked after every 50 requests up to 5,000, false alarms stay under α = 0.05', (t) => {
  const reps = 400;
  for (const p of [0.01, 0.05, 0.2]) {
    let alarms = 0;
    for (let s = 0; s < reps; s++) if (simulate(1000 + s, p, p).firstFail !== undefined) alarms++;
    const rate = alarms / reps;
    t.diagnostic(`A/A at error rate ${p}: ${alarms} of ${reps} runs raised a false alarm at some check (${(rate * 100).toFixed(1)}%; stated α 5%)`);
    assert.ok(rate <= 0.05, `false-alarm rate ${rate} at p=${p}`);
  }
});

test('a stricter α gives fewer false alarms', () => {
  let alarms = 0;
  for (let s = 0; s < 400; s++) if (simulate(5000 + s, 0.05, 0.05, { alpha: 0.01 }).firstFail !== undefined) alarms++;
  assert.ok(alarms / 400 <= 0.01, `${alarms} of 400`);
});

test('error rate 1% against 5% is detected in every run; the requests it needs', (t) => {
  const needed: number[] = [];
  for (let s = 0; s < 200; s++) {
    const run = simulate(9000 + s, 0.01, 0.05);
    assert.notEqual(run.firstFail, undefined, `run ${s} never detected it`);
    assert.equal(run.firstPass, undefined, 'a worse candidate never passes');
    needed.push(run.firstFail!);
  }
  t.diagnostic(`1% vs 5%: detected in 200 of 200 runs, after a median of ${median(needed)} requests per variant (max ${Math.max(...needed)})`);
  assert.ok(median(needed) <= 1000);
});

test('p99 twice as high is detected as the share of answers slower than the baseline\'s p99', (t) => {
  // Latencies lognormal (median 5 ms); the candidate's are doubled. "Bad" = slower than the
  // baseline's p99, estimated from baseline answers seen so far.
  const needed: number[] = [];
  for (let s = 0; s < 100; s++) {
    const r = new Random(20000 + s);
    const lat = () => 5 * Math.exp(0.5 * r.normal(0, 1));
    const baseLat: number[] = [];
    const candLat: number[] = [];
    let found: number | undefined;
    while (baseLat.length < 5000 && found === undefined) {
      for (let i = 0; i < 50; i++) { baseLat.push(lat()); candLat.push(2 * lat()); }
      const p99 = [...baseLat].sort((a, b) => a - b)[Math.floor(baseLat.length * 0.99)]!;
      const slow = (xs: number[]) => xs.filter((x) => x > p99).length;
      if (compareRates({ n: baseLat.length, bad: slow(baseLat) }, { n: candLat.length, bad: slow(candLat) }).verdict === 'fail') found = candLat.length;
    }
    assert.notEqual(found, undefined, `run ${s}`);
    needed.push(found!);
  }
  t.diagnostic(`p99 ×2: detected in 100 of 100 runs, after a median of ${median(needed)} requests per variant`);
});

test('an equal candidate passes once there is enough data, and too little data is inconclusive', (t) => {
  const passes: number[] = [];
  for (let s = 0; s < 100; s++) {
    const run = simulate(30000 + s, 0.01, 0.01, { max: 20000, chunk: 200 });
    if (run.firstPass !== undefined) passes.push(run.firstPass);
  }
  t.diagnostic(`A/A at 1%: passed (not worse by 1 point) in ${passes.length} of 100 runs, after a median of ${median(passes)} requests per variant`);
  assert.ok(passes.length >= 95);
  const few = compareRates({ n: 20, bad: 0 }, { n: 20, bad: 20 });
  assert.equal(few.verdict, 'inconclusive', 'under minSamples nothing is decided, however it looks');
  assert.match(few.reason, /too little data \(20 of 100/);
  const b = rateDifferenceBounds({ n: 1000, bad: 10 }, { n: 1000, bad: 50 });
  assert.ok(b.lower > 0 && b.estimate > 0.03 && b.estimate < 0.05);
});

test('before any data the interval is all of [-100%, 100%] and the reason says there is no interval yet; the counts come with it', () => {
  const none = compareRates({ n: 0, bad: 0 }, { n: 0, bad: 0 });
  assert.equal(none.verdict, 'inconclusive');
  assert.deepEqual([none.lower, none.upper], [-1, 1]);
  assert.match(none.reason, /no always-valid interval for the difference yet \(α 0\.05\): the candidate has no answers/);
  assert.doesNotMatch(none.reason, /\d{3,}\.\d+%/, `no interval wider than 100%: ${none.reason}`);
  const some = compareRates({ n: 40, bad: 1 }, { n: 30, bad: 2 });
  assert.deepEqual(some.samples, { baseline: { n: 40, bad: 1 }, candidate: { n: 30, bad: 2 } });
  assert.ok(some.lower >= -1 && some.upper <= 1 && some.lower < some.difference && some.difference < some.upper);
});
