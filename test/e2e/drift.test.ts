/**
 * Data drift end to end, with the credit-risk example's real model.onnx served by a real
 * replica process on 127.0.0.1, and its generator's `shift` knob for covariate drift:
 *
 * 1. Reference traffic (fresh seeds, shift 0) raises no dataset drift over 10 windows
 *    (at most 1 false alarm); shifted traffic (shift 1) is reported drifted within two
 *    windows, naming the features the shift moves; /metrics says so.
 * 2. A reference file with wrong columns is a clear error naming the missing and unknown
 *    columns, and the deployment keeps serving.
 * 3. `aloft monitor` shows drift per feature with its test and statistic; `--json` parses.
 *
 * Windows: the drift window is `now - drift.window` by the server's clock, and every capture
 * record is stamped by the same clock. Aloft takes an injected clock (StartOptions.clock), so
 * this test gives it the system clock with a wall-clock offset (`date()` only; `now()` and
 * timers stay real) and moves that offset one window and a minute forward between batches:
 * each check then sees exactly one batch, with no sleeping.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startAloft, type RunningAloft } from '../../src/aloft.js';
import type { MonitorReport } from '../../src/monitor/capture/routes.js';
import type { DriftCheck } from '../../src/monitor/drift-monitor.js';
import { encodeValues, FEATURE_NAMES, generateApplicants } from '../../examples/credit-risk/data.js';
import { bearer, newAdminKey } from '../helpers/auth.js';
import { offsetClock } from '../helpers/clock.js';
import { call } from '../helpers/http.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const DEP = 'credit-risk';
const BAD = 'credit-risk-badref';
/** The example's own column names, one-hot ones included (`home_ownership=rent`). */
const NAMES = FEATURE_NAMES;
/** Redacted, so never stored and not tested: the check must say so. */
const REDACTED = 'loan_term_months';
const WINDOW_MS = 3_600_000;
const ROWS_PER_WINDOW = 300;
const REFERENCE_WINDOWS = 10;
/** What shift 1 moves (data.ts): lower incomes and scores, higher debt-to-income, more late payments, younger applicants. */
const SHIFTED = ['age', 'income', 'credit_score', 'debt_to_income', 'num_late_payments'];
const KEY = randomBytes(32).toString('base64');

/** The system clock, its wall-clock time moved forward by `offset.ms`. */
const { clock, offset } = offsetClock();

const state: { dir: string; adminKey: string; aloft?: RunningAloft; url: string; savedKey?: string; readyMs: number } = { dir: '', adminKey: newAdminKey(), url: '', readyMs: 0 };

const csv = (header: readonly string[], rows: readonly (readonly number[])[]) => `${[header.join(','), ...rows.map((r) => r.join(','))].join('\n')}\n`;

function spec(): string {
  const deployment = (name: string, reference: string) => [
    `  ${name}:`,
    '    model: credit-risk',
    '    replicas: 1',
    '    runtime: { isolation: process }',
    `    features: [${NAMES.join(', ')}]`,
    '    capture:',
    '      sampleRate: 1',
    `      redact: [${REDACTED}]`,
    '      key: ${env:CAPTURE_KEY}',
    `    drift: { reference: ${reference}, window: 1h, minRows: 100 }`,
  ];
  return ['models:', '  credit-risk:', '    path: ./model.onnx', 'deployments:', ...deployment(DEP, './reference.csv'), ...deployment(BAD, './bad-reference.csv'), ''].join('\n');
}

const admin = () => bearer(state.adminKey);

async function infer(deployment: string, row: readonly number[]): Promise<number> {
  const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, row.length], data: row }] });
  const r = await call(`${state.url}/v2/models/${deployment}/infer`, { method: 'POST', body, headers: { ...admin(), 'content-type': 'application/json' }, timeoutMs: 20_000 });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  const p = (r.json as { outputs: { name: string; data: number[] }[] }).outputs.find((o) => o.name === 'probability')!.data[0]!;
  assert.ok(p > 0 && p < 1, `a probability: ${p}`);
  return p;
}

/** One window: move the server's clock past the last window, then send `rows` (16 at a time). */
async function sendWindow(rows: readonly (readonly number[])[]): Promise<number[]> {
  offset.ms += WINDOW_MS + 60_000;
  const out: number[] = [];
  for (let i = 0; i < rows.length; i += 16) out.push(...await Promise.all(rows.slice(i, i + 16).map((r) => infer(DEP, r))));
  return out;
}

async function report(deployment = DEP): Promise<MonitorReport> {
  const r = await call(`${state.url}/api/v1/monitor/${deployment}`, { headers: admin(), timeoutMs: 30_000 });
  assert.equal(r.status, 200, r.text.slice(0, 500));
  return r.json as MonitorReport;
}

/** The on-demand check of the current window, judged. */
async function checkNow(): Promise<DriftCheck & { result: NonNullable<DriftCheck['result']> }> {
  const now = (await report()).drift?.now;
  assert.ok(now, 'the report has an on-demand drift check');
  assert.ok(now.result, `the window is judged: ${now.note ?? ''}`);
  return now as DriftCheck & { result: NonNullable<DriftCheck['result']> };
}

async function metrics(): Promise<string> {
  const r = await call(`${state.url}/metrics`, { headers: admin(), timeoutMs: 10_000 });
  assert.equal(r.status, 200);
  return r.text;
}

function metric(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

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

const encoded = (n: number, seed: number, shift: number) => generateApplicants(n, { seed, shift }).map(encodeValues);

before(async () => {
  state.dir = await mkdtemp(join(tmpdir(), 'aloft-drift-'));
  await copyFile(join(root, 'examples/credit-risk/model.onnx'), join(state.dir, 'model.onnx'));
  await writeFile(join(state.dir, 'reference.csv'), csv(NAMES, encoded(1000, 1, 0)));
  // Lacks `age`, and has a column that is no feature.
  const bad = encoded(200, 2, 0).map((r) => [...r.slice(1), 94110]);
  await writeFile(join(state.dir, 'aloft.yaml'), spec());
  state.savedKey = process.env.CAPTURE_KEY;
  process.env.CAPTURE_KEY = KEY;
  // aloft up refuses a spec whose reference cannot be read, as validate and plan do.
  await writeFile(join(state.dir, 'bad-reference.csv'), csv([...NAMES.slice(1), 'zip_code'], bad));
  await assert.rejects(startAloft({ spec: join(state.dir, 'aloft.yaml'), port: 0, host: '127.0.0.1', adminKey: state.adminKey, clock, databaseUrl: `sqlite:${join(state.dir, '.aloft', 'aloft.db')}` }),
    (e: Error) => /deployments\.credit-risk-badref\.drift\.reference: the drift reference .*bad-reference\.csv has the wrong columns; missing: age/.test(e.message));
  // Started with a good one, then the file is replaced under the running server: the check reports it, the deployment keeps serving.
  await writeFile(join(state.dir, 'bad-reference.csv'), csv(NAMES, encoded(200, 2, 0)));
  const t0 = Date.now();
  const aloft = await startAloft({
    spec: join(state.dir, 'aloft.yaml'), port: 0, host: '127.0.0.1', adminKey: state.adminKey, clock,
    databaseUrl: `sqlite:${join(state.dir, '.aloft', 'aloft.db')}`,
  });
  state.aloft = aloft;
  await aloft.waitReady(60_000);
  await writeFile(join(state.dir, 'bad-reference.csv'), csv([...NAMES.slice(1), 'zip_code'], bad));
  state.url = aloft.url;
  assert.match(state.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  state.readyMs = Date.now() - t0;
});

after(async () => {
  await state.aloft?.close();
  if (state.savedKey === undefined) delete process.env.CAPTURE_KEY;
  else process.env.CAPTURE_KEY = state.savedKey;
  await rm(state.dir, { recursive: true, force: true });
});

test('reference traffic raises no drift over many windows; shifted traffic is named within two windows', { timeout: 150_000 }, async (t) => {
  t.diagnostic(`Aloft (one replica process per deployment, the example's model.onnx) ready in ${state.readyMs} ms at ${state.url}`);
  const t0 = Date.now();
  let falseAlarms = 0;
  let predictionAlarms = 0;
  let featureAlarms = 0;
  const byFeature = new Map<string, number>();
  for (let k = 0; k < REFERENCE_WINDOWS; k++) {
    await sendWindow(encoded(ROWS_PER_WINDOW, 100 + k, 0));
    const c = await checkNow();
    assert.equal(c.trigger, 'on demand');
    assert.equal(c.window, '1h');
    assert.equal(c.currentRows, ROWS_PER_WINDOW, 'the window holds this batch only');
    assert.equal(c.reference.rows, 1000);
    assert.deepEqual(c.skipped.map((s) => s.feature), [REDACTED], 'the redacted feature is listed as skipped');
    assert.match(c.skipped[0]!.reason, /redacted/);
    assert.deepEqual(c.result.features.map((f) => f.feature), NAMES.filter((n) => n !== REDACTED), 'every other feature is tested');
    for (const f of c.result.features) {
      assert.equal(f.referenceRows, 1000);
      assert.equal(f.currentRows, ROWS_PER_WINDOW);
      assert.ok(Number.isFinite(f.statistic), `${f.feature}: a statistic`);
      // 1000 reference rows: hypothesis tests (KS for many-valued numbers, chi-square for a few values, z-test for one-hot).
      assert.ok(['ks', 'chi-square', 'z-test'].includes(f.test), `${f.feature}: ${f.test}`);
    }
    assert.equal(c.result.features.find((f) => f.feature === 'income')!.test, 'ks');
    assert.equal(c.result.features.find((f) => f.feature === 'purpose=car')!.test, 'z-test');
    if (c.result.drifted) falseAlarms++;
    if (c.predictions?.some((f) => f.drifted)) predictionAlarms++;
    featureAlarms += c.result.driftedFeatures.length;
    for (const f of c.result.driftedFeatures) byFeature.set(f, (byFeature.get(f) ?? 0) + 1);
    t.diagnostic(`window ${k + 1} (shift 0, seed ${100 + k}): ${c.result.drifted ? 'DRIFTED' : 'no drift'}, ${c.result.driftedFeatures.length} of ${c.result.features.length} features${c.result.driftedFeatures.length ? ` (${c.result.driftedFeatures.join(', ')})` : ''}`);
  }
  const tests = REFERENCE_WINDOWS * (NAMES.length - 1);
  t.diagnostic(`reference traffic: ${REFERENCE_WINDOWS} windows of ${ROWS_PER_WINDOW} requests in ${Date.now() - t0} ms; dataset false alarms ${falseAlarms}/${REFERENCE_WINDOWS}; prediction-drift false alarms ${predictionAlarms} (judged once the first ${1000} predictions are in); per-feature false alarms ${featureAlarms}/${tests} (${((100 * featureAlarms) / tests).toFixed(1)}%): ${[...byFeature].sort((a, b) => b[1] - a[1]).map(([f, n]) => `${f} ${n}`).join(', ') || 'none'}`);
  assert.ok(falseAlarms <= 1, `at most 1 false alarm in ${REFERENCE_WINDOWS} windows, got ${falseAlarms}`);
  const calm = await metrics();
  t.diagnostic(`after the last reference window: aloft_drift_detected ${metric(calm, 'aloft_drift_detected', `deployment="${DEP}"`)}`);

  // Shifted traffic: drifted within two windows, naming what the shift moves.
  const t1 = Date.now();
  let found: (DriftCheck & { result: NonNullable<DriftCheck['result']> }) | undefined;
  let windows = 0;
  for (const seed of [500, 501]) {
    await sendWindow(encoded(ROWS_PER_WINDOW, seed, 1));
    windows++;
    const c = await checkNow();
    assert.equal(c.currentRows, ROWS_PER_WINDOW);
    t.diagnostic(`shifted window ${windows} (shift 1, seed ${seed}): ${c.result.drifted ? 'DRIFTED' : 'no drift'}, share ${c.result.share.toFixed(3)} (threshold ${c.result.threshold}), ${c.result.driftedFeatures.length} of ${c.result.features.length}: ${c.result.driftedFeatures.join(', ')}`);
    if (c.result.drifted) {
      found = c;
      break;
    }
  }
  assert.ok(found, 'shifted traffic is reported drifted within two windows');
  t.diagnostic(`shift detected in window ${windows} after ${Date.now() - t1} ms; statistics: ${found.result.features.filter((f) => SHIFTED.includes(f.feature)).map((f) => `${f.feature} ${f.test} ${f.statistic.toPrecision(3)} p ${f.pValue?.toPrecision(2)}`).join('; ')}`);
  assert.ok(found.result.share >= found.result.threshold);
  for (const f of SHIFTED) assert.ok(found.result.driftedFeatures.includes(f), `${f} is named drifted (got ${found.result.driftedFeatures.join(', ')})`);
  for (const f of found.result.features) assert.equal(f.drifted, found.result.driftedFeatures.includes(f.feature));
  // Prediction drift: the riskier applicants move the model's output away from the first captured predictions'.
  const preds = found.predictions ?? [];
  t.diagnostic(`prediction drift: ${preds.map((f) => `${f.feature} ${f.test} ${f.statistic.toPrecision(3)} (threshold ${f.threshold}, ${f.referenceRows} vs ${f.currentRows})`).join('; ') || 'none'}`);
  assert.ok(preds.length >= 1, 'the output is tested against the first captured predictions');
  assert.ok(preds.some((f) => f.drifted), 'and found drifted');

  const m = await metrics();
  assert.equal(metric(m, 'aloft_drift_detected', `deployment="${DEP}"`), 1, 'aloft_drift_detected{deployment="credit-risk"} 1');
  for (const f of SHIFTED) assert.equal(metric(m, 'aloft_drift_feature_drifted', `deployment="${DEP}",feature="${f}"`), 1, `aloft_drift_feature_drifted for ${f}`);
  assert.equal(metric(m, 'aloft_drift_feature_drifted', `deployment="${DEP}",feature="${REDACTED}"`), undefined, 'no series for the redacted feature');
});

test('a reference file with wrong columns is a clear error', { timeout: 60_000 }, async (t) => {
  const r = await call(`${state.url}/api/v1/monitor/${BAD}`, { headers: admin(), timeoutMs: 30_000 });
  const report = r.json as { drift?: { now?: { note?: string } }; capture?: unknown; feedback?: unknown };
  const error = report.drift?.now?.note ?? r.text;
  t.diagnostic(`GET /api/v1/monitor/${BAD}: ${r.status}, drift: ${error}`);
  assert.equal(r.status, 200, 'the rest of the report (capture, feedback, quality) still answers');
  assert.ok(report.capture && report.feedback, 'capture and feedback figures are there');
  assert.match(error, /^drift check failed: /);
  assert.match(error, /bad-reference\.csv/, 'names the file');
  assert.match(error, /missing: age[;,\s]/, 'names the missing column');
  assert.match(error, /not features of the deployment: zip_code/, 'names the unknown column');
  assert.doesNotMatch(error, /missing: [^;]*income/, 'lists only what is missing');

  // The deployment keeps serving (and capturing), and so does the other one.
  for (const row of encoded(5, 3, 0)) await infer(BAD, row);
  await infer(DEP, encoded(1, 4, 0)[0]!);
  const c = await cli(['monitor', BAD]);
  t.diagnostic(`aloft monitor ${BAD}: exit ${c.code}: ${c.stdout.trim().slice(0, 400)}`);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /drift check failed: .*missing: age.*zip_code/s);

  // A plan of that spec is refused for the same reason (an apply would be), and validate reports it at its line.
  const planned = await cli(['plan', '-f', join(state.dir, 'aloft.yaml')]);
  t.diagnostic(`aloft plan: exit ${planned.code}: ${planned.stderr.trim()}`);
  assert.equal(planned.code, 1, planned.stdout);
  assert.match(planned.stderr, new RegExp(`deployments\\.${BAD}\\.drift\\.reference: the drift reference .*bad-reference\\.csv has the wrong columns; missing: age`));
  const validated = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(root, 'src/cli/bin.ts'), 'validate', '-f', join(state.dir, 'aloft.yaml')], { cwd: root, encoding: 'utf8', timeout: 60_000 },
      (err, _stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr }));
  });
  assert.equal(validated.code, 1, validated.stderr);
  assert.match(validated.stderr, new RegExp(`aloft\\.yaml:\\d+:\\d+ deployments\\.${BAD}\\.drift\\.reference: the drift reference .*bad-reference\\.csv has the wrong columns`));
  assert.match(validated.stderr, /1 problem in /, 'the good deployment\'s reference passes');
});

test('aloft monitor shows drift per feature with its statistic', { timeout: 90_000 }, async (t) => {
  const [text, json] = await Promise.all([cli(['monitor', DEP]), cli(['monitor', DEP, '--json'])]);
  assert.equal(text.code, 0, text.stderr);
  t.diagnostic(`aloft monitor ${DEP}:`);
  for (const l of text.stdout.trimEnd().split('\n')) t.diagnostic(l);
  const lines = text.stdout.split('\n');
  const head = lines.find((l) => l.includes('drift now'));
  assert.ok(head, 'a drift now line');
  assert.match(head, /window 1h/);
  assert.match(head, /DRIFTED|no drift/);
  // The last window is the shifted one (plus the one row test 2 sent to credit-risk).
  assert.match(head, /DRIFTED, \d+ of 21 features/);
  const income = lines.find((l) => /^\s+!?\s*income: /.test(l));
  assert.ok(income, 'a line for income');
  assert.match(income, /income: ks \d\.\d+(e-?\d+)?, p [\d.e+-]+ \(< 0\.05 drifts\), 1000 vs \d+ rows/);
  assert.match(income, /^\s+! /, 'income is marked drifted');
  assert.ok(lines.some((l) => /purpose=car: z-test [\d.e+-]+, p /.test(l)), 'a z-test line');
  assert.ok(lines.some((l) => l.includes(`${REDACTED}: redacted`)), 'the redacted feature is named as not tested');

  assert.equal(json.code, 0, json.stderr);
  const r = JSON.parse(json.stdout) as MonitorReport;
  assert.equal(r.deployment, DEP);
  const now = r.drift?.now;
  assert.ok(now?.result, 'the JSON has drift.now.result');
  assert.equal(now.result.drifted, true);
  const f = now.result.features.find((x) => x.feature === 'income')!;
  assert.equal(f.test, 'ks');
  assert.equal(typeof f.statistic, 'number');
  assert.equal(typeof f.pValue, 'number');
  assert.equal(f.threshold, 0.05);
  assert.ok(r.drift?.scheduled, 'the last scheduled check is there too');
  t.diagnostic(`--json: drift.now ${now.result.driftedFeatures.length} of ${now.result.features.length} drifted; income D ${f.statistic.toPrecision(3)} p ${f.pValue!.toPrecision(2)}; scheduled check at ${r.drift.scheduled.at}: ${r.drift.scheduled.note ?? (r.drift.scheduled.result?.drifted ? 'drifted' : 'no drift')}`);
});
