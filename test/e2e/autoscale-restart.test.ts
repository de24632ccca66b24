/**
 * A restart keeps what the autoscaler chose: real replica processes and one SQLite state
 * folder across two starts of Aloft.
 *
 *   1. replicas { min: 1, max: 3 }, target 1 per replica: a closed-loop load of 8
 *      connections drives the count to 3; the load stops and Aloft is stopped at once,
 *      before the scale-down delay has passed;
 *   2. started again on the same state (within the 10-minute window), the deployment comes
 *      up at 3 replicas, not its initial 1, with no load, and its last decision says why;
 *      the decisions from before the restart are still listed; then, still without load, it
 *      scales down as the autoscaler decides.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startAloft, type RunningAloft } from '../../src/aloft.js';
import { authorize, bearer, newAdminKey } from '../helpers/auth.js';
import { closedLoop } from '../helpers/load.js';
import { until } from '../helpers/poll.js';
import { CREDIT_RISK_MODEL, type Project } from '../helpers/project.js';

const DEP = 'credit-risk';
const SPEC = [
  'models: { credit-risk: { path: ./model.onnx } }',
  'deployments:',
  `  ${DEP}:`,
  '    model: credit-risk',
  '    replicas: { min: 1, max: 3 }',
  '    runtime: { isolation: process }',
  '    autoscaling: { target: 1, stableWindow: 10s, panicWindow: 2s, scaleDownDelay: 8s }',
  '',
].join('\n');

const ready = (a: RunningAloft) => a.orchestrator.status().filter((r) => r.deployment === DEP && r.state === 'ready').length;
const scaling = async (a: RunningAloft) => (await a.control.status()).autoscaling.find((x) => x.deployment === DEP)!;

test('a restart brings an autoscaled deployment back at the count it had, not its initial one, and says why', { timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-autoscale-restart-'));
  const key = newAdminKey();
  const start = async () => {
    const a = await startAloft({ spec: join(dir, 'aloft.yaml'), port: 0, host: '127.0.0.1', adminKey: key, databaseUrl: `sqlite:${join(dir, '.aloft', 'aloft.db')}` });
    authorize(a.url, key);
    return a;
  };
  let aloft: RunningAloft | undefined;
  try {
    await copyFile(CREDIT_RISK_MODEL, join(dir, 'model.onnx'));
    await writeFile(join(dir, 'aloft.yaml'), SPEC);
    aloft = await start();
    await aloft.waitReady();
    const project = { url: aloft.url, headers: bearer(key) } as Project;
    const traffic = closedLoop(project, DEP, 8);
    try {
      await until('3 ready replicas under load', 60_000, () => (ready(aloft!) === 3 ? true : undefined), 100);
    } finally {
      await traffic.stop();
    }
    assert.equal(traffic.tally.failed, 0, traffic.tally.failures.join('; '));
    const before = (await scaling(aloft)).last!;
    assert.equal(before.to, 3, before.reason);
    const decisionsBefore = (await aloft.control.status()).autoscaling.find((x) => x.deployment === DEP)!.lastDecision!;
    await aloft.close();
    aloft = undefined;

    // The same state, a moment later: it comes back at 3.
    aloft = await start();
    const restored = await until('the restored decision', 20_000, async () => {
      const s = await scaling(aloft!);
      return s.lastDecision && /restored after a restart/.test(s.lastDecision.reason) ? s.lastDecision : undefined;
    }, 100);
    t.diagnostic(`before the stop: ${before.to} replicas (${before.reason}); after the restart: ${restored.reason}`);
    assert.deepEqual([restored.from, restored.to], [1, 3]);
    await until('3 ready replicas after the restart, without load', 60_000, () => (ready(aloft!) === 3 ? true : undefined), 100);
    assert.notEqual(decisionsBefore.at, restored.at);
    // Then, with no load, the autoscaler takes it down once the scale-down delay has passed.
    await until('the count to come down without load', 60_000, async () => ((await scaling(aloft!)).last!.to < 3 ? true : undefined), 200);
  } finally {
    await aloft?.close();
    await rm(dir, { recursive: true, force: true });
  }
});
