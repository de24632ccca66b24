import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../clock.js';
import { MemoryRateLimiter } from './memory.js';

test('memory: idle buckets that have refilled are dropped; partly used ones are kept', async () => {
  const clock = new ManualClock();
  const l = new MemoryRateLimiter({ clock, sweepIntervalMs: 1000 });
  await l.take('fast', { rate: 100, burst: 1 });
  await l.take('slow', { rate: 0.01, burst: 1 });
  assert.equal(l.size, 2);
  clock.advance(1000);
  await l.take('other', { rate: 100, burst: 5 });
  assert.equal(l.size, 2, "'fast' refilled long ago and is gone; 'slow' has not");
  clock.advance(1000);
  assert.equal((await l.take('fast', { rate: 100, burst: 1 })).remaining, 0, 'a dropped bucket comes back full');
});

test('memory: a key that used daily quota today is kept until the day is over', async () => {
  const clock = new ManualClock(0, Date.UTC(2026, 0, 1, 23, 0, 0));
  const l = new MemoryRateLimiter({ clock, sweepIntervalMs: 1000 });
  const limit = { rate: 100, burst: 10, daily: 2 };
  await l.take('q', limit);
  await l.take('q', limit);
  clock.advance(10 * 60_000);
  await l.take('tick', { rate: 100, burst: 1 });
  assert.equal((await l.take('q', limit)).reason, 'daily', 'the used quota survived the sweep');
  clock.advance(60 * 60_000);
  await l.take('tick', { rate: 100, burst: 1 });
  assert.equal(l.size, 1, "after midnight 'q' holds nothing and is gone");
});

test('memory: never holds more than maxKeys entries', async () => {
  const clock = new ManualClock();
  const l = new MemoryRateLimiter({ clock, maxKeys: 100 });
  for (let i = 0; i < 1000; i++) await l.take(`anon:10.0.${i >> 8}.${i & 255}`, { rate: 0.001, burst: 1 });
  assert.equal(l.size, 100);
  assert.equal((await l.take('anon:10.0.3.231', { rate: 0.001, burst: 1 })).allowed, false, 'the newest keys are kept');
});
