/**
 * SLOs without servers: the workbook's burn rules and their scaling, budgets from event
 * sums, and the tracker's counts going through the real store (SQLite and PostgreSQL) on a
 * ManualClock, surviving a new tracker (a restart) and adding up across two (gateways).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../clock.js';
import type { Observation } from '../gateway/observe.js';
import { silentLogger } from '../log.js';
import { sloSchema } from '../spec/schema.js';
import type { SloSpec } from '../spec/types.js';
import type { Store } from '../store/db.js';
import { freshDatabaseEach, testDialects } from '../store/testing/databases.js';
import { burnRules, evaluate, resolutionOf, SloStore, SloTracker } from './slo.js';

const slo = (o: Record<string, unknown>): SloSpec => {
  const p = sloSchema.parse(o);
  return { ...p, name: p.name ?? p.kind } as SloSpec;
};

test('a 30-day objective gets the workbook\'s rules; other windows scale them, rates unchanged', () => {
  assert.deepEqual(burnRules(30 * 86_400_000).map((r) => [r.severity, r.long / 60_000, r.short / 60_000, r.rate]), [
    ['page', 60, 5, 14.4], ['page', 360, 30, 6], ['ticket', 1440, 120, 3], ['ticket', 4320, 360, 1],
  ]);
  const week = burnRules(7 * 86_400_000);
  assert.equal(week[0]!.long, 840_000, '1h × 7/30 = 14 min');
  assert.equal(week[0]!.rate, 14.4);
  assert.equal(resolutionOf(30 * 86_400_000), 60_000);
  assert.equal(resolutionOf(3_600_000), 1000);
});

test('budget and burn: 0.5% bad against 99.9% burns 5× and has spent five budgets', () => {
  const s = slo({ kind: 'availability', objective: 99.9 });
  const st = evaluate('d', s, () => ({ good: 995, total: 1000 }), new Date(0));
  assert.ok(Math.abs(st.rules[0]!.long.rate - 5) < 1e-9);
  assert.ok(Math.abs(st.budget.spent - 5) < 1e-9);
  assert.equal(st.budget.remaining, 0);
  // 5 < 6 and 14.4: no page; 5 ≥ 3 and 1: the tickets hold.
  assert.equal(st.burning, 'ticket');
  assert.deepEqual(st.rules.map((r) => r.active), [false, false, true, true]);
});

test('a rule needs both windows: a burst that stopped (long high, short clean) is not active', () => {
  const s = slo({ kind: 'availability', objective: 99 });
  const st = evaluate('d', s, (ms) => (ms <= 300_000 ? { good: 100, total: 100 } : { good: 800, total: 1000 }), new Date(0));
  assert.equal(st.rules[0]!.long.rate > 14.4, true);
  assert.equal(st.rules[0]!.active, false, '1h burns, the last 5 minutes do not');
  assert.equal(st.rules[1]!.active, true, '6h and the last 30 minutes both burn');
  const empty = evaluate('d', s, () => ({ good: 0, total: 0 }), new Date(0));
  assert.equal(empty.sli, undefined);
  assert.equal(empty.budget.remaining, 1);
});

test('bad spec: objective over 100%, 100%, a share instead of a percent, latency without threshold, an unknown kind', () => {
  const err = (o: Record<string, unknown>) => { const r = sloSchema.safeParse(o); assert.equal(r.success, false); return r.error!.issues.map((i) => i.message).join('; '); };
  assert.match(err({ kind: 'availability', objective: 100.5 }), /over 100%/);
  assert.match(err({ kind: 'availability', objective: 100 }), /no error budget/);
  assert.match(err({ kind: 'availability', objective: 0.999 }), /99\.9 means 99\.9%/);
  assert.match(err({ kind: 'latency', objective: 99 }), /needs threshold/);
  assert.match(err({ kind: 'speed', objective: 99 }), /unknown SLO kind "speed".*availability, latency, accuracy/);
});

for (const target of await testDialects()) {
  describe(`SLO tracker: ${target.name}`, { skip: target.skip ?? false }, () => {
    let store: Store;
    freshDatabaseEach(target, (_d, s) => { store = s; });

    const slos = [slo({ kind: 'availability', objective: 99 }), slo({ kind: 'latency', objective: 90, threshold: '50ms' }), slo({ kind: 'accuracy', objective: 80, window: '7d' })];
    const tracker = (clock: ManualClock) => new SloTracker({ clock, logger: silentLogger, store: new SloStore(store), slos: (d) => (d === 'd' ? slos : []), deployments: () => ['d'] });
    const obs = (clock: ManualClock, o: Partial<Observation>): Observation => ({ deployment: 'd', version: 1, model: 'm', status: 200, totalMs: 10, at: clock.date().getTime(), ...o });

    test('answers count as availability and latency events, labels as accuracy; a new tracker reads the same budget', async () => {
      const clock = new ManualClock(0, Date.UTC(2026, 5, 1));
      const t = tracker(clock);
      const observe = t.observer();
      for (let i = 0; i < 100; i++) {
        observe(obs(clock, { status: i < 3 ? 503 : 200, totalMs: i % 10 === 0 ? 80 : 10, nonFinite: i === 50 }));
        clock.advance(1000);
      }
      observe(obs(clock, { deployment: 'other' }));
      t.recordLabels('d', 7, 3);
      const [avail, lat, acc] = await t.evaluate('d');
      // 3 × 503 and one NaN answer are bad.
      assert.deepEqual(avail!.events, { good: 96, total: 100 });
      // 5xx answers are not latency events; 10 answers took 80 ms (request 0 was a 503).
      assert.deepEqual(lat!.events, { good: 88, total: 97 });
      assert.deepEqual(acc!.events, { good: 7, total: 10 });
      assert.ok(Math.abs(avail!.budget.spent - 4) < 1e-9, 'four bad of an allowance of one');
      // A burn of 4: over the tickets' 3 and 1, under the pages' 6 and 14.4.
      assert.equal(avail!.burning, 'ticket');
      assert.ok(Math.abs(acc!.sli! - 70) < 1e-9);
      // A restart: the counts are in the store.
      const again = await tracker(clock).evaluate('d');
      assert.deepEqual(again.map((s) => s.events), [avail!.events, lat!.events, acc!.events]);
      // Two gateways add up.
      const t2 = tracker(clock);
      t2.observer()(obs(clock, {}));
      const sum = await t2.evaluate('d');
      assert.deepEqual(sum[0]!.events, { good: 97, total: 101 });
    });

    test('the burn resets once the short window is clean; events older than the window leave the budget', async () => {
      const clock = new ManualClock(0, Date.UTC(2026, 5, 1));
      const t = tracker(clock);
      const observe = t.observer();
      for (let i = 0; i < 60; i++) { observe(obs(clock, { status: 500 })); clock.advance(1000); }
      assert.equal((await t.evaluate('d'))[0]!.burning, 'page');
      // 5.5 minutes of good answers: the 5-minute window is clean, the hour still burns (60 bad of 390).
      for (let i = 0; i < 330; i++) { observe(obs(clock, {})); clock.advance(1000); }
      const st = (await t.evaluate('d'))[0]!;
      assert.equal(st.rules[0]!.short.rate, 0);
      assert.ok(st.rules[0]!.long.rate > 14.4);
      assert.equal(st.rules[0]!.active, false);
      clock.advance(31 * 86_400_000);
      const later = (await t.evaluate('d'))[0]!;
      assert.deepEqual(later.events, { good: 0, total: 0 });
      await t.reconcile();
      assert.deepEqual(await new SloStore(store).keys(), [], 'pruned: older than every window');
    });
  });
}
