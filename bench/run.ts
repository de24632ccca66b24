/**
 * Aloft's benchmark: for each model, the raw ONNX Runtime floor, the bare HTTP ceiling,
 * a plain hand-written Node server and Aloft (batching on and off), closed-loop at several
 * concurrencies, all in one run on this machine. Writes BENCHMARKS.md.
 *
 *   npm run bench                 full run (~4 min), writes BENCHMARKS.md
 *   npm run bench:quick           CI: ~1 s cells at 1 and 16 connections; checks every
 *                                 system's answers and zero errors; prints, writes nothing
 *   tsx bench/run.ts [--models credit-risk,mnist] [--concurrency 1,16,64] [--duration 5]
 *                    [--warmup 1] [--systems raw-ort,fixed,plain,aloft-nobatch,aloft,aloft-threads] [--no-write]
 *   tsx bench/run.ts --systems fixed,fastify-fixed --models mnist --concurrency 64 --no-write
 *                                 what Fastify itself costs next to bare node:http
 *   tsx bench/run.ts --systems fixed,socket-fixed --models mnist --concurrency 64 --no-write
 *                                 what node:http itself costs next to a minimal reader on raw sockets
 *   ALOFT_BENCH_NODE_ARGS='--max-semi-space-size=4' npm run bench
 *                                 Node flags for Aloft's process (named in the report's command)
 *   ALOFT_BENCH_DEPLOYMENT='{"replicas":1,"runtime":{"allowSpinning":true}}' tsx bench/run.ts ...
 *   ALOFT_BENCH_SERVER='{"fastInferPath":false}' tsx bench/run.ts ...
 *                                 fields merged into Aloft's deployment (named in the report's command)
 *
 * Every process it starts is killed when it ends, fails or is interrupted.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { installCleanup, onExit, ROOT, stopAll, track } from './child.js';
import { runLoad } from './load.js';
import type { ProfileResult } from './profile.js';
import { markdown, ownedSections, terminalTables, type Machine, type Row, type RunInfo } from './report.js';
import { childPids, commandLine, cpuCounters, cpuMs, peakRssKiB, resetPeakRss, threadCpuMs } from './rss.js';
import { ALOFT_DEPLOYMENT, ALOFT_NODE_ARGS, ALOFT_SERVER, aloftBatching, aloftNoBatching, aloftThreads } from './systems/aloft.js';
import { fastifyFixedServer, fixedServer, socketFixedServer } from './systems/fixed.js';
import { plainServer } from './systems/plain.js';
import { measureRawOrt, RAW_ORT_LABEL } from './systems/raw-ort.js';
import type { RunningServer, ServerSystem } from './systems/types.js';
import { checkResponse, loadWorkload, MODEL_IDS, type BodyKind, type ModelId, type Workload } from './workload.js';

const SERVER_SYSTEMS: ServerSystem[] = [fixedServer, socketFixedServer, fastifyFixedServer, plainServer, aloftNoBatching, aloftBatching, aloftThreads];
const ALL_SYSTEM_IDS = ['raw-ort', ...SERVER_SYSTEMS.map((s) => s.id)];
/** Measured unless --systems says otherwise; fastify-fixed and socket-fixed only on request (they explain, they are no peers). */
const DEFAULT_SYSTEM_IDS = ALL_SYSTEM_IDS.filter((id) => id !== 'fastify-fixed' && id !== 'socket-fixed');

function list(text: string | undefined, fallback: string[]): string[] {
  return text === undefined ? fallback : text.split(',').map((s) => s.trim()).filter(Boolean);
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      models: { type: 'string' },
      concurrency: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      systems: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const quick = values.quick === true;
  const models = list(values.models, [...MODEL_IDS]);
  for (const m of models) if (!(MODEL_IDS as readonly string[]).includes(m)) throw new Error(`unknown model '${m}'; use ${MODEL_IDS.join(', ')}`);
  const systems = list(values.systems, DEFAULT_SYSTEM_IDS);
  for (const s of systems) if (!ALL_SYSTEM_IDS.includes(s)) throw new Error(`unknown system '${s}'; use ${ALL_SYSTEM_IDS.join(', ')}`);
  const concurrency = list(values.concurrency, quick ? ['1', '16'] : ['1', '16', '64']).map(Number);
  for (const c of concurrency) if (!Number.isInteger(c) || c < 1 || c > 256) throw new Error(`--concurrency takes whole numbers 1..256, got ${c}`);
  const durationS = Number(values.duration ?? (quick ? 1 : 5));
  const warmupS = Number(values.warmup ?? (quick ? 0.25 : 1));
  // Load at the highest concurrency before a system's first cell (per body kind), unmeasured.
  const settleS = quick ? 0.5 : 3;
  if (!(durationS > 0 && durationS <= 60)) throw new Error('--duration takes seconds in (0, 60]');
  if (!(warmupS >= 0 && warmupS <= 30)) throw new Error('--warmup takes seconds in [0, 30]');
  return { quick, models: models as ModelId[], systems, concurrency, durationS, warmupS, settleS, write: !quick && values['no-write'] !== true };
}

/** Newest modification time (ms) of the files under `dir` whose names pass `keep`. */
function newest(dir: string, keep: (name: string) => boolean): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    if (s.isDirectory()) t = Math.max(t, newest(p, keep));
    else if (keep(name)) t = Math.max(t, s.mtimeMs);
  }
  return t;
}

/** Aloft is measured from dist/ (what ships); refuse to measure a build older than the source. */
function assertFreshBuild(): void {
  const built = join(ROOT, 'dist', 'aloft.js');
  const source = newest(join(ROOT, 'src'), (n) => n.endsWith('.ts') && !n.endsWith('.test.ts'));
  let builtAt: number;
  try {
    builtAt = statSync(built).mtimeMs;
  } catch {
    throw new Error('dist/aloft.js is missing: run `npm run build` (npm run bench does it for you)');
  }
  const compiled = newest(join(ROOT, 'dist'), (n) => n.endsWith('.js'));
  if (source > Math.max(builtAt, compiled)) throw new Error('dist/ is older than src/: run `npm run build` (npm run bench does it for you)');
}

/** bench/profile.ts in a child process (`entry`: another build's dist/aloft.js); its --json result. */
function profileInChild(isolation: 'process' | 'thread', label = `after: ${isolation} replicas`, entry?: string): Promise<ProfileResult> {
  return new Promise((resolve, reject) => {
    const args = [join(ROOT, 'bench', 'profile.ts'), '--isolation', isolation, '--json', '--label', label, ...(entry ? ['--entry', entry] : [])];
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString('utf8'); });
    child.stderr.on('data', (c: Buffer) => { err = (err + c.toString('utf8')).slice(-2000); });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`bench/profile.ts exited with ${code}: ${err}`));
      try {
        resolve(JSON.parse(out) as ProfileResult);
      } catch (e) {
        reject(new Error(`bench/profile.ts printed no JSON result: ${(e as Error).message}`));
      }
    });
  });
}

type Baseline = NonNullable<NonNullable<RunInfo['profiles']>['baseline']>;

function readBaseline(): Baseline | undefined {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'bench', 'profile-baseline.json'), 'utf8')) as Baseline;
  } catch {
    return undefined;
  }
}

/** Run a command to completion; rejects with its output's tail on failure. */
function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (c: Buffer) => { out = (out + c.toString('utf8')).slice(-2000); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${out.trim()}`))));
  });
}

/**
 * The profile's "before" column, measured in this run on the same machine state as the
 * "after" columns: the recorded baseline commit is checked out in a git worktree, built
 * with this checkout's node_modules, and profiled the same way. Where that cannot be done
 * (no git, a shallow clone), the figures recorded in bench/profile-baseline.json are used
 * and the report says when they were recorded.
 */
async function baselineNow(): Promise<Baseline | undefined> {
  const recorded = readBaseline();
  if (!recorded) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'aloft-bench-before-'));
  rmSync(dir, { recursive: true, force: true });
  let added = false;
  try {
    await run('git', ['worktree', 'add', '--detach', dir, recorded.commit], ROOT);
    added = true;
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], dir);
    const result = await profileInChild('process', recorded.result.label, join(dir, 'dist', 'aloft.js'));
    return { commit: recorded.commit, recorded: 'this run', result };
  } catch (err) {
    console.error(`  profiling ${recorded.commit} in this run failed (${(err as Error).message.split('\n')[0]}); using the figures recorded on ${recorded.recorded}`);
    return recorded;
  } finally {
    if (added) await run('git', ['worktree', 'remove', '--force', dir], ROOT).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function machine(): Machine {
  const version = (pkg: string) => {
    try {
      return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: totalmem() / 2 ** 30,
    os: `${type()} ${release()}`,
    node: process.version,
    onnxruntime: version('onnxruntime-node'),
    autocannon: version('autocannon'),
  };
}

function commandText(): string {
  const extra = process.argv.slice(2);
  const script = process.env.npm_lifecycle_event;
  // Node flags given to Aloft's process (bench/systems/aloft.ts) are part of what was measured.
  let env = ALOFT_NODE_ARGS.length > 0 ? `ALOFT_BENCH_NODE_ARGS='${ALOFT_NODE_ARGS.join(' ')}' ` : '';
  if (Object.keys(ALOFT_DEPLOYMENT).length > 0) env += `ALOFT_BENCH_DEPLOYMENT='${JSON.stringify(ALOFT_DEPLOYMENT)}' `;
  if (Object.keys(ALOFT_SERVER).length > 0) env += `ALOFT_BENCH_SERVER='${JSON.stringify(ALOFT_SERVER)}' `;
  if (script === 'bench' || script === 'bench:quick') {
    const own = script === 'bench:quick' ? extra.filter((a) => a !== '--quick') : extra;
    return `${env}npm run ${script}${own.length ? ` -- ${own.join(' ')}` : ''}`;
  }
  return `${env}tsx bench/run.ts${extra.length ? ` ${extra.join(' ')}` : ''}`;
}

/** The workload's requests with the system's own headers (credentials) added. */
function withHeaders<R extends { headers: Record<string, string> }>(requests: readonly R[], server: RunningServer): R[] {
  return server.headers ? requests.map((r) => ({ ...r, headers: { ...r.headers, ...server.headers } })) : [...requests];
}

/** Post one request; the status, body and binary header length. */
async function post(url: string, req: { body: Buffer; headers: Record<string, string> }) {
  const res = await fetch(url, { method: 'POST', body: req.body, headers: req.headers });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headerLength: res.headers.get('inference-header-content-length') };
}

/**
 * Send every distinct request one by one, then all at once (so a batching server batches
 * them), and compare the answers with ONNX Runtime's. Throws on the first wrong answer.
 */
async function verify(server: RunningServer, w: Workload, kind: BodyKind, fixedAnswer: boolean): Promise<void> {
  const url = `${server.url}/v2/models/${w.name}/infer`;
  const bodies = withHeaders(w.bodies[kind]!, server);
  const check = (i: number, r: Awaited<ReturnType<typeof post>>) => {
    if (fixedAnswer && i > 0) return r.status === 200 ? undefined : `row ${i}: HTTP ${r.status}`;
    return checkResponse(w, i, r.status, r.body, r.headerLength);
  };
  for (let i = 0; i < bodies.length; i++) {
    const problem = check(i, await post(url, bodies[i]!));
    if (problem) throw new Error(`wrong answer (sequential requests, ${kind} body): ${problem}`);
  }
  const all = await Promise.all(bodies.map((b) => post(url, b)));
  for (let i = 0; i < all.length; i++) {
    const problem = check(i, all[i]!);
    if (problem) throw new Error(`wrong answer (${all.length} concurrent requests, ${kind} body): ${problem}`);
  }
}

function replicaPidsOf(server: RunningServer): number[] {
  if (server.replicaPids.length === 0) return [];
  const now = childPids(server.pid).filter((p) => commandLine(p).includes('replica-main'));
  for (const p of now) track(p, 'replica-main');
  return now;
}

function sumKiB(pids: readonly number[]): number | undefined {
  if (pids.length === 0) return undefined;
  let sum = 0;
  for (const p of pids) {
    const v = peakRssKiB(p);
    if (v === undefined) return undefined;
    sum += v;
  }
  return sum;
}

/** CPU ms of each pid, summed; undefined when any is unknown or the list is empty. */
function sumCpuMs(pids: readonly number[]): number | undefined {
  if (pids.length === 0) return undefined;
  let sum = 0;
  for (const p of pids) {
    const v = cpuMs(p);
    if (v === undefined) return undefined;
    sum += v;
  }
  return sum;
}

function failedRow(model: ModelId, system: string, label: string, body: BodyKind | 'none', connections: number | undefined, message: string): Row {
  return {
    model, system, label, body, connections, count: 0, rps: Number.NaN, p50: Number.NaN, p99: Number.NaN, mean: Number.NaN,
    max: Number.NaN, errors: 0, non2xx: 0, serverRssKiB: undefined, replicasRssKiB: undefined,
    serverCpuUs: undefined, replicasCpuUs: undefined, failed: message,
  };
}

async function main(): Promise<number> {
  const opts = parseOptions();
  if (opts.systems.some((s) => s.startsWith('aloft'))) assertFreshBuild();
  installCleanup();
  const started = performance.now();
  const date = new Date().toISOString();
  const loadAverage = loadavg()[0] ?? 0;
  const cpu0 = cpuCounters();
  const tmp = mkdtempSync(join(tmpdir(), 'aloft-bench-'));
  onExit(() => rmSync(tmp, { recursive: true, force: true }));
  const rows: Row[] = [];
  const titles: Record<string, string> = {};
  const log = (s: string) => console.log(s);
  log(`aloft bench${opts.quick ? ' --quick' : ''}: models ${opts.models.join(', ')}; connections ${opts.concurrency.join(', ')}; ${opts.settleS} s settling per system, then ${opts.warmupS} s warm-up + ${opts.durationS} s per cell`);
  try {
    for (const model of opts.models) {
      const w = await loadWorkload(model, tmp);
      titles[model] = w.title;
      log(`\n== ${w.title}`);

      if (opts.systems.includes('raw-ort')) {
        try {
          const r = await measureRawOrt(w, tmp, opts.warmupS * 1000, opts.durationS * 1000);
          rows.push({
            model, system: 'raw-ort', label: RAW_ORT_LABEL, body: 'none', connections: undefined, count: r.calls, rps: r.rps,
            p50: r.p50, p99: r.p99, mean: r.mean, max: r.max, errors: 0, non2xx: 0, serverRssKiB: r.peakRssKiB, replicasRssKiB: undefined,
            serverCpuUs: r.cpuUsPerCall, replicasCpuUs: undefined,
          });
          log(`  raw ORT: ${Math.round(r.rps)} calls/s, p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms`);
        } catch (err) {
          const message = (err as Error).message;
          console.error(`  raw ORT FAILED: ${message}`);
          rows.push(failedRow(model, 'raw-ort', RAW_ORT_LABEL, 'none', undefined, message));
        }
      }

      for (const system of SERVER_SYSTEMS) {
        if (!opts.systems.includes(system.id)) continue;
        const kinds = system.bodyKinds(w);
        let server: RunningServer | undefined;
        const t0 = performance.now();
        try {
          server = await system.start(w, tmp);
        } catch (err) {
          const message = `could not start: ${(err as Error).message}`;
          console.error(`  ${system.label} FAILED: ${message}`);
          for (const kind of kinds) for (const c of opts.concurrency) rows.push(failedRow(model, system.id, system.label, kind, c, message));
          continue;
        }
        log(`  ${system.label}: started in ${((performance.now() - t0) / 1000).toFixed(1)} s (pid ${server.pid}${server.replicaPids.length ? `, replicas ${server.replicaPids.join(', ')}` : ''})`);
        try {
          for (const kind of kinds) {
            try {
              await verify(server, w, kind, system.fixedAnswer === true);
            } catch (err) {
              const message = (err as Error).message;
              console.error(`  ${system.label} (${kind}) FAILED the correctness check: ${message}`);
              for (const c of opts.concurrency) rows.push(failedRow(model, system.id, system.label, kind, c, message));
              continue;
            }
            // JIT and caches: the first cell must not pay for them (Aloft has far more code to warm than a plain server).
            if (opts.settleS > 0) {
              await runLoad({
                url: server.url, path: `/v2/models/${w.name}/infer`, requests: withHeaders(w.bodies[kind]!, server), connections: Math.max(...opts.concurrency),
                warmupMs: 0, durationMs: opts.settleS * 1000,
              });
            }
            for (const c of opts.concurrency) {
              const replicasBefore = replicaPidsOf(server);
              for (const p of [server.pid, ...replicasBefore]) resetPeakRss(p);
              const pid = server.pid;
              const cpu = { server: [0, 0], replicas: [0, 0] as (number | undefined)[], main: [0, 0] as (number | undefined)[], wall: [0, 0], machine: [undefined, undefined] as (ReturnType<typeof cpuCounters>)[] };
              const sample = (i: 0 | 1) => {
                cpu.server[i] = cpuMs(pid) ?? Number.NaN;
                cpu.replicas[i] = sumCpuMs(replicasBefore);
                cpu.main[i] = threadCpuMs(pid, pid);
                cpu.machine[i] = cpuCounters();
                cpu.wall[i] = performance.now();
              };
              const r = await runLoad({
                url: server.url, path: `/v2/models/${w.name}/infer`, requests: withHeaders(w.bodies[kind]!, server), connections: c,
                warmupMs: opts.warmupS * 1000, durationMs: opts.durationS * 1000,
                onWindowStart: () => sample(0),
                onWindowEnd: () => sample(1),
              });
              const [m0, m1] = cpu.machine;
              const machineBusy = m0 && m1 && m1.total > m0.total ? 1 - (m1.idle - m0.idle) / (m1.total - m0.total) : undefined;
              const [t0, t1] = cpu.main;
              const mainThreadBusy = t0 === undefined || t1 === undefined ? undefined : (t1 - t0) / (cpu.wall[1]! - cpu.wall[0]!);
              const perRequest = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || r.count === 0 ? undefined : ((b - a) * 1000) / r.count);
              const replicasAfter = replicaPidsOf(server);
              if (replicasAfter.join() !== replicasBefore.join()) console.warn(`  warning: replica processes changed during the cell (${replicasBefore.join(', ')} → ${replicasAfter.join(', ')})`);
              rows.push({
                model, system: system.id, label: system.label, body: kind, connections: c, count: r.count, rps: r.rps,
                p50: r.p50, p99: r.p99, mean: r.mean, max: r.max, errors: r.errors, non2xx: r.non2xx,
                serverRssKiB: peakRssKiB(server.pid), replicasRssKiB: sumKiB(replicasAfter),
                serverCpuUs: perRequest(cpu.server[0], cpu.server[1]), replicasCpuUs: perRequest(cpu.replicas[0], cpu.replicas[1]),
                ...(mainThreadBusy !== undefined ? { mainThreadBusy } : {}), ...(machineBusy !== undefined ? { machineBusy } : {}),
              });
              log(`  ${system.id}${kind === 'binary' ? ' (binary)' : ''} c=${c}: ${Math.round(r.rps)} req/s, p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms, errors ${r.errors}, non-2xx ${r.non2xx}`);
            }
          }
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }

  // Where the gateway's time goes: full runs that measured Aloft and MNIST profile it once per isolation.
  let profiles: RunInfo['profiles'];
  if (!opts.quick && opts.models.includes('mnist') && opts.systems.some((s) => s.startsWith('aloft'))) {
    const results: ProfileResult[] = [];
    for (const isolation of ['process', 'thread'] as const) {
      log(`profiling the gateway (${isolation} replicas, MNIST JSON, 64 connections)…`);
      try {
        // In a fresh process, as the recorded baseline was: this one's heap holds every latency of the run.
        results.push(await profileInChild(isolation));
      } catch (err) {
        console.error(`  profiling (${isolation}) FAILED: ${(err as Error).message}`);
      }
    }
    log(`profiling the gateway before the data-plane work (${readBaseline()?.commit ?? 'no baseline recorded'}, built from a git worktree)…`);
    profiles = { baseline: await baselineNow(), results };
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const cpu1 = cpuCounters();
  const stealShare = cpu0 && cpu1 && cpu1.total > cpu0.total ? (cpu1.steal - cpu0.steal) / (cpu1.total - cpu0.total) : undefined;
  const info: RunInfo = {
    command: commandText(), date, machine: machine(), warmupS: opts.warmupS, durationS: opts.durationS, settleS: opts.settleS,
    concurrency: opts.concurrency, wallSeconds, stealShare, loadAverage, ...(profiles ? { profiles } : {}),
  };
  log(terminalTables(rows, opts.models));

  mkdirSync(join(ROOT, 'bench/.results'), { recursive: true });
  const resultsFile = join(ROOT, 'bench/.results', `${date.replace(/[:.]/g, '-')}${opts.quick ? '-quick' : ''}.json`);
  writeFileSync(resultsFile, `${JSON.stringify({ info, rows }, null, 2)}\n`);

  const failed = rows.filter((r) => r.failed);
  const withErrors = rows.filter((r) => !r.failed && (r.errors > 0 || r.non2xx > 0));
  for (const r of failed) console.error(`FAILED ${r.model} / ${r.label} / ${r.body} / ${r.connections ?? 'loop'}: ${r.failed}`);
  for (const r of withErrors) console.error(`ERRORS ${r.model} / ${r.label} / ${r.body} / ${r.connections}: ${r.errors} errors, ${r.non2xx} non-2xx`);

  if (opts.write) {
    if (failed.length > 0) {
      console.error('BENCHMARKS.md not written: some systems failed (see above).');
    } else {
      // The sections the other benches write (bench/paired.ts writeSection) stay as they are.
      const file = join(ROOT, 'BENCHMARKS.md');
      let kept = '';
      try { kept = ownedSections(readFileSync(file, 'utf8')); } catch { /* no file yet */ }
      writeFileSync(file, kept ? `${markdown(rows, opts.models, titles, info).trimEnd()}\n\n${kept}\n` : markdown(rows, opts.models, titles, info));
      log('wrote BENCHMARKS.md');
    }
  }
  log(`done in ${wallSeconds.toFixed(0)} s`);
  if (failed.length > 0) return 1;
  if (opts.quick && withErrors.length > 0) {
    console.error('bench:quick: some systems answered with errors');
    return 1;
  }
  if (opts.quick) log('bench:quick: every system answered correctly and without errors');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    process.exit(1);
  },
);
