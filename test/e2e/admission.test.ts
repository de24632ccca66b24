/**
 * Admission control end to end, with a real replica process serving a slow model (about
 * a few hundred ms a row), batching off so each request is one run:
 * - a fixed `admission.limit` admits that many at once and refuses the rest at once with
 *   503, `Retry-After: 1` and a message saying why, and the admitted ones are answered;
 * - low priority (`x-aloft-priority: low`) is shed first while normal requests still get in;
 * - a priority header with a bad value is a 400, and the deployment keeps serving.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { inferBody } from '../helpers/credit-risk.js';
import { call, type Answer } from '../helpers/http.js';
import { slowCreditModel } from '../helpers/models.js';
import { startProject, type Project } from '../helpers/project.js';

const LIMIT = 4;
let p: Project;
const body = JSON.stringify(inferBody());

before(async () => {
  p = await startProject({
    replicas: 1,
    files: { 'slow.onnx': slowCreditModel(2000, 1024) },
    yaml: `models: { credit-risk: { path: ./slow.onnx } }\ndeployments: { credit-risk: { runtime: { isolation: process, intraOpThreads: 1 }, batching: { enabled: false }, admission: { limit: ${LIMIT} } } }`,
  });
});
after(async () => { await p?.close(); });

const infer = (headers: Record<string, string> = {}): Promise<Answer & { ms: number }> => {
  const t0 = performance.now();
  return call(`${p.url}/v2/models/credit-risk/infer`, { method: 'POST', body, headers: { ...p.headers, 'content-type': 'application/json', ...headers }, timeoutMs: 60_000 })
    .then((a) => ({ ...a, ms: performance.now() - t0 }));
};

test('a fixed limit admits that many at once and refuses the rest at once, with 503 and Retry-After', { timeout: 120_000 }, async (t) => {
  const one = await infer();
  assert.equal(one.status, 200, one.text);
  const all = await Promise.all(Array.from({ length: 12 }, () => infer()));
  const ok = all.filter((a) => a.status === 200);
  const refused = all.filter((a) => a.status === 503);
  t.diagnostic(`one request alone: ${one.ms.toFixed(0)} ms; 12 at once: ${ok.length} answered (slowest ${Math.max(...ok.map((a) => a.ms)).toFixed(0)} ms), ${refused.length} refused (slowest refusal ${Math.max(0, ...refused.map((a) => a.ms)).toFixed(0)} ms)`);
  assert.equal(ok.length + refused.length, 12, `every request is answered or refused: ${all.map((a) => a.status).join(',')}`);
  assert.ok(ok.length >= LIMIT, `at least the limit is admitted (${ok.length})`);
  assert.ok(refused.length >= 1, 'the rest is refused');
  for (const a of refused) {
    assert.equal(a.headers['retry-after'], '1');
    assert.match(String((a.json as { error?: string }).error), /concurrency limit \(4 requests queued or running/);
  }
  // Refused at once: before the admitted ones' model runs have finished.
  assert.ok(Math.max(...refused.map((a) => a.ms)) < Math.max(...ok.map((a) => a.ms)), 'refusals come back before the admitted answers');
});

test('low priority is shed first; normal requests still get in; a bad priority is a 400', { timeout: 120_000 }, async () => {
  // Three normal requests in flight: 3 of the limit of 4 is at its 3/4 mark.
  const busy = Array.from({ length: 3 }, () => infer());
  await new Promise((r) => setTimeout(r, 30));
  // Header values compare as tokens do, whatever their case.
  const [low, normal] = await Promise.all([infer({ 'x-aloft-priority': 'Low' }), infer({ 'x-aloft-priority': 'normal' })]);
  const first = await Promise.all(busy);
  assert.ok(first.every((a) => a.status === 200), first.map((a) => a.status).join(','));
  assert.equal(low.status, 503, low.text);
  assert.match(String((low.json as { error?: string }).error), /low-priority requests are shed while the model is busy/);
  assert.equal(normal.status, 200, normal.text);
  // Idle again: low priority gets in.
  assert.equal((await infer({ 'x-aloft-priority': 'low' })).status, 200);
  const bad = await infer({ 'x-aloft-priority': 'urgent' });
  assert.equal(bad.status, 400);
  assert.match(String((bad.json as { error?: string }).error), /x-aloft-priority must be 'low' or 'normal', got 'urgent'/);
  assert.equal((await infer()).status, 200, 'still serving');
});

test('a key\'s own settings: priority low is shed first whatever its header says; its own rate limit replaces limits.perKey', { timeout: 120_000 }, async () => {
  const create = async (req: Record<string, unknown>) => {
    const r = await call(`${p.url}/api/v1/keys`, { method: 'POST', body: JSON.stringify(req), headers: { ...p.headers, 'content-type': 'application/json' } });
    assert.equal(r.status, 201, r.text);
    return r.json as { key: string; limits: unknown; priority: string };
  };
  const batch = await create({ name: 'nightly-batch', role: 'predictor', priority: 'low' });
  assert.equal(batch.priority, 'low');
  const metered = await create({ name: 'metered', role: 'predictor', limits: { rate: 0.01, burst: 1 } });
  assert.deepEqual(metered.limits, { rate: 0.01, burst: 1 });
  // Keys are reloaded on create; the low key is low even when its request says normal.
  const busy = Array.from({ length: 3 }, () => infer());
  await new Promise((r) => setTimeout(r, 30));
  const [low, normal] = await Promise.all([
    infer({ authorization: `Bearer ${batch.key}`, 'x-aloft-priority': 'normal' }),
    infer({ 'x-aloft-priority': 'normal' }),
  ]);
  assert.ok((await Promise.all(busy)).every((a) => a.status === 200));
  assert.equal(low.status, 503, low.text);
  assert.match(String((low.json as { error?: string }).error), /low-priority requests are shed/);
  assert.equal(normal.status, 200, normal.text);
  assert.equal((await infer({ authorization: `Bearer ${batch.key}` })).status, 200, 'idle again: the low key gets in');
  // The metered key: its burst of 1, then 429 with Retry-After; the admin key is not limited by it.
  assert.equal((await infer({ authorization: `Bearer ${metered.key}` })).status, 200);
  const limited = await infer({ authorization: `Bearer ${metered.key}` });
  assert.equal(limited.status, 429, limited.text);
  assert.ok(Number(limited.headers['retry-after']) >= 1);
  assert.equal((await infer()).status, 200, 'other keys are not limited by it');
  // Bad settings are a 400 that names each problem, and nothing is created.
  const bad = await call(`${p.url}/api/v1/keys`, { method: 'POST', body: JSON.stringify({ name: 'bad', role: 'predictor', limits: { rate: -1 }, priority: 'urgent' }), headers: { ...p.headers, 'content-type': 'application/json' } });
  assert.equal(bad.status, 400);
  assert.match(String((bad.json as { error?: string }).error), /limits \{"rate":-1\} is invalid: rate: .*; priority must be 'low' or 'normal', got "urgent"/);
  const list = await call(`${p.url}/api/v1/keys`, { headers: p.headers });
  const names = (list.json as { keys: { name: string; limits: unknown; priority: string }[] }).keys;
  assert.ok(!names.some((k) => k.name === 'bad'));
  assert.deepEqual(names.find((k) => k.name === 'metered')?.limits, { rate: 0.01, burst: 1 });
  assert.equal(names.find((k) => k.name === 'nightly-batch')?.priority, 'low');
});
