/**
 * Three Aloft instances on one PostgreSQL database (the scaled shape's several gateways),
 * each with its own replica process, port and state folder, sharing one artifact folder
 * (`state.artifacts`):
 *
 *   1. a revision applied through the first gateway (a new model version) is followed by the
 *      others: they run the new version and their answers are that version's, with nothing
 *      recorded twice;
 *   2. a rollback made through the second gateway is followed by the others;
 *   3. a gateway restarted with a spec file that differs joins what the others run and
 *      records nothing: a restart does not replace the shared desired state;
 *   4. a gateway with its own artifact folder refuses to start: the others could not open
 *      what it registers, nor it theirs.
 *
 * Real PostgreSQL (skipped with the reason when it is not running), real replicas, real HTTP.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { request } from 'undici';
import { AdminClient } from '../../src/api/client.js';
import type { ControlStatus, RevisionDetail } from '../../src/api/types.js';
import { testDialects, type TestDatabase } from '../../src/store/testing/databases.js';
import { newAdminKey } from '../helpers/auth.js';
import { inferBody } from '../helpers/credit-risk.js';
import { creditModel } from '../helpers/models.js';
import { until } from '../helpers/poll.js';
import { startProject, type Project } from '../helpers/project.js';

const pg = (await testDialects()).find((d) => d.name === 'postgres')!;
let database: TestDatabase | undefined;
let shared: string | undefined;
const projects: Project[] = [];

after(async () => {
  for (const p of projects) await p.close().catch(() => undefined);
  await database?.cleanup();
  if (shared) await rm(shared, { recursive: true, force: true });
});

async function answeredVersion(p: Project): Promise<string> {
  const res = await request(`${p.url}/v2/models/credit-risk/infer`, { method: 'POST', headers: { ...p.headers, 'content-type': 'application/json' }, body: JSON.stringify(inferBody()) });
  const body = await res.body.json() as { model_version?: string; error?: string };
  assert.equal(res.statusCode, 200, JSON.stringify(body));
  return String(body.model_version);
}

test('gateways on one database follow each other\'s revisions; a restart joins instead of replacing them', { skip: pg.skip ?? false, timeout: 240_000 }, async (t) => {
  database = await pg.create();
  shared = await mkdtemp(join(tmpdir(), 'aloft-shared-artifacts-'));
  const adminKey = newAdminKey();
  const start = (yaml: string, files: Record<string, Uint8Array> = {}) => startProject({ replicas: 1, yaml, files, start: { databaseUrl: database!.url, adminKey } });
  const sharing = `state: { artifacts: ${JSON.stringify(shared)} }`;
  const first = await start(sharing, { 'model-b.onnx': creditModel(2) });
  projects.push(first);
  // The second's own settings that only a restart changes differ from the first's: they stay its own.
  const secondOwn = `${sharing}\nserver: { drainTimeout: 5s }`;
  const second = await start(secondOwn);
  projects.push(second);
  const third = await start(sharing);
  projects.push(third);
  const api = (p: Project) => new AdminClient({ url: p.url, key: adminKey });
  const status = (p: Project): Promise<ControlStatus> => api(p).status();
  const startRevision = (await status(first)).current!.number;
  assert.deepEqual([second.aloft.revision, third.aloft.revision], [startRevision, startRevision], 'the later gateways run what the first recorded');
  await until('each gateway to count the other two', 10_000, async () => ((await Promise.all([first, second, third].map(status))).every((s) => s.peers === 2) ? true : undefined), 200);
  assert.deepEqual(await Promise.all([first, second, third].map(answeredVersion)), ['1', '1', '1']);

  // 1. A new model version applied through the first gateway.
  const specB = 'models: { credit-risk: { path: ./model-b.onnx } }\ndeployments: { credit-risk: { model: credit-risk, replicas: 1 } }\n' + sharing + '\n';
  const applied = await api(first).apply({ spec: specB, file: 'aloft.yaml', message: 'model B' });
  assert.equal(applied.changed, true);
  const rev = applied.revision!;
  const sentAt = Date.now();
  await until(`revision ${rev} applied on the first gateway`, 60_000, async () => {
    const r: RevisionDetail = await api(first).revision(rev);
    if (r.outcome === 'failed' || r.outcome === 'rolled_back') throw new Error(`revision ${rev} ${r.outcome}: ${r.reason}`);
    return r.outcome === 'applied' ? r : undefined;
  });
  const appliedAt = Date.now();
  const followed = await until('the second gateway to run the new revision', 60_000, async () => {
    const s = await status(second);
    return s.running === rev && s.converged ? s : undefined;
  }, 200);
  t.diagnostic(`revision ${rev}: applied on the first gateway ${appliedAt - sentAt} ms after it was sent; the second ran it (converged) ${Date.now() - appliedAt} ms after that`);
  assert.equal(followed.current?.number, rev);
  assert.equal(await answeredVersion(second), '2', 'the second gateway answers with the version the first applied');
  assert.equal(await answeredVersion(first), '2');
  await until('the third gateway to run it too', 30_000, async () => { const s3 = await status(third); return s3.running === rev && s3.converged ? true : undefined; }, 200);
  assert.equal(await answeredVersion(third), '2');
  const list = await api(second).revisions();
  assert.equal(list.revisions[0]!.number, rev, 'following records nothing');

  // 2. A rollback through the second gateway; the others follow it.
  const rolled = await api(second).rollback({ message: 'back to A' });
  const back = rolled.revision!;
  assert.equal(back, rev + 1);
  await until('the rollback to land everywhere', 60_000, async () => {
    const all = await Promise.all([first, second, third].map(status));
    return all.every((s) => s.running === back && s.converged) ? all : undefined;
  }, 200);
  assert.deepEqual(await Promise.all([first, second, third].map(answeredVersion)), ['1', '1', '1']);
  assert.equal((await status(third)).behind, undefined, 'the third caught up');

  // 2b. An apply through the second with its own file (its drainTimeout is not the first's): not a restart, and followed.
  const twoReplicas = `models: { credit-risk: { path: ./model.onnx } }\ndeployments: { credit-risk: { model: credit-risk, replicas: 2 } }\n${secondOwn}\n`;
  const planned = await api(second).plan({ spec: twoReplicas, file: 'aloft.yaml' });
  assert.deepEqual(planned.plan.restart, [], 'restart-only settings compare with what this gateway runs');
  const scaled = await api(second).apply({ spec: twoReplicas, file: 'aloft.yaml', message: 'two replicas' });
  const two = scaled.revision!;
  await until('two replicas everywhere', 60_000, async () => {
    const all = await Promise.all([first, second, third].map(status));
    return all.every((s) => s.running === two && s.converged && s.deployments[0]?.ready === 2) ? all : undefined;
  }, 200);

  // 3. The second restarts with a file that asks for 3 replicas: it joins revision `two`.
  await second.close();
  projects.splice(projects.indexOf(second), 1);
  const restarted = await startProject({ replicas: 3, yaml: sharing, start: { databaseUrl: database.url, adminKey } });
  projects.push(restarted);
  assert.equal(restarted.aloft.revision, two, 'joined the revision the others run');
  assert.equal((await api(first).revisions()).revisions[0]!.number, two, 'nothing recorded by the restart');
  assert.equal(restarted.aloft.orchestrator.status().filter((r) => r.state === 'ready').length, 2, 'it runs the shared revision\'s replica count, not its file\'s');

  // 4. A gateway with its own artifact folder cannot open what the others register, nor they what it would: refused at start, nothing recorded.
  const latest = (await api(first).revisions()).revisions[0]!.number;
  await assert.rejects(start(''), (err: Error) => {
    assert.match(err.message, /serve this database with another artifact folder than this one's \(.*\): gateways that share a database must share state\.artifacts/);
    return true;
  });
  assert.equal((await api(first).revisions()).revisions[0]!.number, latest, 'the refused start recorded nothing');
});
