/**
 * Issue 2: killing a replica process while requests flow. The orchestrator restarts it,
 * the gateway routes around it meanwhile, and a batch that was on the killed replica is
 * retried on the other one — so no request fails.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { startAloft, type RunningAloft } from '../../src/aloft.js';
import { authorize, newAdminKey } from '../helpers/auth.js';
import type { ReplicaStatus } from '../../src/control/orchestrators/types.js';
import { encodeBatch, generateApplicants, FEATURE_COUNT } from '../../examples/credit-risk/data.js';

let dir: string;
let aloft: RunningAloft;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aloft-failure-'));
  await copyFile(new URL('../../examples/credit-risk/model.onnx', import.meta.url), join(dir, 'model.onnx'));
  await writeFile(join(dir, 'aloft.yaml'), 'models:\n  credit-risk:\n    path: ./model.onnx\ndeployments:\n  credit-risk:\n    replicas: 2\n');
  const adminKey = newAdminKey();
  aloft = await startAloft({ spec: join(dir, 'aloft.yaml'), port: 0, adminKey });
  authorize(aloft.url, adminKey);
  await aloft.waitReady(60_000);
});

after(async () => {
  await aloft?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Resolves when `pred` holds for the orchestrator's status (checked on every change). */
function until(pred: (s: ReplicaStatus[]) => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(aloft.orchestrator.status())}`)), timeoutMs);
    const check = () => {
      if (pred(aloft.orchestrator.status())) {
        clearTimeout(timer);
        resolve();
        return true;
      }
      return false;
    };
    if (!check()) aloft.orchestrator.onChange(() => { check(); });
  });
}

test('a killed replica is restarted and no request fails while it is down', async () => {
  const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, FEATURE_COUNT], data: Array.from(encodeBatch(generateApplicants(1, { seed: 9 }))) }] });
  const total = 3000;
  const concurrency = 16;
  let sent = 0;
  let ok = 0;
  const failures: string[] = [];
  let killedPid: number | undefined;
  const victim = aloft.orchestrator.status().find((r) => r.state === 'ready')!;

  const worker = async () => {
    while (sent < total) {
      sent++;
      if (sent === 500) {
        killedPid = victim.pid;
        process.kill(victim.pid!, 'SIGKILL');
      }
      const res = await request(`${aloft.url}/v2/models/credit-risk/infer`, { method: 'POST', body });
      const text = await res.body.text();
      if (res.statusCode === 200) ok++;
      else failures.push(`${res.statusCode} ${text}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));

  console.log(`replica-failure: ${total} requests, ${ok} ok, ${failures.length} failed, killed pid ${killedPid}`);
  assert.deepEqual(failures, [], 'requests failed while a replica was down');
  assert.equal(ok, total);

  await until((s) => s.filter((r) => r.state === 'ready').length === 2 && s.some((r) => r.id === victim.id && r.restarts >= 1),
    30_000, 'the killed replica to be restarted and ready');
  const restarted = aloft.orchestrator.status().find((r) => r.id === victim.id)!;
  assert.notEqual(restarted.pid, killedPid, 'a new process serves the slot');
  assert.equal(restarted.restarts, 1);

  // Both replicas take traffic again.
  const res = await request(`${aloft.url}/v2/models/credit-risk/infer`, { method: 'POST', body });
  assert.equal(res.statusCode, 200);
  await res.body.dump();
});
