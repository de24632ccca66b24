/**
 * The alert model without servers (pending → firing → resolved, dedupe, grouping, repeat),
 * the rules, and delivery to a real HTTP receiver on 127.0.0.1 that fails and is retried
 * on a ManualClock: nothing sleeps.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../clock.js';
import { silentLogger } from '../../log.js';
import { alertsSchema } from '../../spec/schema.js';
import type { AlertsSpec } from '../../spec/types.js';
import { Alerts, type AlertsReport, type Delivery } from './alerts.js';
import type { Store } from '../../store/db.js';
import { freshDatabaseEach, testDialects, type TestDatabase } from '../../store/testing/databases.js';
import { AlertBook, fingerprintOf, type BookSnapshot, type Condition, type Notification } from './model.js';
import { AlertStateStore } from './store.js';
import { Lease } from '../../store/leases.js';
import { describeAlerts } from '../../cli/commands/alerts.js';
import { CaptureDropRule, CrashLoopRule, driftConditions } from './rules.js';
import type { DriftCheck } from '../drift-monitor.js';
import type { DatasetDrift, FeatureDrift } from '../drift.js';
import { webhookPayload, type WebhookPayload } from './sinks.js';

const cond = (name: string, deployment: string, extra: Record<string, string> = {}): Condition => ({
  labels: { alertname: name, deployment, severity: 'page', ...extra }, annotations: { summary: `${name} on ${deployment}` },
});

test('a condition fires after `for`, is deduplicated, and resolves when it stops holding', () => {
  let forMs = 60_000;
  const book = new AlertBook({ forMs: () => forMs, repeatMs: () => 3_600_000 });
  const t0 = Date.UTC(2026, 0, 1);
  assert.deepEqual(book.update([cond('X', 'a'), cond('X', 'a')], t0), [], 'pending: nothing sent');
  assert.equal(book.active().length, 1, 'the same labels twice are one alert');
  assert.equal(book.active()[0]!.state, 'pending');
  const fired = book.update([cond('X', 'a')], t0 + 60_000);
  assert.equal(fired.length, 1);
  assert.equal(fired[0]!.status, 'firing');
  assert.equal(fired[0]!.groupKey, '{deployment="a"}');
  assert.deepEqual(book.update([cond('X', 'a')], t0 + 120_000), [], 'unchanged, within repeat: nothing');
  const resolved = book.update([], t0 + 180_000);
  assert.equal(resolved[0]!.status, 'resolved');
  assert.equal(resolved[0]!.alerts[0]!.resolvedAt, new Date(t0 + 180_000).toISOString());
  assert.equal(book.active().length, 0);
  assert.equal(book.resolved().length, 1);
  // A condition that clears while pending never fires, and is not "resolved".
  book.update([cond('Y', 'a')], t0 + 200_000);
  assert.deepEqual(book.update([], t0 + 210_000), []);
  assert.equal(book.resolved().length, 1);
  forMs = 0;
  assert.equal(book.update([cond('Z', 'b')], t0 + 220_000)[0]!.status, 'firing', 'for 0 fires at once');
});

test('alerts are grouped by deployment; a group repeats after `repeat`; a resolve carries the group\'s other firing alerts', () => {
  const book = new AlertBook({ forMs: () => 0, repeatMs: () => 600_000 });
  const t0 = Date.UTC(2026, 0, 1);
  const n = book.update([cond('A', 'd1'), cond('B', 'd1', { slo: 'latency' }), cond('A', 'd2')], t0);
  assert.deepEqual(n.map((x) => [x.groupKey, x.alerts.length]).sort(), [['{deployment="d1"}', 2], ['{deployment="d2"}', 1]]);
  assert.deepEqual(book.update([cond('A', 'd1'), cond('B', 'd1', { slo: 'latency' }), cond('A', 'd2')], t0 + 300_000), []);
  const again = book.update([cond('A', 'd1'), cond('B', 'd1', { slo: 'latency' }), cond('A', 'd2')], t0 + 600_000);
  assert.deepEqual(again.map((x) => x.reason), ['repeat', 'repeat']);
  const r = book.update([cond('A', 'd1'), cond('A', 'd2')], t0 + 700_000);
  assert.equal(r.length, 1);
  assert.equal(r[0]!.status, 'firing', 'd1 still has A firing');
  assert.deepEqual(r[0]!.alerts.map((a) => [a.name, a.state]), [['A', 'firing'], ['B', 'resolved']]);
  assert.notEqual(fingerprintOf({ a: '1', b: '2' }), fingerprintOf({ a: '1', b: '3' }));
  assert.equal(fingerprintOf({ a: '1', b: '2' }), fingerprintOf({ b: '2', a: '1' }));
});

test('the webhook body is Alertmanager\'s version 4 and carries Slack\'s text', () => {
  const book = new AlertBook({ forMs: () => 0, repeatMs: () => 1 });
  const [n] = book.update([{ ...cond('SLOBurnRate', 'credit-risk', { slo: 'latency' }), annotations: { summary: 'burning', description: 'fast' } }], Date.UTC(2026, 0, 1));
  const p = webhookPayload(n!, 'http://127.0.0.1:8080');
  assert.equal(p.version, '4');
  assert.equal(p.status, 'firing');
  assert.deepEqual(p.groupLabels, { deployment: 'credit-risk' });
  assert.deepEqual(p.commonLabels, { alertname: 'SLOBurnRate', deployment: 'credit-risk', severity: 'page', slo: 'latency' });
  assert.equal(p.alerts[0]!.endsAt, '0001-01-01T00:00:00Z');
  assert.equal(p.alerts[0]!.startsAt, '2026-01-01T00:00:00.000Z');
  assert.match(p.alerts[0]!.fingerprint, /^[0-9a-f]{16}$/);
  assert.match(p.text, /^\[FIRING:1\] credit-risk\n.*SLOBurnRate.*burning/);
});

test('crash loops: restarts counted over 10 minutes, and a replica that failed for good', () => {
  const rule = new CrashLoopRule();
  const r = (restarts: number, state = 'ready') => [{ id: 'd#0', group: 'g', deployment: 'd', version: 1, state: state as 'ready', restarts, since: 0 }];
  assert.equal(rule.conditions(r(0), 0, 3).length, 0);
  assert.equal(rule.conditions(r(2), 60_000, 3).length, 0);
  assert.equal(rule.conditions(r(3), 120_000, 3).length, 1);
  assert.equal(rule.conditions(r(3), 700_000, 3).length, 0, 'the restarts left the window');
  assert.match(rule.conditions(r(3, 'failed'), 800_000, 3)[0]!.annotations.summary, /failed and is not restarted/);
});

test('capture drops hold for five minutes after the count last rose', () => {
  const rule = new CaptureDropRule();
  assert.equal(rule.conditions([{ deployment: 'd', dropped: 0 }], 0).length, 0);
  assert.equal(rule.conditions([{ deployment: 'd', dropped: 5 }], 1000)[0]!.value, 5);
  assert.equal(rule.conditions([{ deployment: 'd', dropped: 5 }], 200_000).length, 1);
  assert.equal(rule.conditions([{ deployment: 'd', dropped: 5 }], 301_001).length, 0);
  // The summary names the causes the counts know: the queue full, the sink that failed.
  const named = new CaptureDropRule().conditions([{ deployment: 'd', dropped: 12, full: 2, failedBy: { nats: 10 } }], 0)[0]!.annotations.summary;
  assert.equal(named, 'd: prediction capture dropped 12 samples recently; 12 in all: 2 because the queue was full (a sink too slow, or capture.buffer too small), 10 because the nats sink failed');
});

describe('delivery to a real webhook receiver', () => {
  let server: Server;
  let url = '';
  const received: { body: WebhookPayload; auth?: string }[] = [];
  let failFirst = 0;
  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      let data = '';
      req.on('data', (c: Buffer) => { data += c.toString('utf8'); });
      req.on('end', () => {
        received.push({ body: JSON.parse(data) as WebhookPayload, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
        if (failFirst > 0) { failFirst--; res.writeHead(500).end('receiver down'); } else res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const spec = (o: Record<string, unknown> = {}) => alertsSchema.parse({ webhooks: [{ url, headers: { authorization: 'Bearer t0k3n' } }], log: false, ...o }) as AlertsSpec;

  test('a receiver that fails is retried with backoff until it answers 2xx; every attempt is visible', async () => {
    received.length = 0;
    failFirst = 2;
    const clock = new ManualClock(0, Date.UTC(2026, 0, 1));
    let holds: Condition[] = [cond('SLOBurnRate', 'credit-risk', { slo: 'latency' })];
    const alerts = new Alerts({ clock, logger: silentLogger, spec: () => spec(), conditions: () => holds, externalURL: () => 'http://127.0.0.1:9' });
    await alerts.evaluate();
    await alerts.settled();
    assert.equal(received.length, 1);
    let d = alerts.report().deliveries[0]!;
    assert.equal(d.state, 'waiting');
    assert.equal(d.attempts, 1);
    assert.match(d.lastError!, /answered 500: receiver down/);
    assert.equal(d.nextAttemptAt, new Date(Date.UTC(2026, 0, 1) + 1000).toISOString(), 'first retry after 1 s');
    clock.advance(1000);
    await alerts.settled();
    assert.equal(received.length, 2);
    assert.equal(alerts.report().deliveries[0]!.nextAttemptAt, new Date(Date.UTC(2026, 0, 1) + 3000).toISOString(), 'then 2 s');
    clock.advance(2000);
    await alerts.settled();
    d = alerts.report().deliveries[0]!;
    assert.equal(d.state, 'delivered');
    assert.equal(d.attempts, 3);
    assert.equal(received.length, 3);
    assert.equal(received[2]!.auth, 'Bearer t0k3n');
    assert.equal(received[2]!.body.status, 'firing');
    assert.match(alerts.counts()[0]!.sink, new RegExp(`^webhook http://${new URL(url).host.replace(/\./g, "\\.")} #[0-9a-f]{6}$`));
    assert.deepEqual({ ...alerts.counts()[0]!, sink: undefined }, { sink: undefined, delivered: 1, failed: 0, retried: 2 });
    // It resolves: one more notification, resolved.
    holds = [];
    await alerts.evaluate();
    await alerts.settled();
    assert.equal(received.at(-1)!.body.status, 'resolved');
    assert.notEqual(received.at(-1)!.body.alerts[0]!.endsAt, '0001-01-01T00:00:00Z');
    alerts.close();
  });

  test('retries stop at alerts.retries (failed, counted); a newer state supersedes a waiting retry', async () => {
    received.length = 0;
    failFirst = 100;
    const clock = new ManualClock(0, Date.UTC(2026, 0, 1));
    let holds: Condition[] = [cond('DataDrift', 'd')];
    const alerts = new Alerts({ clock, logger: silentLogger, spec: () => spec({ retries: 2 }), conditions: () => holds, externalURL: () => '' });
    await alerts.evaluate();
    await alerts.settled();
    clock.advance(1000);
    await alerts.settled();
    clock.advance(2000);
    await alerts.settled();
    assert.equal(received.length, 3, 'the first attempt and two retries');
    assert.equal(alerts.report().deliveries[0]!.state, 'failed');
    assert.equal(alerts.counts()[0]!.failed, 1);
    // Firing again then resolving while the retry waits: the resolve replaces it.
    holds = [cond('CaptureDropping', 'd')];
    await alerts.evaluate();
    await alerts.settled();
    holds = [];
    await alerts.evaluate();
    await alerts.settled();
    const states = alerts.report().deliveries.map((x) => [x.status, x.state]);
    assert.deepEqual(states.slice(0, 2), [['resolved', 'waiting'], ['firing', 'superseded']]);
    alerts.close();
  });

  test('an unreachable receiver is a clear error, retried', async () => {
    // A port that was just listened on and closed: nothing answers there.
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const port = (gone.address() as AddressInfo).port;
    await new Promise<void>((r) => gone.close(() => r()));
    const clock = new ManualClock(0, Date.UTC(2026, 0, 1));
    const alerts = new Alerts({ clock, logger: silentLogger, spec: () => alertsSchema.parse({ webhooks: [{ url: `http://127.0.0.1:${port}/x`, timeout: '1s' }], log: false }) as AlertsSpec, conditions: () => [cond('X', 'd')], externalURL: () => '' });
    await alerts.evaluate();
    await alerts.settled();
    const d = alerts.report().deliveries[0]!;
    assert.equal(d.state, 'waiting');
    assert.match(d.lastError!, /could not connect: .*ECONNREFUSED/);
    alerts.close();
  });
});

test('a restored book goes on where it was: firing alerts are not notified again, pending ones keep their start, unreported ones resolve only after the grace', () => {
  const t0 = Date.UTC(2026, 0, 1);
  const before = new AlertBook({ forMs: () => 60_000, repeatMs: () => 3_600_000 });
  before.update([cond('A', 'd1'), cond('B', 'd2')], t0);
  assert.equal(before.update([cond('A', 'd1'), cond('B', 'd2')], t0 + 60_000).length, 2, 'both fire');
  before.update([cond('A', 'd1'), cond('B', 'd2'), cond('P', 'd3')], t0 + 90_000);
  assert.equal(before.dirty, true, 'a new pending alert is worth saving');
  const saved = JSON.parse(JSON.stringify(before.snapshot())) as BookSnapshot;
  assert.equal(before.dirty, false);
  before.update([cond('A', 'd1'), cond('B', 'd2'), cond('P', 'd3')], t0 + 100_000);
  assert.equal(before.dirty, false, 'the same conditions again change nothing worth saving');

  const after = new AlertBook({ forMs: () => 60_000, repeatMs: () => 3_600_000 });
  const restart = t0 + 600_000;
  after.restore(saved, restart, 60_000);
  assert.deepEqual(after.active().map((a) => [a.name, a.state]).sort(), [['A', 'firing'], ['B', 'firing'], ['P', 'pending']]);
  // A still holds, B's rule has not reported yet, P still holds (and has held since t0 + 90 s).
  const first = after.update([cond('A', 'd1'), cond('P', 'd3')], restart);
  assert.deepEqual(first.map((n) => [n.groupKey, n.status]), [['{deployment="d3"}', 'firing']], 'only P fires: its `for` counted from before the restart; A and B are not sent again');
  assert.deepEqual(after.update([cond('A', 'd1'), cond('P', 'd3')], restart + 30_000), [], 'B unreported within the grace: kept');
  assert.equal(after.active().find((a) => a.name === 'B')?.state, 'firing');
  const late = after.update([cond('A', 'd1'), cond('P', 'd3')], restart + 61_000);
  assert.deepEqual(late.map((n) => [n.groupKey, n.status]), [['{deployment="d2"}', 'resolved']], 'past the grace an unreported alert resolves, once');
  assert.deepEqual(after.update([cond('A', 'd1'), cond('P', 'd3')], restart + 120_000), []);
  // The repeat interval runs from the notification before the restart.
  const repeat = after.update([cond('A', 'd1'), cond('P', 'd3')], t0 + 60_000 + 3_600_000);
  assert.deepEqual(repeat.map((n) => [n.groupKey, n.reason]), [['{deployment="d1"}', 'repeat']]);
});

test('a restored alert that is reported again, then stops, resolves at once even within the grace', () => {
  const t0 = Date.UTC(2026, 0, 1);
  const b = new AlertBook({ forMs: () => 0, repeatMs: () => 3_600_000 });
  b.update([cond('A', 'd1')], t0);
  const after = new AlertBook({ forMs: () => 0, repeatMs: () => 3_600_000 });
  after.restore(b.snapshot(), t0 + 1000, 60_000);
  assert.deepEqual(after.update([cond('A', 'd1')], t0 + 2000), []);
  assert.equal(after.update([], t0 + 3000)[0]?.status, 'resolved', 'its rule spoke in this process: no grace left');
});

for (const target of await testDialects()) {
  describe(`the alert book across a restart: ${target.name}`, { skip: target.skip ?? false }, () => {
    let database: TestDatabase;
    let store: Store;
    freshDatabaseEach(target, (d, s) => { database = d; store = s; });

    test('a firing alert is sent once across a restart, and its resolve once after it', async () => {
      const clock = new ManualClock(Date.UTC(2026, 0, 1));
      const sent: Notification[] = [];
      const sink = { name: 'test', send: async (n: Notification) => { sent.push(n); } };
      let holds: Condition[] = [cond('X', 'd')];
      const make = () => new Alerts({ clock, logger: silentLogger, spec: () => alertsSchema.parse({ for: '0s', log: false }) as AlertsSpec, conditions: () => holds, externalURL: () => '', sinks: () => [sink], store: new AlertStateStore(store) });
      const one = make();
      await one.evaluate();
      await one.settled();
      assert.deepEqual(sent.map((n) => n.status), ['firing']);
      one.close();
      clock.advance(300_000);
      const two = make(); // the restart
      await two.evaluate();
      assert.deepEqual(sent.map((n) => n.status), ['firing'], 'not sent again');
      assert.equal(two.report().active[0]?.state, 'firing');
      two.close();
      clock.advance(300_000);
      const three = make(); // another restart, and the rule behind X has not reported yet
      holds = [];
      await three.evaluate();
      assert.equal(sent.length, 1, 'within the grace: kept, not resolved');
      assert.equal(three.report().active[0]?.state, 'firing');
      clock.advance(61_000);
      await three.evaluate();
      await three.settled();
      assert.deepEqual(sent.map((n) => n.status), ['firing', 'resolved'], 'past the grace: resolved, once');
      three.close();
      const four = make();
      await four.evaluate();
      assert.equal(four.report().active.length, 0);
      assert.equal(four.report().resolved[0]?.name, 'X', 'the resolved history survives too');
      assert.equal(sent.length, 2);
      four.close();
    });

    test('two processes sharing the store: the lease holder alone evaluates and notifies; the other takes over when it stops, without notifying again', async () => {
      const clock = new ManualClock(Date.UTC(2026, 0, 1));
      const other = await database.open(); // the second gateway's own connection
      try {
        const spec = () => alertsSchema.parse({ for: '0s', log: false, every: '15s' }) as AlertsSpec;
        let holds: Condition[] = [cond('X', 'd')];
        const sent = { a: [] as string[], b: [] as string[] };
        const make = (who: 'a' | 'b', s: Store) => new Alerts({
          clock, logger: silentLogger, spec, conditions: () => holds, externalURL: () => '', store: new AlertStateStore(s),
          sinks: () => [{ name: 'test', send: async (n: Notification) => { sent[who].push(n.status); } }],
          lease: new Lease(s, { name: 'alerts', holder: who, clock }),
        });
        const a = make('a', store);
        const b = make('b', other);
        await a.evaluate();
        await b.evaluate();
        await a.settled();
        assert.deepEqual(sent, { a: ['firing'], b: [] }, 'notified once, by the holder');
        assert.deepEqual(a.report().evaluator, { self: 'a', leading: true });
        assert.deepEqual(b.report().evaluator, { self: 'b', leading: false, leader: 'a' });
        assert.equal(b.report().active[0]?.name, 'X', 'the one standing by shows the evaluator\'s saved book');
        assert.match(describeAlerts(b.report(), false), /this process \(b\) stands by: a evaluates and delivers alerts/);
        // a crashes (stops renewing): b waits out the lease (3 evaluations), then goes on from the saved book.
        clock.advance(30_000);
        await b.evaluate();
        assert.equal(b.report().evaluator.leading, false, 'within the lease: still a\'s');
        clock.advance(16_000);
        await b.evaluate();
        await b.settled();
        assert.equal(b.report().evaluator.leading, true, 'taken over');
        assert.deepEqual(sent.b, [], 'what already fired is not notified again');
        holds = [];
        clock.advance(61_000); // past the restored alert's grace
        await b.evaluate();
        await b.settled();
        assert.deepEqual(sent.b, ['resolved'], 'its resolve, once, by the new evaluator');
        // a comes back: it stands by and sends nothing.
        holds = [cond('Y', 'd')];
        await a.evaluate();
        await a.settled();
        assert.deepEqual(sent.a, ['firing']);
        assert.equal(a.report().evaluator.leader, 'b');
        // b stops cleanly: the lease is free at once, and a pass of b's after its close takes nothing back.
        await b.close();
        assert.deepEqual(await b.evaluate(), []);
        assert.equal(b.report().evaluator.leading, false);
        await a.evaluate();
        await a.settled();
        assert.equal(a.report().evaluator.leading, true);
        assert.deepEqual(sent.a, ['firing', 'firing'], 'a notifies Y, the alert that appeared after b stopped');
        await a.close();
      } finally {
        await other.close();
      }
    });

    test('what only a process standing by sees (its replicas\' crash loop) is alerted by the evaluator, once, and resolves when it stops publishing', async () => {
      const clock = new ManualClock(0, Date.UTC(2026, 0, 1));
      const other = await database.open();
      try {
        const spec = () => alertsSchema.parse({ for: '0s', log: false, every: '15s' }) as AlertsSpec;
        const sent: string[] = [];
        let standbySees: Condition[] = [cond('ReplicaCrashLoop', 'd')];
        const make = (who: 'a' | 'b', s: Store, holds: () => Condition[]) => new Alerts({
          clock, logger: silentLogger, spec, conditions: () => [], localConditions: holds, externalURL: () => '', store: new AlertStateStore(s),
          sinks: () => [{ name: 'test', send: async (n: Notification) => { sent.push(`${who}:${n.status}:${n.alerts.map((x) => x.name).join(',')}`); } }],
          lease: new Lease(s, { name: 'alerts', holder: who, clock }),
        });
        const a = make('a', store, () => [cond('SloBurn', 'e')]);
        const b = new Alerts({
          clock, logger: silentLogger, spec, externalURL: () => '', store: new AlertStateStore(other),
          // What b reads from the shared store is not published: the evaluator reads it itself.
          conditions: () => [cond('SharedRule', 'e')], localConditions: () => standbySees,
          sinks: () => [{ name: 'test', send: async (n: Notification) => { sent.push(`b:${n.status}:${n.alerts.map((x) => x.name).join(',')}`); } }],
          lease: new Lease(other, { name: 'alerts', holder: 'b', clock }),
        });
        await a.evaluate(); // a leads
        await b.evaluate(); // b stands by, publishes its crash loop
        await a.evaluate();
        await a.settled();
        assert.deepEqual(sent.sort(), ['a:firing:ReplicaCrashLoop', 'a:firing:SloBurn'], 'the evaluator notifies the standby\'s condition');
        assert.deepEqual(b.report().active.map((x) => x.name).sort(), ['SloBurn'], 'b shows the book as a last saved it, before its own condition arrived');
        await b.evaluate();
        assert.deepEqual(b.report().active.map((x) => x.name).sort(), ['ReplicaCrashLoop', 'SloBurn'], 'then the saved book, with it');
        // The same condition seen by both is one alert.
        standbySees = [cond('ReplicaCrashLoop', 'd'), cond('SloBurn', 'e')];
        clock.advance(15_000);
        await b.evaluate();
        await a.evaluate();
        await a.settled();
        assert.equal(sent.length, 2, 'nothing new: equal labels are one alert');
        // b stops publishing (it crashed): three evaluations later its crash loop resolves.
        clock.advance(30_000);
        await a.evaluate();
        assert.equal(sent.length, 2, 'within three evaluations its last word holds');
        clock.advance(16_000);
        await a.evaluate();
        await a.settled();
        assert.deepEqual(sent.slice(2), ['a:resolved:ReplicaCrashLoop']);
        await a.close();
        await b.close();
      } finally {
        await other.close();
      }
    });

    test('a saved book that cannot be read is reported and replaced; alerts start afresh and keep working', async () => {
      const clock = new ManualClock(Date.UTC(2026, 0, 1));
      await store.db.withTables<{ alert_state: { id: string; data: string; updated_at: string } }>().insertInto('alert_state').values({ id: 'alerts', data: '{not json', updated_at: 'x' }).execute();
      const warnings: string[] = [];
      const logger = Object.assign(Object.create(silentLogger) as typeof silentLogger, { warn: (_o: unknown, msg?: string) => { warnings.push(msg ?? ''); } });
      const sent: Notification[] = [];
      const alerts = new Alerts({ clock, logger, spec: () => alertsSchema.parse({ for: '0s', log: false }) as AlertsSpec, conditions: () => [cond('X', 'd')], externalURL: () => '', sinks: () => [{ name: 'test', send: async (n: Notification) => { sent.push(n); } }], store: new AlertStateStore(store) });
      await alerts.evaluate();
      await alerts.settled();
      assert.ok(warnings.some((w) => /could not be read; alerts start afresh/.test(w)), warnings.join('; '));
      assert.deepEqual(sent.map((n) => n.status), ['firing']);
      assert.equal((await new AlertStateStore(store).load())?.active[0]?.name, 'X', 'the unreadable book was replaced by the current one');
      alerts.close();
    });
  });
}

test('drift alerts state each test as it is judged: a p-value against its threshold, a distance against its own', () => {
  const f = (feature: string, o: Partial<FeatureDrift>): FeatureDrift => ({ feature, test: 'ks', statistic: 0.31, pValue: 1.2e-5, threshold: 0.05, drifted: true, referenceRows: 1000, currentRows: 500, ...o });
  const check: DriftCheck = {
    deployment: 'd', at: '2026-12-06T00:00:00.000Z', trigger: 'scheduled', window: '1h', reference: { source: 'ref.csv', rows: 1000 }, currentRows: 500, skipped: [],
    result: { features: [f('income', {}), { feature: 'region', test: 'jensen-shannon', statistic: 0.14, threshold: 0.1, drifted: true, referenceRows: 1000, currentRows: 500 }], share: 1, threshold: 0.5, drifted: true, driftedFeatures: ['income', 'region'] } satisfies DatasetDrift,
    predictions: [f('probability', { test: 'z-test', statistic: 6.24, pValue: 4.4e-10 })],
  };
  const [data, prediction] = driftConditions([check]);
  assert.equal(data!.annotations.description, 'income: ks 0.310, p 0.000012 (< 0.05 drifts); region: jensen-shannon 0.140 (≥ 0.1 drifts)');
  assert.match(prediction!.annotations.summary, /\(z-test 6\.24, p 4\.4e-10 \(< 0\.05 drifts\), over 1h\)$/);
});

test('aloft alerts tells deliveries still being tried from those given up on', () => {
  const d = (id: number, state: 'waiting' | 'failed' | 'delivered'): Delivery => ({ id, sink: 'webhook:ops', groupKey: '{deployment="d"}', status: 'firing', alerts: 1, state, attempts: state === 'waiting' ? 1 : 3, lastError: 'answered 500', createdAt: '2026-12-06T00:00:00.000Z' });
  const report: AlertsReport = { at: '2026-12-06T00:01:00.000Z', evaluator: { self: 'a', leading: true }, active: [], resolved: [], deliveries: [d(3, 'waiting'), d(2, 'failed'), d(1, 'delivered')], sinks: ['webhook:ops'], silences: [] };
  const text = describeAlerts(report, false);
  assert.match(text, /^deliveries not delivered \(1 still being tried, 1 given up after every attempt\):$/m);
  assert.match(text, /#2 failed/);
  assert.doesNotMatch(text, /#1 /, 'a delivered one is shown with --all only');
});
