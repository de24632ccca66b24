/**
 * An interrupted rollout taken up after a restart, through the state database (SQLite and
 * PostgreSQL): one Rollouts saves as it goes, a second one (the next process) loads and
 * resumes a canary at the step it had reached, with its verdicts and pause; anything that
 * is not the same move starts over. Stepped clock, nothing sleeps.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../clock.js';
import { VariantWindows } from '../monitor/variants.js';
import { rolloutSchema } from '../spec/schema.js';
import type { RolloutSpec } from '../spec/types.js';
import type { Store } from '../store/db.js';
import { freshDatabaseEach, testDialects } from '../store/testing/databases.js';
import { RolloutStateStore } from './rollout-store.js';
import { Rollouts, type RolloutStatus } from './rollouts.js';

const BASE = { version: 1, group: 'd@1.aaaaaa' };
const CAND = { version: 2, group: 'd@2.bbbbbb' };
const canary = (o: Record<string, unknown> = {}): RolloutSpec => rolloutSchema.parse({ strategy: 'canary', steps: [10, 50, 100], interval: '10s', analysis: { minSamples: 10 }, ...o }) as RolloutSpec;

/** A process: Rollouts wired to the store as aloft.ts wires it. */
async function process(store: Store, clock: ManualClock) {
  const saved = new RolloutStateStore(store);
  const interrupted = await saved.load();
  const windows = new VariantWindows();
  const rollouts = new Rollouts({
    clock, windows,
    resume: (d) => { const r = interrupted.get(d); interrupted.delete(d); return r; },
    onChange: (st) => void saved.save(st, clock.date().toISOString()),
  });
  const generation = {};
  const decide = (spec: RolloutSpec, cand = CAND) => rollouts.decide('d', spec, BASE, cand, true, generation);
  /** `seconds` of 50 good answers a second from each version. */
  const traffic = (spec: RolloutSpec, seconds: number) => {
    for (let s = 0; s < seconds; s++) {
      for (let i = 0; i < 50; i++) { windows.record('d', 1, 200, 5, false); windows.record('d', 2, 200, 5, false); }
      clock.advance(1000);
      decide(spec);
    }
  };
  return { saved, rollouts, decide, traffic, status: (): RolloutStatus => rollouts.status()[0]! };
}

for (const target of await testDialects()) {
  describe(`rollout state: ${target.name}`, { skip: target.skip ?? false }, () => {
    let store: Store;
    freshDatabaseEach(target, (_d, s) => { store = s; });

    test('a canary stopped at step 2 resumes at step 2 with its history and pause; its analysis starts over there', async () => {
      const clock = new ManualClock(Date.UTC(2026, 0, 1));
      const a = await process(store, clock);
      const spec = canary();
      a.decide(spec);
      a.traffic(spec, 12);
      assert.deepEqual([a.status().step, a.status().weight], [1, 50], 'step 1 passed after its interval');
      a.rollouts.pause('d');
      await a.saved.flush();
      const before = a.status();

      // The next process: the same move, after a restart.
      clock.advance(60_000);
      const b = await process(store, clock);
      assert.deepEqual(b.decide(spec), { kind: 'split', weight: 50 }, 'back at 50% as soon as the candidate is warm');
      const st = b.status();
      assert.deepEqual([st.state, st.step, st.weight, st.paused], ['progressing', 1, 50, true]);
      assert.deepEqual(st.resumed, { step: 1, at: clock.date().toISOString() });
      assert.equal(st.startedAt, before.startedAt);
      assert.deepEqual(st.verdicts.map((v) => [v.step, v.action]), before.verdicts.map((v) => [v.step, v.action]), 'the history is kept');
      // Paused: nothing moves, however long.
      b.traffic(spec, 30);
      assert.deepEqual([b.status().step, b.status().weight], [1, 50]);
      b.rollouts.resume('d');
      b.traffic(spec, 30);
      assert.equal(b.status().state, 'promoted', 'resumed, it goes on to the end');
      await b.saved.flush();
      // A promoted rollout is not taken up again.
      const c = await process(store, clock);
      assert.deepEqual(c.decide(spec), { kind: 'split', weight: 10 }, 'a new rollout of the same move after one that ended starts at step 1');
    });

    test('a saved row that does not parse, or is not a rollout, is skipped: the start goes on and the rollout starts over', async () => {
      const db = store.db.withTables<{ rollout_state: { deployment: string; data: string; updated_at: string } }>();
      await db.insertInto('rollout_state').values([
        { deployment: 'd', data: '{not json', updated_at: 'x' },
        { deployment: 'e', data: '{"deployment": "other", "verdicts": []}', updated_at: 'x' },
      ]).execute();
      const loaded = await new RolloutStateStore(store).load();
      assert.equal(loaded.size, 0);
      const clock = new ManualClock(Date.UTC(2026, 0, 1));
      assert.deepEqual((await process(store, clock)).decide(canary()), { kind: 'split', weight: 10 });
    });

    test('another candidate, other steps or another strategy start over', async () => {
      const clock = new ManualClock(Date.UTC(2026, 0, 1));
      const a = await process(store, clock);
      a.decide(canary());
      a.traffic(canary(), 12);
      assert.equal(a.status().step, 1);
      await a.saved.flush();
      assert.deepEqual((await process(store, clock)).decide(canary(), { version: 3, group: 'd@3.cccccc' }), { kind: 'split', weight: 10 }, 'another candidate');
      assert.deepEqual((await process(store, clock)).decide(canary({ steps: [20, 100] })), { kind: 'split', weight: 20 }, 'other steps');
      const bg = await process(store, clock);
      bg.decide(rolloutSchema.parse({ strategy: 'blueGreen', bake: '1m' }) as RolloutSpec);
      assert.equal(bg.status().state, 'baking', 'another strategy');
    });
  });
}
