/**
 * Meter arithmetic on a stepped clock, through the real store (SQLite and PostgreSQL): a
 * replica group of known reservation, price and lifetime costs exactly that; a scale-up
 * mid-period splits the cost at the moment it happened; a new meter (a restart) reads the
 * same figures; idle findings; instance prices split as OpenCost does.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../clock.js';
import type { ReplicaStatus } from '../control/orchestrators/types.js';
import { silentLogger } from '../log.js';
import { costSchema } from '../spec/schema.js';
import type { CostSpec, DeploymentSpec } from '../spec/types.js';
import type { Store } from '../store/db.js';
import { freshDatabaseEach, testDialects } from '../store/testing/databases.js';
import { CostMeters, CostStore, type ProcessUsage } from './meters.js';
import { splitInstance } from './prices.js';
import { costReport, ratesOf, reservationOf } from './report.js';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} ≉ ${b}`);
const cost = (o: Record<string, unknown> = {}) => costSchema.parse({ prices: { cpu: 0.04, memory: 0.005 }, ...o }) as CostSpec;

test('an instance price is split with OpenCost\'s ratios, and sums back to it', () => {
  // The spec's example: base prices GPU 30, CPU 30, RAM 10 normalise a $35 node to 15/15/5; here with OpenCost's default rates.
  const r = splitInstance({ vcpu: 2, memoryGiB: 8, gpu: 0, hourly: 0.096 });
  close(2 * r.cpu + 8 * r.memory, 0.096);
  close(r.cpu / r.memory, 0.031611 / 0.004237);
  assert.equal(r.gpu, undefined, 'an instance without GPUs has no GPU rate: a GPU reserved on it is unpriced');
  const g = splitInstance({ vcpu: 4, memoryGiB: 16, gpu: 1, hourly: 1.006 });
  close(4 * g.cpu + 16 * g.memory + g.gpu!, 1.006);
  const rates = ratesOf(cost({ prices: { memory: 0.01 }, instance: 'aws:m6i.large' }));
  close(rates.cpu!, r.cpu);
  assert.equal(rates.memory, 0.01, 'a price given overrides the instance\'s');
  assert.match(rates.source, /instance aws:m6i.large .*; cost.prices for memory/);
});

test('bad cost specs: a negative price, an unknown instance type with a suggestion', () => {
  const neg = costSchema.safeParse({ prices: { cpu: -1 } });
  assert.match(neg.error!.issues[0]!.message, /cannot be negative/);
  const unknown = costSchema.safeParse({ instance: 'aws:m6i.larg' });
  assert.match(unknown.error!.issues[0]!.message, /unknown instance type 'aws:m6i.larg'; did you mean 'aws:m6i.large'\?/);
  assert.match(costSchema.safeParse({ instance: 'aws:zz' }).error!.issues[0]!.message, /unknown instance type 'aws:zz'\. Known: aws:m6i.large/);
  // Budget names are their identity in alerts.
  assert.match(costSchema.safeParse({ budgets: [{ name: 'b', amount: 10, period: 'month' }, { name: 'b', amount: 20, period: 'month' }] }).error!.issues[0]!.message, /two budgets are named 'b'/);
  // The catalog is in USD: another currency needs the instance's own price.
  assert.match(costSchema.safeParse({ instance: 'aws:m6i.large', currency: 'EUR' }).error!.issues[0]!.message, /catalog's price for 'aws:m6i.large' is in USD, and cost.currency is EUR: give it under cost.instances/);
  assert.ok(costSchema.safeParse({ instance: 'aws:m6i.large', currency: 'EUR', instances: [{ name: 'aws:m6i.large', vcpu: 2, memory: '8Gi', hourly: 0.09 }] }).success);
  assert.match(ratesOf(cost({ prices: {}, instance: 'mine', currency: 'EUR', instances: [{ name: 'mine', vcpu: 2, memory: '8Gi', hourly: 0.09 }] })).source, /^instance mine \(cost.instances, 0.09 EUR\/h\)$/);
  // Each price names its own unit.
  assert.match(costSchema.safeParse({ prices: { memory: 'cheap' } }).error!.issues[0]!.message, /prices.memory is a price in dollars per GiB-hour, e.g. 0.005/);
  assert.match(costSchema.safeParse({ prices: { memory: -1 } }).error!.issues[0]!.message, /a price is dollars per GiB-hour, 0 or more/);
  // A budget's amount is money, not a price, and a bad one is one error.
  const budget = costSchema.safeParse({ budgets: [{ name: 'b', amount: -5, period: 'month' }] });
  assert.deepEqual(budget.error!.issues.map((i) => i.message), ['budgets[].amount must be above 0: the most to spend in a period, in cost.currency, e.g. 500']);
});

test('reservation: the spec\'s, else the threads and twice the model file plus 256 MiB', () => {
  const spec = { resources: { gpu: 0 } } as unknown as DeploymentSpec;
  assert.deepEqual(reservationOf(spec, 2, 10 * 2 ** 20), { cpu: 2, memoryGiB: 320 / 1024, gpu: 0 }, '2 × 10 MiB + 256 MiB = 276, rounded up to 320 MiB');
  assert.deepEqual(reservationOf({ resources: { cpu: 1, memory: 1, gpu: 0 } } as unknown as DeploymentSpec, 4, 0), { cpu: 1, memoryGiB: 1, gpu: 0 });
});

for (const target of await testDialects()) {
  describe(`cost meters: ${target.name}`, { skip: target.skip ?? false }, () => {
    let store: Store;
    freshDatabaseEach(target, (_d, s) => { store = s; });

    const replica = (id: string, o: Partial<ReplicaStatus> = {}): ReplicaStatus => ({ id, group: 'd@1.x', deployment: 'd', version: 1, state: 'ready', restarts: 0, since: 0, pid: 100 + Number(id.split('#')[1]), ...o });
    const world = () => {
      const clock = new ManualClock(0, Date.UTC(2026, 5, 1));
      let replicas: ReplicaStatus[] = [replica('d#0'), replica('d#1')];
      const cpu = new Map<number, number>();
      const usage: ProcessUsage = { cpuSeconds: (pid) => cpu.get(pid) ?? 0, rssBytes: () => 512 * 2 ** 20 };
      const meters = new CostMeters({
        clock, logger: silentLogger, store: new CostStore(store), replicas: () => replicas, usage, everyMs: () => 10_000,
        reservation: () => ({ cpu: 1, memoryGiB: 1, gpu: 0 }),
      });
      return { clock, meters, cpu, set: (r: ReplicaStatus[]) => { replicas = r; } };
    };
    const live = [{ name: 'd', version: 1, spec: { replicas: { min: 2, max: 2, initial: 2 }, resources: { cpu: 1, memory: 1, gpu: 0 } } as unknown as DeploymentSpec, reservation: { cpu: 1, memoryGiB: 1, gpu: 0 }, replicas: 2, labels: { team: 'risk' } }];

    test('2 replicas of 1 vCPU and 1 GiB for 2 hours at $0.04 and $0.005: exactly $0.18; then a third for an hour adds $0.045', async () => {
      const w = world();
      const observe = w.meters.observer();
      for (let s = 0; s <= 7200; s += 10) {
        await w.meters.reconcile();
        if (s < 7200) { w.clock.advance(10_000); w.cpu.set(100, (w.cpu.get(100) ?? 0) + 0.5); w.cpu.set(101, (w.cpu.get(101) ?? 0) + 0.5); }
      }
      for (let i = 0; i < 1000; i++) observe({ deployment: 'd', version: 1, model: 'm', status: 200, totalMs: 1, rows: 2, at: w.clock.date().getTime() });
      // Refusals and errors are demand, not predictions: not priced per 1,000.
      for (const status of [429, 503, 400, 500]) observe({ deployment: 'd', version: 1, model: 'm', status, totalMs: 1, at: w.clock.date().getTime() });
      assert.equal(w.meters.served('d', 1).answered, 1004, 'the autoscaler still sees every arrival');
      await w.meters.flush();
      let r = await costReport({ store: new CostStore(store), spec: cost(), nowMs: w.clock.date().getTime(), sinceMs: 30 * 86_400_000, by: 'deployment', deployments: live });
      const g = r.groups[0]!;
      close(g.replicaHours, 4);
      close(g.cost!, 2 * 2 * (0.04 + 0.005));
      assert.deepEqual(g.unpriced, []);
      close(g.used.cpuHours!, 2 * 720 * 0.5 / 3600);
      close(g.efficiency.cpu!, 0.05, 1e-6);
      assert.equal(g.predictions, 2000);
      close(g.costPer1kPredictions!, (0.18 / 2000) * 1000);
      // A third replica joins for an hour: its hour is added, split at the moment it ran.
      w.set([replica('d#0'), replica('d#1'), replica('d#2')]);
      for (let s = 0; s <= 3600; s += 10) { await w.meters.reconcile(); if (s < 3600) w.clock.advance(10_000); }
      r = await costReport({ store: new CostStore(store), spec: cost(), nowMs: w.clock.date().getTime(), sinceMs: 30 * 86_400_000, by: 'deployment', deployments: live });
      close(r.groups[0]!.replicaHours, 4 + 3);
      close(r.total.cost!, 0.18 + 3 * 0.045);
      // A restart: a new meter on the same store reports the same.
      const again = await costReport({ store: new CostStore(store), spec: cost(), nowMs: w.clock.date().getTime(), sinceMs: 30 * 86_400_000, by: 'label', deployments: live });
      assert.equal(again.groups[0]!.key, 'team=risk');
      close(again.groups[0]!.cost!, r.total.cost!);
      // A caller scoped to other deployments sees none of d: no group, no label, a total of nothing, no machine.
      for (const by of ['deployment', 'label'] as const) {
        const hidden = await costReport({ store: new CostStore(store), spec: cost(), nowMs: w.clock.date().getTime(), sinceMs: 30 * 86_400_000, by, deployments: live, cores: 2, visible: (d) => d !== 'd' });
        assert.deepEqual([hidden.groups, hidden.total.replicaHours, hidden.total.cost, hidden.machine], [[], 0, 0, undefined], by);
      }
      // Removed since: its spend stays under the labels its last revision gave it.
      const removed = await costReport({ store: new CostStore(store), spec: cost(), nowMs: w.clock.date().getTime(), sinceMs: 30 * 86_400_000, by: 'label', deployments: [], pastLabels: async (names) => new Map(names.map((n) => [n, { team: 'risk' }])) });
      assert.deepEqual(removed.groups.map((g) => g.key), ['team=risk']);
      close(removed.groups[0]!.cost!, r.total.cost!);
      const seen = await costReport({ store: new CostStore(store), spec: cost(), nowMs: w.clock.date().getTime(), sinceMs: 30 * 86_400_000, by: 'label', deployments: live, cores: 2, visible: (d) => d === 'd' });
      close(seen.total.cost!, r.total.cost!);
      assert.ok(seen.machine, 'a caller who may see every deployment sees the machine');
    });

    test('recent replicas: the average over the metered time (2 for 2 h, then 3 for 1 h: 7/3), read back by a new meter after a restart', async () => {
      const w = world();
      assert.equal(w.meters.recentReplicas('d'), undefined, 'no history yet');
      for (let s = 0; s <= 7200; s += 10) { await w.meters.reconcile(); if (s < 7200) w.clock.advance(10_000); }
      await w.meters.refreshRecent();
      close(w.meters.recentReplicas('d')!.average, 2, 1e-6);
      close(w.meters.recentReplicas('d')!.hours, 2, 1e-6);
      w.set([replica('d#0'), replica('d#1'), replica('d#2')]);
      for (let s = 0; s <= 3600; s += 10) { await w.meters.reconcile(); if (s < 3600) w.clock.advance(10_000); }
      await w.meters.refreshRecent();
      close(w.meters.recentReplicas('d')!.average, 7 / 3, 1e-6);
      // A restart mid-hour: the new meter reads the same history from the store (its hours start on the hour, as the clock's did).
      const again = new CostMeters({ clock: w.clock, logger: silentLogger, store: new CostStore(store), replicas: () => [], everyMs: () => 10_000, reservation: () => undefined });
      await again.refreshRecent();
      close(again.recentReplicas('d')!.average, 7 / 3, 1e-6);
      assert.equal(again.recentReplicas('other'), undefined);
    });

    test('recent replicas after a restart within the hour metering began: the earlier process\'s seconds count over its own time, not the new one\'s', async () => {
      // Metering begins at 12:40 with 1 replica; the process restarts at 12:50 and meters the same replica until 13:00.
      const clock = new ManualClock(0, Date.UTC(2026, 5, 1, 12, 40));
      const one = [replica('d#0')];
      const meter = () => new CostMeters({ clock, logger: silentLogger, store: new CostStore(store), replicas: () => one, everyMs: () => 10_000, reservation: () => ({ cpu: 1, memoryGiB: 1, gpu: 0 }) });
      const first = meter();
      for (let s = 0; s <= 600; s += 10) { await first.reconcile(); if (s < 600) clock.advance(10_000); }
      await first.refreshRecent();
      close(first.recentReplicas('d')!.average, 1, 1e-6);
      const second = meter();
      await second.reconcile(); // its first sample: the replica counts from now on
      for (let s = 0; s < 600; s += 10) { clock.advance(10_000); await second.reconcile(); }
      await second.refreshRecent();
      close(second.recentReplicas('d')!.average, 1, 1e-6);
      close(second.recentReplicas('d')!.hours, 20 / 60, 1e-6);
    });

    test('replicas backing off or stopped hold no reservation; an unpriced GPU is reported, never free', async () => {
      const w = world();
      w.set([replica('d#0', { state: 'backoff' }), replica('d#1', { state: 'stopped' })]);
      for (let s = 0; s < 10; s++) { await w.meters.reconcile(); w.clock.advance(10_000); }
      const r = await costReport({ store: new CostStore(store), spec: cost(), nowMs: w.clock.date().getTime(), sinceMs: 86_400_000, by: 'deployment', deployments: live });
      assert.equal(r.total.replicaHours, 0);
      const gpu = new CostMeters({ clock: w.clock, logger: silentLogger, store: new CostStore(store), replicas: () => [replica('d#0')], usage: { cpuSeconds: () => 0, rssBytes: () => undefined }, everyMs: () => 1, reservation: () => ({ cpu: 1, memoryGiB: 1, gpu: 1 }) });
      await gpu.reconcile(); w.clock.advance(3_600_000); await gpu.reconcile();
      const g = await costReport({ store: new CostStore(store), spec: cost(), nowMs: w.clock.date().getTime(), sinceMs: 86_400_000, by: 'deployment', deployments: live });
      assert.deepEqual(g.total.unpriced, ['gpu']);
      close(g.total.cost!, 0.045, 1e-6);
    });

    test('an idle deployment is found after idle.for, with its monthly cost and what to change; a busy one is not', async () => {
      const w = world();
      const spec = cost({ idle: { below: 0.05, for: '1h' } });
      for (let s = 0; s <= 3600; s += 10) { await w.meters.reconcile(); if (s < 3600) { w.clock.advance(10_000); w.cpu.set(100, (w.cpu.get(100) ?? 0) + 0.1); } }
      const r = await costReport({ store: new CostStore(store), spec, nowMs: w.clock.date().getTime(), sinceMs: 86_400_000, by: 'deployment', deployments: live });
      assert.equal(r.findings.length, 1);
      const f = r.findings[0]!;
      assert.equal(f.deployment, 'd');
      close(f.utilisation, 0.005, 1e-6);
      close(f.monthlyCost!, 2 * 0.045 * 730);
      assert.match(f.recommendation, /no request in the window: let it scale to zero/);
      // Busy: 80% of a core each.
      const busy = world();
      for (let s = 0; s <= 3600; s += 10) { await busy.meters.reconcile(); if (s < 3600) { busy.clock.advance(10_000); busy.cpu.set(100, (busy.cpu.get(100) ?? 0) + 8); busy.cpu.set(101, (busy.cpu.get(101) ?? 0) + 8); } }
      const b = await costReport({ store: new CostStore(store), spec, nowMs: busy.clock.date().getTime(), sinceMs: 3_600_000, by: 'deployment', deployments: live });
      assert.ok(b.findings.every((x) => x.utilisation >= 0.05), JSON.stringify(b.findings));
    });

    test('a thread replica\'s use is not measured: efficiency says so and it is never found idle; a process replica beside it is measured alone', async () => {
      const w = world();
      // d#0 is a process replica (10% of a core); d#1 a thread replica (no pid: it shares the gateway's process).
      w.set([replica('d#0'), replica('d#1', { pid: undefined })]);
      for (let s = 0; s <= 3600; s += 10) { await w.meters.reconcile(); if (s < 3600) { w.clock.advance(10_000); w.cpu.set(100, (w.cpu.get(100) ?? 0) + 1); } }
      const spec = cost({ idle: { below: 0.05, for: '1h' } });
      const r = await costReport({ store: new CostStore(store), spec, nowMs: w.clock.date().getTime(), sinceMs: 86_400_000, by: 'deployment', deployments: live });
      close(r.groups[0]!.efficiency.cpu!, 0.1, 1e-6);
      assert.deepEqual(r.findings, [], '10% of what the measured replica reserves: not idle at 5%');
    });

    test('thread replicas alone: CPU and memory not measured, rather than 0%, and no idle finding', async () => {
      const spec = cost({ idle: { below: 0.05, for: '1h' } });
      const threads = world();
      threads.set([replica('d#0', { pid: undefined }), replica('d#1', { pid: undefined })]);
      for (let s = 0; s <= 3600; s += 10) { await threads.meters.reconcile(); if (s < 3600) threads.clock.advance(10_000); }
      const t = await costReport({ store: new CostStore(store), spec, nowMs: threads.clock.date().getTime(), sinceMs: 3_600_000, by: 'deployment', deployments: live });
      assert.equal(t.groups[0]!.efficiency.cpu, undefined, 'not measured, rather than 0%');
      assert.equal(t.groups[0]!.efficiency.memory, undefined);
      assert.deepEqual(t.findings, [], 'unmeasured use is no evidence of idleness');
      assert.deepEqual(t.groups[0]!.used, { cpuHours: null, memoryGiBHours: null }, 'not measured is null in the JSON, not 0');
      // Without prices: the cost is null (unpriced), never 0.
      const bare = await costReport({ store: new CostStore(store), spec: costSchema.parse({}) as CostSpec, nowMs: threads.clock.date().getTime(), sinceMs: 3_600_000, by: 'deployment', deployments: live });
      assert.equal(bare.groups[0]!.cost, null);
      assert.deepEqual(bare.groups[0]!.unpriced, ['cpu', 'memory']);
      assert.equal(bare.total.cost, null);
    });

    test('the idle window is exactly idle.for where the meters sampled it; after a restart, the store\'s hours until then', async () => {
      const w = world();
      const windowMs = 20 * 60_000;
      const meters = new CostMeters({
        clock: w.clock, logger: silentLogger, store: new CostStore(store), replicas: () => [replica('d#0'), replica('d#1')], everyMs: () => 10_000, windowMs: () => windowMs,
        usage: { cpuSeconds: (pid) => w.cpu.get(pid) ?? 0, rssBytes: () => 2 ** 29 }, reservation: () => ({ cpu: 1, memoryGiB: 1, gpu: 0 }),
      });
      const spec = cost({ idle: { below: 0.05, for: '20m' } });
      const observe = meters.observer();
      // Busy (80% of a core each, a request per sample) for 70 minutes, then idle.
      const run = async (untilMin: number) => {
        while (w.clock.now() < untilMin * 60_000) {
          w.clock.advance(10_000);
          if (w.clock.now() <= 70 * 60_000) {
            for (const pid of [100, 101]) w.cpu.set(pid, (w.cpu.get(pid) ?? 0) + 8);
            observe({ deployment: 'd', version: 1, at: w.clock.date().getTime(), rows: 1 } as Parameters<typeof observe>[0]);
          }
          await meters.reconcile();
        }
      };
      const findings = () => costReport({ store: new CostStore(store), spec, nowMs: w.clock.date().getTime(), sinceMs: 86_400_000, by: 'deployment', deployments: live, window: (d, since) => meters.window(d, since) }).then((r) => r.findings);
      await run(85);
      assert.deepEqual(await findings(), [], 'at 85 min the last 20 min hold 5 busy minutes');
      const exact = meters.window('d', w.clock.date().getTime() - windowMs)!;
      close(exact.replicaS, 2 * 1200, 0.01);
      assert.equal(exact.requests, 30, 'the requests of minutes 65 to 70');
      await run(91);
      const found = await findings();
      assert.deepEqual(found.map((f) => f.deployment), ['d'], 'found once idle.for has passed since the load stopped (plus a sample)');
      assert.equal(found[0]!.requests, 0);
      assert.ok(found[0]!.utilisation < 0.05);
      // A restarted process has not sampled the window: the store's hours since 60 min hold busy minutes 60 to 70.
      const restarted = new CostMeters({ clock: w.clock, logger: silentLogger, store: new CostStore(store), replicas: () => [], everyMs: () => 10_000, windowMs: () => windowMs, reservation: () => undefined });
      await restarted.reconcile();
      assert.equal(restarted.window('d', w.clock.date().getTime() - windowMs), undefined, 'not covered by this process');
      const fallback = await costReport({ store: new CostStore(store), spec, nowMs: w.clock.date().getTime(), sinceMs: 86_400_000, by: 'deployment', deployments: live, window: (d, since) => restarted.window(d, since) });
      assert.deepEqual(fallback.findings, [], 'the hourly rows reach back to 60 min, into the load');
    });
  });
}

test('the planner prices measurements at the target rate and picks the cheapest meeting the p99, else the closest', async () => {
  const { choose } = await import('./recommend.js');
  const m = (isolation: 'process' | 'thread', threads: number, rps: number, p99: number) => ({ isolation, threads, maxBatchSize: 16, rps, p50: p99 / 3, p99, memoryMiB: 200, errors: 0, concurrency: 32 });
  const r = choose([m('process', 2, 1000, 4), m('process', 1, 700, 9), m('thread', 1, 300, 2)], { deployment: 'd', rps: 1000, p99Ms: 10, rates: { cpu: 0.04, memory: 0.005 }, currency: 'USD', defaultMemoryMiB: 256, inputs: 'synthetic' });
  // At 70% of measured: 2 replicas of 2 threads, 3 of 1 thread, 5 of the thread one.
  assert.deepEqual(r.rows.map((x) => [x.isolation, x.threads, x.replicas]), [['process', 1, 3], ['process', 2, 2], ['thread', 1, 5]]);
  assert.equal(r.best!.threads, 1, '3 × (1 vCPU + 256 MiB) is cheaper than 2 × (2 vCPU + 256 MiB)');
  close(r.best!.monthly, 3 * (0.04 + 0.25 * 0.005) * 730);
  assert.match(r.fragment!, /replicas: 3\n {4}runtime: \{ isolation: process, intraOpThreads: 1 \}/);
  // A deployment with a range keeps it: its min (scale to zero here), its max raised to what the rate needs.
  const ranged = choose([m('process', 1, 700, 9)], { deployment: 'd', rps: 1000, p99Ms: 10, rates: {}, currency: 'USD', defaultMemoryMiB: 256, inputs: 'synthetic', range: { min: 0, max: 2 } });
  assert.match(ranged.fragment!, /replicas: \{ min: 0, max: 3 \} {3}# 3 for 1000 req\/s\n/);
  assert.match(choose([m('process', 1, 700, 9)], { deployment: 'd', rps: 100, p99Ms: 10, rates: {}, currency: 'USD', defaultMemoryMiB: 256, inputs: 'synthetic', range: { min: 0, max: 4 } }).fragment!, /replicas: \{ min: 0, max: 4 \} {3}# 1 for 100 req\/s\n/);
  // A floor above what the rate needs (two replicas for availability) is not lowered.
  assert.match(choose([m('process', 1, 700, 9)], { deployment: 'd', rps: 100, p99Ms: 10, rates: {}, currency: 'USD', defaultMemoryMiB: 256, inputs: 'synthetic', range: { min: 2, max: 3 } }).fragment!, /replicas: \{ min: 2, max: 3 \} {3}# 1 for 100 req\/s\n/);
  const none = choose([m('process', 1, 700, 9)], { deployment: 'd', rps: 10, p99Ms: 1, rates: {}, currency: 'USD', defaultMemoryMiB: 256, inputs: 'synthetic' });
  assert.equal(none.best, undefined);
  assert.match(none.note, /no configuration meets p99 ≤ 1 ms; the closest is process, 1 thread, batch 16 at p99 9.00 ms/);
  assert.match(none.fragment!, /^# NOT a recommendation: the closest configuration, which misses p99 ≤ 1 ms \(its p99 9\.00 ms\)\ndeployments:/);
  assert.deepEqual(none.rows[0]!.unpriced, ['cpu', 'memory']);
});

test('captured predictions are rebuilt into the requests the model took; a redacted or hashed column makes them unusable, with the reason', async () => {
  const { buildRecord } = await import('../monitor/capture/record.js');
  const { capturedInputs } = await import('./recommend.js');
  const sig = { inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [-1, 3] }, { name: 'k', datatype: 'INT64' as const, shape: [-1, 1] }], outputs: [{ name: 'y', datatype: 'FP32' as const, shape: [-1, 1] }], batchable: true };
  const features = [{ name: 'age', kind: 'numeric' as const }, { name: 'income', kind: 'numeric' as const }, { name: 'region', kind: 'categorical' as const }];
  const x = new Float32Array([31, 52000.5, 2, 45, Number.NaN, 1]);
  const src = { id: 'r1', at: 0, deployment: 'd', version: 1, model: 'm', key: 'k', latencyMs: 1,
    inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [2, 3], data: x }, { name: 'k', datatype: 'INT64' as const, shape: [2, 1], data: new BigInt64Array([7n, 9n]) }],
    outputs: [{ name: 'y', datatype: 'FP32' as const, shape: [2, 1], data: new Float32Array([0.1, 0.9]) }] };
  const capture = (o: { redact?: string[]; hash?: string[] }) => ({ sampleRate: 1, redact: o.redact ?? [], hash: o.hash ?? [], hashKey: 'h' }) as never;
  const record = JSON.parse(JSON.stringify(buildRecord(src, capture({}), features)));
  const got = capturedInputs([record, record], sig, { features, redact: [], hash: [] });
  assert.ok('inputs' in got, 'reason' in got ? got.reason : '');
  assert.equal(got.inputs.length, 2);
  const [a, k] = got.inputs[0]!;
  assert.deepEqual(a!.shape, [2, 3]);
  assert.deepEqual(Array.from(a!.data as Float32Array).map((v) => (Number.isNaN(v) ? 'NaN' : v)), [31, 52000.5, 2, 45, 'NaN', 1], 'NaN was stored as null and comes back as NaN');
  assert.deepEqual(k!.shape, [2, 1]);
  assert.deepEqual(Array.from(k!.data as BigInt64Array), [7n, 9n]);
  const redacted = capturedInputs([buildRecord(src, capture({ redact: ['income'] }), features)], sig, { features, redact: ['income'], hash: [] });
  assert.deepEqual(redacted, { reason: "capture redacts 'income', so the values the model saw are not stored" });
  const hashed = capturedInputs([buildRecord(src, capture({ hash: ['region'] }), features)], sig, { features, redact: [], hash: ['region'] });
  assert.deepEqual(hashed, { reason: "capture hashes 'region', so the values the model saw are not stored" });
  const both = capturedInputs([buildRecord(src, capture({ redact: ['income'], hash: ['region'] }), features)], sig, { features, redact: ['income'], hash: ['region'] });
  assert.deepEqual(both, { reason: "capture redacts 'income' and hashes 'region', so the values the model saw are not stored" });
  assert.match((capturedInputs([], sig, { redact: [], hash: [] }) as { reason: string }).reason, /no captured prediction could be rebuilt/);
});
