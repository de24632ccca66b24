import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../clock.js';
import { fail } from '../errors.js';
import { silentLogger } from '../log.js';
import { Controller, type ControllerEvent, type ReconcileResult } from './controller.js';

function setup(reconcile: (key: string, n: number) => Promise<ReconcileResult | void> | ReconcileResult | void) {
  const clock = new ManualClock();
  const events: ControllerEvent[] = [];
  const controller = new Controller({ clock, logger: silentLogger, random: () => 1, onEvent: (e) => events.push(e) });
  const runs: string[] = [];
  controller.add({ name: 'r', reconcile: async (key) => { runs.push(key); return reconcile(key, runs.length); } });
  const stop = new AbortController();
  const stopped = controller.start(stop.signal);
  return { clock, controller, events, runs, stop: async () => { stop.abort(); await stopped; } };
}

test('a key enqueued many times while waiting runs once; keys run in order', async () => {
  const s = setup(() => undefined);
  s.controller.enqueue('r', 'a');
  s.controller.enqueue('r', 'a');
  s.controller.enqueue('r', 'b');
  await s.controller.settled();
  assert.deepEqual(s.runs, ['a', 'b']);
  assert.deepEqual(s.events.map((e) => [e.key, e.outcome]), [['a', 'converged'], ['b', 'converged']]);
  await s.stop();
});

test('a key enqueued while it runs runs again afterwards (level-based: nothing is lost)', async () => {
  let release: () => void = () => undefined;
  const s = setup((_k, n) => (n === 1 ? new Promise<void>((r) => { release = r; }) : undefined));
  s.controller.enqueue('r', 'a');
  await new Promise((r) => setImmediate(r));
  s.controller.enqueue('r', 'a');
  release();
  await s.controller.settled();
  await s.controller.settled();
  assert.deepEqual(s.runs, ['a', 'a']);
  await s.stop();
});

test('requeueAfterMs looks again when the clock says so, not before', async () => {
  const s = setup((_k, n) => (n === 1 ? { requeueAfterMs: 500 } : undefined));
  s.controller.enqueue('r', 'a');
  await s.controller.settled();
  s.clock.advance(499);
  await s.controller.settled();
  assert.equal(s.runs.length, 1);
  s.clock.advance(1);
  await s.controller.settled();
  assert.deepEqual(s.runs, ['a', 'a']);
  assert.deepEqual(s.events.map((e) => e.outcome), ['requeued', 'converged']);
  await s.stop();
});

test('errors decide retries: a transient one backs off and retries, a terminal one is not retried', async () => {
  const s = setup((key, n) => {
    if (key === 'flaky' && n <= 2) throw fail('ALOFT_NOT_READY', 'replica starting');
    if (key === 'broken') throw fail('ALOFT_ARTIFACT_CORRUPT', 'bad hash');
  });
  s.controller.enqueue('r', 'flaky');
  await s.controller.settled();
  assert.deepEqual(s.events.at(-1), { reconciler: 'r', key: 'flaky', outcome: 'retrying', error: 'replica starting', failures: 1, afterMs: 100, at: s.clock.date() });
  s.clock.advance(100);
  await s.controller.settled();
  assert.equal(s.events.at(-1)!.afterMs, 200, 'the delay doubles');
  s.clock.advance(200);
  await s.controller.settled();
  assert.equal(s.events.at(-1)!.outcome, 'converged');
  s.controller.enqueue('r', 'broken');
  await s.controller.settled();
  s.clock.advance(60_000);
  await s.controller.settled();
  assert.deepEqual(s.runs.filter((k) => k === 'broken'), ['broken'], 'not retried');
  assert.equal(s.controller.events().find((e) => e.key === 'broken')!.outcome, 'failed');
  await s.stop();
});

test('stop: start() resolves, pending timers are cancelled, later enqueues do nothing', async () => {
  const s = setup(() => ({ requeueAfterMs: 1000 }));
  s.controller.enqueue('r', 'a');
  await s.controller.settled();
  await s.stop();
  assert.equal(s.clock.pending(), 0);
  s.controller.enqueue('r', 'a');
  assert.deepEqual(s.runs, ['a']);
});
