import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../clock.js';
import { RecentTraffic } from './traffic.js';

test('counts answers per deployment within the window and forgets older ones', () => {
  const clock = new ManualClock(1_000_000);
  const t = new RecentTraffic(clock, 60_000);
  for (let i = 0; i < 5; i++) t.record('a');
  t.record('b');
  assert.equal(t.count('a'), 5);
  assert.equal(t.count('b'), 1);
  assert.equal(t.count('c'), 0);
  clock.advance(30_000);
  t.record('a');
  assert.equal(t.count('a'), 6);
  clock.advance(40_000); // the first five are now 70 s old
  assert.equal(t.count('a'), 1);
  clock.advance(60_000);
  assert.equal(t.count('a'), 0);
  t.observer()({ deployment: 'a', version: 1, model: 'm', status: 200, totalMs: 1, at: 0 });
  assert.equal(t.count('a'), 1);
});
