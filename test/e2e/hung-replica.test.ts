/**
 * Issue 17: a replica that hangs (SIGSTOP) without exiting. Before: /v2/health/ready said
 * ready while every replica was stopped, and a call to a stopped replica waited 15–20 s.
 * Now the call is bounded by the request's deadline (504) and the replica leaves the
 * rotation and readiness at once; with no traffic at all the liveness probe takes it out;
 * once it answers again it is back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { inferBody } from '../helpers/credit-risk.js';
import { startProject } from '../helpers/project.js';

const body = JSON.stringify(inferBody());

async function until(pred: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('issue 17: a hung replica (SIGSTOP) answers 504 by the deadline, leaves readiness at once, and is back once it runs again', async () => {
  const p = await startProject({ replicas: 1, yaml: 'deployments: { credit-risk: { timeout: 1s } }' });
  const pid = p.aloft.orchestrator.status()[0]!.pid!;
  const ready = async () => { const r = await request(`${p.url}/v2/health/ready`); await r.body.dump(); return r.statusCode; };
  const infer = async () => { const r = await request(`${p.url}/v2/models/credit-risk/infer`, { method: 'POST', body }); return { status: r.statusCode, text: await r.body.text() }; };
  try {
    assert.equal(await ready(), 200);
    process.kill(pid, 'SIGSTOP');
    const started = Date.now();
    const hung = await infer();
    const waited = Date.now() - started;
    assert.equal(hung.status, 504, hung.text);
    assert.match(hung.text, /did not answer by the request's deadline; it is out of rotation/);
    console.log(`hung-replica: a request to the stopped replica was answered 504 after ${waited} ms (deadline 1 s)`);
    assert.equal(await ready(), 503, 'readiness reflects that no replica answers');
    // The liveness probe marks it unhealthy too (it would take it out without any traffic).
    await until(() => p.aloft.orchestrator.status()[0]!.state === 'unhealthy', 15_000, 'the probe to mark the replica unhealthy');
    process.kill(pid, 'SIGCONT');
    await until(() => p.aloft.orchestrator.status()[0]!.state === 'ready', 15_000, 'the probe to find it alive again');
    await until(async () => (await ready()) === 200, 5_000, 'readiness to come back');
    const ok = await infer();
    assert.equal(ok.status, 200, ok.text);
    assert.equal(p.aloft.orchestrator.status()[0]!.pid, pid, 'the same process, not a restart');
  } finally {
    try { process.kill(pid, 'SIGCONT'); } catch { /* already gone */ }
    await p.close();
  }
});
