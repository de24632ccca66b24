/**
 * Cost end to end, with real replica processes (runtime.isolation: process), real load,
 * the real CLI and a real webhook receiver:
 *
 *   1. metered spend: `credit-risk` with 2 replicas reserving { cpu: 1, memory: 1Gi } at
 *      $0.04 per vCPU-hour and $0.005 per GiB-hour, sampled every second, under closed-loop
 *      load (8 connections, a mix of 1- and 3-row requests) for ~12 s:
 *      - the allocation (replica-hours, vCPU-hours, GiB-hours) and its cost grow exactly as
 *        the replica lifetimes say: 2 replicas × the time between two of the meters' samples
 *        (the sample times are the cost reconciler's controller events), within 1%, from
 *        the API and from `aloft cost --json`;
 *      - requests = the answers, predictions = the rows of the 2xx answers, and cost per
 *        1,000 predictions = cost ÷ predictions × 1,000;
 *      - used CPU seconds grow as /proc/<pid>/stat (utime + stime) of the replica processes
 *        say over the same interval, within 10%; resident GiB-seconds as VmRSS × time;
 *      - /metrics has aloft_cost_hourly and aloft_resources_reserved;
 *   2. idle detection: a second Aloft with `cost.idle: { below: 0.05, for: 20s }` and an
 *      alerts webhook: `idle` (2 replicas, no traffic) is found once its replicas have been
 *      allocated for 90% of the window, fires IdleDeployment {severity: ticket} (GET
 *      /api/v1/alerts) and reaches the receiver with its deployment label, its monthly cost
 *      and a scale-to-zero recommendation; `busy` (steady traffic) is never found;
 *   3. bad input: a negative price and a misspelt instance type are refused by plan and
 *      apply (nothing applied); GET /api/v1/cost?by=team is a 400; the deployment keeps
 *      serving.
 *
 * Aloft runs in this process (the CLI is spawned asynchronously, never synchronously).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { parse, stringify } from 'yaml';
import type { RunningAloft } from '../../src/aloft.js';
import type { ControlStatus } from '../../src/api/types.js';
import type { CostGroup } from '../../src/cost/meters.js';
import type { CostReport } from '../../src/cost/report.js';
import type { AlertsReport } from '../../src/monitor/alerts/alerts.js';
import type { WebhookPayload } from '../../src/monitor/alerts/sinks.js';
import { parseDuration } from '../../src/spec/units.js';
import { inferBody, inferOnce } from '../helpers/credit-risk.js';
import { call, type Answer } from '../helpers/http.js';
import { startProject, type Project } from '../helpers/project.js';
import { metricValue } from '../helpers/prometheus.js';
import { until } from '../helpers/poll.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const DEP = 'credit-risk';
const CPU_PRICE = 0.04;
const MEMORY_PRICE = 0.005;
/** What one replica reserving 1 vCPU and 1 GiB costs an hour. */
const REPLICA_HOURLY = 1 * CPU_PRICE + 1 * MEMORY_PRICE;
/** The meters' sampling period. */
const EVERY_MS = 1000;
/** The measured load period. */
const LOAD_MS = 12_000;
const CONNECTIONS = 8;
/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
const CLK_TCK = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

const BODY_1 = JSON.stringify(inferBody({}, 1));
const BODY_3 = JSON.stringify(inferBody({}, 3));

// ── /proc ─────────────────────────────────────────────────────────────────────────────────

/** CPU seconds (utime + stime) of a process, from /proc/<pid>/stat. */
function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // pid (comm) state ppid …: comm may hold spaces and parentheses; utime and stime are fields 14 and 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** Resident bytes of a process (VmRSS). */
function procRssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `VmRSS of ${pid}`);
  return Number(m[1]) * 1024;
}

// ── the cost reconciler's samples ─────────────────────────────────────────────────────────

/** Wall-clock ms of the cost reconciler's last run (its controller event), undefined before the first. */
function lastCostRun(a: RunningAloft): number | undefined {
  const e = a.controller.events().find((x) => x.reconciler === 'cost');
  return e?.at.getTime();
}

interface Sample {
  /** The cost reconciler's event time: its sample plus the flush (a few ms). */
  at: number;
  /** /proc read right after the event was seen, per pid. */
  cpu: number[];
  rss: number[];
}

/**
 * Watches the cost reconciler's runs (every 5 ms) and reads /proc for `pids` as soon as each
 * one is seen: what the meters read at that sample, give or take the few ms in between.
 */
function sampleWatcher(a: RunningAloft, pids: readonly number[]) {
  const samples: Sample[] = [];
  let last = lastCostRun(a);
  const timer = setInterval(() => {
    const at = lastCostRun(a);
    if (at === undefined || at === last) return;
    last = at;
    samples.push({ at, cpu: pids.map(procCpuSeconds), rss: pids.map(procRssBytes) });
  }, 5);
  return { samples, stop: () => clearInterval(timer) };
}

// ── the admin API and the CLI ─────────────────────────────────────────────────────────────

async function api(p: Project, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
  return call(`${p.url}${path}`, {
    method, headers: { ...p.headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}), timeoutMs: 30_000,
  });
}

async function costReport(p: Project, q = ''): Promise<CostReport> {
  const r = await api(p, 'GET', `/api/v1/cost${q}`);
  assert.equal(r.status, 200, `GET /api/v1/cost${q}: ${r.status} ${r.text.slice(0, 500)}`);
  return r.json as CostReport;
}

function groupOf(r: CostReport, key: string): CostGroup {
  const g = r.groups.find((x) => x.key === key);
  assert.ok(g, `the report has a group ${key}: ${JSON.stringify(r.groups.map((x) => x.key))}`);
  return g;
}

interface Mark { sample: Sample; report: CostReport; group: CostGroup }

/**
 * The next sample of the meters and the report read right after it: the report then holds
 * exactly the samples up to this one (none lands during the read, or it is taken again).
 */
async function mark(p: Project, w: ReturnType<typeof sampleWatcher>): Promise<Mark> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const n = w.samples.length;
    await until('the next sample of the cost meters', 10_000, () => (w.samples.length > n ? true : undefined), 5);
    const sample = w.samples[w.samples.length - 1]!;
    const report = await costReport(p);
    if (lastCostRun(p.aloft) !== sample.at) continue; // a sample landed while the report was read
    return { sample, report, group: groupOf(report, DEP) };
  }
  throw new Error('could not read the cost report between two samples of the meters');
}

interface CliResult { code: number | null; stdout: string; stderr: string }

function cli(p: Project, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(root, 'src/cli/bin.ts'), ...args, '--url', p.url, '--key', p.adminKey], {
      cwd: root, encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, ALOFT_URL: '', ALOFT_KEY: '', ALOFT_ADMIN_KEY: '' },
    }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

const shown = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

// ── load ──────────────────────────────────────────────────────────────────────────────────

interface Tally { answers: number; ok: number; okRows: number; failed: number; errors: string[] }

/** Closed-loop load on `deployment`: `connections` loops, one request at a time each; every 4th request has 3 rows. */
function load(p: Project, deployment: string, connections: number) {
  const pool = new Pool(p.url, { connections });
  const tally: Tally = { answers: 0, ok: 0, okRows: 0, failed: 0, errors: [] };
  let stopped = false;
  let n = 0;
  const loop = async () => {
    while (!stopped) {
      const rows = n++ % 4 === 3 ? 3 : 1;
      try {
        const r = await pool.request({
          method: 'POST', path: `/v2/models/${deployment}/infer`, headers: { ...p.headers, 'content-type': 'application/json' },
          body: rows === 3 ? BODY_3 : BODY_1, headersTimeout: 30_000, bodyTimeout: 30_000,
        });
        const text = await r.body.text();
        tally.answers++;
        if (r.statusCode >= 200 && r.statusCode < 300) {
          const out = (JSON.parse(text) as { outputs: { shape: number[] }[] }).outputs[0]!;
          assert.deepEqual(out.shape, [rows, 1]);
          tally.ok++;
          tally.okRows += rows;
        } else {
          tally.failed++;
          if (tally.errors.length < 5) tally.errors.push(`${r.statusCode}: ${text.slice(0, 200)}`);
        }
      } catch (err) {
        tally.failed++;
        if (tally.errors.length < 5) tally.errors.push(String(err));
      }
    }
  };
  const done = Promise.all(Array.from({ length: connections }, loop)).then(() => pool.close());
  return { tally, stop: async () => { stopped = true; await done; } };
}

const close = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${what}: ${a} vs ${b} (off by ${(100 * Math.abs(a - b) / Math.abs(b)).toFixed(3)}%, allowed ${100 * rel}%)`);
const closeAbs = (a: number, b: number, eps: number, what: string) => assert.ok(Math.abs(a - b) <= eps, `${what}: ${a} vs ${b}`);

/** Figures for the final report (printed at the end). */
const figures: Record<string, unknown> = {};
after(() => { process.stdout.write(`# cost e2e figures: ${JSON.stringify(figures)}\n`); });

// ── 1 and 3: metered spend, bad input ─────────────────────────────────────────────────────

describe('metered spend of 2 replicas under load', () => {
  let p: Project;
  let watcher: ReturnType<typeof sampleWatcher>;
  let t0 = 0;
  /** Per replica: id, pid and when it became ready (orchestrator status). */
  let replicas: { id: string; pid: number; readyAt: number }[] = [];
  let a: Mark;
  let b: Mark;
  let c: Mark;
  let tally: Tally;

  before(async () => {
    t0 = Date.now();
    p = await startProject({
      replicas: 2,
      yaml: [
        'deployments:',
        `  ${DEP}:`,
        '    resources: { cpu: 1, memory: 1Gi }',
        '    runtime: { isolation: process }',
        'cost:',
        `  prices: { cpu: ${CPU_PRICE}, memory: ${MEMORY_PRICE} }`,
        '  every: 1s',
      ].join('\n'),
    });
    replicas = p.aloft.orchestrator.status().filter((r) => r.deployment === DEP).map((r) => {
      assert.equal(r.state, 'ready', `${r.id} is ready`);
      assert.ok(r.pid !== undefined, `${r.id} runs as a process`);
      return { id: r.id, pid: r.pid, readyAt: r.since };
    });
    assert.equal(replicas.length, 2);
    watcher = sampleWatcher(p.aloft, replicas.map((r) => r.pid));
  });

  after(async () => {
    watcher?.stop();
    await p?.close();
  });

  test('allocation and its cost grow as 2 replicas × the time between samples (within 1%); CPU used as /proc says (within 10%)', { timeout: 120_000 }, async () => {
    const l = load(p, DEP, CONNECTIONS);
    try {
      await until('the load running', 30_000, () => (l.tally.ok >= 50 ? true : undefined), 20);
      a = await mark(p, watcher);
      // The load period is a duration by nature: wait it out, then mark the next sample.
      await until(`${LOAD_MS} ms of load`, LOAD_MS + 5_000, () => (Date.now() - a.sample.at >= LOAD_MS ? true : undefined), 100);
      b = await mark(p, watcher);
    } finally {
      await l.stop();
    }
    tally = l.tally;
    assert.equal(tally.failed, 0, `every request answered 2xx: ${tally.errors.join('; ')}`);

    // The same two processes throughout: nothing restarted, nothing changed state.
    const now = p.aloft.orchestrator.status().filter((r) => r.deployment === DEP);
    assert.deepEqual(now.map((r) => [r.id, r.pid, r.state, r.since]).sort(), replicas.map((r) => [r.id, r.pid, 'ready', r.readyAt]).sort(), 'the replicas stayed up');

    // Expected allocation over [A, B]: each replica's lifetime inside the interval (both were ready before A).
    const seconds = replicas.reduce((s, r) => s + Math.max(0, b.sample.at - Math.max(a.sample.at, r.readyAt)) / 1000, 0);
    const replicaS = (b.group.replicaHours - a.group.replicaHours) * 3600;
    const cost = b.group.cost! - a.group.cost!;
    const expectedCost = (seconds * REPLICA_HOURLY) / 3600;
    figures.interval = {
      seconds: (b.sample.at - a.sample.at) / 1000, expectedReplicaSeconds: seconds, meteredReplicaSeconds: replicaS,
      expectedCost, reportedCost: cost, offPercent: (100 * (cost - expectedCost)) / expectedCost,
    };
    close(replicaS, seconds, 0.01, 'replica-seconds between samples A and B vs 2 × their time apart');
    close((b.group.allocated.cpuHours - a.group.allocated.cpuHours) * 3600, seconds * 1, 0.01, 'vCPU-seconds allocated');
    close((b.group.allocated.memoryGiBHours - a.group.allocated.memoryGiBHours) * 3600, seconds * 1, 0.01, 'GiB-seconds allocated');
    close(cost, expectedCost, 0.01, 'cost between samples A and B');
    assert.equal(b.group.allocated.gpuHours, 0);
    assert.deepEqual(b.group.unpriced, []);

    // CPU used: /proc/<pid>/stat of both replica processes over the same interval.
    const procCpu = replicas.reduce((s, _r, i) => s + b.sample.cpu[i]! - a.sample.cpu[i]!, 0);
    const meteredCpu = (b.group.used.cpuHours! - a.group.used.cpuHours!) * 3600;
    figures.cpu = { procSeconds: procCpu, meteredSeconds: meteredCpu, offPercent: (100 * (meteredCpu - procCpu)) / procCpu, clockTicks: CLK_TCK };
    // At least 100 clock ticks, so a 10% comparison is not lost in tick rounding.
    assert.ok(procCpu >= 100 / CLK_TCK, `the load made the replicas work (${procCpu} CPU s from /proc)`);
    close(meteredCpu, procCpu, 0.1, 'used CPU seconds vs /proc');

    // Resident memory: VmRSS × time, sample by sample.
    const inside = watcher.samples.filter((s) => s.at > a.sample.at && s.at <= b.sample.at);
    let rssGiBS = 0;
    let prev = a.sample.at;
    for (const s of inside) {
      rssGiBS += ((s.at - prev) / 1000) * s.rss.reduce((x, y) => x + y, 0) / 2 ** 30;
      prev = s.at;
    }
    const meteredRss = (b.group.used.memoryGiBHours! - a.group.used.memoryGiBHours!) * 3600;
    figures.memory = { procGiBSeconds: rssGiBS, meteredGiBSeconds: meteredRss, samples: inside.length };
    close(meteredRss, rssGiBS, 0.1, 'resident GiB-seconds vs VmRSS × time');

    // Since the start: at least each replica's time since ready (less the first, uncounted sample period), at most its time since startProject.
    const total = b.group.replicaHours * 3600;
    const low = replicas.reduce((s, r) => s + (b.sample.at - r.readyAt - EVERY_MS * 1.5) / 1000, 0);
    const high = replicas.reduce((s) => s + (b.sample.at - t0) / 1000, 0);
    figures.sinceStart = { replicaSeconds: total, low, high };
    assert.ok(total >= low && total <= high, `replica-seconds since the start ${total} within [${low}, ${high}]`);
    close(b.group.cost!, (total * REPLICA_HOURLY) / 3600, 1e-9, 'cost since the start = replica-hours × $0.045');
  });

  test('requests = answers, predictions = rows of the 2xx answers; cost per 1,000 predictions = cost ÷ predictions × 1,000', { timeout: 60_000 }, async () => {
    assert.ok(tally, 'the load ran');
    // Observers run once the answer is written: wait for the last few to be counted.
    await until('every answer counted', 10_000, async () => ((await costReport(p)).groups.find((g) => g.key === DEP)?.requests === tally.answers ? true : undefined), 50);
    c = await mark(p, watcher);
    const g = c.group;
    figures.predictions = { answers: tally.answers, ok: tally.ok, okRows: tally.okRows, requests: g.requests, predictions: g.predictions, cost: g.cost!, costPer1kPredictions: g.costPer1kPredictions! };
    assert.equal(g.requests, tally.answers, 'requests: every answer');
    assert.equal(g.predictions, tally.okRows, 'predictions: the rows of the 2xx answers');
    assert.ok(g.costPer1kPredictions! !== undefined);
    closeAbs(g.costPer1kPredictions!, (g.cost! / g.predictions) * 1000, 1e-12 * Math.max(1, g.costPer1kPredictions!), 'cost per 1,000 predictions');
    // The total is this one deployment.
    assert.equal(c.report.groups.length, 1);
    assert.deepEqual(c.report.total, { ...g, key: 'total' });
    // The rest of the report.
    assert.equal(c.report.currency, 'USD');
    assert.equal(c.report.by, 'deployment');
    assert.deepEqual(c.report.rates, { cpu: CPU_PRICE, memory: MEMORY_PRICE, currency: 'USD', source: 'cost.prices' });
    closeAbs(Date.parse(c.report.since), Math.floor((Date.parse(c.report.until) - 30 * 86_400_000) / 3_600_000) * 3_600_000, 0, 'since: 30 days back by default, from the start of that hour (the meters keep hours)');
    assert.deepEqual({ cores: c.report.machine?.cores, reservedCpu: c.report.machine?.reservedCpu, oversubscribed: c.report.machine?.oversubscribed }, { cores: availableParallelism(), reservedCpu: 2, oversubscribed: 2 > availableParallelism() });
    if (2 > availableParallelism()) assert.match(c.report.machine?.message ?? '', /reserve 2 vCPU on \d+ cores/);
    assert.deepEqual(c.report.findings, [], 'no idle finding: 1h of history is needed');
    closeAbs(g.allocated.cpuHours, g.replicaHours, 1e-12, 'vCPU-hours = replica-hours × 1');
    closeAbs(g.allocated.memoryGiBHours, g.replicaHours, 1e-12, 'GiB-hours = replica-hours × 1');
    closeAbs(g.cost!, g.allocated.cpuHours * CPU_PRICE + g.allocated.memoryGiBHours * MEMORY_PRICE, 1e-15, 'cost = vCPU-h × 0.04 + GiB-h × 0.005');
    closeAbs(g.efficiency.cpu!, g.used.cpuHours! / g.allocated.cpuHours, 1e-12, 'CPU efficiency = used ÷ allocated');
    closeAbs(g.efficiency.memory!, g.used.memoryGiBHours! / g.allocated.memoryGiBHours, 1e-12, 'memory efficiency = used ÷ allocated');
    // by=version: one version.
    const byVersion = await costReport(p, '?by=version&since=1h');
    assert.deepEqual(byVersion.groups.map((x) => x.key), [`${DEP}@1`]);
    assert.equal(byVersion.groups[0]!.predictions, tally.okRows);
  });

  test('`aloft cost --json` parses, matches the API and agrees with the sample arithmetic within 1%', { timeout: 90_000 }, async () => {
    assert.ok(c, 'the predictions were counted');
    const r = await cli(p, ['cost', '--json']);
    const d = await mark(p, watcher);
    assert.equal(r.code, 0, shown(r));
    const body = JSON.parse(r.stdout) as CostReport;
    const g = groupOf(body, DEP);
    // What does not move with time: equal to the API's.
    assert.equal(body.currency, d.report.currency);
    assert.equal(body.by, 'deployment');
    assert.deepEqual(body.rates, d.report.rates);
    assert.deepEqual(body.machine, d.report.machine);
    assert.deepEqual(body.findings, d.report.findings);
    assert.deepEqual(body.groups.map((x) => x.key), d.report.groups.map((x) => x.key));
    assert.equal(g.requests, d.group.requests);
    assert.equal(g.predictions, d.group.predictions);
    assert.equal(g.predictions, tally.okRows);
    closeAbs(g.costPer1kPredictions!, (g.cost! / g.predictions) * 1000, 1e-12 * g.costPer1kPredictions!, 'the CLI\'s cost per 1,000 predictions');
    // What grows: between the API's reports before and after.
    assert.ok(g.replicaHours >= c.group.replicaHours && g.replicaHours <= d.group.replicaHours, `replica-hours ${g.replicaHours} within [${c.group.replicaHours}, ${d.group.replicaHours}]`);
    assert.ok(g.cost! >= c.group.cost! && g.cost! <= d.group.cost!, `cost ${g.cost!} within [${c.group.cost!}, ${d.group.cost!}]`);
    // The samples the CLI's report holds: those before its `until` (either of two when it came within 50 ms of one).
    const until = Date.parse(body.until);
    const candidates = watcher.samples.filter((s) => s.at <= until + 50 && s.at >= a.sample.at);
    const last = candidates[candidates.length - 1]!;
    const options = candidates.filter((s) => s === last || (s === candidates[candidates.length - 2] && last.at > until - 50));
    const replicaS = (g.replicaHours - a.group.replicaHours) * 3600;
    const cost = g.cost! - a.group.cost!;
    const fits = options.map((s) => {
      const seconds = replicas.reduce((x, rr) => x + Math.max(0, s.at - Math.max(a.sample.at, rr.readyAt)) / 1000, 0);
      return { seconds, expectedCost: (seconds * REPLICA_HOURLY) / 3600 };
    });
    const best = fits.reduce((x, y) => (Math.abs(y.seconds - replicaS) < Math.abs(x.seconds - replicaS) ? y : x));
    figures.cli = { expectedReplicaSeconds: best.seconds, meteredReplicaSeconds: replicaS, expectedCost: best.expectedCost, reportedCost: cost };
    close(replicaS, best.seconds, 0.01, 'the CLI\'s replica-seconds since A vs 2 × the time between A and its last sample');
    close(cost, best.expectedCost, 0.01, 'the CLI\'s cost since A');

    // The table form names the rates and the spend.
    const text = await cli(p, ['cost']);
    assert.equal(text.code, 0, shown(text));
    assert.match(text.stdout, /rates: cpu 0\.0400 USD\/vCPU-h, memory 0\.00500 USD\/GiB-h, gpu unpriced \(cost\.prices\)/);
    assert.match(text.stdout, new RegExp(`^${DEP} `, 'm'));
  });

  test('/metrics: aloft_cost_hourly and aloft_resources_reserved of the running replicas', { timeout: 30_000 }, async () => {
    const r = await api(p, 'GET', '/metrics');
    assert.equal(r.status, 200);
    closeAbs(metricValue(r.text, 'aloft_cost_hourly', { deployment: DEP })!, 2 * REPLICA_HOURLY, 1e-12, 'aloft_cost_hourly');
    assert.equal(metricValue(r.text, 'aloft_resources_reserved', { deployment: DEP, resource: 'cpu' }), 2);
    assert.equal(metricValue(r.text, 'aloft_resources_reserved', { deployment: DEP, resource: 'memory_gib' }), 2);
  });

  test('bad input: a negative price and a misspelt instance are refused by plan and apply; by=team is a 400; it keeps serving', { timeout: 120_000 }, async () => {
    const before = await inferOnce(p.url);
    const text = await readFile(p.specPath, 'utf8');
    const variant = (cost: Record<string, unknown>) => {
      const s = parse(text) as Record<string, Record<string, unknown>>;
      s.cost = { ...s.cost, ...cost };
      return stringify(s);
    };
    const revision = async () => ((await api(p, 'GET', '/api/v1/status')).json as ControlStatus).current?.number;
    const base = await revision();
    assert.equal(base, 1);
    const cases: [string, string, RegExp][] = [
      ['negative', variant({ prices: { cpu: -1, memory: MEMORY_PRICE } }), /cost\.prices\.cpu: prices\.cpu cannot be negative/],
      ['misspelt', variant({ instance: 'aws:m6i.larg' }), /cost\.instance: unknown instance type 'aws:m6i\.larg'; did you mean 'aws:m6i\.large'\?/],
    ];
    for (const [name, spec, message] of cases) {
      for (const path of ['/api/v1/plan', '/api/v1/apply']) {
        const r = await api(p, 'POST', path, { spec, file: `${name}.yaml`, base });
        assert.equal(r.status, 400, `${name} ${path}: ${r.text}`);
        const body = r.json as { code: string; error: string; issues: { path: string; message: string }[] };
        assert.equal(body.code, 'ALOFT_SPEC_INVALID', r.text);
        assert.match(body.error, message, r.text);
        assert.equal(body.issues.length, 1, r.text);
      }
    }
    // The CLI refuses both at once, before sending anything.
    const file = join(p.dir, 'bad-cost.yaml');
    await writeFile(file, variant({ prices: { cpu: -1 }, instance: 'aws:m6i.larg' }));
    const plan = await cli(p, ['plan', '-f', file]);
    assert.equal(plan.code, 1, shown(plan));
    assert.match(plan.stderr, /cost\.prices\.cpu: prices\.cpu cannot be negative/, shown(plan));
    assert.match(plan.stderr, /did you mean 'aws:m6i\.large'/, shown(plan));
    assert.match(plan.stderr, /nothing was sent/, shown(plan));
    assert.equal(await revision(), base, 'nothing applied');

    // The report's own bad input.
    for (const [q, words] of [['?by=team', /by must be deployment, version or label, got 'team'/], ['?since=yesterday', /since must be a duration/], ['?since=0s', /since must be a duration/]] as const) {
      const r = await api(p, 'GET', `/api/v1/cost${q}`);
      assert.equal(r.status, 400, `${q}: ${r.text}`);
      assert.match((r.json as { error: string }).error, words);
    }
    const cliBad = await cli(p, ['cost', '--by', 'team', '--json']);
    // The CLI checks its flag before sending: a usage error (exit 2), named as the flag, as JSON under --json.
    assert.equal(cliBad.code, 2, shown(cliBad));
    assert.deepEqual(JSON.parse(cliBad.stderr), { error: "--by is deployment, version or label; got 'team'", code: 'ALOFT_USAGE' }, shown(cliBad));

    // Still serving, still metering, with the prices it had.
    assert.equal(await inferOnce(p.url), before);
    const r = await costReport(p);
    assert.deepEqual(r.rates, { cpu: CPU_PRICE, memory: MEMORY_PRICE, currency: 'USD', source: 'cost.prices' });
    assert.ok(groupOf(r, DEP).predictions >= tally.okRows + 1);
  });
});

// ── 2: idle detection ─────────────────────────────────────────────────────────────────────

interface Post { at: number; body: WebhookPayload }

async function receiver(): Promise<{ url: string; posts: Post[]; close(): Promise<void> }> {
  const posts: Post[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try { posts.push({ at: Date.now(), body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookPayload }); } catch { /* counted as nothing */ }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`, posts,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const IDLE_FOR_MS = 20_000;
/** How often the cost reconciler looks for idle deployments: a quarter of idle.for, at most once a minute (src/aloft.ts). */
const FINDINGS_EVERY_MS = Math.min(60_000, IDLE_FOR_MS / 4);
const ALERTS_EVERY_MS = 1000;

describe('idle detection', () => {
  let p: Project;
  let hook: Awaited<ReturnType<typeof receiver>>;
  let busy: ReturnType<typeof load>;
  const BUSY = DEP;
  const IDLE = 'idle';
  /** What the test saw: the first report with a finding, the first webhook post, the alert. */
  const seen: { startedAt?: number; readyAt?: number; firstFinding?: { at: number; report: CostReport }; firstPostAt?: number; busyEligibleAt?: number; busyFound: string[] } = { busyFound: [] };

  before(async () => {
    hook = await receiver();
    seen.startedAt = Date.now();
    p = await startProject({
      replicas: 1,
      yaml: [
        'deployments:',
        `  ${BUSY}:`,
        '    resources: { cpu: 1, memory: 1Gi }',
        '    runtime: { isolation: process }',
        `  ${IDLE}:`,
        `    model: ${DEP}`,
        '    replicas: 2',
        '    resources: { cpu: 1, memory: 1Gi }',
        '    runtime: { isolation: process }',
        'cost:',
        `  prices: { cpu: ${CPU_PRICE}, memory: ${MEMORY_PRICE} }`,
        '  every: 1s',
        `  idle: { below: 0.05, for: ${IDLE_FOR_MS / 1000}s }`,
        'alerts:',
        `  every: ${ALERTS_EVERY_MS / 1000}s`,
        `  webhooks: [{ url: "${hook.url}", timeout: 2s }]`,
      ].join('\n'),
    });
    busy = load(p, BUSY, 2);
    seen.readyAt = Math.max(...p.aloft.orchestrator.status().filter((r) => r.deployment === IDLE).map((r) => r.since));
  });

  after(async () => {
    await busy?.stop();
    await p?.close();
    await hook?.close();
  });

  test('the idle deployment is found once allocated for 90% of idle.for, and IdleDeployment reaches the webhook; the busy one is not found', { timeout: 120_000 }, async () => {
    // Watch the report (its findings are computed when asked) and the receiver.
    const post = await until('IdleDeployment for idle at the webhook receiver', IDLE_FOR_MS + FINDINGS_EVERY_MS + 30_000, async () => {
      const r = await costReport(p);
      const found = r.findings.map((f) => f.deployment);
      if (found.includes(BUSY)) seen.busyFound.push(JSON.stringify(r.findings.find((f) => f.deployment === BUSY)));
      if (found.includes(IDLE) && !seen.firstFinding) seen.firstFinding = { at: Date.now(), report: r };
      const b = r.groups.find((g) => g.key === BUSY);
      if (b && b.replicaHours * 3600 >= 0.9 * (IDLE_FOR_MS / 1000) && seen.busyEligibleAt === undefined) seen.busyEligibleAt = Date.now();
      return hook.posts.find((x) => x.body.status === 'firing' && x.body.alerts.some((al) => al.labels.alertname === 'IdleDeployment' && al.labels.deployment === IDLE));
    }, 200);
    seen.firstPostAt = post.at;
    figures.idle = {
      idleFor: `${IDLE_FOR_MS / 1000}s`, findingsEvery: FINDINGS_EVERY_MS,
      readyToFindingMs: seen.firstFinding ? seen.firstFinding.at - seen.readyAt! : undefined,
      readyToWebhookMs: post.at - seen.readyAt!,
    };
    // Within the stated time: the window, then at most one findings period, one alerts period and the delivery.
    assert.ok(post.at - seen.readyAt! <= IDLE_FOR_MS + FINDINGS_EVERY_MS + ALERTS_EVERY_MS + 5_000, `the alert arrived ${post.at - seen.readyAt!} ms after the idle replicas were ready`);

    const alert = post.body.alerts.find((al) => al.labels.alertname === 'IdleDeployment' && al.labels.deployment === IDLE)!;
    assert.deepEqual(alert.labels, { alertname: 'IdleDeployment', deployment: IDLE, severity: 'ticket' });
    assert.equal(alert.status, 'firing');
    const monthly = 2 * (1 * CPU_PRICE + 1 * MEMORY_PRICE) * 730;
    assert.match(alert.annotations.summary ?? '', new RegExp(`^${IDLE}: its 2 replicas used \\d+\\.\\d% of the CPU they reserve over .* \\(${monthly.toFixed(2).replace('.', '\\.')} USD a month\\): no request in the window: let it scale to zero`));
    assert.match(post.body.text, /IdleDeployment/);
    assert.equal(post.body.groupLabels.deployment, IDLE);

    // GET /api/v1/alerts: firing, a ticket, for idle only.
    const alerts = (await api(p, 'GET', '/api/v1/alerts')).json as AlertsReport;
    const idleAlerts = alerts.active.filter((x) => x.name === 'IdleDeployment');
    assert.deepEqual(idleAlerts.map((x) => [x.labels.deployment, x.state, x.labels.severity]), [[IDLE, 'firing', 'ticket']]);

    // The finding itself.
    const r = await costReport(p);
    const f = r.findings.find((x) => x.deployment === IDLE);
    assert.ok(f, JSON.stringify(r.findings));
    assert.equal(f.replicas, 2);
    assert.equal(f.requests, 0);
    assert.ok(f.utilisation < 0.05, `utilisation ${f.utilisation}`);
    closeAbs(f.monthlyCost!, monthly, 1e-9, 'monthly cost = replicas × (cpu × 0.04 + GiB × 0.005) × 730');
    assert.deepEqual(f.unpriced, []);
    assert.match(f.recommendation, /scale to zero/);
    assert.match(f.recommendation, /replicas: \{ min: 0, max: 2 \}/);

    // The busy one: its report shows real work, it is never found, no alert. Wait until it has been
    // eligible (90% of the window allocated) for a findings period and an alerts period.
    await until('the busy deployment eligible for a findings period', 60_000, async () => {
      const rr = await costReport(p);
      if (rr.findings.some((x) => x.deployment === BUSY)) seen.busyFound.push(JSON.stringify(rr.findings));
      const b = rr.groups.find((g) => g.key === BUSY);
      if (b && b.replicaHours * 3600 >= 0.9 * (IDLE_FOR_MS / 1000) && seen.busyEligibleAt === undefined) seen.busyEligibleAt = Date.now();
      return seen.busyEligibleAt !== undefined && Date.now() - seen.busyEligibleAt >= FINDINGS_EVERY_MS + 2 * ALERTS_EVERY_MS ? true : undefined;
    }, 250);
    assert.deepEqual(seen.busyFound, [], 'the busy deployment is never found idle');
    const br = await costReport(p);
    const bg = groupOf(br, BUSY);
    figures.busy = { requests: bg.requests, cpuEfficiency: bg.efficiency.cpu };
    assert.ok(bg.requests > 0 && (bg.efficiency.cpu ?? 0) >= 0.05, `busy used ${bg.efficiency.cpu} of its CPU over ${bg.requests} requests`);
    const after = (await api(p, 'GET', '/api/v1/alerts')).json as AlertsReport;
    assert.deepEqual(after.active.filter((x) => x.name === 'IdleDeployment').map((x) => x.labels.deployment), [IDLE]);
    assert.ok(!hook.posts.some((x) => x.body.alerts.some((al) => al.labels.alertname === 'IdleDeployment' && al.labels.deployment === BUSY)), 'nothing about the busy one at the receiver');
    const idleGroup = groupOf(br, IDLE);
    assert.equal(idleGroup.requests, 0);
    assert.equal(idleGroup.predictions, 0);
    assert.equal(idleGroup.costPer1kPredictions, undefined, 'no predictions: no cost per 1,000');
    assert.deepEqual({ cores: br.machine?.cores, reservedCpu: br.machine?.reservedCpu, oversubscribed: br.machine?.oversubscribed }, { cores: availableParallelism(), reservedCpu: 3, oversubscribed: 3 > availableParallelism() });
    if (3 > availableParallelism()) assert.match(br.machine?.message ?? '', /reserve 3 vCPU on \d+ cores/);
  });

  test('the idle finding needs its replicas allocated for 90% of idle.for, each (not summed over replicas)', () => {
    assert.ok(seen.firstFinding, 'the idle deployment was found');
    const g = groupOf(seen.firstFinding.report, IDLE);
    const perReplica = (g.replicaHours * 3600) / 2;
    figures.firstFinding = { replicaSeconds: g.replicaHours * 3600, perReplica, needed: 0.9 * IDLE_FOR_MS / 1000 };
    assert.ok(perReplica >= 0.9 * (IDLE_FOR_MS / 1000) - 1e-6, `found when each of its 2 replicas had been allocated ${perReplica.toFixed(2)} s, under 90% of ${IDLE_FOR_MS / 1000} s`);
    // No replica was allocated before the project started, so nothing can be found (or notified) sooner than 90% of the window after.
    assert.ok(seen.firstPostAt! - seen.startedAt! >= 0.9 * IDLE_FOR_MS, `IdleDeployment reached the receiver ${seen.firstPostAt! - seen.startedAt!} ms after the project started, under 90% of idle.for`);
  });

  test('the finding names its window as idle.for says', () => {
    assert.ok(seen.firstFinding, 'the idle deployment was found');
    const f = seen.firstFinding.report.findings.find((x) => x.deployment === IDLE)!;
    assert.equal(parseDuration(f.window), IDLE_FOR_MS, `window '${f.window}' for idle.for ${IDLE_FOR_MS / 1000}s`);
  });
});
