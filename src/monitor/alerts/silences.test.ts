/**
 * Silences: the book leaves silenced alerts out of notifications and notifies them when the
 * silence ends; requests are checked; the store (SQLite and PostgreSQL) keeps them for every
 * process sharing it, and the evaluator applies one made through another process's
 * connection. A ManualClock throughout: nothing sleeps.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeAlerts } from '../../cli/commands/alerts.js';
import { ManualClock } from '../../clock.js';
import { isAloftError } from '../../errors.js';
import { silentLogger } from '../../log.js';
import { alertsSchema } from '../../spec/schema.js';
import type { AlertsSpec } from '../../spec/types.js';
import type { Store } from '../../store/db.js';
import { freshDatabaseEach, testDialects, type TestDatabase } from '../../store/testing/databases.js';
import { Alerts } from './alerts.js';
import { AlertBook, type Condition, type Notification } from './model.js';
import { isActive, MAX_SILENCE_MS, matches, newSilence, SilenceStore, type SilenceRequest } from './silences.js';

const cond = (name: string, deployment: string): Condition => ({ labels: { alertname: name, deployment, severity: 'page' }, annotations: { summary: `${name} on ${deployment}` } });
const T0 = Date.UTC(2026, 0, 1);

test('a silenced alert fires without a notification, is not repeated, and is notified when its silence ends', () => {
  const book = new AlertBook({ forMs: () => 0, repeatMs: () => 600_000 });
  let silenced = new Set(['DataDrift']);
  const by = (labels: Readonly<Record<string, string>>) => (silenced.has(labels.alertname!) ? ['s1'] : []);
  const holds = [cond('DataDrift', 'd'), cond('SloBurn', 'e')];
  const first = book.update(holds, T0, by);
  assert.deepEqual(first.map((n) => n.groupKey), ['{deployment="e"}'], 'only the alert no silence matches is notified');
  const drift = book.active().find((a) => a.name === 'DataDrift')!;
  assert.equal(drift.state, 'firing', 'a silenced alert still moves: it fires');
  assert.deepEqual(drift.silencedBy, ['s1']);
  assert.deepEqual(book.update(holds, T0 + 600_000, by).map((n) => [n.groupKey, n.reason]), [['{deployment="e"}', 'repeat']], 'the repeat leaves the silenced group out');
  silenced = new Set();
  const lifted = book.update(holds, T0 + 700_000, by);
  assert.deepEqual(lifted.map((n) => [n.groupKey, n.status, n.reason]), [['{deployment="d"}', 'firing', 'changed']], 'its silence ended while it fires: notified now');
  assert.equal(book.active().find((a) => a.name === 'DataDrift')!.silencedBy, undefined);
  assert.deepEqual(book.update(holds, T0 + 800_000, by), [], 'then as any firing alert: nothing until the repeat');
  const resolved = book.update([cond('SloBurn', 'e')], T0 + 900_000, by);
  assert.deepEqual(resolved.map((n) => [n.groupKey, n.status]), [['{deployment="d"}', 'resolved']], 'its end is notified: a notification carried it');
});

test('an alert that fired and ended while silenced is never notified, neither firing nor resolved', () => {
  const book = new AlertBook({ forMs: () => 0, repeatMs: () => 600_000 });
  const all = () => ['s1'];
  assert.deepEqual(book.update([cond('X', 'd')], T0, all), []);
  assert.deepEqual(book.update([], T0 + 60_000, all), [], 'resolved under the silence: no news');
  assert.equal(book.resolved()[0]?.name, 'X', 'it is in the history all the same');
  // Fired silenced, the silence ended, then it resolved: nobody heard of it firing until the silence ended.
  assert.deepEqual(book.update([cond('Y', 'd')], T0 + 120_000, all), []);
  assert.deepEqual(book.update([cond('Y', 'd')], T0 + 180_000).map((n) => n.status), ['firing']);
  assert.deepEqual(book.update([], T0 + 240_000).map((n) => n.status), ['resolved']);
});

test('a silence request is checked: matchers, its length, a comment; each error says what to send', () => {
  const ok = newSilence({ matchers: { deployment: 'credit-risk', alertname: 'DataDrift' }, duration: '2h', comment: ' retraining ' }, 'alice', T0);
  assert.equal(ok.endsAt, new Date(T0 + 7_200_000).toISOString());
  assert.equal(ok.comment, 'retraining');
  assert.equal(ok.createdBy, 'alice');
  assert.match(ok.id, /^[0-9a-f]{12}$/);
  assert.ok(isActive(ok, T0) && !isActive(ok, T0 + 7_200_000));
  assert.ok(matches(ok, { alertname: 'DataDrift', deployment: 'credit-risk', severity: 'ticket' }));
  assert.ok(!matches(ok, { alertname: 'SloBurn', deployment: 'credit-risk' }), 'every matcher must hold');
  const later = newSilence({ matchers: { deployment: 'd' }, startsAt: new Date(T0 + 3_600_000).toISOString(), endsAt: new Date(T0 + 7_200_000).toISOString(), comment: 'window' }, 'bob', T0);
  assert.ok(!isActive(later, T0) && isActive(later, T0 + 3_600_000), 'a later start');
  const bad: [SilenceRequest, RegExp][] = [
    [{ duration: '2h', comment: 'x' }, /matchers must be an object/],
    [{ matchers: {}, duration: '2h', comment: 'x' }, /at least one matcher/],
    [{ matchers: { 'not a label': 'x' }, duration: '2h', comment: 'x' }, /is not a label name/],
    [{ matchers: { deployment: 3 }, duration: '2h', comment: 'x' }, /must be a non-empty string/],
    [{ matchers: { deployment: 'd' }, comment: 'x' }, /needs its duration/],
    [{ matchers: { deployment: 'd' }, duration: 'soon', comment: 'x' }, /positive duration such as "2h"/],
    [{ matchers: { deployment: 'd' }, duration: '0', comment: 'x' }, /positive duration/],
    [{ matchers: { deployment: 'd' }, duration: '2h', endsAt: '2026-02-01T00:00:00Z', comment: 'x' }, /not both/],
    [{ matchers: { deployment: 'd' }, endsAt: new Date(T0 - 1000).toISOString(), comment: 'x' }, /in the past/],
    [{ matchers: { deployment: 'd' }, duration: `${MAX_SILENCE_MS / 3_600_000 + 1}h`, comment: 'x' }, /at most 30d/],
    [{ matchers: { deployment: 'd' }, duration: 3600, comment: 'x' }, /with its unit, such as "2h"/],
    [{ matchers: { deployment: 'd' }, duration: '1h', comment: 'x', startAt: '2026-01-02T00:00:00Z' } as SilenceRequest, /unknown field 'startAt' in the silence; did you mean 'startsAt'\?/],
    [{ matchers: { deployment: 'd' }, duration: '2h' }, /needs a comment/],
    [{ matchers: { deployment: 'd' }, duration: '2h', comment: '   ' }, /needs a comment/],
    [{ matchers: { deployment: 'd' }, duration: '2h', comment: 'x', startsAt: 'tomorrow' }, /startsAt must be an ISO time/],
  ];
  for (const [req, why] of bad) {
    assert.throws(() => newSilence(req, 'alice', T0), (e: unknown) => isAloftError(e) && e.code === 'ALOFT_BAD_REQUEST' && why.test(e.message), `${JSON.stringify(req)} → ${String(why)}`);
  }
});

for (const target of await testDialects()) {
  describe(`silences in the store: ${target.name}`, { skip: target.skip ?? false }, () => {
    let database: TestDatabase;
    let store: Store;
    freshDatabaseEach(target, (d, s) => { database = d; store = s; });

    test('a silence made through another connection holds the evaluator\'s notification back; expired, the alert is notified at the next evaluation', async () => {
      const clock = new ManualClock(0, T0);
      const other = await database.open(); // the process that took the admin request
      try {
        const sent: Notification[] = [];
        const silences = new SilenceStore(store);
        const alerts = new Alerts({
          clock, logger: silentLogger, spec: () => alertsSchema.parse({ for: '0s', log: false }) as AlertsSpec, conditions: () => [cond('DataDrift', 'd'), cond('SloBurn', 'e')],
          externalURL: () => '', sinks: () => [{ name: 'test', send: async (n: Notification) => { sent.push(n); } }], silences,
        });
        const s = newSilence({ matchers: { deployment: 'd' }, duration: '2h', comment: 'retraining' }, 'alice', clock.date().getTime());
        await new SilenceStore(other).add(s);
        await alerts.evaluate();
        await alerts.settled();
        assert.deepEqual(sent.map((n) => n.groupKey), ['{deployment="e"}']);
        const report = alerts.report();
        assert.deepEqual(report.silences.map((x) => x.id), [s.id]);
        assert.deepEqual(report.active.find((a) => a.name === 'DataDrift')?.silencedBy, [s.id]);
        assert.match(describeAlerts(report, false), new RegExp(`silenced by ${s.id} until ${s.endsAt} \\(retraining\\): not notified`));
        assert.match(describeAlerts(report, false), /2 firing, 0 pending \(1 silenced\)/);
        clock.advance(60_000);
        const ended = await new SilenceStore(other).expire(s.id, 'bob', clock.date().getTime());
        assert.equal(ended?.expiredBy, 'bob');
        assert.equal(await silences.expire('nope', 'bob', clock.date().getTime()), undefined);
        await alerts.evaluate();
        await alerts.settled();
        assert.deepEqual(sent.map((n) => n.groupKey), ['{deployment="e"}', '{deployment="d"}'], 'notified once the silence ended');
        assert.deepEqual(alerts.report().silences, [], 'none in force');
        const listed = await silences.list(clock.date().getTime());
        assert.equal(listed[0]?.expiredBy, 'bob', 'an ended silence is still listed');
        // A week after it ended it is pruned; a row that does not parse is skipped.
        await store.db.withTables<{ alert_silences: { id: string; data: string; ends_at: string } }>().insertInto('alert_silences').values({ id: 'junk', data: '{not json', ends_at: '9999-01-01T00:00:00.000Z' }).execute();
        assert.equal((await silences.list(clock.date().getTime())).length, 1, 'the unreadable row is skipped');
        clock.advance(8 * 24 * 3_600_000);
        await silences.prune(clock.date().getTime());
        assert.equal((await silences.list(clock.date().getTime())).length, 0);
        alerts.close();
      } finally {
        await other.close();
      }
    });
  });
}
