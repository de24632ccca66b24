/**
 * Issue 2: shutting down (SIGINT/SIGTERM in `aloft up`, `close()` here) answers every
 * request already received, then stops the replicas; new connections are refused.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Pool, request } from 'undici';
import { startAloft } from '../../src/aloft.js';
import { bearer, newAdminKey } from '../helpers/auth.js';
import { encodeBatch, generateApplicants, FEATURE_COUNT } from '../../examples/credit-risk/data.js';

/** Wait for a condition that no event announces; checks every few ms, gives up after `ms`. */
async function eventually(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('close() answers the requests already queued, then stops replicas and refuses new connections', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-drain-'));
  try {
    await copyFile(new URL('../../examples/credit-risk/model.onnx', import.meta.url), join(dir, 'model.onnx'));
    // A queue delay holds the requests in the batcher, so they are in flight when close() starts.
    await writeFile(join(dir, 'aloft.yaml'), 'models:\n  m:\n    path: ./model.onnx\ndeployments:\n  m:\n    replicas: 1\n    batching: { maxQueueDelay: 300ms, maxBatchSize: 64 }\n');
    const adminKey = newAdminKey();
    const aloft = await startAloft({ spec: join(dir, 'aloft.yaml'), port: 0, adminKey });
    await aloft.waitReady(60_000);
    const queued = () => aloft.gateway.routing.status().find((v) => v.deployment === 'm' && v.version === 1)?.queued;
    const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, FEATURE_COUNT], data: Array.from(encodeBatch(generateApplicants(1, { seed: 3 }))) }] });
    const n = 20;
    const pool = new Pool(aloft.url, { connections: n });
    const pending = Array.from({ length: n }, () => pool.request({ method: 'POST', path: '/v2/models/m/infer', headers: bearer(adminKey), body }).then(async (r) => ({ status: r.statusCode, text: await r.body.text() })));
    await eventually(() => queued() === n, `${n} queued requests`);

    const closed = aloft.close();
    const answers = await Promise.all(pending);
    await closed;
    assert.deepEqual(answers.map((a) => a.status), Array(n).fill(200), JSON.stringify(answers.find((a) => a.status !== 200)));
    assert.deepEqual(aloft.orchestrator.status(), [], 'replicas stopped');
    await assert.rejects(request(`${aloft.url}/v2/health/live`), (e: { code?: string }) => e.code === 'ECONNREFUSED');
    await pool.destroy();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
