/**
 * Two Aloft instances sharing one PostgreSQL database (the scaled shape's several
 * gateways), each with its own replica process, HTTP port and state folder, in this test's
 * process. Traffic goes to the second one only, to a model slower than its latency SLO's
 * threshold:
 *
 *   1. the SLO events both gateways write add up in the shared store, and the first
 *      instance, which holds the alert evaluator's lease, fires SLOBurnRate: the webhook
 *      receiver (an HTTP server in this test) is told of each alert once (the page, and the
 *      ticket when it follows), not once per gateway;
 *   2. the second instance stands by, and `GET /api/v1/alerts` on it says who evaluates and
 *      shows that evaluator's saved book; a crash loop among the second instance's own
 *      replicas (killed twice), which only it sees, is handed to the evaluator through the
 *      store and notified by it;
 *   3. the first instance stops cleanly: its lease is released, the second takes over within
 *      an evaluation or two, goes on from the saved book, and does not notify the firing alert
 *      again.
 *
 * Real PostgreSQL (skipped with the reason when it is not running), real replicas, real HTTP.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import type { AlertsReport } from '../../src/monitor/alerts/alerts.js';
import type { WebhookPayload } from '../../src/monitor/alerts/sinks.js';
import { testDialects, type TestDatabase } from '../../src/store/testing/databases.js';
import { newAdminKey } from '../helpers/auth.js';
import { inferBody } from '../helpers/credit-risk.js';
import { slowCreditModel } from '../helpers/models.js';
import { until } from '../helpers/poll.js';
import { startProject, type Project } from '../helpers/project.js';

const pg = (await testDialects()).find((d) => d.name === 'postgres')!;
const received: WebhookPayload[] = [];
let receiver: Server;
let database: TestDatabase | undefined;
let artifacts: string | undefined;
const projects: Project[] = [];

before(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString('utf8'); });
    req.on('end', () => {
      received.push(JSON.parse(body) as WebhookPayload);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
});

after(async () => {
  for (const p of projects) await p.close().catch(() => undefined);
  await database?.cleanup();
  if (artifacts) await rm(artifacts, { recursive: true, force: true });
  await new Promise<void>((r) => receiver.close(() => r()));
});

const firings = (name: string) => received.filter((p) => p.status === 'firing' && p.alerts.some((a) => a.labels.alertname === name));
/**
 * Firing notifications that tell nothing new: every firing alert they carry was carried by
 * an earlier one, and none resolved. A group is notified again when another of its alerts starts firing (the
 * latency SLO's ticket after its page, a second later), so counting notifications would
 * count that too; a duplicate (a second gateway notifying the same start) tells nothing new.
 */
const duplicates = (name: string) => {
  const told = new Set<string>();
  return firings(name).filter((p) => {
    const keys = p.alerts.filter((a) => a.status === 'firing').map((a) => JSON.stringify(Object.entries(a.labels).sort()));
    const fresh = keys.filter((k) => !told.has(k));
    for (const k of keys) told.add(k);
    // A resolve is news too (an alert of the group ended while another fires on).
    return fresh.length === 0 && !p.alerts.some((a) => a.status === 'resolved');
  });
};

async function metricsOf(p: Project): Promise<string> {
  const res = await request(`${p.url}/metrics`, { headers: p.headers });
  assert.equal(res.statusCode, 200);
  return await res.body.text();
}

async function alertsOf(p: Project): Promise<AlertsReport> {
  const res = await request(`${p.url}/api/v1/alerts`, { headers: p.headers });
  assert.equal(res.statusCode, 200);
  return await res.body.json() as AlertsReport;
}

test('gateways sharing a database notify an alert once; when the evaluator stops, another takes over without notifying it again', { skip: pg.skip ?? false, timeout: 180_000 }, async (t) => {
  database = await pg.create();
  artifacts = await mkdtemp(join(tmpdir(), 'aloft-shared-artifacts-'));
  const adminKey = newAdminKey();
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  // Every answer of the slow model takes longer than 1 ms (about 6M multiply-adds a row; at depth 24 a fast day's
  // answers came in under it, and only the ticket held): the latency SLO burns as fast as it can.
  const yaml = [
    'models: { credit-risk: { path: ./slow.onnx } }',
    'deployments: { credit-risk: { slos: [{ kind: latency, objective: 99, threshold: 1ms }] } }',
    `alerts: { every: 1s, for: 0s, log: false, crashLoop: 2, webhooks: [{ url: "${url}" }] }`,
    // Gateways on one database share their artifact folder (a shared volume in the scaled shape).
    `state: { artifacts: ${JSON.stringify(artifacts)} }`,
  ].join('\n');
  const start = () => startProject({ replicas: 1, files: { 'slow.onnx': slowCreditModel(96) }, yaml, start: { databaseUrl: database!.url, adminKey } });
  const first = await start();
  projects.push(first);
  const second = await start();
  projects.push(second);
  const lead = await until('the first instance to evaluate alerts', 20_000, async () => ((await alertsOf(first)).evaluator.leading ? true : undefined), 200);
  assert.equal(lead, true);

  // Traffic to the second gateway only, until the alert fires.
  let sent = 0;
  let stop = false;
  const traffic = (async () => {
    while (!stop) {
      const res = await request(`${second.url}/v2/models/credit-risk/infer`, { method: 'POST', headers: second.headers, body: JSON.stringify(inferBody()) });
      await res.body.dump();
      assert.equal(res.statusCode, 200);
      sent++;
    }
  })();
  try {
    await until('SLOBurnRate to reach the receiver', 60_000, () => (firings('SLOBurnRate').length > 0 ? true : undefined), 100);
    const atFire = sent;
    // Several more evaluations on both instances.
    await new Promise((r) => setTimeout(r, 4000));
    assert.ok(firings('SLOBurnRate').length >= 1);
    assert.deepEqual(duplicates('SLOBurnRate'), [], 'each alert told once, though two gateways evaluate on the same events');
    const [a, b] = [await alertsOf(first), await alertsOf(second)];
    t.diagnostic(`fired after ${atFire} requests to the second gateway; evaluators: first ${JSON.stringify(a.evaluator)}, second ${JSON.stringify(b.evaluator)}`);
    assert.equal(a.evaluator.leading, true);
    assert.equal(b.evaluator.leading, false);
    assert.equal(b.evaluator.leader, a.evaluator.self, 'the standby names the evaluator');
    assert.ok(b.active.some((x) => x.name === 'SLOBurnRate' && x.state === 'firing'), 'and shows its saved book');
    const [ma, mb] = [await metricsOf(first), await metricsOf(second)];
    assert.match(ma, /^aloft_alerts_evaluator 1$/m);
    assert.match(mb, /^aloft_alerts_evaluator 0$/m);
    assert.match(ma, /^aloft_alerts\{alertname="SLOBurnRate",state="firing"/m);
    assert.doesNotMatch(mb, /^aloft_alerts\{/m, 'a standby exports no alert series, so that Prometheus counts each alert once');

    // A crash loop among the standby's own replicas (killed twice; alerts.crashLoop is 2): only
    // it sees them, and it hands the condition to the evaluator, which notifies it.
    for (let i = 0; i < 2; i++) {
      const r = await until('a ready replica on the second instance', 60_000, () => second.aloft.orchestrator.status().find((x) => x.state === 'ready' && x.pid !== undefined), 100);
      process.kill(r.pid!, 'SIGKILL');
      await until('the killed replica to be restarted', 60_000, () => (second.aloft.orchestrator.status().some((x) => x.id === r.id && x.restarts > r.restarts) ? true : undefined), 100);
    }
    const loop = await until('ReplicaCrashLoop of the standby\'s replica at the receiver', 30_000, () => firings('ReplicaCrashLoop')[0], 100);
    assert.equal(loop.alerts.find((x) => x.labels.alertname === 'ReplicaCrashLoop')?.labels.deployment, 'credit-risk');
    assert.equal((await alertsOf(second)).evaluator.leading, false, 'sent by the evaluator, while the second stands by');
    assert.equal(firings('ReplicaCrashLoop').length, 1);

    // The evaluator stops cleanly: the lease is free at once and the other goes on from the book.
    projects.shift();
    await first.close();
    const took = Date.now();
    await until('the second instance to take over', 20_000, async () => ((await alertsOf(second)).evaluator.leading ? true : undefined), 100);
    t.diagnostic(`the second instance evaluated alerts ${Date.now() - took} ms after the first stopped`);
    await new Promise((r) => setTimeout(r, 4000));
    const now = await alertsOf(second);
    assert.ok(now.active.some((x) => x.name === 'SLOBurnRate' && x.state === 'firing'), 'still firing, now by the second instance\'s own evaluation');
    t.diagnostic(`notifications: ${JSON.stringify(received.map((p) => [p.status, p.alerts.map((x) => [x.labels.severity, x.status, x.startsAt])]))}`);
    assert.deepEqual(duplicates('SLOBurnRate'), [], 'not notified again after the takeover');
    assert.match(await metricsOf(second), /^aloft_alerts_evaluator 1$/m);
    t.diagnostic(`${sent} requests in all; ${received.length} notifications received: ${received.map((p) => `${p.status} ${p.alerts.map((x) => x.labels.alertname).join('+')}`).join(', ')}`);
  } finally {
    stop = true;
    await traffic;
  }
});
