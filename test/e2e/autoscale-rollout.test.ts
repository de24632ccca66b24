/**
 * The autoscaler during a canary rollout, with real replica processes: "a rollout in
 * progress scales each of its versions by its share of traffic" (control/autoscaler.ts;
 * the baseline's count reaches the orchestrator through `holdOld` in
 * control/reconcilers/deployments.ts).
 *
 * credit-risk has replicas { min: 1, max: 3 }, the short windows of autoscale.test.ts
 * (at target 3, see TARGET) and rollout { strategy: canary, steps: [20, 100], interval: 1h },
 * so a new version holds at 20% for the whole test. Version 1 is the example model; version 2 is a seeded MLP of
 * the same signature (test/helpers/models.ts). Once the canary is at weight 20, a bounded
 * closed-loop load (CONNECTIONS clients on 127.0.0.1 for LOAD_MS) runs, and:
 *
 *   - about 20% of the answers come from version 2 (the split the test relies on);
 *   - the baseline (version 1) is scaled up: the autoscaler decides ≥ 2 for it, its
 *     replicas follow, and GET /api/v1/deployments (what `aloft status --json` prints)
 *     reports it wanting them;
 *   - the candidate (version 2) is scaled by its own share: its desired count stays below
 *     the baseline's, and equals what its own concurrency asks for at the target — the
 *     concurrency it saw is about a fifth of the demand (by Little's law from each
 *     version's statistics, and in the autoscaler's own means);
 *   - no request fails;
 *   - /metrics agrees: aloft_replicas_desired per version is the count each runs, and
 *     aloft_autoscaler_decisions_total counts each change of the count once.
 *
 * One Aloft, one load; the checks are subtests so that each is reported on its own.
 * What is read: GET /api/v1/status (autoscaling: the last evaluation of the deployment's
 * newest group, i.e. the candidate, and the last change with its version), polled every
 * 100 ms; GET /api/v1/deployments (per version: desiredReplicas and replicas); /metrics;
 * and `aloft status --json` once under load.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { AdminClient } from '../../src/api/client.js';
import type { DeploymentList } from '../../src/api/types.js';
import type { Decision, Evaluation } from '../../src/control/autoscaler.js';
import type { ControlStatus } from '../../src/control/control-plane.js';
import type { RolloutStatus } from '../../src/control/rollouts.js';
import { call } from '../helpers/http.js';
import { creditModel } from '../helpers/models.js';
import { until } from '../helpers/poll.js';
import { closedLoop } from '../helpers/load.js';
import { projectSpec, startProject, type Project } from '../helpers/project.js';
import { metricValue } from '../helpers/prometheus.js';

const DEP = 'credit-risk';
/**
 * The windows of autoscale.test.ts (a phase takes seconds), at target 3 rather than 2: under
 * this load the candidate's own share is 2.5–4 requests in flight (panic-window means up to
 * 4.3 seen), right at the 2 → 3 boundary of target 2, where a noisy second could give it the
 * baseline's count by its own share alone; at target 3 that boundary is 6 and the baseline
 * (8–9 in flight) still needs 3.
 */
const TARGET = 3;
const AUTOSCALING = `{ target: ${TARGET}, stableWindow: 10s, panicWindow: 2s, scaleDownDelay: 3s }`;
/** Held at 20% for the whole test: the interval is far longer than the test. */
const ROLLOUT = '{ strategy: canary, steps: [20, 100], interval: 1h }';
const REPLICAS = { min: 1, max: 3 };
const CONNECTIONS = 32;
const LOAD_MS = 15_000;

const yaml = `deployments: { ${DEP}: { runtime: { isolation: process }, autoscaling: ${AUTOSCALING}, rollout: ${ROLLOUT} } }`;

/** The project's spec with the model file `file` (version 1 is ./model.onnx, the example). */
function specWith(file: string): string {
  const s = projectSpec({ replicas: REPLICAS, yaml }) as { models: Record<string, { path: string }> };
  s.models[DEP]!.path = `./${file}`;
  return stringify(s);
}

// ------------------------------------------------------------------ reading the system

async function controlStatus(p: Project): Promise<ControlStatus> {
  const r = await call(`${p.url}/api/v1/status`);
  assert.equal(r.status, 200, r.text);
  return r.json as ControlStatus;
}

async function deployments(p: Project): Promise<DeploymentList> {
  const r = await call(`${p.url}/api/v1/deployments`);
  assert.equal(r.status, 200, r.text);
  return r.json as DeploymentList;
}

/** Per version of the deployment: desiredReplicas as listed, and its replicas not stopped (and of those, ready). */
async function perVersion(p: Project): Promise<Map<number, { desired: number; replicas: number; ready: number }>> {
  const d = (await deployments(p)).deployments.find((x) => x.name === DEP);
  assert.ok(d, `GET /api/v1/deployments lists no '${DEP}'`);
  return new Map(d.versions.map((v) => [v.version, {
    desired: v.desiredReplicas,
    replicas: v.replicas.filter((r) => r.state !== 'stopped' && r.state !== 'failed').length,
    ready: v.replicas.filter((r) => r.state === 'ready').length,
  }]));
}

/** Time spent queued or running (ns) per version so far, from GET /v2/models/{name}/stats. */
async function inBatcher(p: Project): Promise<{ at: number; ns: Map<string, number> }> {
  const r = await call(`${p.url}/v2/models/${DEP}/stats`);
  const at = Date.now();
  assert.equal(r.status, 200, r.text);
  const stats = (r.json as { model_stats: { version: string; inference_stats: { queue: { ns: number }; compute_infer: { ns: number } } }[] }).model_stats;
  return { at, ns: new Map(stats.map((s) => [s.version, s.inference_stats.queue.ns + s.inference_stats.compute_infer.ns])) };
}

const decisionKey = (d: Decision) => `${d.at}|${d.version}|${d.from}|${d.to}`;

/**
 * Poll GET /api/v1/status and GET /api/v1/deployments every 100 ms: the distinct
 * candidate evaluations (`last`), every change seen (`lastDecision`, with its version),
 * and the per-version counts whenever they change.
 */
function watch(p: Project) {
  const t0 = Date.now();
  const evaluations: Evaluation[] = [];
  const decisions: Decision[] = [];
  const seen = new Set<string>();
  const counts: { ms: number; v: string }[] = [];
  let stopped = false;
  const read = async () => {
    const a = (await controlStatus(p)).autoscaling.find((x) => x.deployment === DEP);
    if (a?.last && evaluations.at(-1)?.at !== a.last.at) evaluations.push(a.last);
    if (a?.lastDecision && !seen.has(decisionKey(a.lastDecision))) {
      seen.add(decisionKey(a.lastDecision));
      decisions.push(a.lastDecision);
    }
    const v = [...(await perVersion(p))].map(([n, c]) => `v${n} ${c.ready}/${c.replicas}/${c.desired}`).join(', ');
    if (counts.at(-1)?.v !== v) counts.push({ ms: Date.now() - t0, v });
  };
  const loop = (async () => {
    while (!stopped) {
      try { await read(); } catch { /* closing */ }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return { t0, evaluations, decisions, counts, read, stop: async () => { stopped = true; await loop; } };
}

// ------------------------------------------------------------------ load

/** Closed-loop load: CONNECTIONS loops, one request at a time each, until stopped (at most 500,000 requests). */
const load = (p: Project) => closedLoop(p, DEP, CONNECTIONS);

/** `aloft status --json` as a child process (asynchronously: Aloft runs in this process and must keep answering). */
function aloftStatusJson(p: Project): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const bin = fileURLToPath(new URL('../../src/cli/bin.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', bin, 'status', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ALOFT_URL: p.url, ALOFT_KEY: p.adminKey, ALOFT_ADMIN_KEY: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`aloft status --json did not finish within 60 s: ${stdout} ${stderr}`)); }, 60_000);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

function printDecisions(t: TestContext, decisions: readonly Decision[], t0: number): void {
  for (const d of decisions) {
    t.diagnostic(`  +${((Date.parse(d.at) - t0) / 1000).toFixed(1)}s  v${d.version} ${d.from}→${d.to}  ready ${d.ready}  stable ${d.stable.toFixed(2)}  panic ${d.panic.toFixed(2)}${d.panicking ? ' (panicking)' : ''}  — ${d.reason}`);
  }
}

// ------------------------------------------------------------------ the test

type Counts = Map<number, { desired: number; replicas: number; ready: number }>;

test('a canary at 20% under load: the baseline is scaled up by its 80% share, the candidate by its 20%, with no failed request', { timeout: 180_000 }, async (t) => {
  const p = await startProject({ replicas: REPLICAS, yaml, files: { 'b.onnx': creditModel(2) } });
  const admin = new AdminClient({ url: p.url, key: p.adminKey });
  let traffic: ReturnType<typeof load> | undefined;
  let w: ReturnType<typeof watch> | undefined;
  try {
    const before = await perVersion(p);
    assert.deepEqual([...before.keys()], [1]);
    assert.equal(before.get(1)!.ready, 1, 'version 1 idles at min (1)');

    // Version 2, same signature, other bytes: a canary that holds at 20%.
    const applied = await admin.apply({ spec: specWith('b.onnx'), file: 'aloft.yaml', base: 1 });
    assert.equal(applied.revision, 2);
    const at20 = await until('the canary at its first step (20%)', 60_000, async () => {
      const r = (await admin.rollouts()).rollouts.find((x: RolloutStatus) => x.deployment === DEP);
      assert.notEqual(r?.state, 'rolled_back', `the canary was rolled back: ${r?.reason}`);
      return r?.state === 'progressing' && r.weight === 20 ? r : undefined;
    }, 50);
    assert.equal(at20.baseline.version, 1);
    assert.equal(at20.candidate.version, 2);
    const metricsAt20 = (await call(`${p.url}/metrics`)).text;
    assert.equal(metricValue(metricsAt20, 'aloft_traffic_weight_percent', { deployment: DEP, version: '1' }), 80);
    assert.equal(metricValue(metricsAt20, 'aloft_traffic_weight_percent', { deployment: DEP, version: '2' }), 20);
    const idle = await perVersion(p);
    assert.equal(idle.get(1)?.ready, 1, 'the baseline at 1 before the load');
    assert.equal(idle.get(2)?.ready, 1, 'the candidate at 1 before the load');

    // The load, bounded in time; the watch records what the autoscaler decides meanwhile.
    w = watch(p);
    const loadAt = Date.now();
    traffic = load(p);
    const loadEnd = loadAt + LOAD_MS;
    // The baseline's count goes up: its replicas follow the autoscaler's count for it (holdOld).
    const baselineUp = await until('the baseline (v1) to run 2 replicas or more', LOAD_MS, async () => {
      const v = (await perVersion(p)).get(1);
      return v && v.replicas >= 2 ? v : undefined;
    }, 100).catch(() => undefined);
    const baselineUpMs = Date.now() - loadAt;
    // Then the steady part (from 5 s into the load, once the new replicas are up): each version's concurrency by Little's law, and the counts every 250 ms.
    await until('5 s into the load', LOAD_MS, () => (Date.now() >= loadAt + 5000 ? true : undefined), 50);
    const from = await inBatcher(p);
    const samples: Counts[] = [];
    while (Date.now() < loadEnd) {
      samples.push(await perVersion(p));
      await new Promise((r) => setTimeout(r, 250));
    }
    const to = await inBatcher(p);
    const cli = await aloftStatusJson(p);
    await w.read();
    const underLoad = await controlStatus(p);
    const metricsUnderLoad = (await call(`${p.url}/metrics`)).text;
    const last = await perVersion(p);
    await traffic.stop();
    const tally = traffic.tally;
    traffic = undefined;
    await w.stop();

    // ---- what was seen
    const elapsedNs = (to.at - from.at) * 1e6;
    const conc = (v: string) => ((to.ns.get(v) ?? 0) - (from.ns.get(v) ?? 0)) / elapsedNs;
    const c1 = conc('1');
    const c2 = conc('2');
    const v1 = tally.byVersion.get('1') ?? 0;
    const v2 = tally.byVersion.get('2') ?? 0;
    const cand = w.evaluations.filter((e) => e.version === 2 && Date.parse(e.at) >= loadAt);
    const candSteady = cand.filter((e) => Date.parse(e.at) >= from.at);
    // Every change: the baseline's from lastDecision (in a tick where both groups change, the baseline's is recorded last, so it is the one shown), the candidate's also from its evaluations.
    const changes = new Map<string, Decision>();
    for (const d of w.decisions) changes.set(decisionKey(d), d);
    for (const e of w.evaluations) if (e.to !== e.from) { const { wantStable: _s, wantPanic: _p, ...d } = e; changes.set(decisionKey(d), d); }
    const ordered = [...changes.values()].sort((a, b) => a.at.localeCompare(b.at));
    const base = ordered.filter((d) => d.version === 1);
    const candChanges = ordered.filter((d) => d.version === 2);
    const asA = underLoad.autoscaling.find((a) => a.deployment === DEP);
    t.diagnostic(`target ${TARGET}; load: ${CONNECTIONS} connections for ${LOAD_MS / 1000}s: ${tally.sent} sent, ${tally.ok} answered (v1 ${v1}, v2 ${v2}: ${(100 * v2 / Math.max(1, v1 + v2)).toFixed(1)}% by v2), ${tally.failed} failed${tally.failures.length ? ` (${tally.failures.join('; ')})` : ''}`);
    t.diagnostic(`baseline at ≥2 replicas: ${baselineUp ? `after ${baselineUpMs} ms` : 'never'}`);
    t.diagnostic(`steady load, requests queued or running (Little's law over ${((to.at - from.at) / 1000).toFixed(1)}s): v1 ${c1.toFixed(2)}, v2 ${c2.toFixed(2)} (v2 ${(100 * c2 / Math.max(1e-9, c1 + c2)).toFixed(1)}% of ${(c1 + c2).toFixed(2)})`);
    t.diagnostic(`candidate (v2) evaluations under load (t, ready, stable, panic → desired): ${cand.map((e) => `+${((Date.parse(e.at) - loadAt) / 1000).toFixed(1)}s ${e.ready} ${e.stable.toFixed(2)} ${e.panic.toFixed(2)}→${e.to}${e.panicking ? 'p' : ''}`).join(', ')}`);
    t.diagnostic(`changes of the count (${ordered.length}), times from the start of the load:`);
    printDecisions(t, ordered, loadAt);
    t.diagnostic(`per version over time (ready/replicas/desiredReplicas as GET /api/v1/deployments lists them): ${w.counts.map((c) => `+${((c.ms - (loadAt - w!.t0)) / 1000).toFixed(1)}s [${c.v}]`).join(' ')}`);
    const m = (name: string, labels: Record<string, string>) => metricValue(metricsUnderLoad, name, { deployment: DEP, ...labels });
    t.diagnostic(`/metrics under load: aloft_autoscaler_desired_replicas{deployment} ${m('aloft_autoscaler_desired_replicas', {})}; aloft_replicas_desired v1 ${m('aloft_replicas_desired', { version: '1' })}, v2 ${m('aloft_replicas_desired', { version: '2' })}; aloft_replicas_ready v1 ${m('aloft_replicas_ready', { version: '1' })}, v2 ${m('aloft_replicas_ready', { version: '2' })}; aloft_autoscaler_decisions_total up ${m('aloft_autoscaler_decisions_total', { direction: 'up' })}, down ${m('aloft_autoscaler_decisions_total', { direction: 'down' })}`);
    t.diagnostic(`GET /api/v1/status under load: autoscaling.last is v${asA?.last?.version} at ${asA?.last?.to}; lastDecision v${asA?.lastDecision?.version} ${asA?.lastDecision?.from}→${asA?.lastDecision?.to}`);

    await t.test('no request fails, and about 20% of the answers come from the candidate', () => {
      assert.equal(tally.failed, 0, `no request fails while the versions scale: ${tally.failures.join('; ')}`);
      assert.ok(tally.ok > 500, `the load ran (${tally.ok} answers)`);
      const share = v2 / (v1 + v2);
      assert.ok(share > 0.15 && share < 0.25, `about 20% of the answers come from the candidate: ${(100 * share).toFixed(1)}%`);
    });

    const baselineMax = Math.max(1, ...base.map((d) => d.to));
    const baselineSteady = Math.min(...samples.map((s) => s.get(1)?.replicas ?? 0));
    await t.test('the baseline (v1) is scaled up by its 80% share: desired 2 or more, and its replicas follow', () => {
      assert.ok(base.some((d) => d.to >= 2), `the autoscaler scales the baseline to 2 or more; changes seen: ${ordered.map((d) => `v${d.version} ${d.from}→${d.to}`).join(', ') || 'none'}`);
      for (const [i, d] of base.entries()) assert.equal(d.from, i === 0 ? 1 : base[i - 1]!.to, `baseline change ${i} starts where the last ended (none was missed)`);
      assert.ok(baselineUp, 'the baseline runs 2 replicas or more under load');
      assert.ok(baselineSteady >= 2, `the baseline keeps 2 or more replicas through the steady part: ${samples.map((s) => s.get(1)?.replicas).join(' ')}`);
      assert.equal(last.get(1)?.replicas, base.at(-1)!.to, "the baseline runs the autoscaler's count for it");
    });

    await t.test("the candidate (v2) is scaled by its own 20% share: below the baseline, sized on a fifth of the demand", () => {
      assert.ok(candSteady.length >= 3, `candidate evaluations in the steady part: ${candSteady.length}`);
      const candMax = Math.max(...cand.map((e) => e.to));
      assert.ok(candMax < baselineMax, `the candidate's desired count (at most ${candMax}) stays below the baseline's (${baselineMax})`);
      for (const e of candSteady) assert.ok(e.to < baselineSteady, `candidate desired ${e.to} < baseline replicas ${baselineSteady} at ${e.at}`);
      assert.equal(last.get(2)?.replicas, cand.at(-1)!.to, "the candidate runs the autoscaler's count for it");
      // Its requests in flight are its share: about a fifth of the demand (Little's law from each version's statistics).
      const concShare = c2 / (c1 + c2);
      assert.ok(concShare > 0.1 && concShare < 0.35, `the candidate holds about 20% of the requests in flight: ${(100 * concShare).toFixed(1)}% (v1 ${c1.toFixed(2)}, v2 ${c2.toFixed(2)})`);
      // What the autoscaler measured for it is of that size, not the deployment's demand, and its desired is what that asks for at the target.
      const meanStable = candSteady.reduce((n, e) => n + e.stable, 0) / candSteady.length;
      assert.ok(meanStable < 0.4 * (c1 + c2), `the candidate's stable-window concurrency (${meanStable.toFixed(2)} on average) is its share, not the demand (${(c1 + c2).toFixed(2)})`);
      const wholeDemand = Math.min(REPLICAS.max, Math.ceil((c1 + c2) / TARGET));
      for (const e of candSteady) {
        const r = Math.max(1, e.ready);
        assert.equal(e.wantStable, Math.min(Math.ceil(1000 * r), Math.max(Math.floor(r / 2), Math.ceil(e.stable / TARGET))), `candidate at ${e.at}: wantStable from its own stable mean (${e.stable.toFixed(2)} at target ${TARGET})`);
        assert.ok(e.to <= Math.max(REPLICAS.min, e.wantStable, e.wantPanic, ...candChanges.filter((d) => Date.parse(d.at) <= Date.parse(e.at)).map((d) => d.to)), `candidate at ${e.at}: desired ${e.to} is what its own concurrency asked for`);
      }
      t.diagnostic(`sized on the whole demand (${(c1 + c2).toFixed(2)} at target ${TARGET}) the candidate would want ${wholeDemand}; on its share (${c2.toFixed(2)}) ${Math.max(1, Math.ceil(c2 / TARGET))}; it had ${candSteady.map((e) => e.to).join(' ')}`);
      for (const [i, d] of candChanges.entries()) assert.equal(d.from, i === 0 ? 1 : candChanges[i - 1]!.to, `candidate change ${i} starts where the last ended`);
    });

    await t.test('GET /api/v1/deployments and `aloft status --json` list each version wanting the count the autoscaler gave it', () => {
      assert.equal(cli.code, 0, cli.stderr);
      const json = JSON.parse(cli.stdout) as Omit<ControlStatus, 'deployments'> & { deployments: DeploymentList['deployments'] };
      const listed = json.deployments.find((d) => d.name === DEP);
      assert.ok(listed, `aloft status --json lists '${DEP}'`);
      const auto = json.autoscaling.find((a) => a.deployment === DEP);
      t.diagnostic(`aloft status --json under load: ${listed.versions.map((v) => `v${v.version} desiredReplicas ${v.desiredReplicas}, ${v.replicas.filter((r) => r.state === 'ready').length} ready of ${v.replicas.length} replicas`).join('; ')}; autoscaling.last: v${auto?.last?.version} → ${auto?.last?.to}`);
      const cv1 = listed.versions.find((v) => v.version === 1)!;
      const cv2 = listed.versions.find((v) => v.version === 2)!;
      assert.equal(auto?.last?.version, 2, "the status's autoscaling entry is the newest group's (the candidate)");
      assert.equal(cv2.desiredReplicas, auto?.last?.to, "the candidate is listed at the autoscaler's count for it");
      assert.equal(last.get(2)?.desired, last.get(2)?.replicas, 'GET /api/v1/deployments: the candidate wants the replicas it runs');
      assert.equal(last.get(1)?.desired, last.get(1)?.replicas, `GET /api/v1/deployments: the baseline wants the replicas the autoscaler gave it (${last.get(1)?.replicas} running), not its count before the load (desiredReplicas ${last.get(1)?.desired})`);
      assert.ok(cv1.desiredReplicas >= 2, `aloft status --json: the baseline is listed wanting 2 or more (${cv1.replicas.length} running): desiredReplicas ${cv1.desiredReplicas}`);
      assert.ok(cv2.desiredReplicas < cv1.desiredReplicas, `aloft status --json: the candidate is listed wanting fewer than the baseline: v2 ${cv2.desiredReplicas}, v1 ${cv1.desiredReplicas}`);
    });

    await t.test("/metrics: aloft_replicas_desired is each version's count", () => {
      assert.equal(m('aloft_replicas_desired', { version: '2' }), last.get(2)?.replicas, `aloft_replicas_desired{version="2"} is the candidate's count (${last.get(2)?.replicas} running)`);
      assert.equal(m('aloft_replicas_desired', { version: '1' }), last.get(1)?.replicas, `aloft_replicas_desired{version="1"} is the baseline's count (${last.get(1)?.replicas} running)`);
    });

    await t.test('/metrics: aloft_autoscaler_decisions_total counts each change of the count once', () => {
      const ups = ordered.filter((d) => d.to > d.from).length;
      const downs = ordered.filter((d) => d.to < d.from).length;
      assert.equal(m('aloft_autoscaler_decisions_total', { direction: 'up' }), ups, `${ups} changes up were made (${ordered.map((d) => `v${d.version} ${d.from}→${d.to}`).join(', ')})`);
      assert.equal(m('aloft_autoscaler_decisions_total', { direction: 'down' }), downs, `${downs} changes down were made`);
    });
  } finally {
    await traffic?.stop();
    await w?.stop();
    await p.close();
  }
});
