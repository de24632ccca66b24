/**
 * A restart that moves a deployment with a declared rollout to a new model version: Aloft
 * first serves the newest applied revision (the old version), and once that has converged
 * it applies the spec file as a new revision (author system, "rolled out from revision N"),
 * so the new version goes through its canary instead of getting all the traffic at once.
 * Real replica processes, SQLite state kept across the two starts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startAloft, type RunningAloft } from '../../src/aloft.js';
import { AdminClient } from '../../src/api/client.js';
import { bearer, newAdminKey } from '../helpers/auth.js';
import { inferBody } from '../helpers/credit-risk.js';
import { creditModel } from '../helpers/models.js';
import { until } from '../helpers/poll.js';

const ROLLOUT = '    rollout: { strategy: canary, steps: [50, 100], interval: 1h }';

const spec = (file: string) => ['models:', '  credit-risk:', `    path: ./${file}`, 'deployments:', '  credit-risk:', '    model: credit-risk', '    replicas: 1', ROLLOUT, ''].join('\n');

/**
 * A project folder kept across starts: three models of one signature (a, b, c: different
 * weights and bytes), an aloft.yaml, SQLite state and an admin key. `start(file)` writes the
 * spec naming `file` and starts Aloft on it.
 */
async function project(prefix: string) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const specPath = join(dir, 'aloft.yaml');
  const databaseUrl = `sqlite:${join(dir, '.aloft', 'aloft.db')}`;
  const key = newAdminKey();
  for (const [f, seed] of [['a.onnx', 1], ['b.onnx', 2], ['c.onnx', 3]] as const) await writeFile(join(dir, f), creditModel(seed));
  return {
    key,
    async start(file: string): Promise<RunningAloft> {
      await writeFile(specPath, spec(file));
      return startAloft({ spec: specPath, port: 0, host: '127.0.0.1', adminKey: key, databaseUrl });
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** `n` sequential requests to credit-risk; the count of answers per model_version (every answer must be a 200). */
async function tally(url: string, key: string, n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const body = JSON.stringify(inferBody());
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${url}/v2/models/credit-risk/infer`, { method: 'POST', headers: { ...bearer(key), 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(10_000) });
    const text = await r.text();
    assert.equal(r.status, 200, `request ${i}: HTTP ${r.status}: ${text.slice(0, 300)}`);
    const v = (JSON.parse(text) as { model_version: string }).model_version;
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return counts;
}

test('a restart that moves a canary deployment to a new version serves the old revision first, then rolls the new version out through the canary', { timeout: 180_000 }, async (t) => {
  const proj = await project('aloft-restart-rollout-');
  const { key } = proj;
  let aloft: RunningAloft | undefined;
  try {

    // 1. First start: version 1, revision 1, all traffic to it.
    aloft = await proj.start('a.onnx');
    await aloft.waitReady(60_000);
    assert.equal(aloft.revision, 1);
    const first = await tally(aloft.url, key, 10);
    assert.deepEqual([...first], [['1', 10]], 'the first start serves version 1 only');
    await aloft.close();
    aloft = undefined;

    // 2. The file now names a new model file: version 2 under the declared canary.
    aloft = await proj.start('b.onnx');
    assert.equal(aloft.revision, 1, 'the start runs the newest applied revision first');
    const admin = new AdminClient({ url: aloft.url, key });

    // 3. Once revision 1 has converged, the file lands as revision 2, by the system.
    const two = await until('revision 2 (the spec file, rolled out)', 60_000, async () => {
      const r = (await admin.revisions()).revisions.find((x) => x.number === 2);
      return r;
    }, 100);
    t.diagnostic(`revision 2: author ${two.author}, kind ${two.kind}, outcome ${two.outcome}, message ${JSON.stringify(two.message)}`);
    assert.match(two.message, /rolled out from revision 1\b/);
    assert.equal(two.author, 'system');
    assert.deepEqual(two.deployments.map((d) => [d.name, d.model, d.version]), [['credit-risk', 'credit-risk', 2]]);
    assert.ok(two.models.some((m) => m.model === 'credit-risk' && m.version === 2 && m.created), 'revision 2 registered version 2');
    const revisions = (await admin.revisions()).revisions;
    assert.deepEqual(revisions.map((r) => r.number), [2, 1], 'one new revision, no other');
    assert.equal(revisions.find((r) => r.number === 1)?.outcome, 'applied');

    // 4. The canary runs: version 1 → 2 at its first step, 50%, not promoted (interval 1h).
    const canary = await until('the canary at its first step (50%)', 60_000, async () => {
      const r = (await admin.rollouts()).rollouts.find((x) => x.deployment === 'credit-risk');
      return r && r.state === 'progressing' && r.weight === 50 ? r : undefined;
    }, 100);
    assert.equal(canary.strategy, 'canary');
    assert.equal(canary.baseline.version, 1);
    assert.equal(canary.candidate.version, 2);
    assert.equal(canary.step, 0);
    assert.equal((await admin.revision(2)).outcome, 'applying', 'the canary has not converged: revision 2 is still being applied');
    assert.equal((await admin.status()).current?.number, 1, 'revision 1 is still the current one');

    // 5. Both versions answer, about half each: the new version did not get all the traffic.
    const N = 200;
    const counts = await tally(aloft.url, key, N);
    const v1 = counts.get('1') ?? 0;
    const v2 = counts.get('2') ?? 0;
    t.diagnostic(`after the restart, ${N} sequential requests: v1 ${v1}, v2 ${v2}, other ${N - v1 - v2}`);
    assert.equal(v1 + v2, N, `only versions 1 and 2 answer: ${JSON.stringify([...counts])}`);
    assert.ok(v1 >= N * 0.2, `version 1 answered ${v1} of ${N}`);
    assert.ok(v2 >= N * 0.2, `version 2 answered ${v2} of ${N}`);
    const still = (await admin.rollouts()).rollouts.find((x) => x.deployment === 'credit-risk');
    assert.equal(still?.state, 'progressing', `the canary is still running: ${still?.state} ${still?.reason ?? ''}`);
    assert.equal(still?.weight, 50);
  } finally {
    await aloft?.close();
    await proj.cleanup();
  }
});

test('a restart in the middle of a canary resumes it at the step it had reached, paused as it was, instead of giving the new version all the traffic', { timeout: 180_000 }, async (t) => {
  const proj = await project('aloft-restart-mid-canary-');
  const { key } = proj;
  let aloft: RunningAloft | undefined;
  try {
    aloft = await proj.start('a.onnx');
    await aloft.waitReady(60_000);
    let admin = new AdminClient({ url: aloft.url, key });

    // The file is edited and applied live: revision 2 starts its canary (50%), then Aloft stops.
    const applied = await admin.apply({ spec: spec('b.onnx'), file: 'aloft.yaml', base: 1 });
    assert.equal(applied.revision, 2);
    await until('the live canary at 50%', 60_000, async () => (await admin.rollouts()).rollouts.find((x) => x.deployment === 'credit-risk' && x.state === 'progressing' && x.weight === 50), 100);
    const paused = await admin.rolloutCommand('credit-risk', 'pause');
    assert.equal(paused.rollout.paused, true);
    await aloft.close();
    aloft = undefined;

    // Started again from the edited file: revision 2 was interrupted; revision 1 serves, then the file rolls out as revision 3.
    aloft = await proj.start('b.onnx');
    assert.equal(aloft.revision, 1, 'the start runs the newest applied revision first');
    admin = new AdminClient({ url: aloft.url, key });
    const two = await admin.revision(2);
    assert.equal(two.outcome, 'failed');
    assert.match(two.reason ?? '', /interrupted/);
    const three = await until('revision 3 (the spec file, rolled out)', 60_000, async () => (await admin.revisions()).revisions.find((x) => x.number === 3), 100);
    t.diagnostic(`revision 3: author ${three.author}, outcome ${three.outcome}, message ${JSON.stringify(three.message)}`);
    assert.match(three.message, /rolled out from revision 1\b/);
    assert.equal(three.author, 'system');
    assert.deepEqual(three.deployments.map((d) => d.version), [2], 'the version the interrupted canary was moving to');
    assert.ok(three.models.every((m) => !m.created), 'no new model version: version 2 is reused');
    const canary = await until('the resumed canary at its first step (50%)', 60_000, async () => {
      const r = (await admin.rollouts()).rollouts.find((x) => x.deployment === 'credit-risk');
      return r && r.state === 'progressing' && r.weight === 50 ? r : undefined;
    }, 100);
    assert.deepEqual([canary.baseline.version, canary.candidate.version, canary.step, canary.paused], [1, 2, 0, true], 'taken up at its step, still paused');
    assert.equal(canary.resumed?.step, 0);
    assert.equal(canary.startedAt, paused.rollout.startedAt, 'the same rollout, taken up: it started before the stop');

    const N = 200;
    const counts = await tally(aloft.url, key, N);
    const v1 = counts.get('1') ?? 0;
    const v2 = counts.get('2') ?? 0;
    t.diagnostic(`after the restart mid-canary, ${N} sequential requests: v1 ${v1}, v2 ${v2}`);
    assert.equal(v1 + v2, N);
    assert.ok(v1 >= N * 0.2, `version 1 answered ${v1} of ${N}`);
    assert.ok(v2 >= N * 0.2, `version 2 answered ${v2} of ${N}`);
  } finally {
    await aloft?.close();
    await proj.cleanup();
  }
});

test('an operator\'s apply while the file is held back is newer: the held file is dropped, never applied over it', { timeout: 180_000 }, async () => {
  const { DEPLOYMENTS, ALL } = await import('../../src/control/reconcilers/deployments.js');
  const proj = await project('aloft-restart-held-');
  const { key } = proj;
  let a: RunningAloft | undefined;
  try {
    a = await proj.start('a.onnx');
    await a.waitReady(60_000);
    await a.close();
    a = undefined;
    // The file moves to b, which is held back while revision 1 starts; an operator applies c at once.
    a = await proj.start('b.onnx');
    const admin = new AdminClient({ url: a.url, key });
    const applied = await admin.apply({ spec: spec('c.onnx'), file: 'aloft.yaml', base: 1, message: 'operator: c' });
    assert.equal(applied.revision, 2);
    await until('the operator\'s canary', 60_000, async () => (await admin.rollouts()).rollouts.find((r) => r.state === 'progressing'), 100);
    await admin.rolloutCommand('credit-risk', 'promote');
    await until('revision 2 to finish', 60_000, async () => { const r = await admin.revision(2); return r.outcome === 'applying' ? undefined : r; }, 100);
    // Converged passes after the operator's apply: the held file must not land.
    for (let i = 0; i < 3; i++) {
      a.controller.enqueue(DEPLOYMENTS, ALL);
      await until('a converged status', 30_000, async () => ((await admin.status()).converged ? true : undefined), 100);
    }
    const revisions = (await admin.revisions()).revisions;
    assert.deepEqual(revisions.map((r) => [r.number, r.outcome, r.message]), [[2, 'applied', 'operator: c'], [1, 'applied', revisions[1]!.message]]);
    assert.equal((await admin.rollouts()).rollouts.find((r) => r.deployment === 'credit-risk')?.state, 'promoted');
  } finally {
    await a?.close();
    await proj.cleanup();
  }
});
