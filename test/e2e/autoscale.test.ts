/**
 * The autoscaler end to end, with real replica processes (runtime.isolation: process) and
 * short windows so that each phase takes seconds:
 *
 *   1. a load step: replicas { min: 1, max: 3 }, idle at 1; a closed-loop load of 16
 *      connections (far above target 2 per replica) drives the desired count to max and
 *      the ready replicas follow, with no failed request; once the load stops the count
 *      returns to 1 after the panic and scale-down windows. Every change of the count is
 *      printed (time, from→to, the stable and panic means, the reason).
 *   2. scale to zero: replicas { min: 0, max: 2 }, scaleToZeroAfter 2s. Idle, the
 *      deployment has no replica yet stays listed and ready (it accepts requests); then 20
 *      times: once it is at zero, one request is sent and answered correctly by a replica
 *      started for it. The cold start (send → answer, median and worst of 20) and its parts
 *      (the replica's own account) are printed. A request whose deadline is shorter than a
 *      cold start gets a clear error at its deadline, and the next one succeeds.
 *   3. bad input: replicas { min: 3, max: 2 } and autoscaling.target 0 are refused by plan
 *      and apply with clear messages, and the running deployment keeps serving.
 *   4. maxScaleUpRate 1.5 from 2 ready replicas: every change up is rate-limited, and a
 *      burst whose demand is twice the ready replicas or more starts panic mode all the
 *      same (Knative compares the unclamped demand with panicThreshold).
 *
 * The concurrency the autoscaler sees is the batcher's busy count (queued + running) sampled
 * once a second. Under this closed loop the gateway, the load and the replicas run in lock
 * step, so a sample is often all or nothing (0 or 16 of 16 connections); the tests print the
 * samples beside the time-average of the same count (Little's law from the version's
 * statistics) and assert nothing that depends on one sample.
 *
 * The windows used (stable 10s, panic 2s, scale-down delay 3s) are far below the defaults
 * (60s, 6s, 30s) so the whole file runs in a few minutes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { AutoscalingStatus, ControlStatus } from '../../src/control/control-plane.js';
import type { Decision, Evaluation } from '../../src/control/autoscaler.js';
import type { ReplicaStartup, ReplicaStatus } from '../../src/control/orchestrators/types.js';
import type { DeploymentList } from '../../src/api/types.js';
import { SYSTEM_ACTOR } from '../../src/security/audit.js';
import { inferBody, inferOnce } from '../helpers/credit-risk.js';
import { call, postJson } from '../helpers/http.js';
import { until } from '../helpers/poll.js';
import { closedLoop } from '../helpers/load.js';
import { projectSpec, startProject, type Project } from '../helpers/project.js';

const DEP = 'credit-risk';
/** Short windows, so a phase takes seconds rather than minutes. */
const WINDOWS = 'target: 2, stableWindow: 10s, panicWindow: 2s, scaleDownDelay: 3s';
const CONNECTIONS = 16;
const COLD_STARTS = 20;

// ------------------------------------------------------------------ reading the system

async function controlStatus(p: Project): Promise<ControlStatus> {
  const r = await call(`${p.url}/api/v1/status`);
  assert.equal(r.status, 200, r.text);
  return r.json as ControlStatus;
}

/** The deployment's current group key (e.g. credit-risk@1.ab12…). */
function groupOf(p: Project, deployment = DEP): string {
  const routed = p.aloft.gateway.routing.status().find((v) => v.deployment === deployment && v.routed);
  assert.ok(routed, `'${deployment}' is not routed`);
  return routed.group;
}

function replicasOf(p: Project, deployment = DEP): ReplicaStatus[] {
  const group = groupOf(p, deployment);
  return p.aloft.orchestrator.status().filter((r) => r.group === group);
}

const readyOf = (p: Project, deployment = DEP) => replicasOf(p, deployment).filter((r) => r.state === 'ready');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const decisionKey = (d: Decision) => `${d.at}|${d.from}|${d.to}`;

/**
 * What the autoscaler does to one deployment, read from GET /api/v1/status: every read
 * (the background poll every 150 ms, and the test's own through `scaling()`) collects the
 * distinct lastDecision and last evaluation, so no change of the count is missed even
 * when two come close together. Also the desired/ready counts whenever they change.
 */
function watch(p: Project, deployment = DEP) {
  const t0 = Date.now();
  const decisions: Decision[] = [];
  const evaluations: Evaluation[] = [];
  const seen = new Set<string>();
  const timeline: { ms: number; desired: number; ready: number }[] = [];
  let stopped = false;
  const scaling = async (): Promise<AutoscalingStatus> => {
    const a = (await controlStatus(p)).autoscaling.find((x) => x.deployment === deployment);
    assert.ok(a, `GET /api/v1/status lists no autoscaling entry for '${deployment}'`);
    if (a.lastDecision && !seen.has(decisionKey(a.lastDecision))) {
      seen.add(decisionKey(a.lastDecision));
      decisions.push(a.lastDecision);
      decisions.sort((x, y) => x.at.localeCompare(y.at));
    }
    if (a.last && evaluations.at(-1)?.at !== a.last.at) evaluations.push(a.last);
    return a;
  };
  const loop = (async () => {
    while (!stopped) {
      try {
        const a = await scaling();
        const desired = a.last?.to ?? -1;
        const ready = p.aloft.orchestrator.status().filter((r) => r.deployment === deployment && r.state === 'ready').length;
        const prev = timeline.at(-1);
        if (!prev || prev.desired !== desired || prev.ready !== ready) timeline.push({ ms: Date.now() - t0, desired, ready });
      } catch {
        // The server is closing: the caller stops the watch first; nothing to record.
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  return {
    t0, decisions, evaluations, timeline, scaling,
    get maxPanic() { return Math.max(0, ...evaluations.map((e) => e.panic)); },
    get maxStable() { return Math.max(0, ...evaluations.map((e) => e.stable)); },
    stop: async () => { stopped = true; await loop; },
  };
}

function printDecisions(t: TestContext, decisions: readonly Decision[], t0: number): void {
  for (const d of decisions) {
    const ms = Date.parse(d.at) - t0;
    t.diagnostic(`  +${(ms / 1000).toFixed(1)}s  ${d.from}→${d.to}  ready ${d.ready}  stable ${d.stable.toFixed(2)}  panic ${d.panic.toFixed(2)}${d.panicking ? ' (panicking)' : ''}  — ${d.reason}`);
  }
}

// ------------------------------------------------------------------ load

/** Closed-loop load: CONNECTIONS loops, one request at a time each, until stopped. */
const load = (p: Project, connections = CONNECTIONS) => closedLoop(p, DEP, connections);

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

// ------------------------------------------------------------------ 1. the load step

/** Request-time spent queued or running in the deployment's batcher so far (ns), from GET /v2/models/{name}/stats. */
async function inBatcher(p: Project): Promise<{ at: number; ns: number }> {
  const r = await call(`${p.url}/v2/models/${DEP}/stats`);
  const at = Date.now();
  assert.equal(r.status, 200, r.text);
  const s = (r.json as { model_stats: { inference_stats: { queue: { ns: number }; compute_infer: { ns: number } } }[] }).model_stats[0]!.inference_stats;
  return { at, ns: s.queue.ns + s.compute_infer.ns };
}

/** A sample of /metrics: the value of one series, or undefined. */
async function metric(p: Project, series: string): Promise<number | undefined> {
  const text = (await call(`${p.url}/metrics`)).text;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('load step: 1 replica idle, up to max under load with no failed request, back to 1 when the load stops', { timeout: 180_000 }, async (t) => {
  const p = await startProject({
    replicas: { min: 1, max: 3 },
    yaml: `deployments: { ${DEP}: { runtime: { isolation: process }, autoscaling: { ${WINDOWS} } } }`,
  });
  const w = watch(p);
  let traffic: ReturnType<typeof load> | undefined;
  try {
    // Idle: the autoscaler evaluates every second and keeps min (1).
    const first = await until('the first autoscaler evaluation', 10_000, async () => (await w.scaling()).last);
    const idle = await until('idle evaluations for 2 s after the first', 10_000, async () => {
      const a = await w.scaling();
      return a.last && Date.parse(a.last.at) - Date.parse(first.at) >= 2000 ? a : undefined;
    }, 100);
    assert.equal(idle.min, 1);
    assert.equal(idle.max, 3);
    assert.equal(idle.metric, 'concurrency');
    assert.equal(idle.target, 2);
    assert.equal(idle.last!.to, 1, `idle: ${idle.last!.reason}`);
    assert.equal(idle.last!.stable, 0);
    assert.equal(idle.last!.panicking, false);
    assert.equal(readyOf(p).length, 1, 'idle: one ready replica');
    assert.equal(idle.lastDecision, undefined, 'no change of the count while idle');
    assert.equal(await metric(p, `aloft_autoscaler_desired_replicas{deployment="${DEP}",version="1"}`), 1);
    const expected = await inferOnce(p.url);

    // The load step: CONNECTIONS requests in flight, target 2 per replica.
    const loadAt = Date.now();
    traffic = load(p);
    const atMax = await until('the desired count to reach max (3)', 30_000, async () => {
      const a = await w.scaling();
      return a.last && a.last.to === 3 ? a.last : undefined;
    }, 100);
    const desiredMaxMs = Date.now() - loadAt;
    await until('3 ready replicas', 60_000, () => (readyOf(p).length === 3 ? true : undefined), 50);
    const readyMaxMs = Date.now() - loadAt;
    // Serve on 3 replicas for a while, then stop the load. Meanwhile, the concurrency the
    // load really puts on the deployment: by Little's law, the time-average of requests
    // queued or running is the time they spent queued or running (the version's statistics)
    // divided by the time elapsed.
    const steadyFrom = await inBatcher(p);
    await new Promise((r) => setTimeout(r, 4000));
    const steadyTo = await inBatcher(p);
    const underLoad = await w.scaling();
    const littles = (steadyTo.ns - steadyFrom.ns) / ((steadyTo.at - steadyFrom.at) * 1e6);
    const sampled = w.evaluations.filter((e) => Date.parse(e.at) > steadyFrom.at + 2000 && Date.parse(e.at) <= steadyTo.at);
    assert.equal(await metric(p, `aloft_autoscaler_desired_replicas{deployment="${DEP}",version="1"}`), 3);
    assert.equal(await metric(p, `aloft_autoscaler_panic{deployment="${DEP}",version="1"}`), 1, 'panic mode under the step');
    await traffic.stop();
    const stopAt = Date.now();
    const tally = traffic.tally;
    traffic = undefined;
    t.diagnostic(`load: ${CONNECTIONS} connections for ${((stopAt - loadAt) / 1000).toFixed(1)}s: ${tally.sent} requests, ${tally.ok} answered, ${tally.failed} failed${tally.failures.length ? ` (${tally.failures.join('; ')})` : ''}`);
    t.diagnostic(`load: concurrency the autoscaler saw: panic-window mean up to ${w.maxPanic.toFixed(2)}, stable-window mean up to ${w.maxStable.toFixed(2)}; when it chose 3: stable ${atMax.stable.toFixed(2)}, panic ${atMax.panic.toFixed(2)} (wantStable ${atMax.wantStable}, wantPanic ${atMax.wantPanic}); 3 s into steady load: stable ${underLoad.last?.stable.toFixed(2)}, panic ${underLoad.last?.panic.toFixed(2)}, desired ${underLoad.last?.to}`);
    t.diagnostic(`load: desired 3 after ${desiredMaxMs} ms, 3 replicas ready after ${readyMaxMs} ms`);
    t.diagnostic(`load: over 4 s of steady load at 3 replicas, requests queued or running averaged ${littles.toFixed(2)} (Little's law from the version's statistics); the autoscaler's panic-window means then: ${sampled.map((e) => e.panic.toFixed(2)).join(', ')}`);
    t.diagnostic(`load: evaluations from the step to max (t, ready, panic-window mean → desired): ${w.evaluations.filter((e) => Date.parse(e.at) >= loadAt && Date.parse(e.at) <= loadAt + readyMaxMs + 1000).map((e) => `+${((Date.parse(e.at) - loadAt) / 1000).toFixed(1)}s ${e.ready} ${e.panic.toFixed(1)}→${e.to}`).join(', ')}`);
    assert.equal(tally.failed, 0, `no request fails while replicas are added: ${tally.failures.join('; ')}`);
    assert.ok(tally.ok > 100, 'the load ran');
    assert.equal(underLoad.last?.to, 3, 'under steady load the count stays at max');
    assert.ok(w.maxPanic > 2 * 2, `the load must put more than 2 × target in flight (saw ${w.maxPanic})`);

    // Back to 1: panic mode holds the count for a stable window (10s) after the burst, then the lower count must hold for scaleDownDelay (3s).
    await until('the desired count back to 1', 60_000, async () => ((await w.scaling()).last?.to === 1 ? true : undefined), 100);
    const desiredOneMs = Date.now() - stopAt;
    await until('1 replica left (the others stopped)', 30_000, () => (readyOf(p).length === 1 && replicasOf(p).length === 1 ? true : undefined), 50);
    const readyOneMs = Date.now() - stopAt;
    await inferOnce(p.url, expected);
    await new Promise((r) => setTimeout(r, 1200));
    await w.scaling();
    await w.stop();
    t.diagnostic(`after the load: desired 1 after ${desiredOneMs} ms, 1 replica left after ${readyOneMs} ms`);

    t.diagnostic(`decisions (${w.decisions.length}), times from the start of the watch:`);
    printDecisions(t, w.decisions, w.t0);
    t.diagnostic(`desired/ready over time: ${w.timeline.map((x) => `+${(x.ms / 1000).toFixed(1)}s ${x.desired}/${x.ready}`).join(', ')}`);
    const after = w.evaluations.filter((e) => Date.parse(e.at) >= stopAt);
    t.diagnostic(`evaluations after the load stopped: ${after.map((e) => `+${((Date.parse(e.at) - stopAt) / 1000).toFixed(1)}s ${e.to}${e.panicking ? ' panic' : /held at/.test(e.reason) ? ' held' : ''}`).join(', ')}`);
    const status = (await p.aloft.control.status()).autoscaling.find((a) => a.deployment === DEP);
    assert.deepEqual(status?.lastDecision, w.decisions.at(-1), 'the status reports the last decision');

    // The decisions: up from 1 under load, never outside [min, max], a chain (each starts where the last ended), ending at 1.
    assert.ok(w.decisions.length >= 2, 'at least one change up and one down');
    assert.equal(w.decisions[0]!.from, 1);
    assert.ok(w.decisions[0]!.to > 1, 'the first change is up');
    for (const [i, d] of w.decisions.entries()) {
      assert.ok(d.to >= 1 && d.to <= 3, `decision ${i} stays within [1, 3]: ${d.from}→${d.to}`);
      if (i > 0) assert.equal(d.from, w.decisions[i - 1]!.to, `decision ${i} starts where decision ${i - 1} ended`);
      assert.equal(d.deployment, DEP);
      assert.ok(d.reason.length > 0);
    }
    assert.ok(w.decisions.some((d) => d.to === 3), 'a decision reached max');
    assert.equal(w.decisions.at(-1)!.to, 1, 'the last change is back to 1');
    const down = w.decisions.filter((d) => d.to < d.from);
    assert.ok(down.every((d) => !d.panicking), 'no change down in panic mode');
    // maxScaleDownRate 2: at most half of the ready replicas go in one decision.
    for (const d of down) assert.ok(d.to >= Math.floor(d.ready / 2), `scale down by at most half: ${d.from}→${d.to} with ${d.ready} ready`);
    // The windows: panic mode outlasts the load (it ends a stable window after the last
    // burst it saw), then the count it kept is held for scaleDownDelay once nothing wants it.
    assert.ok(after.some((e) => e.panicking), 'panic mode lasted past the end of the load');
    const calm = after.find((e) => !e.panicking);
    assert.ok(calm, 'panic mode ended');
    // The first calm evaluation keeps 3: the stable window still holds the load's samples, or scaleDownDelay holds the count.
    assert.equal(calm.to, 3, `the first calm evaluation keeps 3 (${calm.reason})`);
    assert.match(calm.reason, /^stable: .*at 2 per replica/);
    const downAt = Date.parse(down[0]!.at);
    const lastHigh = w.evaluations.filter((e) => Date.parse(e.at) < downAt && e.to === 3 && !/held at/.test(e.reason)).at(-1)!;
    const heldMs = downAt - Date.parse(lastHigh.at);
    t.diagnostic(`after the load: panic mode ended ${Date.parse(calm.at) - stopAt} ms after it; 3 was last wanted ${Date.parse(lastHigh.at) - stopAt} ms after it, and kept ${heldMs} ms longer by scaleDownDelay (3s, sampled once a second)`);
    assert.ok(heldMs >= 2900, `a count is kept for scaleDownDelay (3s) after it was last wanted: kept ${heldMs} ms`);
    assert.equal(await metric(p, `aloft_autoscaler_decisions_total{deployment="${DEP}",direction="up"}`), w.decisions.filter((d) => d.to > d.from).length);
    assert.equal(await metric(p, `aloft_autoscaler_decisions_total{deployment="${DEP}",direction="down"}`), down.length);
  } finally {
    await traffic?.stop();
    await w.stop();
    await p.close();
  }
});

// ------------------------------------------------------------------ 2. scale to zero

/** `aloft status` as a child process (spawned asynchronously: Aloft runs in this process and must keep answering). */
function aloftStatus(p: Project): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const bin = fileURLToPath(new URL('../../src/cli/bin.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', bin, 'status'], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ALOFT_URL: p.url, ALOFT_KEY: p.adminKey, ALOFT_ADMIN_KEY: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`aloft status did not finish within 60 s: ${stdout} ${stderr}`)); }, 60_000);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

test(`scale to zero: listed and ready with no replica; ${COLD_STARTS} cold starts answered correctly; a deadline shorter than a cold start gets a clear error`, { timeout: 240_000 }, async (t) => {
  const zero = `replicas: { min: 0, max: 2 }, runtime: { isolation: process }, autoscaling: { ${WINDOWS}, scaleToZeroAfter: 2s }`;
  const p = await startProject({
    replicas: { min: 0, max: 2 },
    yaml: `deployments: { ${DEP}: { ${zero} }, quick: { model: credit-risk, timeout: 100ms, ${zero} } }`,
  });
  const w = watch(p);
  const wq = watch(p, 'quick');
  try {
    // min 0 starts with one replica: its answer is the reference.
    assert.equal(readyOf(p).length, 1, 'one replica to begin with');
    const expected = await inferOnce(p.url);
    let pids = readyOf(p).map((r) => r.pid!);

    /** At zero: the autoscaler wants 0, the group has no replica, and the last replica process has exited. */
    const atZero = async (watcher: typeof w, deployment: string, known: number[]) => {
      await until(`'${deployment}' scaled to zero`, 30_000, async () => {
        const a = await watcher.scaling();
        return a.last?.to === 0 && replicasOf(p, deployment).length === 0 && known.every((pid) => !alive(pid)) ? true : undefined;
      }, 25);
    };
    const idleFrom = Date.now();
    await atZero(w, DEP, pids);
    const toZeroMs = Date.now() - idleFrom;
    const zeroed = await w.scaling();
    t.diagnostic(`idle: at zero (decided, and the replica process gone) ${toZeroMs} ms after the last answer: ${zeroed.lastDecision?.from}→${zeroed.lastDecision?.to} — ${zeroed.lastDecision?.reason}`);
    assert.equal(zeroed.lastDecision?.from, 1);
    assert.equal(zeroed.lastDecision?.to, 0);
    assert.match(zeroed.lastDecision?.reason ?? '', /^scaled to zero: no request for \d+s \(scaleToZeroAfter 2s\)$/);

    // At zero: ready (it accepts requests), listed, and the admin API says why there is no replica.
    const ready = await call(`${p.url}/v2/models/${DEP}/ready`);
    assert.equal(ready.status, 200, `a deployment scaled to zero accepts requests: ${ready.text}`);
    assert.equal((await call(`${p.url}/v2/health/ready`)).status, 200, 'the server is ready with deployments at zero');
    const names = await call(`${p.url}/v2/models`);
    assert.equal(names.status, 200);
    assert.ok(JSON.stringify(names.json).includes(`"${DEP}"`), `the model stays listed: ${names.text}`);
    assert.equal((await call(`${p.url}/v2/models/${DEP}`)).status, 200, 'its metadata is served');
    const deployments = (await call(`${p.url}/api/v1/deployments`)).json as DeploymentList;
    const listed = deployments.deployments.find((d) => d.name === DEP);
    assert.ok(listed, 'GET /api/v1/deployments lists it');
    const version = listed.versions.find((v) => v.version === listed.currentVersion)!;
    t.diagnostic(`GET /api/v1/deployments at zero: v${version.version} ${version.state}, desiredReplicas ${version.desiredReplicas}, replicas ${version.replicas.length}, reason: ${version.reason}`);
    assert.equal(version.desiredReplicas, 0);
    assert.equal(version.replicas.length, 0);
    assert.equal(version.state, 'READY');
    assert.match(version.reason ?? '', /scaled to zero/);
    const cli = await aloftStatus(p);
    t.diagnostic(`aloft status at zero (exit ${cli.code}):\n${cli.stdout}`);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`${DEP}\\s+v1\\*\\s+READY\\s+0/0\\s.*scaled to zero`));
    assert.match(cli.stdout, new RegExp(`autoscaling ${DEP}: 0 desired, 0 ready \\(range 0–2, target 2 concurrent per replica\\)`));
    assert.match(cli.stdout, /last change: 1 → 0 at .*: scaled to zero: no request for/);
    assert.equal(readyOf(p).length, 0, 'status calls do not wake the deployment');

    // Cold starts: at zero, one request, answered correctly by a replica started for it.
    const coldMs: number[] = [];
    const parts: ReplicaStartup[] = [];
    for (let i = 0; i < COLD_STARTS; i++) {
      if (i > 0) await atZero(w, DEP, pids);
      const sent = performance.now();
      const r = await postJson(`${p.url}/v2/models/${DEP}/infer`, inferBody());
      const ms = performance.now() - sent;
      assert.equal(r.status, 200, `cold start ${i + 1}: ${r.status} ${r.text.slice(0, 300)}`);
      const out = (r.json as { outputs: { name: string; shape: number[]; data: number[] }[] }).outputs[0]!;
      assert.equal(out.name, 'probability');
      assert.deepEqual(out.shape, [1, 1]);
      assert.equal(out.data[0], expected, `cold start ${i + 1}: the same answer as a warm replica`);
      coldMs.push(ms);
      const started = readyOf(p);
      assert.equal(started.length, 1, 'one replica started for the request');
      assert.ok(started[0]!.startup, 'the replica reports its startup');
      assert.ok(!pids.includes(started[0]!.pid!), 'a new replica process');
      parts.push(started[0]!.startup!);
      pids = started.map((x) => x.pid!);
      const a = await w.scaling();
      assert.equal(a.lastDecision?.from, 0, 'the request activated the deployment');
      assert.equal(a.lastDecision?.to, 1);
      assert.match(a.lastDecision?.reason ?? '', /^activated: a request arrived while scaled to zero/);
    }
    const worst = Math.max(...coldMs);
    const med = median(coldMs);
    const partMedian = (k: keyof ReplicaStartup) => {
      const xs = parts.map((s) => s[k]).filter((x): x is number => typeof x === 'number');
      return xs.length ? `${median(xs).toFixed(0)} ms` : 'n/a';
    };
    t.diagnostic(`cold start, send → answer, ${COLD_STARTS} runs: median ${med.toFixed(0)} ms, worst ${worst.toFixed(0)} ms (all: ${coldMs.map((x) => x.toFixed(0)).join(' ')})`);
    t.diagnostic(`cold start parts (median of ${parts.length}, the replica's own account): launch → ready ${partMedian('totalMs')} = boot ${partMedian('bootMs')} + artifact check ${partMedian('verifyMs')} + ONNX load ${partMedian('loadMs')} + warm-up ${partMedian('warmUpMs')} + listen ${partMedian('listenMs')}; the rest of send → answer is the activation, the first batch and the HTTP hops`);
    t.diagnostic('the replicas run from source through tsx (node --import tsx replica-main.ts), which adds its TypeScript loading to boot; the compiled package starts with plain node');
    for (const s of parts) assert.ok(s.totalMs > 0 && s.bootMs !== undefined && s.loadMs !== undefined, `every part is reported: ${JSON.stringify(s)}`);
    // The sub-second target is judged by bench/autoscale.ts (the compiled package, on a quiet
    // machine: BENCHMARKS.md). Here the replicas load TypeScript through tsx and the suite runs
    // files in parallel, so this only guards against a regression towards the anchors' 10 s.
    assert.ok(worst < 5000, `worst cold start ${worst.toFixed(0)} ms, must stay well under the anchors' 10 s (bench/autoscale.ts judges the 1 s target)`);

    // A deadline shorter than a cold start: a clear error at the deadline, not a hang; then a request succeeds.
    await atZero(wq, 'quick', []);
    const sent = performance.now();
    const late = await call(`${p.url}/v2/models/quick/infer`, { method: 'POST', body: JSON.stringify(inferBody()), timeoutMs: 10_000 });
    const lateMs = performance.now() - sent;
    t.diagnostic(`a request with a 100 ms deadline to a deployment at zero: ${late.status} after ${lateMs.toFixed(0)} ms: ${late.text}`);
    assert.ok(late.status === 503 || late.status === 504, `a clear error, got ${late.status}: ${late.text}`);
    assert.match(String((late.json as { error?: unknown } | undefined)?.error ?? ''), /replica|deadline|start/i, 'a message saying why');
    assert.ok(lateMs < 1000, `answered at its deadline, not after the cold start: ${lateMs.toFixed(0)} ms`);
    // The request started a replica all the same; once it is ready the next request is answered.
    await until("quick's replica started by the late request", 30_000, () => (readyOf(p, 'quick').length === 1 ? true : undefined), 25);
    await inferOnce(p.url, expected, 'quick');
    await w.stop();
    await wq.stop();
    t.diagnostic(`decisions of ${DEP} (${w.decisions.length}), the first six (then the same, activation and scale to zero, in turn):`);
    printDecisions(t, w.decisions.slice(0, 6), w.t0);
    t.diagnostic(`decisions of quick: ${wq.decisions.map((d) => `${d.from}→${d.to} (${d.reason.split(':')[0]})`).join(', ')}`);
    // Exactly: the first scale to zero, then per cold start one activation and (but after the last) one scale to zero.
    const changes = w.decisions.map((d) => `${d.from}→${d.to}`);
    assert.deepEqual(changes.slice(0, 2 * COLD_STARTS), Array.from({ length: COLD_STARTS }, () => ['1→0', '0→1']).flat(), 'each cold start is one scale to zero and one activation');
    assert.deepEqual(wq.decisions.map((d) => `${d.from}→${d.to}`).slice(0, 2), ['1→0', '0→1']);
  } finally {
    await w.stop();
    await wq.stop();
    await p.close();
  }
});

// ------------------------------------------------------------------ 3. bad input

test('bad input: replicas { min: 3, max: 2 } and autoscaling.target 0 are refused by plan and apply; the running deployment keeps serving', { timeout: 120_000 }, async (t) => {
  const yaml = `deployments: { ${DEP}: { runtime: { isolation: process }, autoscaling: { ${WINDOWS} } } }`;
  const p = await startProject({ replicas: { min: 1, max: 2 }, yaml });
  try {
    const expected = await inferOnce(p.url);
    const before = await p.aloft.control.status();
    const who = { actor: SYSTEM_ACTOR, source: '127.0.0.1' };
    const spec = (dep: Record<string, unknown>) => {
      const s = projectSpec({ replicas: { min: 1, max: 2 }, yaml }) as { deployments: Record<string, Record<string, unknown>> };
      s.deployments[DEP] = { ...s.deployments[DEP], ...dep };
      return { spec: stringify(s), file: 'aloft.yaml' };
    };
    const cases: [string, ReturnType<typeof spec>, RegExp][] = [
      ['replicas { min: 3, max: 2 }', spec({ replicas: { min: 3, max: 2 } }), /replicas.*min \(3\) is greater than max \(2\)/s],
      ['autoscaling.target 0', spec({ autoscaling: { target: 0 } }), /autoscaling\.target.*target must be above 0/s],
    ];
    for (const [what, sub, message] of cases) {
      await assert.rejects(p.aloft.control.plan(sub), (err: Error) => { assert.match(err.message, message, `plan of ${what}`); assert.match(err.message, /aloft\.yaml:\d+:\d+/, 'names the place'); return true; });
      await assert.rejects(p.aloft.control.apply(sub, who), (err: Error) => { assert.match(err.message, message, `apply of ${what}`); return true; });
      // Over the admin API too: 400 with the message.
      const r = await postJson(`${p.url}/api/v1/apply`, { ...sub, base: before.current?.number });
      assert.equal(r.status, 400, `${what}: ${r.text}`);
      assert.match(String((r.json as { error?: unknown }).error), message);
      t.diagnostic(`${what}: POST /api/v1/apply → ${r.status}: ${String((r.json as { error?: unknown }).error)}`);
    }
    const after = await p.aloft.control.status();
    assert.equal(after.current?.number, before.current?.number, 'no revision was recorded');
    assert.equal(after.applying, null);
    const a = after.autoscaling.find((x) => x.deployment === DEP);
    assert.equal(a?.min, 1);
    assert.equal(a?.max, 2);
    assert.equal(a?.target, 2);
    await inferOnce(p.url, expected);
    assert.equal(readyOf(p).length, 1);
  } finally {
    await p.close();
  }
});

// ------------------------------------------------------------------ 4. panic with a rate-limited scale-up

test('maxScaleUpRate 1.5: each change up is rate-limited, and a burst wanting twice the ready replicas or more still starts panic mode', { timeout: 120_000 }, async (t) => {
  // Panic mode is decided on the demand (Knative: dppc / ready ≥ panicThreshold, dppc unclamped),
  // not on the count after maxScaleUpRate: with 1.5 and 2 ready the rate-limited count is at
  // most 3, 1.5× the ready replicas, which alone could never reach panicThreshold 2.
  const p = await startProject({
    replicas: { min: 2, max: 4 },
    yaml: `deployments: { ${DEP}: { runtime: { isolation: process }, autoscaling: { target: 1, stableWindow: 10s, panicWindow: 2s, scaleDownDelay: 3s, maxScaleUpRate: 1.5 } } }`,
  });
  const w = watch(p);
  let traffic: ReturnType<typeof load> | undefined;
  try {
    assert.equal(readyOf(p).length, 2);
    traffic = load(p);
    // The load keeps several requests in the batcher (averaged over each second): at target 1, that is twice the 2 ready replicas or more.
    const burst = await until('an evaluation whose panic window wants at least twice the ready replicas', 20_000, async () => {
      const a = await w.scaling();
      const e = a.last;
      return e && e.ready >= 2 && Math.ceil(e.panic / 1) / e.ready >= 2 ? e : undefined;
    }, 100);
    const panicked = await until('panic mode', 5000, async () => ((await w.scaling()).last?.panicking ? true : undefined), 100).catch(() => false);
    await traffic.stop();
    const tally = traffic.tally;
    traffic = undefined;
    await w.stop();
    t.diagnostic(`burst: panic-window mean ${burst.panic.toFixed(2)} with ${burst.ready} ready at target 1 wants ${Math.ceil(burst.panic)} replicas (${(Math.ceil(burst.panic) / burst.ready).toFixed(1)}× ready); rate-limited to ${burst.wantPanic}; panicking: ${burst.panicking}; reason: ${burst.reason}`);
    t.diagnostic(`decisions: ${w.decisions.map((d) => `${d.from}→${d.to} (ready ${d.ready}${d.panicking ? ', panicking' : ''})`).join(', ')}; ${tally.ok} answered, ${tally.failed} failed`);
    assert.equal(tally.failed, 0);
    for (const d of w.decisions.filter((x) => x.to > x.from)) {
      assert.ok(d.to <= Math.ceil(1.5 * Math.max(1, d.ready)), `maxScaleUpRate 1.5: ${d.from}→${d.to} with ${d.ready} ready`);
    }
    assert.ok(panicked, `a panic window wanting ${(Math.ceil(burst.panic) / burst.ready).toFixed(1)}× the ready replicas (threshold 2) must start panic mode, also when maxScaleUpRate limits the step; the autoscaler compared the rate-limited ${burst.wantPanic} (${(burst.wantPanic / burst.ready).toFixed(1)}×) instead`);
  } finally {
    await traffic?.stop();
    await w.stop();
    await p.close();
  }
});
