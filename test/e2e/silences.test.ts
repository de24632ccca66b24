/**
 * Alert silences end to end, with a real replica process, the real CLI and a real webhook
 * receiver (an HTTP server in this test):
 *
 *   1. `aloft silence add` silences IdleDeployment for `quiet` before it fires: it answers
 *      with the id and a warning that it matches nothing yet;
 *   2. the alert fires (an idle deployment, found after cost.idle.for): `aloft alerts`
 *      shows it silenced, by which silence, until when; /metrics counts it as silenced; the
 *      receiver hears nothing of `quiet` over several evaluations;
 *   3. `aloft silence expire` ends it: the receiver gets the firing notification;
 *      `aloft silence list` shows it ended, by whom; both changes are in the audit trail;
 *   4. bad requests: no matchers, no comment, a past end, a key scoped to another
 *      deployment, an unknown id, a misspelt deployment (accepted, with a suggestion).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AlertsReport } from '../../src/monitor/alerts/alerts.js';
import type { SilenceCreated, SilenceView } from '../../src/monitor/alerts/routes.js';
import type { WebhookPayload } from '../../src/monitor/alerts/sinks.js';
import { assertError, call, postJson } from '../helpers/http.js';
import { metricValue } from '../helpers/prometheus.js';
import { until } from '../helpers/poll.js';
import { startProject, type Project } from '../helpers/project.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const QUIET = 'quiet';
const EVERY_MS = 1000;

interface CliResult { code: number | null; stdout: string; stderr: string }

function cli(p: Project, args: string[], key = p.adminKey): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(root, 'src/cli/bin.ts'), ...args, '--url', p.url, '--key', key], {
      cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ALOFT_URL: '', ALOFT_KEY: '', ALOFT_ADMIN_KEY: '' },
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }));
  });
}
const shown = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

let p: Project;
let server: Server;
let hookUrl = '';
const posts: { at: number; body: WebhookPayload }[] = [];
let silence: SilenceView | undefined;

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try { posts.push({ at: Date.now(), body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookPayload }); } catch { /* not JSON: not counted */ }
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  p = await startProject({
    replicas: 1,
    yaml: [
      'deployments:',
      `  ${QUIET}: { model: credit-risk, replicas: 1, resources: { cpu: 1, memory: 1Gi }, runtime: { isolation: process } }`,
      'cost:',
      '  every: 500ms',
      // Long enough that the CLI's silence lands before the deployment counts as idle, even on a loaded machine.
      '  idle: { below: 0.5, for: 10s }',
      'alerts:',
      `  every: ${EVERY_MS / 1000}s`,
      '  for: 0s',
      `  webhooks: [{ url: "${hookUrl}", timeout: 2s }]`,
    ].join('\n'),
  });
});

after(async () => {
  await p?.close();
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

const quietPosts = () => posts.filter((x) => x.body.groupLabels.deployment === QUIET);

test('a silence made before its alert fires holds the notification back; aloft alerts and /metrics show it silenced', { timeout: 90_000 }, async () => {
  const add = await cli(p, ['silence', 'add', '--match', `deployment=${QUIET}`, '--match', 'alertname=IdleDeployment', '--for', '1h', '--comment', 'scaled down tonight', '--json']);
  assert.equal(add.code, 0, shown(add));
  const created = JSON.parse(add.stdout) as SilenceCreated;
  silence = created.silence;
  assert.equal(silence.state, 'active');
  assert.deepEqual(silence.matchers, { deployment: QUIET, alertname: 'IdleDeployment' });
  assert.equal(silence.comment, 'scaled down tonight');
  assert.ok(created.warnings.some((w) => /matches no pending or firing alert now/.test(w)), created.warnings.join('; '));
  const id = silence.id;

  const firing = await until('IdleDeployment firing for quiet', 60_000, async () => {
    const r = (await call(`${p.url}/api/v1/alerts?deployment=${QUIET}`)).json as AlertsReport;
    return r.active.find((a) => a.name === 'IdleDeployment' && a.state === 'firing');
  }, 200);
  assert.deepEqual(firing.silencedBy, [id]);
  const firedAt = Date.now();
  // Several evaluations go by: nothing of quiet reaches the receiver.
  await until('three more evaluations', 20_000, () => (Date.now() - firedAt >= 3 * EVERY_MS ? true : undefined), 100);
  assert.deepEqual(quietPosts(), [], 'a silenced alert is not notified');

  const text = await cli(p, ['alerts', '--deployment', QUIET]);
  assert.equal(text.code, 0, shown(text));
  assert.match(text.stdout, /\(1 silenced\)/);
  assert.match(text.stdout, new RegExp(`silenced by ${id} until ${silence.endsAt.replace(/[.]/g, '\\.')} \\(scaled down tonight\\): not notified`));
  const metrics = (await call(`${p.url}/metrics`)).text;
  assert.equal(metricValue(metrics, 'aloft_alerts', { alertname: 'IdleDeployment', state: 'silenced', deployment: QUIET }), 1, 'counted as silenced, not firing');
});

test('expired, the silence lets the firing alert through; list shows it ended and by whom; both are audited', { timeout: 60_000 }, async () => {
  assert.ok(silence, 'the first test made the silence');
  const end = await cli(p, ['silence', 'expire', silence.id]);
  assert.equal(end.code, 0, shown(end));
  assert.match(end.stdout, new RegExp(`silence ${silence.id} ended at`));
  const post = await until('the firing notification for quiet', 30_000, () => quietPosts()[0], 100);
  assert.equal(post.body.status, 'firing');
  assert.deepEqual(post.body.alerts.map((a) => a.labels.alertname), ['IdleDeployment']);

  // A unique start of the id names it, as in git and docker; shorter than 4 characters does not.
  assertError(await call(`${p.url}/api/v1/silences/${silence.id.slice(0, 3)}`, { method: 'DELETE' }), 404, ['no silence']);
  const twice = await cli(p, ['silence', 'expire', silence.id.slice(0, 6)]);
  assert.equal(twice.code, 0, shown(twice));
  assert.match(twice.stdout, /had already ended, at .*: nothing changed/);
  const list = await cli(p, ['silence', 'list', '--json']);
  assert.equal(list.code, 0, shown(list));
  const listed = (JSON.parse(list.stdout) as { silences: SilenceView[] }).silences.find((s) => s.id === silence!.id);
  assert.equal(listed?.state, 'ended');
  assert.ok(listed?.expiredBy, 'who ended it');
  const table = await cli(p, ['silence', 'list']);
  assert.match(table.stdout, new RegExp(`${silence.id}\\s+ended\\s+deployment=${QUIET} alertname=IdleDeployment`));

  for (const action of ['alert.silenced', 'alert.silence_expired']) {
    const audit = (await call(`${p.url}/api/v1/audit?action=${action}`)).json as { entries: { target: string }[] };
    assert.ok(audit.entries.some((e) => e.target === silence!.id), `${action} in the audit trail: ${JSON.stringify(audit)}`);
  }
});

test('bad silence requests are refused with what to send; a misspelt deployment is accepted with a suggestion', { timeout: 60_000 }, async () => {
  const url = `${p.url}/api/v1/silences`;
  assertError(await postJson(url, {}), 400, ['matchers']);
  assertError(await postJson(url, 'not json'), 400, ['not JSON']);
  assertError(await postJson(url, { matchers: { deployment: QUIET }, duration: '2h' }), 400, ['comment']);
  assertError(await postJson(url, { matchers: { deployment: QUIET }, endsAt: '2001-01-01T00:00:00Z', comment: 'x' }), 400, ['past']);
  assertError(await postJson(url, { matchers: { deployment: QUIET }, duration: '31d', comment: 'x' }), 400, ['at most']);
  assertError(await call(`${url}/0123456789ab`, { method: 'DELETE' }), 404, ['no silence']);

  // An operator scoped to credit-risk may silence credit-risk, not quiet, nor everything.
  const key = await postJson(`${p.url}/api/v1/keys`, { name: 'risk-ops', role: 'operator', scopes: ['credit-risk'] });
  assert.equal(key.status, 201, key.text);
  const token = (key.json as { key: string }).key;
  const auth = { authorization: `Bearer ${token}` };
  assertError(await postJson(url, { matchers: { deployment: QUIET }, duration: '1h', comment: 'x' }, auth), 403, ['scopes']);
  assertError(await postJson(url, { matchers: { alertname: 'IdleDeployment' }, duration: '1h', comment: 'x' }, auth), 403, ['every deployment']);
  const mine = await postJson(url, { matchers: { deployment: 'credit-risk' }, duration: '1h', comment: 'ok' }, auth);
  assert.equal(mine.status, 201, mine.text);
  const seen = (await call(url, { headers: auth })).json as { silences: SilenceView[] };
  assert.deepEqual(seen.silences.map((s) => s.matchers.deployment), ['credit-risk'], 'the scoped key sees only the silences it covers');

  const typo = await cli(p, ['silence', 'add', '--match', 'deployment=quite', '--for', '10m', '--comment', 'typo']);
  assert.equal(typo.code, 0, shown(typo));
  assert.match(typo.stdout, /warning: deployment 'quite' is not served here, so the silence matches nothing until one of that name is deployed \(did you mean 'quiet'\?\)/);
  const name = await cli(p, ['silence', 'add', '--match', `deployment=${QUIET}`, '--match', 'alertname=IdleDeploy', '--for', '10m', '--comment', 'typo']);
  assert.match(name.stdout, /warning: no alert is named 'IdleDeploy' \(did you mean 'IdleDeployment'\?\)/);
  const past = await cli(p, ['silence', 'add', '--match', `deployment=${QUIET}`, '--until', '2001-01-01T00:00:00Z', '--comment', 'x']);
  assert.equal(past.code, 2, shown(past));
  assert.match(past.stderr, /--until 2001-01-01T00:00:00.000Z is in the past/);
  assertError(await postJson(url, { matchers: { deployment: QUIET }, duration: 3600, comment: 'x' }), 400, ['with its unit']);
  assertError(await postJson(url, { matchers: { deployment: QUIET }, duration: '1h', comment: 'x', startAt: '2030-01-01T00:00:00Z' }), 400, ['startsAt']);
  const usage = await cli(p, ['silence', 'add', '--for', '10m', '--comment', 'x', '--json']);
  assert.equal(usage.code, 2, shown(usage));
  assert.match(JSON.parse(usage.stderr.trim()).error as string, /at least one --match label=value/);
  const noComment = await cli(p, ['silence', 'add', '--match', 'deployment=quiet', '--for', '10m']);
  assert.notEqual(noComment.code, 0, shown(noComment));
  assert.match(noComment.stderr, /--comment "why" is required/);
});
