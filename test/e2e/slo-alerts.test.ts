/**
 * SLO burn-rate alerts end to end, with a real replica process and a real webhook receiver:
 *
 *   1. the fast version (v1) under steady traffic, with an availability SLO and a latency SLO
 *      whose threshold sits between the fast version's answers and the slow version's work
 *      (the geometric mean of the two, measured here): no alert;
 *   2. the slow version (v2), applied through the admin API: the latency SLO burns and
 *      SLOBurnRate {slo: latency, severity: page} fires; the availability SLO does not; the
 *      burn rates are on /metrics;
 *   3. the webhook receiver (an HTTP server in this test) answers 500 twice, then 200: the
 *      firing notification is retried after 1 s and 2 s and delivered on the third attempt,
 *      with the documented payload (Alertmanager version 4 plus Slack's `text`);
 *      `aloft alerts` lists the alert while it fires;
 *   4. back to the fast version with the wall clock moved past every burn window: the alert
 *      resolves and the receiver is told so;
 *   5. an SLO objective of 100.5 or 100 is refused by plan and apply, and nothing changes;
 *      /api/v1/alerts?deployment=nope answers 404.
 *
 * Time: the server's wall clock (which buckets SLO events and stamps alerts) is the system
 * clock plus an offset this test moves forward; timers and durations are the system's.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { Pool } from 'undici';
import { startAloft, type RunningAloft } from '../../src/aloft.js';
import { AdminClient } from '../../src/api/client.js';
import type { RevisionDetail } from '../../src/api/types.js';
import type { Plan } from '../../src/control/plan.js';
import { createLogger } from '../../src/log.js';
import type { AlertsReport, Delivery } from '../../src/monitor/alerts/alerts.js';
import type { Alert } from '../../src/monitor/alerts/model.js';
import type { WebhookPayload } from '../../src/monitor/alerts/sinks.js';
import type { MonitorReport } from '../../src/monitor/capture/routes.js';
import type { SloStatus } from '../../src/monitor/slo.js';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { bearer, newAdminKey } from '../helpers/auth.js';
import { offsetClock } from '../helpers/clock.js';
import { metricValue } from '../helpers/prometheus.js';
import { FEATURES, inferBody, ROW } from '../helpers/credit-risk.js';
import { call } from '../helpers/http.js';
import { creditModel, random } from '../helpers/models.js';
import { until } from '../helpers/poll.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const DEP = 'credit-risk';
const BODY = JSON.stringify(inferBody());
const DAY = 86_400_000;
/** Alertmanager's zero time: the endsAt of an alert still firing. */
const ZERO_TIME = '0001-01-01T00:00:00Z';
const LATENCY_OBJECTIVE = 95;
const AVAILABILITY_OBJECTIVE = 99.9;
/** The page rule of a 30-day objective: 1h and 5m windows at 14.4×. */
const PAGE_RATE = 14.4;

/** The system clock, its wall-clock time moved forward by `offset.ms`. */
const { clock, offset } = offsetClock();

// ── models ────────────────────────────────────────────────────────────────────────────────

/** Repetitions of the 1024 × 1024 layer in the slow model. */
const SLOW_DEPTH = 1000;
const SLOW_WIDTH = 1024;

/**
 * The credit-risk signature (`features` FP32 [batch, 22] → `probability` FP32 [batch, 1])
 * through 22 → 1024, then SLOW_DEPTH × the same 1024 → 1024 tanh layer, then 1024 → 1: about
 * 1 G multiply-adds a row from a 4 MB file (one weight matrix shared by every layer, so the
 * file stays small and loads fast while the work is a few thousand times the fast model's).
 * Uniform weights of variance 1/width and tanh keep every unit finite.
 */
function slowModel(): Uint8Array {
  const r = random(4242);
  const uniform = (n: number, scale: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
  const g = new GraphBuilder({ name: 'credit-slow' });
  const x = g.input('features', 'FP32', ['batch', FEATURES]);
  const w0 = g.initializer('w0', Float32Array.from({ length: FEATURES * SLOW_WIDTH }, (_, i) => (r() * 2 - 1) / (Math.abs(ROW[Math.floor(i / SLOW_WIDTH)]!) + 1)), [FEATURES, SLOW_WIDTH]);
  const w = g.initializer('w', uniform(SLOW_WIDTH * SLOW_WIDTH, Math.sqrt(3 / SLOW_WIDTH)), [SLOW_WIDTH, SLOW_WIDTH]);
  const b = g.initializer('b', new Float32Array(SLOW_WIDTH).fill(0.01), [SLOW_WIDTH]);
  const out = g.initializer('wout', uniform(SLOW_WIDTH, 1 / Math.sqrt(SLOW_WIDTH)), [SLOW_WIDTH, 1]);
  let h = g.tanh(g.add(g.matmul(x, w0), b));
  for (let i = 0; i < SLOW_DEPTH; i++) h = g.tanh(g.add(g.matmul(h, w), b));
  g.output(g.sigmoid(g.matmul(h, out)), 'probability', 'FP32', ['batch', 1]);
  return g.toBytes();
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil(s.length * q) - 1))]!;
}

/** Median ms of one row straight through ONNX Runtime (one thread, as a replica runs it), and the answer. */
async function directMs(path: string): Promise<{ ms: number; p: number }> {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const feeds = { features: new ort.Tensor('float32', Float32Array.from(ROW), [1, FEATURES]) };
    let p = Number.NaN;
    for (let i = 0; i < 3; i++) await session.run(feeds);
    const ms: number[] = [];
    for (let i = 0; i < 11; i++) {
      const t0 = performance.now();
      const o = await session.run(feeds);
      ms.push(performance.now() - t0);
      p = (o.probability!.data as Float32Array)[0]!;
    }
    return { ms: quantile(ms, 0.5), p };
  } finally {
    await session.release();
  }
}

// ── the spec ──────────────────────────────────────────────────────────────────────────────

interface SpecOptions {
  file: 'fast.onnx' | 'slow.onnx';
  /** The latency SLO's threshold, ms; none without. */
  thresholdMs?: number;
  /** The latency SLO's objective (for the refused specs). */
  latencyObjective?: number | string;
}

function spec(o: SpecOptions): string {
  return [
    'models:',
    `  ${DEP}:`,
    `    path: ./${o.file}`,
    'deployments:',
    `  ${DEP}:`,
    `    model: ${DEP}`,
    '    replicas: 1',
    '    runtime: { isolation: process }',
    '    slos:',
    `      - { kind: availability, objective: ${AVAILABILITY_OBJECTIVE} }`,
    ...(o.thresholdMs !== undefined ? [`      - { kind: latency, objective: ${o.latencyObjective ?? LATENCY_OBJECTIVE}, threshold: ${o.thresholdMs}ms }`] : []),
    'alerts:',
    '  every: 1s',
    `  webhooks: [{ url: "${state.hook!.url}", timeout: 2s }]`,
    '',
  ].join('\n');
}

// ── the webhook receiver ──────────────────────────────────────────────────────────────────

interface Post { at: number; path: string; method: string; headers: IncomingHttpHeaders; answered: number; body: WebhookPayload }

/** Answers 500 to the first `failures` POSTs and 200 after, recording each one. */
async function receiver(failures: number): Promise<{ url: string; origin: string; posts: Post[]; close(): Promise<void> }> {
  const posts: Post[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answered = posts.length < failures ? 500 : 200;
      let body: WebhookPayload;
      try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookPayload; } catch { body = { unparsable: Buffer.concat(chunks).toString('utf8') } as unknown as WebhookPayload; }
      posts.push({ at: Date.now(), path: req.url ?? '', method: req.method ?? '', headers: req.headers, answered, body });
      res.writeHead(answered, { 'content-type': 'text/plain' }).end(answered === 200 ? 'ok' : 'receiver unavailable');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`, origin: `http://127.0.0.1:${port}`, posts,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// ── traffic ───────────────────────────────────────────────────────────────────────────────

interface Tally { sent: number; ok: number; failed: number; ms: number[]; versions: Map<string, number>; errors: string[] }

/** Closed-loop load: `connections` loops, one request at a time each, until stopped or `max` requests. */
function load(connections: number, max: number) {
  const pool = new Pool(state.url, { connections });
  const tally: Tally = { sent: 0, ok: 0, failed: 0, ms: [], versions: new Map(), errors: [] };
  let stopped = false;
  const loop = async () => {
    while (!stopped && tally.sent < max) {
      tally.sent++;
      const t0 = performance.now();
      try {
        const r = await pool.request({ method: 'POST', path: `/v2/models/${DEP}/infer`, headers: { ...admin(), 'content-type': 'application/json' }, body: BODY, headersTimeout: 30_000, bodyTimeout: 30_000 });
        const text = await r.body.text();
        const ms = performance.now() - t0;
        if (r.statusCode !== 200) {
          tally.failed++;
          if (tally.errors.length < 5) tally.errors.push(`${r.statusCode}: ${text.slice(0, 200)}`);
          continue;
        }
        const a = JSON.parse(text) as { model_version: string; outputs: { data: number[] }[] };
        const p = a.outputs[0]!.data[0]!;
        if (!(p > 0 && p < 1)) {
          tally.failed++;
          if (tally.errors.length < 5) tally.errors.push(`not a probability: ${text.slice(0, 200)}`);
          continue;
        }
        tally.ok++;
        tally.ms.push(ms);
        tally.versions.set(a.model_version, (tally.versions.get(a.model_version) ?? 0) + 1);
      } catch (err) {
        tally.failed++;
        if (tally.errors.length < 5) tally.errors.push(String(err));
      }
    }
  };
  const loops = Array.from({ length: connections }, loop);
  const done = Promise.all(loops).then(() => pool.close());
  return { tally, done, stop: async () => { stopped = true; await done; } };
}

const versions = (t: Tally) => JSON.stringify(Object.fromEntries(t.versions));

// ── the running system ────────────────────────────────────────────────────────────────────

const state: {
  dir: string; adminKey: string; url: string; aloft?: RunningAloft; api?: AdminClient;
  hook?: Awaited<ReturnType<typeof receiver>>; logs: string[];
  fast?: { ms: number; p: number }; slow?: { ms: number; p: number }; thresholdMs?: number;
  /** The page alert while it fired. */
  page?: Alert;
  revision: number;
} = { dir: '', adminKey: newAdminKey(), url: '', logs: [], revision: 0 };

const admin = () => bearer(state.adminKey);

async function getJson<T>(path: string): Promise<T> {
  const r = await call(`${state.url}${path}`, { headers: admin(), timeoutMs: 30_000 });
  assert.equal(r.status, 200, `GET ${path}: ${r.status}: ${r.text.slice(0, 500)}`);
  return r.json as T;
}

const alerts = (q = '') => getJson<AlertsReport>(`/api/v1/alerts${q}`);
const monitorReport = () => getJson<MonitorReport>(`/api/v1/monitor/${DEP}`);

async function metrics(): Promise<string> {
  const r = await call(`${state.url}/metrics`, { headers: admin(), timeoutMs: 10_000 });
  assert.equal(r.status, 200);
  return r.text;
}

/** The value of the series `name` whose labels include every one of `labels` (undefined when there is none). */
const metric = metricValue;

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(root, 'src/cli/bin.ts'), ...args, '--url', state.url, '--key', state.adminKey], {
      cwd: root, encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, ALOFT_URL: '', ALOFT_KEY: '', ALOFT_ADMIN_KEY: '' },
    }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

/** Apply `text` as the next revision and wait until it is applied and converged. */
async function applyAndConverge(text: string, message: string): Promise<{ revision: number; ms: number; detail: RevisionDetail; plan: Plan }> {
  const t0 = Date.now();
  const r = await state.api!.apply({ spec: text, file: 'aloft.yaml', base: state.revision, message });
  assert.equal(r.changed, true, `${message}: the plan has changes`);
  const n = r.revision!;
  assert.equal(n, state.revision + 1);
  const detail = await until(`revision ${n} (${message}) applied and converged`, 90_000, async () => {
    const d = await state.api!.revision(n);
    if (d.outcome === 'failed' || d.outcome === 'rolled_back') throw new Error(`revision ${n} ended ${d.outcome}: ${d.reason ?? ''}`);
    if (d.outcome !== 'applied') return undefined;
    const s = await state.api!.status();
    return s.converged && s.current?.number === n ? d : undefined;
  }, 50);
  state.revision = n;
  return { revision: n, ms: Date.now() - t0, detail, plan: r.plan };
}

const sloOf = (r: MonitorReport, name: string): SloStatus => {
  const s = r.slos.find((x) => x.name === name);
  assert.ok(s, `the monitor report has the ${name} SLO: ${JSON.stringify(r.slos.map((x) => x.name))}`);
  return s;
};
const windowOf = (s: SloStatus, w: string) => s.rules.flatMap((r) => [r.long, r.short]).find((x) => x.window === w)!;
const isBurn = (a: Alert, slo: string, severity?: string) => a.name === 'SLOBurnRate' && a.labels.slo === slo && (severity === undefined || a.labels.severity === severity);
const webhookDeliveries = (r: AlertsReport): Delivery[] => r.deliveries.filter((d) => d.sink.startsWith(`webhook ${state.hook!.origin} #`));

before(async () => {
  state.dir = await mkdtemp(join(tmpdir(), 'aloft-slo-alerts-'));
  state.hook = await receiver(2);
  await writeFile(join(state.dir, 'fast.onnx'), creditModel(1));
  await writeFile(join(state.dir, 'slow.onnx'), slowModel());
  // Revision 1: the fast version, the availability SLO only (the latency threshold is measured first).
  await writeFile(join(state.dir, 'aloft.yaml'), spec({ file: 'fast.onnx' }));
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (/alert/i.test(line)) state.logs.push(line);
      cb();
    },
  });
  const aloft = await startAloft({
    spec: join(state.dir, 'aloft.yaml'), port: 0, host: '127.0.0.1', adminKey: state.adminKey, clock,
    databaseUrl: `sqlite:${join(state.dir, '.aloft', 'aloft.db')}`,
    logger: createLogger({ level: 'info', destination }),
  });
  state.aloft = aloft;
  await aloft.waitReady(60_000);
  state.url = aloft.url;
  assert.match(state.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  state.api = new AdminClient({ url: aloft.url, key: state.adminKey });
  state.revision = aloft.revision;
  assert.equal(state.revision, 1);
});

after(async () => {
  await state.aloft?.close();
  await state.hook?.close();
  await rm(state.dir, { recursive: true, force: true });
});

// ── 1 ─────────────────────────────────────────────────────────────────────────────────────

test('the fast version under steady traffic: no alert, with a latency threshold between the two versions', { timeout: 90_000 }, async (t) => {
  // The two versions' work, straight through ONNX Runtime.
  state.fast = await directMs(join(state.dir, 'fast.onnx'));
  state.slow = await directMs(join(state.dir, 'slow.onnx'));
  t.diagnostic(`direct ONNX Runtime, one row, one thread, median of 11: fast ${state.fast.ms.toFixed(3)} ms, slow ${state.slow.ms.toFixed(2)} ms (${(state.slow.ms / state.fast.ms).toFixed(0)}×; slow answers p = ${state.slow.p.toFixed(4)})`);
  assert.ok(Number.isFinite(state.slow.p) && state.slow.p > 0 && state.slow.p < 1, `the slow model answers a probability, got ${state.slow.p}`);
  assert.ok(state.slow.ms >= 20 * state.fast.ms, `the slow version is at least 20× the work (${state.slow.ms} vs ${state.fast.ms} ms)`);

  // The fast version end to end, after 100 warm-up requests (client-measured, so an upper
  // bound of the server's own arrival-to-answer time).
  await load(2, 100).done;
  const warm = load(2, 400);
  await warm.done;
  assert.equal(warm.tally.failed, 0, warm.tally.errors.join('; '));
  const p50 = quantile(warm.tally.ms, 0.5);
  const p99 = quantile(warm.tally.ms, 0.99);
  // Between the fast version's tail (its p99) and the slow version's work: their geometric mean.
  const threshold = Math.max(1, Math.round(Math.sqrt(p99 * state.slow.ms)));
  state.thresholdMs = threshold;
  const over = warm.tally.ms.filter((ms) => ms > threshold).length / warm.tally.ms.length;
  t.diagnostic(`fast version end to end, ${warm.tally.ok} requests on 2 connections: p50 ${p50.toFixed(2)} ms, p95 ${quantile(warm.tally.ms, 0.95).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${Math.max(...warm.tally.ms).toFixed(1)} ms`);
  t.diagnostic(`latency SLO threshold: round(√(fast p99 ${p99.toFixed(2)} ms × slow work ${state.slow.ms.toFixed(2)} ms)) = ${threshold} ms, objective ${LATENCY_OBJECTIVE}%; ${(100 * over).toFixed(2)}% of the fast answers measured above it`);
  // The budget is 5% of answers over the threshold: the fast version stays well within it,
  // and the slow version's work alone is over it.
  assert.ok(over <= 0.01, `at most 1% of the fast version's answers over the threshold (${(100 * over).toFixed(2)}% over ${threshold} ms)`);
  assert.ok(threshold * 1.5 < state.slow.ms, `the slow version's work alone (${state.slow.ms.toFixed(2)} ms) is well over the threshold (${threshold} ms)`);

  // Revision 2: add the latency SLO. In place: the replica process is the one that ran.
  const pids = state.aloft!.orchestrator.status().map((r) => r.pid);
  const two = await applyAndConverge(spec({ file: 'fast.onnx', thresholdMs: threshold }), 'latency SLO');
  assert.deepEqual(two.plan.deployments.map((d) => [d.name, d.action, d.effect, d.fields.map((f) => f.field)]), [[DEP, 'change', 'in-place', ['slos']]]);
  assert.deepEqual(state.aloft!.orchestrator.status().map((r) => r.pid), pids, 'adding an SLO restarts no replica');
  const declared = await monitorReport();
  assert.deepEqual(declared.slos.map((s) => [s.name, s.kind, s.objective, s.window, s.threshold]), [
    ['availability', 'availability', AVAILABILITY_OBJECTIVE, '30d', undefined],
    ['latency', 'latency', LATENCY_OBJECTIVE, '30d', `${threshold}ms`],
  ]);
  assert.deepEqual(sloOf(declared, 'latency').rules.map((r) => [r.severity, r.rate, r.long.window, r.short.window]), [
    ['page', 14.4, '1h', '5m'], ['page', 6, '6h', '30m'], ['ticket', 3, '1d', '2h'], ['ticket', 1, '3d', '6h'],
  ], 'the workbook\'s rules for a 30-day objective');

  // Steady traffic for 5 s, watching the alert book all along and for 3 evaluations after.
  const t0 = Date.now();
  const steady = load(2, 20_000);
  const seen: string[] = [];
  let checks = 0;
  const watch = async () => {
    const r = await alerts();
    checks++;
    for (const a of r.active) seen.push(`${a.state} ${a.name} ${JSON.stringify(a.labels)}`);
  };
  await until('5 s of steady fast traffic', 30_000, async () => { await watch(); return Date.now() - t0 >= 5000 ? true : undefined; }, 200);
  await steady.stop();
  const sent = steady.tally.ok;
  assert.equal(steady.tally.failed, 0, steady.tally.errors.join('; '));
  assert.deepEqual([...steady.tally.versions.keys()], ['1']);
  // Every answer counted: the evaluations (every 1 s) see them all, then three more evaluations.
  await until('the latency SLO to count every steady answer', 20_000, async () => {
    await watch();
    return (metric(await metrics(), 'aloft_slo_events', { deployment: DEP, slo: 'latency', kind: 'total' }) ?? 0) >= sent ? true : undefined;
  }, 200);
  const counted = Date.now();
  await until('three more evaluations', 10_000, async () => { await watch(); return Date.now() - counted >= 3000 ? true : undefined; }, 200);

  const r = await alerts();
  const m = await metrics();
  const report = await monitorReport();
  const lat = sloOf(report, 'latency');
  const avail = sloOf(report, 'availability');
  t.diagnostic(`steady fast traffic: ${sent} requests in ${Date.now() - t0} ms (2 connections, p50 ${quantile(steady.tally.ms, 0.5).toFixed(2)} ms, p99 ${quantile(steady.tally.ms, 0.99).toFixed(2)} ms); alert book checked ${checks} times: ${seen.length === 0 ? 'never an alert' : seen.join('; ')}`);
  t.diagnostic(`latency SLO: ${lat.events.good} good of ${lat.events.total} (SLI ${lat.sli?.toFixed(3)}%), burn 1h ${windowOf(lat, '1h').rate.toFixed(3)}×, 5m ${windowOf(lat, '5m').rate.toFixed(3)}×; availability ${avail.events.good} of ${avail.events.total}; active ${r.active.length}, sinks ${r.sinks.join(', ')}`);
  assert.deepEqual(seen, [], 'no alert, not even pending, at any check');
  assert.deepEqual(r.active, []);
  assert.deepEqual(r.resolved, []);
  assert.deepEqual(r.deliveries, [], 'nothing notified');
  assert.equal(r.sinks.length, 2);
  assert.equal(r.sinks[0], 'log');
  assert.match(r.sinks[1]!, new RegExp(`^webhook ${state.hook!.origin.replace(/[.]/g, '\\.')} #[0-9a-f]{6}$`), 'the webhook by host, and a digest of its URL (the path, a Slack hook\'s secret, is not shown)');
  assert.equal(state.hook!.posts.length, 0, 'the receiver heard nothing');
  assert.equal(lat.events.total, sent, 'every answer since the SLO was added is a latency event');
  assert.ok(lat.events.good / lat.events.total >= LATENCY_OBJECTIVE / 100, `the fast version meets the latency objective (${lat.events.good}/${lat.events.total})`);
  assert.equal(lat.burning, undefined);
  assert.ok(lat.rules.every((x) => !x.active));
  assert.ok(avail.events.total >= sent + warm.tally.ok, 'availability counted the warm-up too (declared since revision 1)');
  assert.equal(avail.events.good, avail.events.total, 'no bad answer');
  assert.equal(metric(m, 'aloft_alerts', { alertname: 'SLOBurnRate' }), undefined, 'no aloft_alerts series');
  assert.equal(metric(m, 'aloft_slo_objective_ratio', { deployment: DEP, slo: 'latency' }), LATENCY_OBJECTIVE / 100);
  assert.equal(metric(m, 'aloft_slo_objective_ratio', { deployment: DEP, slo: 'availability' }), AVAILABILITY_OBJECTIVE / 100);
});

// ── 2 and 3 ───────────────────────────────────────────────────────────────────────────────

test('the slow version burns the latency SLO: the page fires, the webhook is retried until delivered, aloft alerts lists it', { timeout: 120_000 }, async (t) => {
  assert.ok(state.thresholdMs, 'test 1 set the threshold');
  // Revision 3: the slow version (the default rollout, replace).
  const three = await applyAndConverge(spec({ file: 'slow.onnx', thresholdMs: state.thresholdMs }), 'slow version');
  t.diagnostic(`revision ${three.revision} (slow version) applied and converged in ${three.ms} ms`);
  assert.equal(state.aloft!.deployments.find((d) => d.name === DEP)?.version, 2);
  // Past every burn window (the longest is 3 days): only the slow version's answers count.
  offset.ms += 4 * DAY;

  const t0 = Date.now();
  const slow = load(2, 5000);
  let firing: AlertsReport;
  let firedMs: number;
  let firedAfter = 0;
  // The webhook's delivery as each poll finds it while it waits for a retry.
  const waiting: Delivery[] = [];
  const noteWaiting = (r: AlertsReport) => {
    const d = webhookDeliveries(r).find((x) => x.status === 'firing');
    if (d?.state === 'waiting') waiting.push({ ...d });
    return d;
  };
  try {
    let firedAt: number | undefined;
    firing = await until('SLOBurnRate {slo: latency, severity: page} firing (and 40 slow answers)', 60_000, async () => {
      const r = await alerts();
      noteWaiting(r);
      if (firedAt === undefined && r.active.some((a) => isBurn(a, 'latency', 'page') && a.state === 'firing')) {
        firedAt = Date.now();
        firedAfter = slow.tally.ok;
      }
      return firedAt !== undefined && slow.tally.ok >= 40 ? r : undefined;
    }, 50);
    firedMs = firedAt! - t0;
  } finally {
    await slow.stop();
  }
  assert.equal(slow.tally.failed, 0, slow.tally.errors.join('; '));
  assert.deepEqual([...slow.tally.versions.keys()], ['2'], `only the slow version answered: ${versions(slow.tally)}`);
  t.diagnostic(`slow traffic: page fired within ${firedMs} ms of its start (${firedAfter} slow answers by then); ${slow.tally.ok} requests answered in all (2 connections), end to end p50 ${quantile(slow.tally.ms, 0.5).toFixed(1)} ms, min ${Math.min(...slow.tally.ms).toFixed(1)} ms (threshold ${state.thresholdMs} ms)`);

  const page = firing.active.find((a) => isBurn(a, 'latency', 'page'))!;
  state.page = page;
  assert.deepEqual(page.labels, { alertname: 'SLOBurnRate', deployment: DEP, slo: 'latency', kind: 'latency', severity: 'page' });
  assert.match(page.fingerprint, /^[0-9a-f]{16}$/);
  assert.equal(page.state, 'firing');
  assert.ok(page.firingAt && Date.parse(page.firingAt) >= Date.parse(page.activeAt), 'fired at or after it became active (for: 0s)');
  assert.ok(Date.parse(page.activeAt) >= Date.now() + offset.ms - 120_000, 'stamped by the server\'s (moved) wall clock');
  assert.ok((page.value ?? 0) >= PAGE_RATE, `its value is the long window's burn rate (${page.value})`);
  assert.match(page.annotations.summary, new RegExp(`^${DEP}: the latency SLO \\(${LATENCY_OBJECTIVE}% within ${state.thresholdMs}ms over 30d\\) burns its error budget [\\d.]+× over 1h and [\\d.]+× over 5m \\(alert at 14\\.4×\\)$`));
  assert.match(page.annotations.description ?? '', /of the budget left over 30d/);
  assert.ok(!firing.active.some((a) => a.labels.slo === 'availability'), `the availability SLO does not fire: ${JSON.stringify(firing.active.map((a) => a.labels))}`);

  // The monitor report and /metrics: burn rates over 14.4 on the 1h and 5m windows.
  const report = await monitorReport();
  const lat = sloOf(report, 'latency');
  const avail = sloOf(report, 'availability');
  const m = await metrics();
  const burn = (slo: string, window: string) => metric(m, 'aloft_slo_burn_rate', { deployment: DEP, slo, window });
  const w5 = windowOf(lat, '5m');
  t.diagnostic(`latency SLO after the slow traffic: 5m window ${w5.events.good} good of ${w5.events.total}, burn rates ${lat.rules.map((x) => `${x.long.window} ${x.long.rate.toFixed(2)}× / ${x.short.window} ${x.short.rate.toFixed(2)}×${x.active ? ' HOLDS' : ''}`).join('; ')}; burning: ${lat.burning}`);
  t.diagnostic(`/metrics: aloft_slo_burn_rate latency 1h ${burn('latency', '1h')}, 5m ${burn('latency', '5m')}; availability 1h ${burn('availability', '1h')}, 5m ${burn('availability', '5m')}; budget left ${metric(m, 'aloft_slo_error_budget_remaining_ratio', { deployment: DEP, slo: 'latency' })}`);
  assert.equal(lat.burning, 'page');
  assert.ok(lat.rules[0]!.active, 'the 1h/5m page rule holds');
  assert.ok(w5.events.total > 0 && w5.events.good / w5.events.total < 0.05, `(almost) every slow answer is over the threshold: ${w5.events.good} good of ${w5.events.total}`);
  assert.ok(burn('latency', '1h')! > PAGE_RATE, `latency burn rate over 1h > 14.4: ${burn('latency', '1h')}`);
  assert.ok(burn('latency', '5m')! > PAGE_RATE, `latency burn rate over 5m > 14.4: ${burn('latency', '5m')}`);
  assert.equal(burn('availability', '1h'), 0);
  assert.equal(burn('availability', '5m'), 0);
  assert.equal(avail.burning, undefined);
  assert.equal(avail.events.good, avail.events.total, 'every slow answer was a good availability event');
  assert.equal(metric(m, 'aloft_alerts', { alertname: 'SLOBurnRate', state: 'firing', deployment: DEP, severity: 'page' }), 1);
  assert.deepEqual(report.alerts.filter((a) => a.state === 'firing').map((a) => a.fingerprint).includes(page.fingerprint), true, 'the monitor report lists the open alert');

  // 3. The receiver answers 500, 500, then 200: three attempts, 1 s then 2 s apart.
  const hook = state.hook!;
  const delivered = await until('the webhook delivery of the firing notification', 30_000, async () => {
    const r = await alerts();
    const d = noteWaiting(r);
    return d?.state === 'delivered' ? { r, d } : undefined;
  }, 25);
  const posts = hook.posts;
  t.diagnostic(`webhook: ${posts.length} POSTs, answered ${posts.map((p) => p.answered).join(', ')}, ${posts.slice(1).map((p, i) => `${p.at - posts[i]!.at} ms`).join(' and ')} apart; delivery #${delivered.d.id} ${delivered.d.state} after ${delivered.d.attempts} attempts (created ${delivered.d.createdAt}, delivered ${delivered.d.deliveredAt})`);
  t.diagnostic(`while retrying: ${[...new Map(waiting.map((w) => [w.attempts, w])).values()].map((w) => `after attempt ${w.attempts}: waiting, next at ${w.nextAttemptAt}, last error '${w.lastError}'`).join('; ')}`);
  assert.ok(posts.length >= 3, `at least 3 POSTs, got ${posts.length}`);
  assert.deepEqual(posts.slice(0, 3).map((p) => p.answered), [500, 500, 200]);
  const gap1 = posts[1]!.at - posts[0]!.at;
  const gap2 = posts[2]!.at - posts[1]!.at;
  assert.ok(gap1 >= 900 && gap1 < 5000, `the first retry after about 1 s (${gap1} ms)`);
  assert.ok(gap2 >= 1800 && gap2 < 8000, `the second after about 2 s more (${gap2} ms)`);
  for (const p of posts.slice(0, 3)) {
    assert.equal(p.method, 'POST');
    assert.equal(p.path, '/hook');
    assert.match(String(p.headers['content-type']), /^application\/json/);
    assert.equal(p.headers['user-agent'], 'aloft-alerts');
  }
  assert.deepEqual(posts[1]!.body, posts[0]!.body, 'a retry sends the same notification');
  assert.deepEqual(posts[2]!.body, posts[0]!.body, 'a retry sends the same notification');
  assert.equal(delivered.d.attempts, 3);
  assert.equal(delivered.d.state, 'delivered');
  assert.equal(delivered.d.groupKey, `{deployment="${DEP}"}`);
  assert.ok(delivered.d.deliveredAt, 'deliveredAt is set');
  assert.equal(delivered.d.lastError, undefined, 'a delivered notification keeps no error');
  assert.equal(delivered.d.nextAttemptAt, undefined);
  assert.equal(delivered.d.alerts, posts[2]!.body.alerts.length);
  assert.ok(waiting.some((w) => w.attempts === 1) && waiting.some((w) => w.attempts === 2), `seen waiting after attempts 1 and 2: ${JSON.stringify(waiting.map((w) => w.attempts))}`);
  for (const w of waiting) {
    assert.match(w.lastError ?? '', /^answered 500: receiver unavailable$/);
    assert.ok(w.nextAttemptAt, 'a waiting delivery says when it is tried next');
  }
  assert.deepEqual(webhookDeliveries(delivered.r).map((d) => [d.status, d.state]), [['firing', 'delivered']], 'one notification, not superseded');
  const logDelivery = delivered.r.deliveries.find((d) => d.sink === 'log');
  assert.deepEqual([logDelivery?.status, logDelivery?.state, logDelivery?.attempts], ['firing', 'delivered', 1]);

  // The delivered body, as documented.
  const body = posts[2]!.body;
  t.diagnostic(`delivered body: ${JSON.stringify({ ...body, alerts: body.alerts.map((a) => ({ ...a, annotations: { summary: a.annotations.summary } })) }).slice(0, 1500)}`);
  assert.equal(body.version, '4');
  assert.equal(body.status, 'firing');
  assert.equal(body.receiver, 'aloft');
  assert.equal(body.truncatedAlerts, 0);
  assert.equal(body.groupKey, `{deployment="${DEP}"}`);
  assert.deepEqual(body.groupLabels, { deployment: DEP });
  assert.equal(body.externalURL, state.aloft!.adminUrl);
  assert.equal(body.commonLabels.alertname, 'SLOBurnRate');
  assert.equal(body.commonLabels.deployment, DEP);
  assert.equal(body.commonLabels.slo, 'latency');
  assert.equal(body.alerts[0]!.labels.alertname, 'SLOBurnRate');
  assert.ok(body.alerts.every((a) => a.labels.slo === 'latency' && a.status === 'firing'), `only the latency SLO: ${JSON.stringify(body.alerts.map((a) => a.labels))}`);
  const sent = body.alerts.find((a) => a.labels.severity === 'page');
  assert.ok(sent, 'the page alert is in the notification');
  assert.deepEqual(sent.labels, page.labels);
  assert.equal(sent.fingerprint, page.fingerprint);
  assert.equal(sent.startsAt, page.firingAt);
  assert.equal(sent.endsAt, ZERO_TIME, 'endsAt is the zero time while firing');
  assert.equal(sent.generatorURL, `${state.aloft!.adminUrl}/api/v1/alerts`);
  assert.match(sent.annotations.summary ?? '', /^credit-risk: the latency SLO .* burns its error budget [\d.]+× over 1h and [\d.]+× over 5m \(alert at 14\.4×\)$/);
  assert.ok(body.text.includes(DEP), `text names the deployment: ${body.text}`);
  assert.match(body.text, /^\[FIRING:\d\] credit-risk\n/);
  assert.match(body.text, /🔴 page: \*SLOBurnRate\*: credit-risk: the latency SLO/);
  // Every alert of the notification is one the book fires.
  const book = new Set(delivered.r.active.filter((a) => a.state === 'firing').map((a) => a.fingerprint));
  assert.ok(body.alerts.every((a) => book.has(a.fingerprint)), 'the notification carries the group\'s firing alerts');

  const m2 = await metrics();
  const sinkName = webhookDeliveries(delivered.r)[0]!.sink;
  const notes = (outcome: string) => metric(m2, 'aloft_alert_notifications_total', { sink: sinkName, outcome });
  t.diagnostic(`/metrics: aloft_alert_notifications_total for the webhook: delivered ${notes('delivered')}, retried ${notes('retried')}, failed ${notes('failed')}`);
  assert.equal(notes('delivered'), 1);
  assert.equal(notes('retried'), 2);
  assert.equal(notes('failed'), 0);
  assert.ok(state.logs.some((l) => l.includes('alert notification failed; retrying')), 'the log names the failed attempts');
  assert.ok(state.logs.some((l) => l.includes('alert firing: credit-risk: the latency SLO')), 'the log sink wrote the firing alert');

  // 5. The CLI, while it fires.
  const [json, text, mon] = await Promise.all([cli(['alerts', '--json']), cli(['alerts']), cli(['monitor', DEP])]);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as AlertsReport;
  const listed = parsed.active.find((a) => a.fingerprint === page.fingerprint);
  assert.ok(listed, `aloft alerts --json lists the page alert: ${json.stdout.slice(0, 500)}`);
  assert.equal(listed.state, 'firing');
  assert.deepEqual(listed.labels, page.labels);
  assert.ok(parsed.deliveries.some((d) => d.sink.startsWith(`webhook ${hook.origin} #`) && d.state === 'delivered' && d.attempts === 3));
  assert.equal(text.code, 0, text.stderr);
  t.diagnostic('aloft alerts:');
  for (const l of text.stdout.trimEnd().split('\n')) t.diagnostic(`  ${l}`);
  assert.match(text.stdout, /^\d+ firing, 0 pending \(at .+; sinks: log, webhook http:\/\/127\.0\.0\.1:\d+ #[0-9a-f]{6}\)$/m);
  assert.match(text.stdout, /^ {2}FIRING {3}page {3}SLOBurnRate credit-risk \(slo=latency kind=latency\), since \S+$/m);
  assert.ok(text.stdout.includes(page.annotations.summary.slice(0, 40)));
  assert.equal(mon.code, 0, mon.stderr);
  const sloLine = mon.stdout.split('\n').find((l) => l.includes('SLO latency'));
  t.diagnostic(`aloft monitor ${DEP}: ${sloLine?.trim()}`);
  assert.match(sloLine ?? '', new RegExp(`SLO latency \\(${LATENCY_OBJECTIVE}% within ${state.thresholdMs}ms over 30d\\): .*BURNING \\(page\\)`));
  assert.match(mon.stdout, /alerts \(\d+ open\):\n {4}firing page SLOBurnRate: /);
});

// ── 4 ─────────────────────────────────────────────────────────────────────────────────────

test('back to the fast version, past every burn window: the alert resolves and the receiver is told', { timeout: 90_000 }, async (t) => {
  const page = state.page;
  assert.ok(page, 'test 2 saw the page alert');
  const hook = state.hook!;
  const before = hook.posts.length;
  // Revision 4: the fast version again (its file, so model version 1 by hash).
  const four = await applyAndConverge(spec({ file: 'fast.onnx', thresholdMs: state.thresholdMs! }), 'fast version again');
  assert.equal(state.aloft!.deployments.find((d) => d.name === DEP)?.version, 1);
  assert.ok((await alerts()).active.some((a) => a.fingerprint === page.fingerprint && a.state === 'firing'), 'it still fires: the windows hold the slow answers');
  // More than 3 days on: every burn window is clean.
  offset.ms += 3 * DAY + 3_600_000;
  const t0 = Date.now();
  const fast = load(2, 300);
  const resolved = await until('the page alert to resolve', 30_000, async () => {
    const r = await alerts();
    const a = r.resolved.find((x) => x.fingerprint === page.fingerprint);
    return a && !r.active.some((x) => x.name === 'SLOBurnRate') ? { r, a } : undefined;
  }, 50);
  const resolvedMs = Date.now() - t0;
  await fast.done;
  assert.equal(fast.tally.failed, 0, fast.tally.errors.join('; '));
  assert.deepEqual([...fast.tally.versions.keys()], ['1']);
  const notified = await until('the resolved notification to reach the receiver', 30_000, () => hook.posts.slice(before).find((p) => p.body.status === 'resolved' && p.answered === 200), 25);
  t.diagnostic(`revision ${four.revision} (fast again) converged in ${four.ms} ms; clock moved 3d1h on; resolved ${resolvedMs} ms later at ${resolved.a.resolvedAt}; ${hook.posts.length - before} POST(s) since: ${hook.posts.slice(before).map((p) => `${p.body.status} → ${p.answered}`).join(', ')}`);

  assert.equal(resolved.a.state, 'resolved');
  assert.deepEqual(resolved.a.labels, page.labels);
  assert.equal(resolved.a.firingAt, page.firingAt);
  assert.ok(resolved.a.resolvedAt && Date.parse(resolved.a.resolvedAt) > Date.parse(page.firingAt!) + 3 * DAY, 'resolved at the moved clock');
  assert.ok(resolved.r.resolved.every((a) => a.labels.slo === 'latency'), 'the availability SLO never fired');

  const body = notified.body;
  assert.equal(body.version, '4');
  assert.equal(body.status, 'resolved');
  assert.equal(body.groupKey, `{deployment="${DEP}"}`);
  assert.match(body.text, /^\[RESOLVED\] credit-risk\n/);
  assert.match(body.text, /✅ resolved: \*SLOBurnRate\*/);
  const sent = body.alerts.find((a) => a.fingerprint === page.fingerprint);
  assert.ok(sent, 'the page alert is in the resolved notification');
  assert.equal(sent.status, 'resolved');
  assert.equal(sent.startsAt, page.firingAt);
  assert.notEqual(sent.endsAt, ZERO_TIME);
  assert.equal(sent.endsAt, resolved.a.resolvedAt, 'endsAt is when it resolved');
  assert.ok(body.alerts.every((a) => a.status === 'resolved' && a.endsAt !== ZERO_TIME));

  const r = await until('the resolved delivery to be recorded', 10_000, async () => {
    const x = await alerts();
    return webhookDeliveries(x).some((d) => d.status === 'resolved' && d.state === 'delivered') ? x : undefined;
  }, 25);
  const d = webhookDeliveries(r).find((x) => x.status === 'resolved')!;
  assert.equal(d.attempts, 1, 'the receiver answers 200 now: one attempt');
  assert.equal(webhookDeliveries(r).at(-1)!.status, 'firing', 'the firing delivery is still listed (oldest last)');
  assert.ok(!r.deliveries.some((x) => x.state === 'waiting' || x.state === 'failed'), JSON.stringify(r.deliveries));
  const scoped = await alerts(`?deployment=${DEP}`);
  assert.deepEqual(scoped.resolved.map((a) => a.fingerprint), r.resolved.map((a) => a.fingerprint));
  assert.deepEqual(scoped.active, []);

  const report = await monitorReport();
  const lat = sloOf(report, 'latency');
  const w5 = windowOf(lat, '5m');
  const m = await metrics();
  t.diagnostic(`latency SLO after: 5m window ${w5.events.good} good of ${w5.events.total} (burn ${w5.rate.toFixed(3)}×), 3d ${windowOf(lat, '3d').events.total} events; budget left over 30d ${(100 * lat.budget.remaining).toFixed(1)}%; open alerts ${report.alerts.length}`);
  assert.equal(lat.burning, undefined);
  assert.ok(lat.rules.every((x) => !x.active));
  assert.ok(w5.events.total > 0, 'the fast answers are in the short window');
  assert.ok(w5.rate < PAGE_RATE);
  assert.deepEqual(report.alerts, []);
  assert.equal(metric(m, 'aloft_alerts', { alertname: 'SLOBurnRate' }), undefined, 'no open alert on /metrics');
  assert.ok(metric(m, 'aloft_slo_burn_rate', { deployment: DEP, slo: 'latency', window: '5m' })! < PAGE_RATE);

  const all = await cli(['alerts', '--all']);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /^0 firing, 0 pending/);
  assert.match(all.stdout, /^ {2}RESOLVED page {3}SLOBurnRate credit-risk \(slo=latency kind=latency\), resolved \S+$/m);
});

// ── 5 ─────────────────────────────────────────────────────────────────────────────────────

test('an SLO objective of 100.5 or 100 is refused by plan and apply; nothing changes; an unknown deployment is 404', { timeout: 60_000 }, async (t) => {
  const revisions = (await state.api!.revisions()).revisions.length;
  for (const [objective, why] of [['100.5', /objective 100\.5 is over 100%/], ['100', /objective 100% leaves no error budget/]] as const) {
    const text = spec({ file: 'slow.onnx', thresholdMs: state.thresholdMs!, latencyObjective: objective });
    const line = text.split('\n').findIndex((l) => l.includes(`objective: ${objective},`)) + 1;
    for (const path of ['/api/v1/plan', '/api/v1/apply']) {
      const r = await call(`${state.url}${path}`, { method: 'POST', headers: { ...admin(), 'content-type': 'application/json' }, body: JSON.stringify({ spec: text, file: 'aloft.yaml', base: state.revision }) });
      const body = r.json as { error: string; code: string; issues?: { line: number; path: string; message: string }[] };
      t.diagnostic(`objective ${objective}: POST ${path} → ${r.status}: ${body.error}`);
      assert.equal(r.status, 400, r.text);
      assert.equal(body.code, 'ALOFT_SPEC_INVALID');
      assert.match(body.error, why);
      assert.match(body.error, new RegExp(`^aloft\\.yaml:${line}:\\d+ deployments\\.credit-risk\\.slos\\[1\\]\\.objective: `));
      assert.deepEqual(body.issues?.map((i) => [i.line, i.path]), [[line, 'deployments.credit-risk.slos[1].objective']], JSON.stringify(body.issues));
    }
  }
  // Nothing changed: the same revision, the fast version serving, the SLOs as they were.
  assert.equal((await state.api!.revisions()).revisions.length, revisions, 'no revision recorded');
  const status = await state.api!.status();
  assert.equal(status.current?.number, state.revision);
  assert.equal(status.applying, null);
  assert.equal(state.aloft!.deployments.find((d) => d.name === DEP)?.version, 1);
  const still = load(1, 20);
  await still.done;
  assert.equal(still.tally.failed, 0, still.tally.errors.join('; '));
  assert.deepEqual([...still.tally.versions.entries()], [['1', 20]], 'the running deployment still serves, from the fast version');
  assert.equal(sloOf(await monitorReport(), 'latency').objective, LATENCY_OBJECTIVE);

  const nope = await call(`${state.url}/api/v1/alerts?deployment=nope`, { headers: admin() });
  t.diagnostic(`GET /api/v1/alerts?deployment=nope → ${nope.status}: ${nope.text}`);
  assert.equal(nope.status, 404);
  assert.match((nope.json as { error: string }).error, /deployment 'nope' is not served here/);
  const viaCli = await cli(['alerts', '--deployment', 'nope']);
  assert.equal(viaCli.code, 1, viaCli.stdout);
  assert.match(viaCli.stderr, /deployment 'nope' is not served here/);
});
