/**
 * The capacity planner end to end: `POST /api/v1/recommend` measures the credit-risk model
 * on temporary replicas (processes and threads, 1 or 2 threads, batches of 1, 16 and 64)
 * while the deployment keeps serving, answers NDJSON progress then the result: the cheapest
 * configuration meeting the p99 target with its spec fragment, or, when none can, the
 * closest; bad requests are clear errors. `aloft recommend --json` gives the same result.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Recommendation } from '../../src/cost/recommend.js';
import { inferBody } from '../helpers/credit-risk.js';
import { call } from '../helpers/http.js';
import { startProject, type Project } from '../helpers/project.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let p: Project;
before(async () => {
  process.env.RECOMMEND_CAPTURE_KEY = randomBytes(32).toString('base64');
  // The deployment captures every prediction, so the planner replays captured requests.
  p = await startProject({ replicas: 1, yaml: 'cost: { prices: { cpu: 0.04, memory: 0.005 } }\ndeployments: { credit-risk: { runtime: { isolation: process }, capture: { sampleRate: 1, key: "${env:RECOMMEND_CAPTURE_KEY}" } } }' });
});
after(async () => { await p?.close(); });

async function recommend(body: Record<string, unknown>): Promise<{ status: number; lines: Record<string, unknown>[]; text: string }> {
  const r = await call(`${p.url}/api/v1/recommend`, { method: 'POST', body: JSON.stringify(body), headers: { ...p.headers, 'content-type': 'application/json' }, timeoutMs: 300_000 });
  const lines = r.status === 200 ? r.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
  return { status: r.status, lines, text: r.text };
}

test('every candidate is measured with progress; the cheapest meeting the target is recommended with its fragment; the deployment keeps serving', { timeout: 300_000 }, async (t) => {
  for (let i = 0; i < 20; i++) {
    const r = await call(`${p.url}/v2/models/credit-risk/infer`, { method: 'POST', body: JSON.stringify(inferBody()), headers: { ...p.headers, 'content-type': 'application/json' } });
    assert.equal(r.status, 200, r.text);
  }
  const serving = (async () => {
    let ok = 0;
    for (let i = 0; i < 50; i++) {
      const r = await call(`${p.url}/v2/models/credit-risk/infer`, { method: 'POST', body: JSON.stringify(inferBody()), headers: { ...p.headers, 'content-type': 'application/json' } });
      if (r.status === 200) ok++;
      await new Promise((res) => setTimeout(res, 50));
    }
    return ok;
  })();
  const r = await recommend({ deployment: 'credit-risk', rps: 500, p99: 1000, duration: 400 });
  assert.equal(r.status, 200, r.text);
  const progress = r.lines.filter((l) => l.progress).map((l) => l.progress as { done: number; of: number; isolation: string; threads: number; maxBatchSize: number; rps: number; p99: number });
  const result = r.lines.find((l) => l.result)?.result as Recommendation;
  assert.ok(progress.length >= 6, `one progress line per candidate (${progress.length})`);
  assert.deepEqual(progress.map((x) => x.done), progress.map((_, i) => i + 1));
  assert.equal(progress[0]!.of, progress.length);
  assert.deepEqual([...new Set(progress.map((x) => x.isolation))].sort(), ['process', 'thread']);
  assert.ok(progress.every((x) => x.rps > 0), 'every candidate answered');
  for (const x of result.rows) t.diagnostic(`${x.isolation} ${x.threads}t batch ${x.maxBatchSize}: ${Math.round(x.rps)} req/s, p50 ${x.p50.toFixed(2)} p99 ${x.p99.toFixed(2)} ms, ${x.memoryMiB?.toFixed(0) ?? '-'} MiB, ${x.replicas} replicas, ${x.monthly.toFixed(2)} USD/month`);
  assert.ok(result.best, result.note);
  assert.equal(result.best.meets, true);
  assert.ok(result.rows.filter((x) => x.meets).every((x) => x.monthly >= result.best!.monthly), 'the cheapest of those that meet it');
  assert.ok(result.best.replicas >= Math.ceil(500 / (0.7 * result.best.rps)));
  assert.match(result.fragment!, new RegExp(`replicas: ${result.best.replicas}\\n    runtime: \\{ isolation: ${result.best.isolation}, intraOpThreads: ${result.best.threads} \\}`));
  t.diagnostic(`recommended: ${result.note}\n${result.fragment}`);
  assert.equal(await serving, 50, 'the deployment answered every request while the planner ran');
  assert.equal(result.inputs, 'captured', `captured requests were replayed (${result.inputsWhy})`);
  assert.match(result.inputsWhy!, /^\d+ captured predictions of the last day$/);
});

test('a target no configuration can meet says so and names the closest; bad requests are clear errors', { timeout: 300_000 }, async () => {
  const r = await recommend({ deployment: 'credit-risk', rps: 100, p99: 0.0001, duration: 200 });
  assert.equal(r.status, 200, r.text);
  const result = r.lines.find((l) => l.result)?.result as Recommendation;
  assert.equal(result.best, undefined);
  assert.ok(result.closest);
  assert.match(result.note, /no configuration meets p99 ≤ 0.0001 ms; the closest is/);
  assert.equal((await recommend({ deployment: 'nope', rps: 1 })).status, 404);
  const bad = await recommend({ deployment: 'credit-risk', rps: -5 });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /rps is the target rate/);
});

test('aloft recommend --json prints the result; progress goes to standard error', { timeout: 300_000 }, async () => {
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(root, 'src/cli/bin.ts'), 'recommend', 'credit-risk', '--rps', '200', '--p99', '500', '--duration', '200ms', '--json', '--url', p.url, '--key', p.adminKey], {
      cwd: root, encoding: 'utf8', timeout: 240_000, env: { ...process.env, ALOFT_URL: '', ALOFT_KEY: '' },
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }));
  });
  assert.equal(out.code, 0, out.stderr);
  const r = JSON.parse(out.stdout) as Recommendation;
  assert.equal(r.deployment, 'credit-risk');
  assert.ok(r.rows.length > 0);
  assert.match(out.stderr, /\[1\/\d+\] process, 1 thread, batch 1: \d+ req\/s/);
});
