/**
 * Plan, apply, rollback and revisions end to end, against a real Aloft (startAloft, thread
 * replicas) and the real CLI (`aloft plan|apply|rollback|revisions|status` as child
 * processes):
 *
 *   1. a plan table: every kind of change relative to the running spec, planned with the
 *      CLI in text, --detailed-exitcode, --json and --format markdown, against ONE server
 *      (plans change nothing, which the last row checks);
 *   2. two applies planned against the same revision: exactly one lands, it converges and
 *      the system serves it; a stale `base` is refused;
 *   3. bad input on every new command and endpoint: a clear error, the right status or
 *      exit code, and the running system unaffected.
 *
 * Aloft runs in this process, so the CLI is always spawned asynchronously (a synchronous
 * spawn would block the very server it talks to).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { stringify } from 'yaml';
import type { ApplyAnswer, ControlStatus, DeploymentList, KeyCreated, ModelDetail, Plan, PlanResult, RevisionDetail, RevisionList } from '../../src/api/types.js';
import { mlp } from '../../src/onnx/mlp.js';
import { inferBody, inferOnce } from '../helpers/credit-risk.js';
import { assertError, call, type Answer } from '../helpers/http.js';
import { CREDIT_RISK_MODEL, projectSpec, startProject, type Project } from '../helpers/project.js';

/** No warning but the machine's: n replicas of 1 runtime thread each reserve more vCPU than fewer cores have. */
function onlyOversubscription(warnings: readonly string[], n: number): void {
  const cores = availableParallelism();
  if (n <= cores) return assert.deepEqual(warnings, []);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, new RegExp(`^the replicas would reserve ${n} vCPU on this machine's ${cores} cores \\(\\d+ now\\): .*resources\\.cpu is unset`));
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = ['--import', 'tsx', join(root, 'src/cli/bin.ts')];
const CLI_TIMEOUT_MS = 90_000;
const TEST_TIMEOUT_MS = 240_000;
const CONVERGE_TIMEOUT_MS = 120_000;

// ------------------------------------------------------------------ the CLI

interface CliResult { code: number | null; stdout: string; stderr: string }

/** Run `aloft <args>` against `url` with `key` in ALOFT_KEY (none when ''), bounded in time. */
function aloft(args: string[], opts: { url: string; key: string; timeoutMs?: number }): Promise<CliResult> {
  const timeoutMs = opts.timeoutMs ?? CLI_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...BIN, ...args], {
      cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ALOFT_URL: opts.url, ALOFT_KEY: opts.key, ALOFT_ADMIN_KEY: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`aloft ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

const shown = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

// ------------------------------------------------------------------ the admin API

/** Requests without credentials go through their own agent, which the tests' key-adding global dispatcher does not wrap. */
const anonymous = new Agent();

interface ApiOptions {
  /** The key to send; undefined: the project's admin key; null: none. */
  key?: string | null;
  /** A JSON value, or a raw string/Buffer sent as is. */
  body?: unknown;
  contentType?: string;
}

async function api(p: Project, method: 'GET' | 'POST' | 'PUT', path: string, opts: ApiOptions = {}): Promise<Answer> {
  const key = opts.key === undefined ? p.adminKey : opts.key;
  const headers: Record<string, string> = {};
  if (key !== null) headers.authorization = `Bearer ${key}`;
  let body: string | Buffer | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' || Buffer.isBuffer(opts.body) ? opts.body : JSON.stringify(opts.body);
    headers['content-type'] = opts.contentType ?? (Buffer.isBuffer(opts.body) ? 'application/octet-stream' : 'application/json');
  }
  return call(`${p.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}), ...(key === null ? { dispatcher: anonymous } : {}), timeoutMs: 60_000 });
}

async function revisionList(p: Project): Promise<RevisionList['revisions']> {
  const r = await api(p, 'GET', '/api/v1/revisions');
  assert.equal(r.status, 200, r.text);
  return (r.json as RevisionList).revisions;
}

async function controlStatus(p: Project): Promise<ControlStatus> {
  const r = await api(p, 'GET', '/api/v1/status');
  assert.equal(r.status, 200, r.text);
  return r.json as ControlStatus;
}

/** Poll `fn` until it returns a value (short polls, bounded). */
async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = CONVERGE_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

// ------------------------------------------------------------------ models and specs

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function seeded(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 31 - 1) * scale;
  }
  return out;
}

/** A second credit-risk model: the same signature (features FP32 [-1, 22] → probability FP32 [-1, 1]), other weights. */
const V2 = mlp([{ weights: seeded(22, 7, 1e-5), bias: new Float32Array([0.25]), in: 22, out: 1 }], { name: 'credit-risk-v2', activation: 'sigmoid', outputName: 'probability' });
/** A model with another signature: 10 features in. */
const NARROW = mlp([{ weights: seeded(10, 9, 1e-3), bias: new Float32Array([0.1]), in: 10, out: 1 }], { name: 'narrow', activation: 'sigmoid', outputName: 'probability' });

type SpecObject = {
  models: Record<string, Record<string, unknown>>;
  deployments: Record<string, Record<string, unknown>>;
  server?: Record<string, unknown>;
};

const THREAD = 'runtime: {isolation: thread}';
/** The plan table's running spec: credit-risk and other, one thread replica each. */
const TWO_DEPLOYMENTS = `deployments: {credit-risk: {${THREAD}}, other: {model: credit-risk, replicas: 1, ${THREAD}}}`;
/** The other sections' running spec: credit-risk alone. */
const ONE_DEPLOYMENT = `deployments: {credit-risk: {${THREAD}}}`;

/** Write a variant of the project's running spec into its folder (so relative paths resolve as the server's do). */
async function writeVariant(p: Project, baseYaml: string, name: string, edit: (s: SpecObject) => void): Promise<{ file: string; text: string }> {
  const spec = structuredClone(projectSpec({ yaml: baseYaml })) as SpecObject;
  edit(spec);
  const text = stringify(spec);
  const file = join(p.dir, `${name}.yaml`);
  await writeFile(file, text);
  return { file, text };
}

/** The `models` field of a submission, as `aloft plan` and `apply` send it. */
function modelsField(files: Record<string, Uint8Array>): Record<string, { sha256: string; sizeBytes: number }> {
  return Object.fromEntries(Object.entries(files).map(([name, b]) => [name, { sha256: sha256(b), sizeBytes: b.length }]));
}

// ================================================================== 1. the plan table

describe('aloft plan: one running Aloft, every kind of change', { timeout: 20 * 60_000 }, () => {
  let p: Project;
  let baseline: number;
  const OTHER_REQUESTS = 3;
  let servedSha = '';

  before(async () => {
    p = await startProject({ yaml: TWO_DEPLOYMENTS, files: { 'v2.onnx': V2, 'narrow.onnx': NARROW } });
    baseline = await inferOnce(p.url);
    // Traffic on `other`, for the "served traffic in the last 5 minutes" warning of its removal.
    for (let i = 0; i < OTHER_REQUESTS; i++) await inferOnce(p.url, undefined, 'other');
    servedSha = sha256(await readFile(CREDIT_RISK_MODEL));
  }, { timeout: 180_000 });

  after(async () => {
    await p?.close();
  });

  const cli = (args: string[]) => aloft(args, { url: p.url, key: p.adminKey });

  interface Row {
    name: string;
    edit(s: SpecObject): void;
    /** What the text plan must contain. */
    text: (string | RegExp)[];
    /** Checks of the --json plan. */
    json(plan: Plan): void;
  }

  const dep = (plan: Plan, name: string) => {
    const d = plan.deployments.find((x) => x.name === name);
    assert.ok(d, `the plan has no entry for deployment '${name}': ${JSON.stringify(plan.deployments)}`);
    return d;
  };

  const ROWS: Row[] = [
    {
      name: 'a new model version (a different file)',
      edit: (s) => { s.models['credit-risk']!.path = './v2.onnx'; },
      text: [
        `+ register credit-risk@2  sha256:${sha256(V2).slice(0, 12)}`,
        /~ credit-risk {2}\(new replica group credit-risk@2 \(1\), route switch when warm, old group \(1\) drained and stopped\)/,
        '      model: credit-risk@1 → credit-risk@2',
        "switch deployment 'credit-risk' from credit-risk@1 to credit-risk@2 at one instant",
        'Plan: 1 model to register, 2 deployments to change; 2 replicas to start, 2 to stop.',
      ],
      json: (plan) => {
        assert.deepEqual(plan.models, [{ model: 'credit-risk', version: 2, sha256: sha256(V2), sizeBytes: V2.length, register: true }]);
        for (const name of ['credit-risk', 'other']) {
          const d = dep(plan, name);
          assert.equal(d.action, 'change');
          assert.equal(d.effect, 'replace');
          assert.deepEqual(d.fields, [{ field: 'model', from: 'credit-risk@1', to: 'credit-risk@2' }]);
          assert.deepEqual([d.replicasToStart, d.replicasToStop], [1, 1]);
          assert.equal(d.to?.sha256, sha256(V2));
        }
        assert.deepEqual(plan.warnings, [], 'the same signature: no warning');
      },
    },
    {
      name: 'replicas 1 → 3',
      edit: (s) => { s.deployments['credit-risk']!.replicas = 3; },
      text: [/~ credit-risk {2}\(start 2 replicas\)/, '      replicas: 1 → 3', 'start 2 more replicas of credit-risk@1 (1 → 3)', 'Plan: 1 deployment to change; 2 replicas to start, 0 to stop.'],
      json: (plan) => {
        assert.equal(plan.deployments.length, 1);
        const d = dep(plan, 'credit-risk');
        assert.deepEqual({ action: d.action, effect: d.effect, fields: d.fields, start: d.replicasToStart, stop: d.replicasToStop },
          { action: 'change', effect: 'scale', fields: [{ field: 'replicas', from: 1, to: 3 }], start: 2, stop: 0 });
        assert.ok(plan.models.every((m) => !m.register), 'nothing to register');
        // 4 replicas of at least 1 runtime thread each: more than a machine of fewer cores has.
        onlyOversubscription(plan.warnings, 4);
      },
    },
    {
      name: 'a batching change',
      edit: (s) => { s.deployments['credit-risk']!.batching = { maxBatchSize: 8 }; },
      text: [/~ credit-risk {2}\(in place, no replica restarts\)/, '      batching.maxBatchSize: 64 → 8', "update deployment 'credit-risk' in place: batching.maxBatchSize"],
      json: (plan) => {
        assert.equal(plan.deployments.length, 1);
        const d = dep(plan, 'credit-risk');
        assert.deepEqual({ action: d.action, effect: d.effect, fields: d.fields, start: d.replicasToStart, stop: d.replicasToStop },
          { action: 'change', effect: 'in-place', fields: [{ field: 'batching.maxBatchSize', from: 64, to: 8 }], start: 0, stop: 0 });
        assert.deepEqual(plan.warnings, []);
      },
    },
    {
      name: 'a deployment added',
      edit: (s) => { s.deployments.third = { model: 'credit-risk', replicas: 1, runtime: { isolation: 'thread' } }; },
      text: [/\+ third {2}\(start 1 replica of credit-risk@1\)/, '      model: credit-risk@1  replicas: 1', "start 1 replica of credit-risk@1 and route deployment 'third' to it", 'Plan: 1 deployment to add; 1 replica to start, 0 to stop.'],
      json: (plan) => {
        assert.equal(plan.deployments.length, 1);
        const d = dep(plan, 'third');
        assert.deepEqual({ action: d.action, effect: d.effect, to: d.to, start: d.replicasToStart, stop: d.replicasToStop },
          { action: 'add', effect: 'start', to: { model: 'credit-risk', version: 1, sha256: servedSha, replicas: 1 }, start: 1, stop: 0 });
        assert.ok(d.fields.some((f) => f.field === 'model' && f.to === 'credit-risk'), JSON.stringify(d.fields));
        assert.deepEqual(plan.topology.deployments.map((x) => x.name).sort(), ['credit-risk', 'other', 'third']);
        onlyOversubscription(plan.warnings, 3);
      },
    },
    {
      name: 'a deployment that served traffic removed',
      edit: (s) => { delete s.deployments.other; },
      text: [
        /- other {2}\(drain and stop 1 replica\)/, '      was: credit-risk@1  replicas: 1',
        'Warnings:', `  ! removing deployment 'other', which answered ${OTHER_REQUESTS} requests in the last 5 minutes`, 'its callers will get 404',
      ],
      json: (plan) => {
        assert.equal(plan.deployments.length, 1);
        const d = dep(plan, 'other');
        assert.deepEqual({ action: d.action, effect: d.effect, from: d.from, start: d.replicasToStart, stop: d.replicasToStop },
          { action: 'remove', effect: 'stop', from: { model: 'credit-risk', version: 1, sha256: servedSha, replicas: 1 }, start: 0, stop: 1 });
        assert.equal(plan.warnings.length, 1, JSON.stringify(plan.warnings));
        assert.match(plan.warnings[0]!, new RegExp(`^removing deployment 'other', which answered ${OTHER_REQUESTS} requests in the last 5 minutes`));
        assert.deepEqual(plan.topology.deployments.map((x) => x.name), ['credit-risk']);
      },
    },
    {
      name: 'public: true',
      edit: (s) => { s.deployments['credit-risk']!.public = true; },
      text: [/~ credit-risk {2}\(in place, no replica restarts\)/, '      public: false → true', "  ! deployment 'credit-risk' becomes public: anyone who can reach the gateway may call it without a key"],
      json: (plan) => {
        const d = dep(plan, 'credit-risk');
        assert.deepEqual({ effect: d.effect, fields: d.fields }, { effect: 'in-place', fields: [{ field: 'public', from: false, to: true }] });
        assert.equal(plan.warnings.length, 1);
        assert.match(plan.warnings[0]!, /becomes public/);
        assert.equal(plan.topology.deployments.find((x) => x.name === 'credit-risk')?.public, true);
      },
    },
    {
      name: 'a new version with a different signature',
      edit: (s) => { s.models['credit-risk']!.path = './narrow.onnx'; },
      text: [
        `+ register credit-risk@2  sha256:${sha256(NARROW).slice(0, 12)}`, '      model: credit-risk@1 → credit-risk@2', 'Warnings:',
        "  ! deployment 'credit-risk': credit-risk@2 has a different signature from credit-risk@1 (inputs features FP32[?,22] → features FP32[?,10]); callers may break",
        "  ! deployment 'other': credit-risk@2 has a different signature from credit-risk@1",
      ],
      json: (plan) => {
        assert.deepEqual(plan.models.filter((m) => m.register).map((m) => [m.model, m.version, m.sha256]), [['credit-risk', 2, sha256(NARROW)]]);
        assert.equal(dep(plan, 'credit-risk').effect, 'replace');
        assert.equal(plan.warnings.length, 2, JSON.stringify(plan.warnings));
        for (const w of plan.warnings) assert.match(w, /has a different signature .*features FP32\[\?,22\] → features FP32\[\?,10\].*callers may break/);
      },
    },
    {
      name: 'server.port (needs a restart)',
      edit: (s) => { s.server = { port: 18123 }; },
      text: [
        'Settings:', /! server\.port: \d+ → 18123 {2}NEEDS A RESTART/, 'apply will refuse this plan: it changes settings a running system cannot change:',
        /! server\.port: \d+ → 18123 needs a restart of aloft up/, 'Plan: 1 setting to change.',
      ],
      json: (plan) => {
        assert.deepEqual(plan.deployments, []);
        assert.equal(plan.settings.length, 1, JSON.stringify(plan.settings));
        const s = plan.settings[0]!;
        assert.equal(s.field, 'server.port');
        assert.equal(s.to, 18123);
        assert.equal(s.live, false);
        assert.equal(plan.restart.length, 1);
        assert.match(plan.restart[0]!, /server\.port: .* → 18123 needs a restart/);
        assert.equal(plan.topology.port, 18123);
      },
    },
  ];

  for (const row of ROWS) {
    test(`plan: ${row.name}`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const { file } = await writeVariant(p, TWO_DEPLOYMENTS, row.name.replace(/\W+/g, '-'), row.edit);
      // Two runs (each CLI start costs seconds of CPU): text without --detailed-exitcode, JSON with it.
      const [text, json] = await Promise.all([cli(['plan', '-f', file]), cli(['plan', '-f', file, '--json', '--detailed-exitcode'])]);
      // A plan apply would refuse exits 1 in both modes, so a CI check of the plan fails on it.
      const refuses = row.name === 'server.port (needs a restart)';
      assert.equal(text.code, refuses ? 1 : 0, `without --detailed-exitcode a plan with changes exits 0, one apply would refuse 1: ${shown(text)}`);
      assert.ok(text.stdout.startsWith('Plan against revision 1 (the system runs revision 1)\n'), text.stdout);
      for (const want of row.text) {
        if (typeof want === 'string') assert.ok(text.stdout.includes(want), `the plan should contain ${JSON.stringify(want)}:\n${text.stdout}`);
        else assert.match(text.stdout, want);
      }
      assert.doesNotMatch(text.stdout, /No changes/);
      assert.equal(json.code, refuses ? 1 : 2, `--detailed-exitcode with changes exits 2, one apply would refuse 1: ${shown(json)}`);
      const r = JSON.parse(json.stdout) as PlanResult;
      assert.equal(r.plan.changes, true);
      assert.equal(r.plan.base, 1);
      assert.equal(r.plan.current, 1);
      assert.ok(Array.isArray(r.upload));
      row.json(r.plan);
    });
  }

  test('plan: the unchanged spec has no changes, with and without --detailed-exitcode', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { file } = await writeVariant(p, TWO_DEPLOYMENTS, 'unchanged', () => undefined);
    // The variant (the same spec, written again) and the very file Aloft was started with.
    const [text, detailed] = await Promise.all([cli(['plan', '-f', file]), cli(['plan', '-f', p.specPath, '--detailed-exitcode'])]);
    for (const r of [text, detailed]) {
      assert.equal(r.code, 0, shown(r));
      assert.equal(r.stdout, 'Plan against revision 1 (the system runs revision 1)\n\nNo changes. The running system already matches this spec.\n');
    }
    const api1 = await api(p, 'POST', '/api/v1/plan', { body: { spec: await readFile(file, 'utf8'), file: 'unchanged.yaml' } });
    assert.equal(api1.status, 200, api1.text);
    const { plan, upload } = api1.json as PlanResult;
    assert.equal(plan.changes, false);
    assert.deepEqual([plan.deployments, plan.settings, plan.warnings, plan.restart, plan.steps, upload], [[], [], [], [], [], []]);
  });

  test('plan --format markdown: a reviewable document with a Mermaid diagram', { timeout: TEST_TIMEOUT_MS }, async () => {
    // One deployment added, one removed, one changed: every kind of node in one diagram.
    const { file } = await writeVariant(p, TWO_DEPLOYMENTS, 'markdown', (s) => {
      s.deployments.third = { model: 'credit-risk', replicas: 2, runtime: { isolation: 'thread' } };
      delete s.deployments.other;
      s.deployments['credit-risk']!.public = true;
    });
    const md = await cli(['plan', '-f', file, '--format', 'markdown', '--detailed-exitcode']);
    assert.equal(md.code, 2, shown(md));
    assert.match(md.stdout, /^# Aloft plan: .*markdown\.yaml$/m);
    assert.match(md.stdout, /^\*\*1 deployment to add, 1 deployment to change, 1 deployment to remove; 2 replicas to start, 1 to stop\*\*$/m);
    assert.match(md.stdout, /^\| third \| add \| start 2 replicas of credit-risk@1 \| credit-risk@1, 2 replicas \|$/m);
    assert.match(md.stdout, /^\| other \| remove \| drain and stop 1 replica \| credit-risk@1 \|$/m);
    assert.match(md.stdout, /^> ⚠️ removing deployment 'other', which answered \d+ requests/m);
    assert.match(md.stdout, /^> ⚠️ deployment 'credit-risk' becomes public/m);
    const mermaid = /```mermaid\n([\s\S]*?)\n```/.exec(md.stdout);
    assert.ok(mermaid, `a mermaid block:\n${md.stdout}`);
    const diagram = mermaid[1]!;
    assert.match(diagram, /^flowchart LR$/m);
    assert.match(diagram, /dep_third\["deployment third \(new\)"\]/);
    assert.match(diagram, /grp_third\["credit-risk@1 · 2 replicas \(thread\)"\]/);
    assert.match(diagram, /dep_credit_risk\["deployment credit-risk · public \(changed\)"\]/);
    assert.match(diagram, /gone_other\["removed: other \(credit-risk@1\)"\]:::removed/);
    assert.doesNotMatch(diagram, /dep_other\[/);
  });

  test('after every plan, nothing changed: one revision, the same version served', { timeout: TEST_TIMEOUT_MS }, async () => {
    const revisions = await revisionList(p);
    assert.equal(revisions.length, 1, JSON.stringify(revisions));
    assert.equal(revisions[0]!.number, 1);
    assert.equal(revisions[0]!.outcome, 'applied');
    const status = await controlStatus(p);
    assert.equal(status.current?.number, 1);
    assert.equal(status.applying, null);
    assert.deepEqual(status.deployments.map((d) => [d.name, d.ready, d.desired]).sort(), [['credit-risk', 1, 1], ['other', 1, 1]]);
    // No version was registered by planning v2 or narrow.
    const model = await api(p, 'GET', '/api/v1/models/credit-risk');
    assert.equal(model.status, 200, model.text);
    assert.deepEqual((model.json as ModelDetail).versions.map((v) => [v.version, v.sha256]), [[1, servedSha]]);
    const deployments = await api(p, 'GET', '/api/v1/deployments');
    assert.equal(deployments.status, 200, deployments.text);
    for (const d of (deployments.json as DeploymentList).deployments) {
      assert.equal(d.currentVersion, 1, `${d.name}: ${JSON.stringify(d)}`);
      assert.deepEqual(d.versions.map((v) => v.version), [1]);
    }
    assert.equal(await inferOnce(p.url), baseline, 'the same model answers');
  });
});

// ================================================================== 2. two applies, one revision

describe('apply: two applies planned against the same revision', { timeout: 15 * 60_000 }, () => {
  let p: Project;
  let modelBytes: Buffer;

  before(async () => {
    p = await startProject({ yaml: ONE_DEPLOYMENT });
    modelBytes = await readFile(CREDIT_RISK_MODEL);
  }, { timeout: 180_000 });

  after(async () => {
    await p?.close();
  });

  const submission = async (name: string, replicas: number) => {
    const { text } = await writeVariant(p, ONE_DEPLOYMENT, name, (s) => { s.deployments['credit-risk']!.replicas = replicas; });
    return { spec: text, file: `${name}.yaml`, models: modelsField({ 'credit-risk': modelBytes }) };
  };

  test('exactly one lands (202), the other is told to plan again (409); the winner converges and is served', { timeout: TEST_TIMEOUT_MS }, async () => {
    assert.deepEqual((await revisionList(p)).map((r) => r.number), [1]);
    const subs = { A: await submission('race-a', 2), B: await submission('race-b', 3) };
    const replicasOf = { A: 2, B: 3 } as const;
    const answers = await Promise.all((['A', 'B'] as const).map(async (who) => ({
      who, res: await api(p, 'POST', '/api/v1/apply', { body: { ...subs[who], base: 1, message: `apply ${who}` } }),
    })));
    const statuses = answers.map((a) => a.res.status).sort();
    assert.deepEqual(statuses, [202, 409], answers.map((a) => `${a.who}: ${a.res.status} ${a.res.text.slice(0, 300)}`).join('\n'));
    const winner = answers.find((a) => a.res.status === 202)!;
    const loser = answers.find((a) => a.res.status === 409)!;
    assertError(loser.res, 409, [/run 'aloft plan' again/]);
    const applied = winner.res.json as ApplyAnswer;
    assert.equal(applied.changed, true);
    assert.equal(applied.revision, 2);
    assert.deepEqual(applied.plan.deployments.map((d) => [d.name, d.effect, d.fields]), [['credit-risk', 'scale', [{ field: 'replicas', from: 1, to: replicasOf[winner.who] }]]]);

    // Exactly one new revision, and it converges to `applied`.
    const revisions = await revisionList(p);
    assert.deepEqual(revisions.map((r) => r.number), [2, 1], JSON.stringify(revisions));
    assert.equal(revisions[0]!.message, `apply ${winner.who}`);
    const done = await until('revision 2 to finish', async () => {
      const r = await api(p, 'GET', '/api/v1/revisions/2');
      assert.equal(r.status, 200, r.text);
      const rev = r.json as RevisionDetail;
      return rev.outcome === 'applying' ? undefined : rev;
    });
    assert.equal(done.outcome, 'applied', `reason: ${done.reason}`);
    assert.equal(done.kind, 'apply');
    assert.equal(done.specText, subs[winner.who].spec);
    assert.equal(done.specFile, `race-${winner.who.toLowerCase()}.yaml`);
    assert.deepEqual(done.deployments.map((d) => [d.name, d.model, d.version]), [['credit-risk', 'credit-risk', 1]]);

    // The system serves the winner's spec: its replica count, ready and converged.
    const want = replicasOf[winner.who];
    const status = await until('the system to converge', async () => {
      const s = await controlStatus(p);
      return s.converged ? s : undefined;
    });
    assert.equal(status.current?.number, 2);
    assert.equal(status.applying, null);
    assert.deepEqual(status.deployments.map((d) => [d.name, d.ready, d.desired]), [['credit-risk', want, want]]);
    const deployments = (await api(p, 'GET', '/api/v1/deployments')).json as DeploymentList;
    const served = deployments.deployments.find((d) => d.name === 'credit-risk')!;
    const current = served.versions.find((v) => v.version === served.currentVersion)!;
    assert.equal(current.desiredReplicas, want, JSON.stringify(served));
    assert.equal(current.replicas.filter((r) => r.state === 'ready').length, want, JSON.stringify(current.replicas));
    await inferOnce(p.url);

    // The CLI agrees.
    const cli = (args: string[]) => aloft(args, { url: p.url, key: p.adminKey });
    const [list, show] = await Promise.all([cli(['revisions', 'list']), cli(['revisions', 'show', '2'])]);
    assert.equal(list.code, 0, shown(list));
    assert.match(list.stdout, new RegExp(`^2 .* apply +applied +credit-risk=credit-risk@1 +apply ${winner.who}$`, 'm'));
    assert.equal(show.code, 0, shown(show));
    assert.match(show.stdout, /^revision 2 {2}applied$/m);
    assert.match(show.stdout, new RegExp(`replicas: 1 → ${want}`));
  });

  test('an apply planned against an older revision is refused (409) and records nothing', { timeout: TEST_TIMEOUT_MS }, async () => {
    const before = await revisionList(p);
    const latest = before[0]!.number;
    assert.ok(latest >= 2);
    const sub = await submission('stale', 1);
    const stale = await api(p, 'POST', '/api/v1/apply', { body: { ...sub, base: latest - 1 } });
    assertError(stale, 409, [`planned against revision ${latest - 1}`, `revision ${latest} has landed`, "run 'aloft plan' again"]);
    // Re-applying what runs, against the newest revision: nothing to do, 200, no revision.
    const running = await api(p, 'GET', `/api/v1/revisions/${latest}`);
    const same = await api(p, 'POST', '/api/v1/apply', { body: { spec: (running.json as RevisionDetail).specText, file: 'same.yaml', models: modelsField({ 'credit-risk': modelBytes }), base: latest } });
    assert.equal(same.status, 200, same.text);
    assert.equal((same.json as ApplyAnswer).changed, false);
    assert.equal((same.json as ApplyAnswer).revision, latest);
    assert.deepEqual((await revisionList(p)).map((r) => r.number), before.map((r) => r.number));
    await inferOnce(p.url);
  });
});

// ================================================================== 3. bad input

describe('bad input on every new command and endpoint', { timeout: 20 * 60_000 }, () => {
  let p: Project;
  let baseline: number;
  let viewer: string;
  let predictor: string;
  let modelBytes: Buffer;

  before(async () => {
    p = await startProject({ yaml: ONE_DEPLOYMENT, files: { 'v2.onnx': V2, 'narrow.onnx': NARROW } });
    baseline = await inferOnce(p.url);
    modelBytes = await readFile(CREDIT_RISK_MODEL);
    const key = async (name: string, role: string) => {
      const r = await api(p, 'POST', '/api/v1/keys', { body: { name, role } });
      assert.equal(r.status, 201, r.text);
      return (r.json as KeyCreated).key;
    };
    viewer = await key('plan-viewer', 'viewer');
    predictor = await key('plan-predictor', 'predictor');
  }, { timeout: 180_000 });

  after(async () => {
    await p?.close();
  });

  const cli = (args: string[], key = p.adminKey) => aloft(args, { url: p.url, key });

  /** The system is as it was: one revision, nothing applying, the same answers. */
  async function unaffected(): Promise<void> {
    const revisions = await revisionList(p);
    assert.deepEqual(revisions.map((r) => [r.number, r.outcome]), [[1, 'applied']], JSON.stringify(revisions));
    const status = await controlStatus(p);
    assert.equal(status.current?.number, 1);
    assert.equal(status.applying, null);
    const model = (await api(p, 'GET', '/api/v1/models/credit-risk')).json as ModelDetail;
    assert.deepEqual(model.versions.map((v) => v.version), [1], 'no version registered');
    assert.equal(await inferOnce(p.url), baseline);
  }

  test('an invalid spec: every issue at file:line:col, from the CLI (exit 1) and the API (400); nothing applied', { timeout: TEST_TIMEOUT_MS }, async () => {
    const text = [
      'models:',
      '  credit-risk:',
      '    path: ./model.onnx',
      'deployments:',
      '  credit-risk:',
      '    model: credit-risk@@1',
      '    replica: 2',
      '    runtime:',
      '      isolation: thread',
      '',
    ].join('\n');
    const file = join(p.dir, 'bad.yaml');
    await writeFile(file, text);
    // An error is exit 1 even with --detailed-exitcode (2 would read as "changes").
    const [plan, apply] = await Promise.all([cli(['plan', '-f', file, '--detailed-exitcode']), cli(['apply', '-f', file, '--yes'])]);
    for (const r of [plan, apply]) {
      assert.equal(r.code, 1, shown(r));
      assert.ok(r.stderr.includes(`${file}:6:12 deployments.credit-risk.model: model reference 'credit-risk@@1'`), shown(r));
      assert.ok(r.stderr.includes(`${file}:7:5 deployments.credit-risk.replica: unknown key 'replica'; did you mean 'replicas'?`), shown(r));
      assert.equal(r.stderr.split('\n').filter((l) => /\.yaml:\d+:\d+ /.test(l)).length, 2, `every issue, once: ${r.stderr}`);
      assert.match(r.stderr, /nothing was sent/);
      assert.equal(r.stdout, '');
    }

    for (const path of ['/api/v1/plan', '/api/v1/apply']) {
      const r = await api(p, 'POST', path, { body: { spec: text, file: 'bad.yaml', base: 1 } });
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      const body = r.json as { error: string; code: string; issues: { file: string; line: number; col: number; path: string; message: string }[] };
      assert.equal(body.code, 'ALOFT_SPEC_INVALID');
      assert.deepEqual(body.issues.map((i) => [i.file, i.line, i.col, i.path]), [['bad.yaml', 6, 12, 'deployments.credit-risk.model'], ['bad.yaml', 7, 5, 'deployments.credit-risk.replica']]);
      assert.match(body.error, /^bad\.yaml:6:12 .*\nbad\.yaml:7:5 .*replica/);
    }
    // Not YAML at all.
    const yaml = await api(p, 'POST', '/api/v1/plan', { body: { spec: 'models: [\n', file: 'broken.yaml' } });
    assert.equal(yaml.status, 400, yaml.text);
    assert.equal((yaml.json as { code: string }).code, 'ALOFT_SPEC_YAML');
    assert.ok((yaml.json as { issues: unknown[] }).issues.length > 0);
    // No spec.
    assertError(await api(p, 'POST', '/api/v1/plan', { body: {} }), 400, ['spec']);
    assertError(await api(p, 'POST', '/api/v1/apply', { body: { spec: '   ', base: 1 } }), 400, ['spec']);
    await unaffected();
  });

  test('a spec whose model file does not exist: the CLI names the path at file:line:col; the API says so', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { file, text } = await writeVariant(p, ONE_DEPLOYMENT, 'missing', (s) => { s.models['credit-risk']!.path = './missing.onnx'; });
    const line = text.split('\n').findIndex((l) => l.includes('missing.onnx')) + 1;
    const col = text.split('\n')[line - 1]!.indexOf('./missing.onnx') + 1;
    const plan = await cli(['plan', '-f', file]);
    assert.equal(plan.code, 1, shown(plan));
    assert.ok(plan.stderr.includes(`${file}:${line}:${col} models.credit-risk.path: model file not found: ${join(p.dir, 'missing.onnx')}`), shown(plan));
    assert.match(plan.stderr, /nothing was sent/);
    for (const path of ['/api/v1/plan', '/api/v1/apply']) {
      const r = await api(p, 'POST', path, { body: { spec: text, file: 'missing.yaml' } });
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.match((r.json as { error: string }).error, /models\.credit-risk\.path: model file not found: .*missing\.onnx/);
    }
    await unaffected();
  });

  test('unknown revisions: revisions show 999 and rollback --to 999 → exit 1 / 404', { timeout: TEST_TIMEOUT_MS }, async () => {
    const [show, rollback] = await Promise.all([cli(['revisions', 'show', '999']), cli(['rollback', '--to', '999', '--yes'])]);
    assert.equal(show.code, 1, shown(show));
    assert.match(show.stderr, /^error: there is no revision 999; revisions are 1 to 1$/m);
    assert.equal(rollback.code, 1, shown(rollback));
    assert.match(rollback.stderr, /^error: there is no revision 999; 'aloft revisions list' shows them/m);

    assertError(await api(p, 'GET', '/api/v1/revisions/999'), 404, ['there is no revision 999', 'revisions are 1 to 1']);
    assertError(await api(p, 'POST', '/api/v1/rollback', { body: { to: 999 } }), 404, ['there is no revision 999']);
    assertError(await api(p, 'POST', '/api/v1/rollback', { body: {} }), 404, ['no applied revision before the current one']);
    assertError(await api(p, 'GET', '/api/v1/revisions/abc'), 400, ['positive integer']);
    assertError(await api(p, 'GET', '/api/v1/revisions?limit=0'), 400, ['limit']);
    assertError(await api(p, 'POST', '/api/v1/rollback', { body: { to: 'one' } }), 400, ['to must be a revision number']);
    assertError(await api(p, 'POST', '/api/v1/apply', { body: { spec: 'x: 1', base: -1 } }), 400, ['base must be a revision number']);
    assertError(await api(p, 'POST', '/api/v1/rollback', { body: { to: 1, dryRun: 'yes' } }), 400, ['dryRun must be true or false']);
    // A dry run names the revision it would restore and its plan, asks for no confirmation, and records nothing.
    const dry = await cli(['rollback', '--to', '1', '--dry-run']);
    assert.equal(dry.code, 0, shown(dry));
    assert.match(dry.stdout, /^would restore revision 1 \(dry run: nothing was changed; run without --dry-run to roll back\)\n\nPlan against revision 1/);
    await unaffected();
  });

  test('roles: viewer and predictor keys get 403 on plan, apply, rollback and revisions; no key gets 401', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { text } = await writeVariant(p, ONE_DEPLOYMENT, 'roles', (s) => { s.deployments['credit-risk']!.replicas = 2; });
    const sub = { spec: text, file: 'roles.yaml', models: modelsField({ 'credit-risk': modelBytes }) };
    const calls: { method: 'GET' | 'POST' | 'PUT'; path: string; body?: unknown }[] = [
      { method: 'POST', path: '/api/v1/plan', body: sub },
      { method: 'POST', path: '/api/v1/apply', body: { ...sub, base: 1 } },
      { method: 'POST', path: '/api/v1/rollback', body: { to: 1 } },
      { method: 'GET', path: '/api/v1/revisions' },
      { method: 'GET', path: '/api/v1/revisions/1' },
      { method: 'PUT', path: `/api/v1/artifacts/${sha256(V2)}`, body: Buffer.from(V2) },
    ];
    for (const c of calls) {
      for (const [who, key] of [['viewer', viewer], ['predictor', predictor]] as const) {
        const r = await api(p, c.method, c.path, { key, ...(c.body !== undefined ? { body: c.body } : {}) });
        assertError(r, 403, [`the role '${who}' may not`]);
      }
      assertError(await api(p, c.method, c.path, { key: null, ...(c.body !== undefined ? { body: c.body } : {}) }), 401, ['authentication required']);
    }
    // Status is an admin read: a viewer may, a predictor may not, nobody without a key.
    assert.equal((await api(p, 'GET', '/api/v1/status', { key: viewer })).status, 200);
    assertError(await api(p, 'GET', '/api/v1/status', { key: predictor }), 403);
    assertError(await api(p, 'GET', '/api/v1/status', { key: null }), 401);

    // The CLI says which role was refused and where the key came from.
    const [vPlan, pApply] = await Promise.all([
      cli(['plan', '-f', join(p.dir, 'roles.yaml')], viewer),
      cli(['apply', '-f', join(p.dir, 'roles.yaml'), '--yes'], predictor),
    ]);
    for (const [r, role] of [[vPlan, 'viewer'], [pApply, 'predictor']] as const) {
      assert.equal(r.code, 1, shown(r));
      assert.match(r.stderr, new RegExp(`the role '${role}' may not .*the key came from ALOFT_KEY`));
    }
    await unaffected();
  });

  test('bodies that are not JSON objects → 400', { timeout: TEST_TIMEOUT_MS }, async () => {
    for (const path of ['/api/v1/plan', '/api/v1/apply', '/api/v1/rollback']) {
      assertError(await api(p, 'POST', path, { body: 'this is not JSON {', contentType: 'application/json' }), 400, ['the body is not JSON']);
      assertError(await api(p, 'POST', path, { body: '[1, 2]', contentType: 'application/json' }), 400, ['must be a JSON object']);
      assertError(await api(p, 'POST', path, { body: '"spec"', contentType: 'application/json' }), 400, ['must be a JSON object']);
    }
    await unaffected();
  });

  test('apply of a port change: refused (exit 1 / 409) naming the restart; nothing recorded', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { file, text } = await writeVariant(p, ONE_DEPLOYMENT, 'port', (s) => { s.server = { port: 18124 }; });
    const apply = await cli(['apply', '-f', file, '--yes']);
    assert.equal(apply.code, 1, shown(apply));
    assert.match(apply.stderr, /error: apply refuses this plan; nothing was changed:\n {2}server\.port: .* → 18124 needs a restart of aloft up\nStop aloft up and start it again with the new file\./);
    assert.match(apply.stdout, /NEEDS A RESTART/, 'the plan is shown first');
    const r = await api(p, 'POST', '/api/v1/apply', { body: { spec: text, file: 'port.yaml', models: modelsField({ 'credit-risk': modelBytes }), base: 1 } });
    assert.equal(r.status, 409, r.text);
    const body = r.json as { error: string; code: string; restart: string[] };
    assert.equal(body.code, 'ALOFT_NEEDS_RESTART');
    assert.match(body.error, /cannot be applied to a running system; nothing was changed/);
    assert.equal(body.restart.length, 1);
    assert.match(body.restart[0]!, /^server\.port: .* → 18124 needs a restart of aloft up$/);
    await unaffected();
  });

  test('artifacts: a body whose hash differs, a bad digest, a file that is not ONNX → 400; an apply without the upload → 409', { timeout: TEST_TIMEOUT_MS }, async () => {
    const claimed = sha256(V2);
    const other = Buffer.from(NARROW);
    assertError(await api(p, 'PUT', `/api/v1/artifacts/${claimed}`, { body: other }), 400, [`the body's sha256 is ${sha256(other)}, not ${claimed}`]);
    assertError(await api(p, 'PUT', '/api/v1/artifacts/not-a-digest', { body: other }), 400, ['is not a sha256 digest']);
    assertError(await api(p, 'PUT', `/api/v1/artifacts/${claimed.toUpperCase()}`, { body: Buffer.from(V2) }), 400, ['is not a sha256 digest']);
    const junk = Buffer.from('definitely not an onnx model');
    const notOnnx = await api(p, 'PUT', `/api/v1/artifacts/${sha256(junk)}`, { body: junk });
    assert.equal(notOnnx.status, 400, notOnnx.text);
    const empty = await api(p, 'PUT', `/api/v1/artifacts/${sha256(Buffer.alloc(0))}`, { body: Buffer.alloc(0) });
    assert.equal(empty.status, 400, empty.text);

    // A spec naming content the server has never received: plan says to upload it; apply refuses.
    const { text } = await writeVariant(p, ONE_DEPLOYMENT, 'unuploaded', (s) => { s.models['credit-risk']!.path = './not-on-the-server.onnx'; });
    const sub = { spec: text, file: 'unuploaded.yaml', models: { 'credit-risk': { sha256: claimed, sizeBytes: V2.length } } };
    const plan = await api(p, 'POST', '/api/v1/plan', { body: sub });
    assert.equal(plan.status, 200, plan.text);
    assert.deepEqual((plan.json as PlanResult).upload, [{ model: 'credit-risk', sha256: claimed, sizeBytes: V2.length }]);
    assertError(await api(p, 'POST', '/api/v1/apply', { body: { ...sub, base: 1 } }), 409, [`PUT /api/v1/artifacts/${claimed}`]);
    await unaffected();
  });

  test('plan --format nonsense is a usage error (exit 2)', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await cli(['plan', '-f', p.specPath, '--format', 'nonsense']);
    assert.equal(r.code, 2, shown(r));
    assert.equal(r.stderr, "error: --format must be text or markdown, got 'nonsense'\n");
    assert.equal(r.stdout, '');
    await unaffected();
  });

  test('after all of it the system still serves, on revision 1', { timeout: TEST_TIMEOUT_MS }, async () => {
    await unaffected();
    const res = await api(p, 'POST', '/v2/models/credit-risk/infer', { body: inferBody() });
    assert.equal(res.status, 200, res.text);
  });

  // Defects a first version of this file found, kept as regression tests.

  test('an unknown CLI option is a usage error (exit 2)', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await cli(['plan', '-f', p.specPath, '--no-such-flag']);
    assert.match(r.stderr, /unknown option '--no-such-flag'/);
    assert.equal(r.code, 2, shown(r));
  });

  test('a plan sent with the documented {sha256, sizeBytes} only warns of no signature change for the same signature', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { text } = await writeVariant(p, ONE_DEPLOYMENT, 'hash-only', (s) => { s.models['credit-risk']!.path = './v2.onnx'; });
    const r = await api(p, 'POST', '/api/v1/plan', { body: { spec: text, file: 'hash-only.yaml', models: modelsField({ 'credit-risk': V2 }) } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual((r.json as PlanResult).plan.warnings, [], 'V2 has the signature of the running model');
  });

  test('an apply planned against a revision that does not exist says so', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { text } = await writeVariant(p, ONE_DEPLOYMENT, 'future-base', (s) => { s.deployments['credit-risk']!.replicas = 2; });
    const r = await api(p, 'POST', '/api/v1/apply', { body: { spec: text, file: 'future-base.yaml', base: 999 } });
    assert.equal(r.status, 409, r.text);
    assert.doesNotMatch(r.text, /revision 1 has landed since/);
    await unaffected();
  });

  test('a plan changes nothing, not even the artifact store', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { text } = await writeVariant(p, ONE_DEPLOYMENT, 'store', (s) => { s.models['credit-risk']!.path = './narrow.onnx'; });
    const withHashes = { spec: text, file: 'store.yaml', models: modelsField({ 'credit-risk': NARROW }) };
    const upload = async () => ((await api(p, 'POST', '/api/v1/plan', { body: withHashes })).json as PlanResult).upload.map((u) => u.sha256);
    assert.deepEqual(await upload(), [sha256(NARROW)], 'the server does not have it yet');
    const plain = await api(p, 'POST', '/api/v1/plan', { body: { spec: text, file: 'store.yaml' } });
    assert.equal(plain.status, 200, plain.text);
    assert.deepEqual(await upload(), [sha256(NARROW)], 'still not: planning stored nothing');
  });
});

after(async () => {
  await anonymous.close();
});
