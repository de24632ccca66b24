/**
 * The autoscaler's real decision code on a stepped clock, against a simulated deployment:
 * replicas become ready a second after they are asked for, and the offered concurrency is
 * what the test says. Nothing sleeps.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../clock.js';
import { autoscalingSchema } from '../spec/schema.js';
import type { AutoscalingSpec } from '../spec/types.js';
import { Autoscaler, Kpa, type AutoscalerSaved } from './autoscaler.js';


const spec = (o: Record<string, unknown> = {}): AutoscalingSpec => autoscalingSchema.parse(o) as AutoscalingSpec;

/** A deployment whose replicas start `startMs` after being asked for; `load(t)` is the concurrency offered at second t. */
function sim(o: { min: number; max: number; initial?: number; auto?: Record<string, unknown>; startMs?: number; load: (s: number) => number; restored?: Map<string, AutoscalerSaved>; save?: (d: string, st: AutoscalerSaved) => void }) {
  const clock = new ManualClock(0);
  let ready = o.initial ?? Math.max(1, o.min);
  let asked = ready;
  let readyAt = 0;
  let answered = 0;
  const history: { s: number; desired: number; ready: number; load: number }[] = [];
  let sec = 0;
  const a = new Autoscaler({
    clock,
    targets: () => [{ deployment: 'd', version: 1, group: 'd@1.x', spec: spec(o.auto), min: o.min, max: o.max, initial: o.initial ?? Math.max(1, o.min) }],
    observe: () => {
      const offered = o.load(sec);
      answered += offered > 0 ? Math.ceil(offered) : 0;
      return { concurrency: offered, ready, answered, rows: answered };
    },
    onChange: () => undefined,
    ...(o.restored ? { restored: o.restored } : {}),
    ...(o.save ? { save: o.save } : {}),
  });
  const run = (seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      a.tick();
      const want = a.replicas('d', 'd@1.x') ?? asked;
      if (want !== asked) { asked = want; readyAt = clock.now() + (o.startMs ?? 1000); }
      if (asked < ready) ready = asked; // stopping is immediate
      clock.advance(1000);
      sec++;
      if (asked > ready && clock.now() >= readyAt) ready = asked;
      history.push({ s: sec, desired: asked, ready, load: o.load(sec - 1) });
    }
  };
  return { a, clock, run, history, activate: () => a.activate('d'), desired: () => a.replicas('d', 'd@1.x') };
}

test('a step from 1 to 32 concurrent requests scales up within the panic window', () => {
  const s = sim({ min: 1, max: 8, load: (t) => (t < 60 ? 1 : 32) });
  s.run(60);
  assert.equal(s.desired(), 1, 'one request in flight needs one replica');
  s.run(6);
  const up = s.a.decisions('d').find((d) => d.to > 1)!;
  assert.ok(up, 'it scaled up');
  assert.ok(Date.parse(up.at) - Date.parse(new Date(Date.UTC(2026, 0, 1) + 60_000).toISOString()) <= 6000, `within the 6 s panic window (at ${up.at})`);
  assert.ok(up.panicking, 'in panic mode');
  s.run(10);
  assert.equal(s.desired(), 4, '32 concurrent at 8 per replica');
});

test('a steady noisy load does not flap: at most a couple of decisions over ten minutes', () => {
  // 16 ± 6 concurrent requests, pseudo-random.
  let seed = 42;
  const noise = () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 2 ** 32; };
  const s = sim({ min: 1, max: 10, load: () => 16 + (noise() - 0.5) * 12 });
  s.run(600);
  const decisions = s.a.decisions('d');
  assert.ok(decisions.length <= 3, `${decisions.length} decisions: ${decisions.map((d) => `${d.from}→${d.to}`).join(', ')}`);
  assert.ok([2, 3].includes(s.desired()!), `16 ± 6 at 8 per replica: 2 or 3 replicas (got ${s.desired()})`);
});

test('load removed: the count comes down only after the scale-down delay, at most halving per decision, never under min', () => {
  const s = sim({ min: 2, max: 16, auto: { scaleDownDelay: '30s' }, load: (t) => (t < 120 ? 100 : 0) });
  s.run(120);
  assert.equal(s.desired(), 13, 'ceil(100 / 8)');
  s.run(25);
  assert.equal(s.desired(), 13, 'held through the delay');
  s.run(200);
  assert.equal(s.desired(), 2, 'down to min');
  const downs = s.a.decisions('d').filter((d) => d.to < d.from);
  assert.ok(downs.length >= 2, 'in steps');
  for (const d of downs) assert.ok(d.to >= Math.floor(d.ready / 2), `${d.from}→${d.to} with ${d.ready} ready: at most half at once`);
  assert.ok(Date.parse(downs[0]!.at) >= Date.UTC(2026, 0, 1) + 150_000, 'not before the delay has passed');
  for (const h of s.history) assert.ok(h.desired >= 2 && h.desired <= 16);
});

test('max and the scale-up rate hold under any load', () => {
  const s = sim({ min: 1, max: 5, auto: { maxScaleUpRate: 2 }, load: () => 1000 });
  s.run(3);
  const first = s.a.decisions('d')[0]!;
  assert.equal(first.to, 2, 'at most twice the ready replicas in one decision');
  s.run(30);
  assert.equal(s.desired(), 5, 'never over max');
  assert.ok(s.history.every((h) => h.desired <= 5));
});

test('scale to zero after scaleToZeroAfter without a request; a request activates one replica at once', () => {
  const s = sim({ min: 0, max: 4, auto: { scaleToZeroAfter: '30s' }, load: (t) => (t < 10 ? 2 : 0) });
  s.run(39);
  assert.equal(s.desired(), 1, 'idle 29 s: still one');
  s.run(3);
  assert.equal(s.desired(), 0, 'idle 30 s: zero');
  assert.match(s.a.decisions('d').at(-1)!.reason, /scaled to zero: no request for 30s/);
  s.activate();
  assert.equal(s.desired(), 1);
  assert.match(s.a.decisions('d').at(-1)!.reason, /activated/);
  s.activate();
  assert.equal(s.a.decisions('d').filter((d) => /activated/.test(d.reason)).length, 1, 'a second request does not decide again');
});

test('scale to zero: the idle time starts once a replica is ready, so a slow first start is not stopped half-way', () => {
  const k = new Kpa(spec({ scaleToZeroAfter: '2s' }), 0, 2, 1, 0);
  // The first replica takes 5 s to become ready (a loaded machine): no request meanwhile.
  for (let t = 1000; t <= 5000; t += 1000) assert.equal(k.decide(t, 0).to, 1, `still starting at ${t} ms: kept`);
  assert.equal(k.decide(6000, 1).to, 1, 'ready at 6 s: idle from now');
  assert.equal(k.decide(7000, 1).to, 1);
  const zero = k.decide(8000, 1);
  assert.equal(zero.to, 0, 'idle 2 s after it was ready: zero');
  assert.match(zero.reason, /scaled to zero: no request for 2s/);
  // A cold start that is slow is kept too.
  assert.equal(k.activate(9000), true);
  for (let t = 10_000; t <= 14_000; t += 1000) assert.equal(k.decide(t, 0).to, 1, `cold start still starting at ${t} ms: kept`);
});

test('scale to zero ends a panic: no request at all for scaleToZeroAfter means the burst is over', () => {
  const k = new Kpa(spec({ target: 2, scaleToZeroAfter: '5s', stableWindow: '60s', panicWindow: '6s' }), 0, 3, 1, 0);
  for (let t = 1000; t <= 3000; t += 1000) k.record(t, 16, 4);
  assert.equal(k.decide(3000, 1).panicking, true, 'a burst: panic');
  const zero = k.decide(9000, 3);
  assert.equal(zero.to, 0, zero.reason);
  assert.equal(zero.panicking, false, 'not shown as panicking at zero');
});

test('after scaling to zero, the windows forget the load before the idle spell: the first request brings back one replica, not what the old load wanted', () => {
  const k = new Kpa(spec({ target: 2, scaleToZeroAfter: '5s', stableWindow: '60s', panicWindow: '6s' }), 0, 4, 1, 0);
  // 30 s at a steady 6 in flight (3 replicas' worth), then nothing.
  for (let t = 1000; t <= 30_000; t += 1000) { k.record(t, 6, 6); k.decide(t, 3); }
  for (let t = 31_000; t <= 36_000; t += 1000) { k.record(t, 0, 0); k.decide(t, 3); }
  assert.equal(k.decide(36_000, 3).to, 0, 'idle 5 s: zero');
  // A single caller comes back 2 s later: one replica, and it stays one under that caller's load.
  assert.equal(k.activate(38_000), true);
  for (let t = 39_000; t <= 45_000; t += 1000) {
    k.record(t, 1, 1);
    const d = k.decide(t, 1);
    assert.equal(d.to, 1, `${t} ms: ${d.reason}`);
  }
});

test('a max lowered for a reason (a spent budget) says the reason where it caps a decision', () => {
  const k = new Kpa(spec({ target: 2 }), 1, 4, 1, 0);
  k.update(spec({ target: 2 }), 1, 1, 'budget risk is spent and caps replicas until the month ends; the spec\'s max is 4');
  for (let t = 1000; t <= 3000; t += 1000) k.record(t, 16, 16);
  const d = k.decide(3000, 1);
  assert.equal(d.to, 1);
  assert.match(d.reason, /capped at max 1 \(budget risk is spent and caps replicas until the month ends; the spec's max is 4\)/);
});

test('bad spec: a target of 0, a panic window not shorter than the stable one', () => {
  const r = autoscalingSchema.safeParse({ target: 0 });
  assert.equal(r.success, false);
  assert.match(r.error!.issues[0]!.message, /target must be above 0/);
  const w = autoscalingSchema.safeParse({ panicWindow: '60s', stableWindow: '60s' });
  assert.match(w.error!.issues[0]!.message, /must be shorter than stableWindow/);
  const k = new Kpa(spec(), 1, 3, 1, 0);
  k.record(500, 0, 0);
  assert.equal(k.decide(1000, 1).to, 1, 'no load, min 1');
});

test('panic is judged on the demand, not on the count the scale-up rate allows', () => {
  // 2 ready at target 2 and a demand of 8 (4 replicas, 2× the ready ones); maxScaleUpRate 1.5 caps the count at 3.
  const k = new Kpa(spec({ target: 2, maxScaleUpRate: 1.5, stableWindow: '10s', panicWindow: '2s' }), 1, 8, 2, 0);
  for (let t = 1000; t <= 3000; t += 1000) k.record(t, 8, 1);
  const d = k.decide(3000, 2);
  assert.equal(d.panicking, true, d.reason);
  assert.equal(d.to, 3, 'the count still moves by at most 1.5× the ready replicas');
});

test('a restart starts where the last process left each deployment (within min and max, never below initial), says so, and saves as it goes', () => {
  const saves: [string, number][] = [];
  const before = sim({ min: 1, max: 8, load: (t) => (t < 30 ? 32 : 32), save: (d, st) => saves.push([d, st.replicas]) });
  before.run(30);
  assert.equal(before.desired(), 4);
  assert.deepEqual(saves.at(-1), ['d', 4], 'the newest count is saved');
  const changes = saves.length;
  before.run(120);
  const added = saves.length - changes;
  assert.ok(added >= 1 && added <= 2, `unchanged for 2 minutes: saved again once a minute (the restore window counts from the last save), not every tick: ${added}`);
  before.a.close();
  assert.deepEqual(saves.at(-1), ['d', 4], 'and at the stop');
  // The next process: the same deployment starts at 4, not its initial 1, and the decision says why.
  const restored = new Map([['d', { replicas: 4, decisions: before.a.decisions('d') }]]);
  const after = sim({ min: 1, max: 8, load: () => 32, restored });
  after.run(1);
  assert.equal(after.desired(), 4);
  const d = after.a.decisions('d').at(-1)!;
  assert.deepEqual([d.from, d.to], [1, 4]);
  assert.match(d.reason, /restored after a restart: 4 replicas, as the autoscaler had last chosen \(not the initial 1\)/);
  assert.ok(after.a.decisions('d').length > 1, 'the decisions before the restart are kept');
  // Clamped to the new range; a deployment left at zero starts warm (its initial), then idles out.
  const narrowed = sim({ min: 1, max: 2, load: () => 0, restored: new Map([['d', { replicas: 4, decisions: [] }]]) });
  narrowed.run(1);
  assert.equal(narrowed.desired(), 2, 'within the new max');
  const zero = sim({ min: 0, max: 4, load: () => 0, restored: new Map([['d', { replicas: 0, decisions: [] }]]) });
  zero.run(1);
  assert.equal(zero.desired(), 1, 'never below the initial count');
  assert.deepEqual(zero.a.decisions('d'), [], 'nothing restored to say');
});

test('an apply that raises min or lowers max moves the count inside the new range at once, and says why', () => {
  const o = { min: 1, max: 4, auto: { target: 8, scaleDownDelay: '30s' }, load: (t: number) => (t < 60 ? 32 : 0) };
  const s = sim(o);
  s.run(60);
  assert.equal(s.desired(), 4, '32 at 8 per replica');
  // The load is gone, and max comes down to 2: the scale-down delay holds no count above the new max.
  o.max = 2;
  s.run(1);
  assert.equal(s.desired(), 2);
  const lowered = s.a.decisions('d').at(-1)!;
  assert.deepEqual([lowered.from, lowered.to], [4, 2]);
  assert.match(lowered.reason, /the range changed to 1–2: 4 is outside it/);
  s.run(20);
  assert.ok(s.history.slice(-21).every((h) => h.desired <= 2), 'never above the new max');
  // Idle at the floor, min goes up to 3 (and max with it): 3 at the next decision, not after the load asks for it.
  s.run(60);
  o.min = 3;
  o.max = 4;
  s.run(1);
  assert.equal(s.desired(), 3);
  assert.match(s.a.decisions('d').at(-1)!.reason, /the range changed to 3–4: \d is outside it/);
});
