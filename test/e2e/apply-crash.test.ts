/**
 * Crash recovery of a live apply, with the real CLI (`aloft up -f FILE`, replicas as child
 * processes running ONNX Runtime). For each failpoint of the apply path (apply.recorded,
 * apply.starting, apply.switched, apply.draining):
 *   1. `aloft up` serves model A (revision 1, the startup revision) with the failpoint armed;
 *   2. applying model B through the admin API kills it (SIGKILL) at that point;
 *   3. no replica of the dead server lingers (they exit when their parent's IPC channel closes);
 *   4. `aloft up -f FILE` (FILE still names A, no failpoints) on the same state folder;
 *   5. the system converged to one consistent revision: A answers (version 1, ONNX Runtime's
 *      value), revision 2 is `failed` (interrupted), none is left `applying`, the audit
 *      chain verifies (through the CLI: `aloft revisions list --json`, `aloft audit verify`);
 *   6. applying B again lands as revision 3 `applied` and B answers.
 * And once with the user's file updated to B before the crash: the restart records revision
 * 3 (kind `startup`) serving B.
 *
 * Every `aloft up` is killed (SIGKILL) in `finally`, and so is any replica process still
 * alive; temp folders are removed. Replica processes are found through the admin API
 * (GET /api/v1/deployments) and, on Linux, by watching /proc for children of `aloft up`
 * (a replica of a group that is just starting is not listed by the API yet).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { AdminClient } from '../../src/api/client.js';
import type { ControlStatus, RevisionList, RevisionSummary } from '../../src/api/types.js';
import type { Failpoint } from '../../src/failpoints.js';
import { bearer, newAdminKey } from '../helpers/auth.js';
import { inferBody } from '../helpers/credit-risk.js';
import { creditModel, reference, specText } from '../helpers/models.js';
import { until as poll } from '../helpers/poll.js';

const until = <T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined) => poll(what, ms, probe, 50);

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = ['--import', 'tsx', join(root, 'src/cli/bin.ts')];
const DEPLOYMENT = 'credit-risk';
const TOLERANCE = 1e-6;
/** Per test: two starts of `aloft up`, an apply, a crash and a second apply, on a busy 2-core machine. */
const TEST_TIMEOUT_MS = 180_000;
/** Longest wait for `aloft up` to say ready, for an apply to converge, for the crash. */
const STEP_MS = 90_000;
/** Longest a replica of a dead server may outlive it. */
const ORPHAN_MS = 30_000;

// ------------------------------------------------------------------ models

/** A small deterministic generator (LCG), so both models are the same on every run. */

// ------------------------------------------------------------------ processes


/** The process state letter from /proc (Z: a zombie), or undefined off Linux or once it is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** The process runs (a zombie, dead but not reaped yet, does not count). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EPERM') return false;
  }
  return procState(pid) !== 'Z';
}

/** Direct children of `ppid`, from /proc (empty off Linux). */
function childrenOf(ppid: number): number[] {
  if (!existsSync('/proc')) return [];
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push(Number(name));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

interface Exit { code: number | null; signal: NodeJS.Signals | null }

/** One `aloft up -f FILE --port 0` as a child process: its output lines, its URL once ready, its exit. */
class Up {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly stderr: string[] = [];
  /** Children of the process seen so far (replicas), from /proc while it runs. */
  readonly seen = new Set<number>();
  readonly ready: Promise<string>;
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  readonly #watch: NodeJS.Timeout;

  constructor(file: string, adminKey: string, failpoints?: Failpoint) {
    const env: NodeJS.ProcessEnv = { ...process.env, ALOFT_ADMIN_KEY: adminKey, ALOFT_LOG_LEVEL: 'warn' };
    // The project's own SQLite file in its state folder, whatever the environment says.
    delete env.ALOFT_DATABASE_URL;
    delete env.ALOFT_FAILPOINTS;
    if (failpoints) env.ALOFT_FAILPOINTS = failpoints;
    this.child = spawn(process.execPath, [...BIN, 'up', '-f', file, '--port', '0', '--host', '127.0.0.1'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env });
    const child = this.child;
    createInterface({ input: child.stderr! }).on('line', (l) => { if (this.stderr.length < 500) this.stderr.push(l); });
    this.exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => {
      this.exit = { code, signal };
      resolve(this.exit);
    }));
    this.ready = new Promise<string>((resolve, reject) => {
      void this.exited.then((e) => reject(new Error(`aloft up exited (code ${e.code}, signal ${e.signal}) before it was ready:\n${this.output()}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        this.lines.push(line);
        const m = /^ready\s+serving .* on (http:\/\/\S+)/.exec(line);
        if (m) resolve(m[1]!);
      });
    });
    this.ready.catch(() => undefined);
    const look = () => { if (child.pid !== undefined && this.exit === undefined) for (const p of childrenOf(child.pid)) this.seen.add(p); };
    this.#watch = setInterval(look, 20);
    void this.exited.then(() => clearInterval(this.#watch));
  }

  get pid(): number {
    return this.child.pid!;
  }

  output(): string {
    return [...this.lines.map((l) => `out| ${l}`), ...this.stderr.map((l) => `err| ${l}`)].join('\n');
  }

  async waitReady(ms = STEP_MS): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`aloft up was not ready within ${ms} ms:\n${this.output()}`)), ms); });
    try {
      return await Promise.race([this.ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async waitExit(ms = STEP_MS): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`aloft up did not exit within ${ms} ms:\n${this.output()}`)), ms); });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGINT (drain, stop replicas, exit 0), bounded; SIGKILL if that does not end it. */
  async stop(ms = 30_000): Promise<Exit> {
    if (this.exit) return this.exit;
    this.child.kill('SIGINT');
    try {
      return await this.waitExit(ms);
    } catch (err) {
      this.kill();
      throw err;
    }
  }

  kill(): void {
    if (this.exit === undefined) this.child.kill('SIGKILL');
    clearInterval(this.#watch);
  }
}

/** Run the CLI (a client command) to its end, bounded. */
function cli(args: string[], ms = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ALOFT_URL: '', ALOFT_KEY: '', ALOFT_ADMIN_KEY: '' };
    const child = spawn(process.execPath, [...BIN, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`aloft ${args.join(' ')} did not finish within ${ms} ms: ${stdout}${stderr}`));
    }, ms);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

// ------------------------------------------------------------------ a project

interface Infer { model_name?: string; model_version?: string; outputs?: { name: string; shape: number[]; data: number[] }[] }

interface Project {
  dir: string;
  file: string;
  key: string;
  /** ONNX Runtime's probability for ROW: A (v1), B (v2). */
  expected: { a: number; b: number };
  sha: { a: string; b: string };
  /** Every `aloft up` started, killed at the end. */
  ups: Up[];
  /** Replica processes seen, killed at the end if still alive. */
  replicas: Set<number>;
}

async function newProject(t: TestContext, replicas: number): Promise<Project> {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-apply-crash-'));
  const bytesA = creditModel(1);
  const bytesB = creditModel(2);
  await writeFile(join(dir, 'model-a.onnx'), bytesA);
  await writeFile(join(dir, 'model-b.onnx'), bytesB);
  const file = join(dir, 'aloft.yaml');
  await writeFile(file, specText('model-a.onnx', replicas));
  const expected = { a: await reference(join(dir, 'model-a.onnx')), b: await reference(join(dir, 'model-b.onnx')) };
  assert.ok(expected.a > 0.05 && expected.a < 0.95 && expected.b > 0.05 && expected.b < 0.95, `outputs are not saturated: ${JSON.stringify(expected)}`);
  assert.ok(Math.abs(expected.a - expected.b) > 1e-3, `the two models answer clearly differently: ${JSON.stringify(expected)}`);
  t.diagnostic(`ONNX Runtime for ROW: A = ${expected.a}, B = ${expected.b}`);
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  return { dir, file, key: newAdminKey(), expected, sha: { a: sha(bytesA), b: sha(bytesB) }, ups: [], replicas: new Set() };
}

async function cleanup(p: Project | undefined): Promise<void> {
  if (!p) return;
  for (const up of p.ups) up.kill();
  await Promise.all(p.ups.map((up) => up.waitExit(10_000).catch(() => undefined)));
  for (const up of p.ups) for (const pid of up.seen) p.replicas.add(pid);
  for (const pid of p.replicas) {
    if (alive(pid)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
  await rm(p.dir, { recursive: true, force: true });
}

function start(p: Project, failpoints?: Failpoint): Up {
  const up = new Up(p.file, p.key, failpoints);
  p.ups.push(up);
  return up;
}

/** POST one ROW to the deployment; the answer's version and probability. */
async function inferOnce(url: string, key: string): Promise<{ version: string; p: number }> {
  const res = await request(`${url}/v2/models/${DEPLOYMENT}/infer`, {
    method: 'POST', headers: { ...bearer(key), 'content-type': 'application/json' }, body: JSON.stringify(inferBody()),
    headersTimeout: 30_000, bodyTimeout: 30_000,
  });
  const text = await res.body.text();
  assert.equal(res.statusCode, 200, `inference answered ${res.statusCode}: ${text.slice(0, 500)}`);
  const body = JSON.parse(text) as Infer;
  assert.equal(body.model_name, DEPLOYMENT);
  assert.equal(body.outputs?.length, 1, text);
  assert.equal(body.outputs[0]!.name, 'probability');
  assert.deepEqual(body.outputs[0]!.shape, [1, 1]);
  return { version: String(body.model_version), p: body.outputs[0]!.data[0]! };
}

/** `n` answers, every one from `version` with ONNX Runtime's value for its file. */
async function assertServes(url: string, key: string, version: number, expected: number, n = 10): Promise<void> {
  for (let i = 0; i < n; i++) {
    const a = await inferOnce(url, key);
    assert.equal(a.version, String(version), `answer ${i} comes from version ${a.version}, expected ${version}`);
    assert.ok(Math.abs(a.p - expected) <= TOLERANCE, `answer ${i}: ${a.p}, ONNX Runtime on the file says ${expected}`);
  }
}

/** The status once it says converged on revision `n`, with its one deployment ready on `version`. */
async function convergedOn(api: AdminClient, n: number, version: number, replicas: number): Promise<ControlStatus> {
  const s = await until(`status converged on revision ${n}`, STEP_MS, async () => {
    const r = await api.revision(n);
    if (r.outcome === 'failed' || r.outcome === 'rolled_back') throw new Error(`revision ${n} ended ${r.outcome}: ${r.reason}`);
    if (r.outcome !== 'applied') return undefined;
    const st = await api.status();
    return st.converged && st.current?.number === n ? st : undefined;
  });
  assert.equal(s.applying, null, 'no revision is being applied');
  assert.equal(s.deployments.length, 1, JSON.stringify(s.deployments));
  const d = s.deployments[0]!;
  assert.equal(d.name, DEPLOYMENT);
  assert.match(d.group, new RegExp(`^${DEPLOYMENT}@${version}\\.`), JSON.stringify(d));
  assert.deepEqual([d.routed, d.ready, d.desired], [d.group, replicas, replicas], JSON.stringify(d));
  return s;
}

/** Replica pids of the running server, by the admin API. */
async function replicaPids(api: AdminClient): Promise<number[]> {
  const { deployments } = await api.deployments();
  return deployments.flatMap((d) => d.versions.flatMap((v) => v.replicas.map((r) => r.pid))).filter((p): p is number => typeof p === 'number');
}

type Shape = [number, string, string];
const shapeOf = (list: readonly RevisionSummary[]): Shape[] => list.map((r) => [r.number, r.kind, r.outcome]);

/** `aloft revisions list --json` (newest first) and `aloft audit verify`, through the CLI. */
async function history(url: string, key: string): Promise<RevisionSummary[]> {
  const listed = await cli(['revisions', 'list', '--json', '--url', url, '--key', key]);
  assert.equal(listed.code, 0, listed.stderr);
  const { revisions } = JSON.parse(listed.stdout) as RevisionList;
  const verified = await cli(['audit', 'verify', '--url', url, '--key', key]);
  assert.equal(verified.code, 0, `aloft audit verify: ${verified.stdout}${verified.stderr}`);
  assert.match(verified.stdout, /audit trail intact: \d+ entries/);
  return revisions;
}

// ------------------------------------------------------------------ the crash

interface Crashed {
  /** The revision the apply recorded, if its answer came back before the crash. */
  answered: number | undefined;
  /** Replica processes of the dead server (API and /proc). */
  replicas: number[];
}

/**
 * With `up` serving A, apply B through the admin API; `up` must die by SIGKILL at `failpoint`,
 * and every replica process it had must exit within ORPHAN_MS.
 */
async function crashApplying(t: TestContext, p: Project, up: Up, url: string, failpoint: Failpoint, replicas: number): Promise<Crashed> {
  const api = new AdminClient({ url, key: p.key });
  const before = await replicaPids(api);
  assert.equal(before.length, replicas, `the API lists ${replicas} replica pids: ${JSON.stringify(before)}`);
  for (const pid of before) p.replicas.add(pid);

  // The server reads ./model-b.onnx itself (relative to the started spec's folder).
  let answered: number | undefined;
  try {
    const r = await api.apply({ spec: specText('model-b.onnx', replicas), file: 'aloft.yaml', message: `crash at ${failpoint}` });
    assert.equal(r.changed, true);
    answered = r.revision ?? undefined;
  } catch (err) {
    // The process may die before it answers (apply.recorded always does).
    assert.equal((err as { code?: string }).code, 'ALOFT_CONNECT', `the apply failed otherwise than by the crash: ${(err as Error).message}`);
  }
  const exit = await up.waitExit();
  t.diagnostic(`${failpoint}: the apply ${answered !== undefined ? `answered revision ${answered}` : 'got no answer'}; aloft up exited ${JSON.stringify(exit)}`);
  assert.deepEqual(exit, { code: null, signal: 'SIGKILL' }, `aloft up dies by SIGKILL at ${failpoint}:\n${up.output()}`);
  assert.ok(up.stderr.some((l) => l.includes(`failpoint ${failpoint}: killing the process`)), `the failpoint ${failpoint} fired:\n${up.output()}`);
  if (answered !== undefined) assert.equal(answered, 2, 'the apply recorded revision 2');

  const all = [...new Set([...before, ...up.seen])];
  for (const pid of all) p.replicas.add(pid);
  for (const pid of before) assert.ok(up.seen.has(pid) || !existsSync('/proc'), `replica ${pid} was seen as a child of aloft up`);
  const started = Date.now();
  await until(`the replicas of the dead server (${all.join(', ')}) to exit`, ORPHAN_MS, () => (all.every((pid) => !alive(pid)) ? true : undefined));
  t.diagnostic(`${failpoint}: ${all.length} replica process(es) of the dead server (${all.join(', ')}) exited ${Date.now() - started} ms after the crash was seen`);
  return { answered, replicas: all };
}

// ------------------------------------------------------------------ the tests

const CASES: { failpoint: Failpoint; replicas: number }[] = [
  { failpoint: 'apply.recorded', replicas: 1 },
  { failpoint: 'apply.starting', replicas: 2 },
  { failpoint: 'apply.switched', replicas: 1 },
  { failpoint: 'apply.draining', replicas: 2 },
];

for (const { failpoint, replicas } of CASES) {
  test(`crash at ${failpoint} (${replicas} replica${replicas > 1 ? 's' : ''}): the restart converges to revision 1 (A), revision 2 is failed (interrupted), B applies afterwards`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    let p: Project | undefined;
    try {
      p = await newProject(t, replicas);
      // 1. Serving A with the failpoint armed: harmless until an apply.
      const up = start(p, failpoint);
      const url = await up.waitReady();
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const api = new AdminClient({ url, key: p.key });
      await convergedOn(api, 1, 1, replicas);
      await assertServes(url, p.key, 1, p.expected.a, 3);

      // 2–3. Apply B: the process dies at the failpoint; its replicas follow.
      const crashed = await crashApplying(t, p, up, url, failpoint, replicas);

      // 4. Restart on the same file (A) and state folder, no failpoints.
      const again = start(p);
      const url2 = await again.waitReady();
      const api2 = new AdminClient({ url: url2, key: p.key });
      assert.ok(again.lines.some((l) => /^using\s+credit-risk v1\s/.test(l)), `the restart uses v1:\n${again.output()}`);

      // 5. One consistent revision: 1, serving A.
      const first = await api2.status();
      t.diagnostic(`${failpoint}: the first status after the restart said ready: current ${first.current?.number}, applying ${first.applying?.number ?? 'none'}, converged ${first.converged}`);
      assert.equal(first.applying, null, 'nothing is applying after the restart');
      await convergedOn(api2, 1, 1, replicas);
      await assertServes(url2, p.key, 1, p.expected.a);
      const now = await replicaPids(api2);
      assert.equal(now.length, replicas);
      for (const pid of now) {
        assert.ok(!crashed.replicas.includes(pid), `replica ${pid} is a new process`);
        p.replicas.add(pid);
      }
      const list = await history(url2, p.key);
      t.diagnostic(`${failpoint}: after the restart, revisions list says ${JSON.stringify(list.map((r) => [r.number, r.kind, r.outcome, r.reason]))}`);
      assert.deepEqual(shapeOf(list), [[2, 'apply', 'failed'], [1, 'startup', 'applied']]);
      assert.ok(!list.some((r) => r.outcome === 'applying'), 'no revision is left applying');
      const two = list.find((r) => r.number === 2)!;
      assert.match(two.reason ?? '', /interrupted/, `revision 2's reason: ${two.reason}`);
      assert.ok(two.finishedAt !== null, 'revision 2 has an end time');
      assert.deepEqual(two.deployments.map((d) => [d.name, d.model, d.version, d.sha256]), [[DEPLOYMENT, DEPLOYMENT, 2, p.sha.b]], 'revision 2 names B as v2');
      const one = list.find((r) => r.number === 1)!;
      assert.deepEqual(one.deployments.map((d) => [d.name, d.model, d.version, d.sha256]), [[DEPLOYMENT, DEPLOYMENT, 1, p.sha.a]]);
      const status = await api2.status();
      assert.equal(status.current?.number, 1);
      assert.equal(status.applying, null);

      // 6. The state after the crash is fully usable: B applies as revision 3.
      const applied = await api2.apply({ spec: specText('model-b.onnx', replicas), file: 'aloft.yaml', message: 'B again' });
      assert.equal(applied.changed, true);
      assert.equal(applied.revision, 3);
      await convergedOn(api2, 3, 2, replicas);
      await assertServes(url2, p.key, 2, p.expected.b);
      for (const pid of await replicaPids(api2)) p.replicas.add(pid);
      const after = await history(url2, p.key);
      assert.deepEqual(shapeOf(after), [[3, 'apply', 'applied'], [2, 'apply', 'failed'], [1, 'startup', 'applied']]);
      const three = after.find((r) => r.number === 3)!;
      assert.deepEqual(three.deployments.map((d) => [d.name, d.model, d.version, d.sha256]), [[DEPLOYMENT, DEPLOYMENT, 2, p.sha.b]], 'revision 3 runs B as v2 (the version the interrupted apply registered)');
      assert.deepEqual(three.models.map((m) => [m.model, m.version, m.created]), [[DEPLOYMENT, 2, false]], 'B is not registered a second time');
      const { entries } = await api2.audit(new URLSearchParams({ action: 'spec.*', limit: '100' }));
      assert.deepEqual(entries.map((e) => e.target).sort(), ['revision 1', 'revision 2', 'revision 3'], 'the audit trail names every revision once');
      const check = await api2.verifyAudit();
      assert.equal(check.ok, true, JSON.stringify(check));

      assert.deepEqual(await again.stop(), { code: 0, signal: null }, again.output());
    } finally {
      await cleanup(p);
    }
  });
}

test('crash at apply.switched after the user updated the file to B: the restart records revision 3 (startup) serving B', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const replicas = 1;
  let p: Project | undefined;
  try {
    p = await newProject(t, replicas);
    const up = start(p, 'apply.switched');
    const url = await up.waitReady();
    const api = new AdminClient({ url, key: p.key });
    await convergedOn(api, 1, 1, replicas);
    await writeFile(p.file, specText('model-b.onnx', replicas));
    await crashApplying(t, p, up, url, 'apply.switched', replicas);

    const again = start(p);
    const url2 = await again.waitReady();
    const api2 = new AdminClient({ url: url2, key: p.key });
    await convergedOn(api2, 3, 2, replicas);
    await assertServes(url2, p.key, 2, p.expected.b);
    for (const pid of await replicaPids(api2)) p.replicas.add(pid);
    const list = await history(url2, p.key);
    t.diagnostic(`file updated to B: after the restart, revisions list says ${JSON.stringify(list.map((r) => [r.number, r.kind, r.outcome, r.reason]))}`);
    assert.deepEqual(shapeOf(list), [[3, 'startup', 'applied'], [2, 'apply', 'failed'], [1, 'startup', 'applied']]);
    assert.match(list.find((r) => r.number === 2)!.reason ?? '', /interrupted/);
    // The start says that it replaced what ran before.
    assert.ok(again.lines.some((l) => /^revision\s+3 recorded: this file differs from revision 1, which ran before \(1 deployment to change/.test(l)), again.output());
    const three = list.find((r) => r.number === 3)!;
    assert.deepEqual(three.deployments.map((d) => [d.name, d.model, d.version, d.sha256]), [[DEPLOYMENT, DEPLOYMENT, 2, p.sha.b]]);
    assert.deepEqual(three.models.map((m) => [m.model, m.version, m.created]), [[DEPLOYMENT, 2, false]], 'B keeps the version the interrupted apply registered');
    const status = await api2.status();
    assert.equal(status.current?.number, 3);
    assert.equal(status.applying, null);
    assert.deepEqual(await again.stop(), { code: 0, signal: null }, again.output());
  } finally {
    await cleanup(p);
  }
});

test('apply.recorded armed at the very first start is harmless (failpoints fire only during a later apply)', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  let p: Project | undefined;
  try {
    p = await newProject(t, 1);
    const up = start(p, 'apply.recorded');
    const outcome = await Promise.race([up.ready.then(() => 'ready'), up.exited.then((e) => `exited ${JSON.stringify(e)}`)]);
    t.diagnostic(`aloft up with apply.recorded armed on an empty state folder: ${outcome}`);
    assert.equal(outcome, 'ready', up.output());
  } finally {
    await cleanup(p);
  }
});
