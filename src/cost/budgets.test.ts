/**
 * Budgets on a stepped clock, through the real meters and store (SQLite) and the one alert
 * model: each threshold fires once, at the sample that crosses it; the forecast alert fires
 * while the month is projected over; a new month resolves them; a budget without a period
 * is a clear error.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ManualClock } from '../clock.js';
import { silentLogger } from '../log.js';
import { AlertBook } from '../monitor/alerts/model.js';
import { costSchema } from '../spec/schema.js';
import type { CostSpec, DeploymentSpec } from '../spec/types.js';
import type { Store } from '../store/db.js';
import { testDialects, type TestDatabase } from '../store/testing/databases.js';
import { budgetConditions, budgetStatus } from './budgets.js';
import { CostMeters, CostStore } from './meters.js';

const sqlite = (await testDialects()).find((d) => d.name === 'sqlite')!;
let database: TestDatabase;
let store: Store;
before(async () => { database = await sqlite.create(); store = await database.open(); });
after(async () => { await store?.close(); await database?.cleanup(); });

test('a budget without a period, or an unknown one, is a clear error', () => {
  const none = costSchema.safeParse({ budgets: [{ name: 'b', amount: 10 }] });
  assert.match(none.error!.issues[0]!.message, /a budget needs its period: period: month/);
  const week = costSchema.safeParse({ budgets: [{ name: 'b', amount: 10, period: 'week' }] });
  assert.match(week.error!.issues[0]!.message, /unknown budget period "week"; budgets are per month/);
});

test('thresholds fire once each, as the spend crosses them; the forecast alert while projected over; a new month resolves them', async () => {
  // One replica of 1 vCPU + 1 GiB at 0.04 + 0.005 $/h: 0.045 $/h; a budget of 0.09: 50% after 1 h, 80% after 1.6 h, 100% after 2 h.
  const clock = new ManualClock(0, Date.UTC(2026, 5, 30, 20, 0));
  const spec = costSchema.parse({ prices: { cpu: 0.04, memory: 0.005 }, budgets: [{ name: 'risk', deployment: 'd', amount: 0.09, period: 'month' }] }) as CostSpec;
  const meters = new CostMeters({
    clock, logger: silentLogger, store: new CostStore(store), everyMs: () => 60_000, usage: { cpuSeconds: () => 0, rssBytes: () => undefined },
    replicas: () => [{ id: 'd#0', group: 'g', deployment: 'd', version: 1, state: 'ready', restarts: 0, since: 0, pid: 1 }],
    reservation: () => ({ cpu: 1, memoryGiB: 1, gpu: 0 }),
  });
  const live = [{ name: 'd', version: 1, spec: {} as DeploymentSpec, reservation: { cpu: 1, memoryGiB: 1, gpu: 0 }, replicas: 1, labels: {} }];
  const book = new AlertBook({ forMs: () => 0, repeatMs: () => 86_400_000 });
  const fired: { name: string; threshold?: string; atMin: number }[] = [];
  const resolved: string[] = [];
  for (let min = 0; min <= 240; min += 1) {
    await meters.reconcile();
    const statuses = await budgetStatus({ store: new CostStore(store), spec, nowMs: clock.date().getTime(), deployments: live });
    for (const n of book.update(budgetConditions(statuses), clock.date().getTime())) {
      for (const a of n.alerts) {
        if (a.state === 'firing' && a.firingAt === n.at) fired.push({ name: a.name, ...(a.labels.threshold ? { threshold: a.labels.threshold } : {}), atMin: min });
        if (a.state === 'resolved') resolved.push(`${a.name}${a.labels.threshold ? `@${a.labels.threshold}` : ''}`);
      }
    }
    clock.advance(60_000);
  }
  // 20:00 + 4 h crosses midnight into July at minute 240: the June alerts resolve, and July starts from nothing.
  assert.deepEqual(fired.filter((f) => f.name === 'BudgetSpent').map((f) => [f.threshold, f.atMin]), [['50', 60], ['80', 96], ['100', 120]]);
  // At once: nothing spent yet, but the running replica costs 0.045 $/h × 4 h left = 0.18, over 0.09; and again for July.
  assert.deepEqual(fired.filter((f) => f.name === 'BudgetForecast').map((f) => f.atMin), [0, 240]);
  assert.deepEqual(resolved.sort(), ['BudgetForecast', 'BudgetSpent@100', 'BudgetSpent@50', 'BudgetSpent@80']);
});
