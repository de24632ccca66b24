/**
 * Admission control's decisions, fed the samples a batcher gives it: the adaptive limit
 * follows latency (grows while it holds, shrinks when a queue builds), late requests are
 * refused before they wait, low priority goes first.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admission } from './admission.js';

const opts = { limit: 'adaptive' as const, minLimit: 16, maxLimit: 1024, refuseLate: true };

test('a fixed limit refuses past it, at once, saying why', () => {
  const a = new Admission({ ...opts, limit: 4 });
  assert.equal(a.check(3, 0, 1000, false), undefined);
  const r = a.check(4, 2, 1000, false)!;
  assert.equal(r.reason, 'limit');
  assert.match(r.message, /concurrency limit \(4 requests queued or running/);
  assert.equal(a.refused.limit, 1);
  assert.equal(new Admission({ ...opts, limit: 'off', refuseLate: false }).check(1e6, 1e6, 1, true), undefined, 'off admits everything');
});

test('the adaptive limit grows while requests wait less than two batches, and backs off when the queue holds them longer', () => {
  const a = new Admission(opts);
  assert.equal(a.limit, 64, 'four times the floor to start');
  // Batches of 4 ms; requests wait 3 ms for a replica with the limit in use: it grows.
  const answer = (waitMs: number, inflight: number) => { a.dispatched(waitMs, 0); a.ran(4); a.answered(inflight); };
  for (let i = 0; i < 2000; i++) answer(3, Math.ceil(a.limit));
  const grown = a.limit;
  assert.ok(grown > 300, `grew to ${grown.toFixed(0)}`);
  // Used at less than half: nothing is learnt, it stays.
  for (let i = 0; i < 2000; i++) answer(3, 2);
  assert.equal(a.limit, grown);
  // Requests now wait 20 ms (five batches): it backs off by 10% a window, not below minLimit.
  for (let i = 0; i < 200; i++) answer(20, Math.ceil(a.limit));
  assert.ok(a.limit < grown * 0.5, `fell to ${a.limit.toFixed(0)} from ${grown.toFixed(0)}`);
  for (let i = 0; i < 20_000; i++) answer(200, Math.ceil(a.limit));
  assert.equal(a.limit, 16);
});

test('a request that would wait past its deadline is refused before it waits', () => {
  const a = new Admission({ ...opts, limit: 1000 });
  // Recent dispatches waited 2 ms per request ahead of them.
  for (let i = 0; i < 50; i++) a.dispatched(2 * 11, 10);
  assert.ok(Math.abs(a.predictedWaitMs(49) - 100) < 1e-6);
  assert.equal(a.check(50, 49, 150, false), undefined, '100 ms predicted, 150 left');
  const r = a.check(50, 49, 80, false)!;
  assert.equal(r.reason, 'late');
  assert.match(r.message, /would wait about 100 ms in the queue and 0 ms on a replica, past its deadline \(80 ms left\)/);
  assert.equal(a.check(1, 0, 1, false), undefined, 'an empty queue never refuses for lateness');
  // A batch takes 40 ms on a replica: 100 + 40 > 130 left, though the queue alone would fit.
  a.ran(40);
  assert.equal(a.check(50, 49, 150, false), undefined, '140 ms predicted, 150 left');
  const run = a.check(50, 49, 130, false)!;
  assert.equal(run.reason, 'late');
  assert.match(run.message, /would wait about 100 ms in the queue and 40 ms on a replica, past its deadline \(130 ms left\)/);
});

test('low priority is shed first: refused from 3/4 of the limit, normal ones still admitted', () => {
  const a = new Admission({ ...opts, limit: 100 });
  assert.equal(a.check(74, 0, 1000, true), undefined);
  assert.equal(a.check(75, 0, 1000, true)!.reason, 'priority');
  assert.equal(a.check(75, 0, 1000, false), undefined);
  assert.equal(a.refused.priority, 1);
});
