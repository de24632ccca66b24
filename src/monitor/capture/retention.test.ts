/**
 * Capture retention as a reconciler, with a stepped clock and a store that records what it
 * was asked to delete: the current retention applies at once (a shortened one included), a
 * deployment that stopped capturing keeps the retention it last had, and one never seen
 * capturing here keeps 30 days.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../clock.js';
import { silentLogger } from '../../log.js';
import { captureSchema } from '../../spec/schema.js';
import type { CaptureSpec } from '../../spec/types.js';
import type { CaptureConfig } from './capture.js';
import { CaptureRetention, UNKNOWN_RETENTION_MS } from './retention.js';
import type { CaptureStore } from './store.js';

const config = (retention: string): CaptureConfig => ({ capture: captureSchema.parse({ key: Buffer.alloc(32, 1).toString('base64'), retention }) as CaptureSpec });

test('retention follows the live spec: shortened, it deletes at the next pass; stopped, the last one holds; unknown, 30 days', async () => {
  const now = Date.UTC(2026, 5, 1);
  const clock = new ManualClock(0, now);
  const asked: [string, string][] = [];
  const store = {
    deleteBefore: async (d: string, before: string) => (asked.push([d, before]), 0),
    deployments: async () => ['a', 'b', 'old'],
  } as unknown as CaptureStore;
  let configs = new Map([['a', config('30d')], ['b', config('7d')]]);
  const r = new CaptureRetention({ clock, logger: silentLogger, store, configs: () => configs });
  const cutoffs = async () => {
    asked.length = 0;
    assert.deepEqual(await r.reconcile(), { requeueAfterMs: 60_000 });
    return Object.fromEntries(asked.map(([d, before]) => [d, (now - Date.parse(before)) / 86_400_000]));
  };
  assert.deepEqual(await cutoffs(), { a: 30, b: 7, old: UNKNOWN_RETENTION_MS / 86_400_000 });
  configs = new Map([['a', config('1d')], ['b', config('7d')]]);
  assert.deepEqual(await cutoffs(), { a: 1, b: 7, old: 30 }, 'a shortened retention applies at the next pass, not the longest ever seen');
  configs = new Map([['a', config('1d')]]);
  assert.deepEqual(await cutoffs(), { a: 1, b: 7, old: 30 }, 'b stopped capturing: it keeps the retention it last had');
});
