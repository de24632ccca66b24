/**
 * Live applies under load, with real replica processes: a closed loop of 8 concurrent
 * clients keeps sending inference requests while the running system goes through
 *   1. model A (v1), 2 replicas (the startup revision);
 *   2. a new model version B (v2);
 *   3. replicas 2 → 3;
 *   4. replicas 3 → 1;
 *   5. a rollback to revision 1 (model A by hash, 2 replicas again).
 * Each step waits for its revision to be `applied` and the status to say converged. No
 * request may fail in any step; answers sent after a step converged are the expected
 * version's (equal to ONNX Runtime to 1e-6); while a version switches, every answer is
 * the old or the new version's, never anything else. The revision history and the audit
 * chain tell the truth afterwards.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { Pool } from 'undici';
import { startAloft, type RunningAloft } from '../../src/aloft.js';
import { AdminClient } from '../../src/api/client.js';
import type { AuditCheck, RevisionDetail, RevisionSummary } from '../../src/api/types.js';
import { bearer, newAdminKey } from '../helpers/auth.js';
import { inferBody } from '../helpers/credit-risk.js';
import { creditModel, reference, specText } from '../helpers/models.js';
import { until } from '../helpers/poll.js';

/** Load loops (and keep-alive connections to the gateway). */
const CONNECTIONS = 8;
/** Hard cap on requests over the whole test; the loops stop themselves when it is reached. */
const MAX_REQUESTS = 400_000;
/** Answers to collect per step after it converged (checked against the target version). */
const AFTER_CONVERGED = 400;
/** Longest wait for one revision to converge. */
const STEP_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = 180_000;
const TOLERANCE = 1e-6;
const DEPLOYMENT = 'credit-risk';

// ------------------------------------------------------------------ models

/** A small deterministic generator (LCG), so both models are the same on every run. */

// ------------------------------------------------------------------ load

interface StepStats {
  name: string;
  /** Versions an answer may come from while the step converges. */
  allowed: ReadonlySet<string>;
  /** The only version an answer may come from once the step converged. */
  target: string;
  /** Requests sent from now on count as "after convergence". */
  converged: boolean;
  sent: number;
  failed: number;
  /** Answers with status 200. */
  answered: number;
  /** Answers that were 200 but not the right version's output (or an unexpected version). */
  wrong: number;
  /** Answers to requests sent after convergence. */
  afterConverged: number;
  /** Answers by model_version. */
  versions: Map<string, number>;
  latencies: number[];
  /** The first few problems, for messages. */
  samples: string[];
}

function newStep(name: string, allowed: string[], target: string): StepStats {
  return { name, allowed: new Set(allowed), target, converged: false, sent: 0, failed: 0, answered: 0, wrong: 0, afterConverged: 0, versions: new Map(), latencies: [], samples: [] };
}

function note(s: StepStats, what: string): void {
  if (s.samples.length < 8) s.samples.push(what);
}

function p99(latencies: readonly number[]): number {
  if (latencies.length === 0) return NaN;
  const sorted = [...latencies].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(sorted.length * 0.99) - 1)]!;
}

interface InferAnswer { model_name?: string; model_version?: string; outputs?: { name: string; shape: number[]; data: number[] }[] }

class Load {
  current: StepStats;
  stopped = false;
  total = 0;
  readonly #pool: Pool;
  readonly #loops: Promise<void>[];
  readonly #body = JSON.stringify(inferBody());
  readonly #headers: Record<string, string>;

  constructor(url: string, key: string, first: StepStats, readonly expected: Readonly<Record<string, number>>) {
    this.current = first;
    this.#headers = { ...bearer(key), 'content-type': 'application/json' };
    this.#pool = new Pool(url, { connections: CONNECTIONS, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
    this.#loops = Array.from({ length: CONNECTIONS }, () => this.#loop());
  }

  async #loop(): Promise<void> {
    while (!this.stopped && this.total < MAX_REQUESTS) {
      const step = this.current;
      const after = step.converged;
      this.total++;
      step.sent++;
      const t0 = performance.now();
      try {
        const res = await this.#pool.request({ method: 'POST', path: `/v2/models/${DEPLOYMENT}/infer`, headers: this.#headers, body: this.#body });
        const text = await res.body.text();
        step.latencies.push(performance.now() - t0);
        if (res.statusCode !== 200) {
          step.failed++;
          note(step, `HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
          continue;
        }
        step.answered++;
        this.#check(step, after, text);
      } catch (err) {
        step.latencies.push(performance.now() - t0);
        step.failed++;
        note(step, `request error: ${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
      }
    }
  }

  #check(step: StepStats, after: boolean, text: string): void {
    let body: InferAnswer;
    try {
      body = JSON.parse(text) as InferAnswer;
    } catch {
      step.wrong++;
      note(step, `not JSON: ${text.slice(0, 200)}`);
      return;
    }
    const version = String(body.model_version);
    step.versions.set(version, (step.versions.get(version) ?? 0) + 1);
    const out = body.outputs?.[0];
    const p = out?.data?.[0];
    const expected = this.expected[version];
    if (after) step.afterConverged++;
    const okShape = body.model_name === DEPLOYMENT && body.outputs?.length === 1 && out?.name === 'probability' && out.shape.join(',') === '1,1';
    if (!okShape || typeof p !== 'number' || expected === undefined || Math.abs(p - expected) > TOLERANCE) {
      step.wrong++;
      note(step, `answer is not version ${version}'s output (${expected}): ${text.slice(0, 300)}`);
      return;
    }
    if (after ? version !== step.target : !step.allowed.has(version)) {
      step.wrong++;
      note(step, `version ${version} answered ${after ? 'after convergence' : 'during the step'}; expected ${after ? step.target : [...step.allowed].join(' or ')}`);
    }
  }

  /** Switch the step new requests count towards. */
  begin(step: StepStats): void {
    this.current = step;
  }

  #closed: Promise<void> | undefined;

  /** Stop the loops (each finishes its request in flight) and close the connections. Idempotent. */
  stop(): Promise<void> {
    this.stopped = true;
    this.#closed ??= Promise.all(this.#loops).then(() => this.#pool.close());
    return this.#closed;
  }
}

// ------------------------------------------------------------------ polling


function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

// ------------------------------------------------------------------ the test

test('apply, scale and roll back live under a closed-loop load of 8 connections: no request fails, answers are the right version', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-apply-live-'));
  let aloft: RunningAloft | undefined;
  let load: Load | undefined;
  try {
    const bytesA = creditModel(1);
    const bytesB = creditModel(2);
    await writeFile(join(dir, 'model-a.onnx'), bytesA);
    await writeFile(join(dir, 'model-b.onnx'), bytesB);
    const shaA = createHash('sha256').update(bytesA).digest('hex');
    const shaB = createHash('sha256').update(bytesB).digest('hex');
    const expected = { '1': await reference(join(dir, 'model-a.onnx')), '2': await reference(join(dir, 'model-b.onnx')) };
    t.diagnostic(`ONNX Runtime for ROW: A (v1) = ${expected['1']}, B (v2) = ${expected['2']}`);
    assert.ok(expected['1'] > 0.05 && expected['1'] < 0.95 && expected['2'] > 0.05 && expected['2'] < 0.95, 'outputs are not saturated');
    assert.ok(Math.abs(expected['1'] - expected['2']) > 1e-3, 'the two versions answer clearly differently');

    await writeFile(join(dir, 'aloft.yaml'), specText('model-a.onnx', 2));
    const adminKey = newAdminKey();
    aloft = await startAloft({ spec: join(dir, 'aloft.yaml'), port: 0, host: '127.0.0.1', databaseUrl: `sqlite:${join(dir, '.aloft', 'aloft.db')}`, adminKey });
    assert.match(aloft.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    await aloft.waitReady(STEP_TIMEOUT_MS);
    const running = aloft;
    const api = new AdminClient({ url: aloft.url, key: adminKey });

    /** Wait until revision `n` is applied and the status says converged; fail at once if it failed. */
    const converged = (n: number) => until(`revision ${n} applied and converged`, STEP_TIMEOUT_MS, async () => {
      const r: RevisionDetail = await api.revision(n);
      if (r.outcome === 'failed' || r.outcome === 'rolled_back') throw new Error(`revision ${n} ended ${r.outcome}: ${r.reason}`);
      if (r.outcome !== 'applied') return undefined;
      const s = await api.status();
      return s.converged && s.current?.number === n ? s : undefined;
    });

    /** What runs once a step converged: `replicas` ready replicas of `version`, nothing else. */
    const assertRunning = async (version: number, sha: string, replicas: number, gone: readonly number[]) => {
      const s = await api.status();
      assert.equal(s.converged, true);
      assert.equal(s.deployments.length, 1);
      const d = s.deployments[0]!;
      assert.equal(d.name, DEPLOYMENT);
      assert.match(d.group, new RegExp(`^${DEPLOYMENT}@${version}\\.`));
      assert.deepEqual([d.routed, d.ready, d.desired], [d.group, replicas, replicas], JSON.stringify(d));
      const procs = running.orchestrator.status();
      assert.deepEqual(procs.map((r) => [r.group, r.state]), Array(replicas).fill([d.group, 'ready']), JSON.stringify(procs));
      const dep = running.deployments.find((x) => x.name === DEPLOYMENT)!;
      assert.deepEqual([dep.version, dep.sha256], [version, sha]);
      for (const pid of gone) assert.equal(alive(pid), false, `replica process ${pid} of an earlier step still runs`);
    };
    const pids = () => running.orchestrator.status().map((r) => r.pid).filter((p): p is number => p !== undefined);

    const steps: StepStats[] = [];
    const assertClean = (stats: StepStats) => {
      assert.equal(stats.failed, 0, `${stats.name}: ${stats.failed} of ${stats.sent} requests failed: ${stats.samples.join(' | ')}`);
      assert.equal(stats.wrong, 0, `${stats.name}: ${stats.wrong} answers were not the expected version's: ${stats.samples.join(' | ')}`);
    };
    /**
     * One step: count from now on towards `stats`, run `change` (which returns the revision
     * it recorded, or undefined for the startup one), wait for convergence, then collect
     * AFTER_CONVERGED answers that must all be the target version's.
     */
    const step = async (stats: StepStats, revision: number, change: (() => Promise<number>) | undefined, check: (gone: readonly number[]) => Promise<void>) => {
      steps.push(stats);
      const before = pids();
      const started = Date.now();
      load!.begin(stats);
      if (change) assert.equal(await change(), revision, `${stats.name} records revision ${revision}`);
      await converged(revision);
      const took = Date.now() - started;
      stats.converged = true;
      const now = new Set(pids());
      await check(before.filter((p) => !now.has(p)));
      await until(`${AFTER_CONVERGED} answers after ${stats.name} converged`, STEP_TIMEOUT_MS, () => (stats.afterConverged >= AFTER_CONVERGED || load!.stopped ? true : undefined), 10);
      t.diagnostic(`${stats.name}: revision ${revision} applied and converged ${took} ms after the change was sent`);
      assertClean(stats);
      assert.ok(stats.afterConverged >= AFTER_CONVERGED, `${stats.name}: only ${stats.afterConverged} answers after convergence (request cap reached?)`);
    };
    const apply = async (spec: string, message: string): Promise<number> => {
      const r = await api.apply({ spec, file: 'aloft.yaml', message });
      assert.equal(r.changed, true, `${message}: the plan has changes`);
      return r.revision!;
    };

    load = new Load(aloft.url, adminKey, newStep('1 start A (v1) x2', ['1'], '1'), expected);

    await step(load.current, 1, undefined, (gone) => assertRunning(1, shaA, 2, gone));
    await step(newStep('2 apply B (v2)', ['1', '2'], '2'), 2, () => apply(specText('model-b.onnx', 2), 'model B'), async (gone) => {
      await assertRunning(2, shaB, 2, gone);
      assert.equal(gone.length, 2, 'both v1 replicas stopped');
    });
    await step(newStep('3 replicas 2→3', ['2'], '2'), 3, () => apply(specText('model-b.onnx', 3), 'scale to 3'), async (gone) => {
      await assertRunning(2, shaB, 3, gone);
      assert.equal(gone.length, 0, 'scaling up restarts no replica');
    });
    await step(newStep('4 replicas 3→1', ['2'], '2'), 4, () => apply(specText('model-b.onnx', 1), 'scale to 1'), async (gone) => {
      await assertRunning(2, shaB, 1, gone);
      assert.equal(gone.length, 2, 'two replicas stopped');
    });
    await step(newStep('5 rollback to 1', ['1', '2'], '1'), 5, async () => {
      const r = await api.rollback({ to: 1 });
      assert.equal(r.changed, true);
      return r.revision!;
    }, async (gone) => {
      await assertRunning(1, shaA, 2, gone);
      assert.equal(gone.length, 1, 'the v2 replica stopped');
    });

    // Requests sent at the end of a step are answered during the next one: the final figures
    // (and the checks on them) are taken once every loop has stopped.
    await load.stop();
    for (const s of steps) {
      const versions = [...s.versions].sort().map(([v, n]) => `v${v}: ${n}`).join(', ');
      t.diagnostic(`${s.name}: sent ${s.sent}, failed ${s.failed}, wrong ${s.wrong}, p99 ${p99(s.latencies).toFixed(1)} ms; answers ${versions} (${s.afterConverged} after convergence)`);
      assert.equal(s.answered + s.failed, s.sent, `${s.name}: every request sent was answered 200 or counted failed`);
    }
    for (const s of steps) assertClean(s);
    const total = steps.reduce((n, s) => n + s.sent, 0);
    const rows = steps.map((s) => `${s.name.padEnd(20)} | ${String(s.sent).padStart(6)} | ${String(s.failed).padStart(6)} | ${p99(s.latencies).toFixed(1).padStart(6)}`);
    console.log(['', `apply-live: ${CONNECTIONS} connections, ${total} requests`, `${'step'.padEnd(20)} | ${'sent'.padStart(6)} | ${'failed'.padStart(6)} | ${'p99 ms'.padStart(6)}`, ...rows, ''].join('\n'));
    assert.ok(load.total < MAX_REQUESTS, 'the request cap was not reached');

    // The history tells the truth. The rollback marks the revision it replaced (4) after it
    // is recorded applied: allow a moment. 2 and 3 stay applied: each ran until the next one.
    let first: RevisionSummary[] | undefined;
    const want = [[1, 'startup', 'applied', null], [2, 'apply', 'applied', null], [3, 'apply', 'applied', null], [4, 'apply', 'rolled_back', null], [5, 'rollback', 'applied', 1]];
    const shape = (list: RevisionSummary[]) => [...list].sort((a, b) => a.number - b.number).map((r) => [r.number, r.kind, r.outcome, r.rollbackOf]);
    const revisions = await until('revision 4 rolled back', 5_000, async () => {
      const { revisions: list } = await api.revisions();
      first ??= list;
      return JSON.stringify(shape(list)) === JSON.stringify(want) ? list : undefined;
    });
    if (JSON.stringify(shape(first!)) !== JSON.stringify(want)) t.diagnostic(`the first revision list read after convergence was ${JSON.stringify(shape(first!))}`);
    assert.deepEqual(shape(revisions), want);
    const byNumber = new Map(revisions.map((r) => [r.number, r]));
    const four = byNumber.get(4)!;
    assert.equal(four.reason, 'rolled back by revision 5');
    assert.ok(four.finishedAt !== null && four.finishedAt <= byNumber.get(5)!.createdAt, `revision 4 keeps the time it was applied (${four.finishedAt}), not the rollback's (${byNumber.get(5)!.createdAt})`);
    const served = (n: number) => byNumber.get(n)!.deployments.map((d) => [d.name, d.model, d.version, d.sha256]);
    assert.deepEqual(served(1), [[DEPLOYMENT, DEPLOYMENT, 1, shaA]]);
    assert.deepEqual(served(2), [[DEPLOYMENT, DEPLOYMENT, 2, shaB]]);
    assert.deepEqual(served(5), [[DEPLOYMENT, DEPLOYMENT, 1, shaA]], 'the rollback serves model A by hash');
    assert.deepEqual(byNumber.get(2)!.models.map((m) => [m.model, m.version, m.sha256, m.created]), [[DEPLOYMENT, 2, shaB, true]], 'revision 2 registered v2');
    const five = await api.revision(5);
    assert.equal(five.specText, specText('model-a.onnx', 2), 'revision 5 carries revision 1\'s spec');
    const status = await api.status();
    assert.equal(status.current?.number, 5);
    assert.equal(status.applying, null);

    const audit: AuditCheck = await api.verifyAudit();
    assert.equal(audit.ok, true, JSON.stringify(audit));
    const { entries } = await api.audit(new URLSearchParams({ action: 'spec.*', limit: '100' }));
    assert.deepEqual(entries.map((e) => [e.action, e.target]).sort((a, b) => a[1]!.localeCompare(b[1]!)), [
      ['spec.applied', 'revision 1'], ['spec.applied', 'revision 2'], ['spec.applied', 'revision 3'], ['spec.applied', 'revision 4'], ['spec.rolled_back', 'revision 5'],
    ], 'the audit trail names the startup, each apply and the rollback');
  } finally {
    await load?.stop().catch(() => undefined);
    await aloft?.close();
    await rm(dir, { recursive: true, force: true });
  }
});
