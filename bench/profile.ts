/**
 * Where the gateway's time goes: Aloft runs under `node --cpu-prof` while the benchmark's
 * load runs against it; V8's samples inside the measurement window are sorted into the
 * stages of a request (HTTP read, routing, auth, decode, batching, hop to the replicas,
 * encode, HTTP write, …) and divided by the responses served in that window.
 *
 *   tsx bench/profile.ts [--isolation thread|process] [--model mnist|credit-risk] [--body json|binary]
 *                        [--connections N] [--seconds S] [--entry <dist/aloft.js of another build>] [--json]
 *
 * `npm run bench` adds this breakdown to BENCHMARKS.md; `--entry` profiles an older
 * build with the same method (how the recorded "before", bench/profile-baseline.json, was
 * made). ALOFT_PROFILE_DEBUG=1 also prints the frames counted as "other JavaScript";
 * ALOFT_PROFILE_DEBUG=all prints the top frames of every stage.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { installCleanup, stopAll } from './child.js';
import { runLoad } from './load.js';
import { aloftSystem } from './systems/aloft.js';
import { loadWorkload, type BodyKind, type ModelId } from './workload.js';

export const STAGES = [
  'HTTP read and parse', 'routing, hooks, reply (Fastify or lean path)', 'authentication', 'request decode', 'validation', 'batching',
  'hop to replicas', 'response encode', 'HTTP write (syscall)', 'metrics and stats', 'event loop, promises, events',
  'buffers: copies, string conversion', 'garbage collection', 'native, unattributed', 'other JavaScript', 'ONNX Runtime (in this process)', 'idle',
] as const;
export type Stage = (typeof STAGES)[number];

export interface ProfileResult {
  label: string;
  model: ModelId;
  body: BodyKind;
  connections: number;
  requests: number;
  rps: number;
  /** µs of main-thread time per response, by stage. */
  mainUs: Partial<Record<Stage, number>>;
  /** µs of replica-thread time per response (thread replicas only), by stage. */
  workerUs: Partial<Record<Stage, number>>;
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const has = (u: string, ...parts: string[]) => parts.some((p) => u.includes(p));

/** The stage a sampled frame belongs to (by its script and function). */
export function stageOf(fn: string, url: string): Stage {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'garbage collection';
  if (fn === '(program)') return 'native, unattributed';
  if (has(url, 'onnxruntime')) return 'ONNX Runtime (in this process)';
  if (has(url, '/security/', 'gateway/auth-hook') || (url.includes('internal/crypto') && fn !== '')) return 'authentication';
  if (has(url, 'codec/encode-response', 'codec/frame', 'codec/encode-request')) return 'response encode';
  if (url.includes('codec/json-data')) return /text|encode/i.test(fn) ? 'response encode' : 'request decode';
  if (has(url, 'codec/decode-request', 'codec/json-fast', 'codec/fields', 'codec/binary-data', 'codec/decode-response')) return 'request decode';
  if (url === '' && fn === 'parse') return 'request decode'; // JSON.parse
  if (url.includes('codec/validate')) return 'validation';
  if (has(url, 'gateway/batcher', 'gateway/batch-tensors', 'gateway/replica-set', 'gateway/balancers')) return 'batching';
  if (has(url, 'gateway/thread-transport', 'gateway/replica-client', 'gateway/transports/', 'node_modules/undici', 'internal/worker', 'messageport') || fn === 'postMessage') return 'hop to replicas';
  if (has(url, 'prom-client', 'monitor/metrics', 'gateway/stats', 'dist/clock', 'src/clock')) return 'metrics and stats';
  if (fn === 'isPublic' || fn === 'modelOf') return 'authentication';
  if (has(url, 'node:buffer', 'internal/buffer') || /^(utf8|latin1|ascii|ucs2|base64|hex)(Slice|Write)$/.test(fn)) return 'buffers: copies, string conversion';
  if (fn === 'writev' || fn === 'writeBuffer' || fn === 'writeUtf8String' || fn === 'writeLatin1String' || has(url, '_http_outgoing', 'stream_base_commons', 'streams/writable')) return 'HTTP write (syscall)';
  if (has(url, '_http_server', '_http_common', '_http_incoming', 'streams/readable', 'node:net', 'internal/net', 'gateway/fronts/wire') || fn === 'read' || fn === 'onStreamRead') return 'HTTP read and parse';
  // gateway/lean-infer is the older builds' name of the node front and the pipeline (the in-run 'before' profile).
  if (has(url, 'node_modules/fastify', 'find-my-way', 'avvio', 'fast-querystring', 'toad-cache', 'gateway/server', 'gateway/oip', 'gateway/http-errors', 'gateway/lean-infer', 'gateway/fronts/node', 'gateway/pipeline', 'gateway/body-budget')) return 'routing, hooks, reply (Fastify or lean path)';
  if (has(url, 'task_queues', 'node:events', 'async_hooks', 'internal/timers', 'promises') || fn === 'runMicrotasks') return 'event loop, promises, events';
  return 'other JavaScript';
}

/**
 * Self time (µs) by stage of the samples taken in [fromUs, toUs] (V8's monotonic clock).
 * With `others`, the frames counted as "other JavaScript" (with `allFrames`, every frame) are tallied there too.
 */
export function stageTimes(profile: CpuProfile, fromUs: number, toUs: number, others?: Map<string, number>, allFrames = false): Map<Stage, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const out = new Map<Stage, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < fromUs || t > toUs) continue;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const stage = stageOf(node.callFrame.functionName, node.callFrame.url);
    out.set(stage, (out.get(stage) ?? 0) + dt);
    if (others !== undefined && (allFrames || stage === 'other JavaScript')) {
      const k = `${allFrames ? `[${stage}] ` : ''}${node.callFrame.functionName} ${node.callFrame.url}`;
      others.set(k, (others.get(k) ?? 0) + dt);
    }
  }
  return out;
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

export async function profileAloft(opts: {
  model: ModelId; body: BodyKind; connections: number; seconds: number; isolation: 'process' | 'thread'; entry?: string; tmp: string; label?: string;
  /** Collects the frames counted as "other JavaScript" (main thread), for refining the stages. */
  others?: Map<string, number>;
  allFrames?: boolean;
}): Promise<ProfileResult> {
  const w = await loadWorkload(opts.model, opts.tmp);
  const dir = mkdtempSync(join(opts.tmp, 'cpu-'));
  const system = aloftSystem(true, opts.isolation, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`], ...(opts.entry ? { entry: opts.entry } : {}) });
  const server = await system.start(w, opts.tmp);
  const requests = w.bodies[opts.body]!.map((r) => ({ ...r, headers: { ...r.headers, ...server.headers } }));
  const path = `/v2/models/${w.name}/infer`;
  let window = { from: 0, to: 0 };
  let result;
  try {
    await runLoad({ url: server.url, path, requests, connections: opts.connections, warmupMs: 0, durationMs: 3000 });
    result = await runLoad({
      url: server.url, path, requests, connections: opts.connections, warmupMs: 1000, durationMs: opts.seconds * 1000,
      onWindowStart: () => { window = { from: nowUs(), to: 0 }; },
      onWindowEnd: () => { window.to = nowUs(); },
    });
  } finally {
    await server.stop(); // the profiles are written as the process and its threads exit
  }
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`profiling load had ${result.errors} errors and ${result.non2xx} non-2xx responses`);
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread.
  const main = files.find((f) => f.split('.')[4] === '0');
  if (!main) throw new Error(`no main-thread profile in ${dir}`);
  const perRequest = (m: Map<Stage, number>) => Object.fromEntries([...m].map(([k, v]) => [k, v / result.count])) as Partial<Record<Stage, number>>;
  const mainTimes = stageTimes(JSON.parse(readFileSync(join(dir, main), 'utf8')) as CpuProfile, window.from, window.to, opts.others, opts.allFrames);
  const workerTimes = new Map<Stage, number>();
  for (const f of files) {
    if (f === main) continue;
    for (const [k, v] of stageTimes(JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile, window.from, window.to)) workerTimes.set(k, (workerTimes.get(k) ?? 0) + v);
  }
  workerTimes.delete('idle');
  return {
    label: opts.label ?? `Aloft, ${opts.isolation} replicas`, model: opts.model, body: opts.body, connections: opts.connections,
    requests: result.count, rps: result.rps, mainUs: perRequest(mainTimes), workerUs: perRequest(workerTimes),
  };
}

/** A markdown table: one column per profile, µs per request by stage, busy total last. */
export function profileTable(results: readonly ProfileResult[]): string {
  const head = `| stage (µs of gateway main-thread time per request) | ${results.map((r) => `${r.label} (${Math.round(r.rps).toLocaleString('en-US')} req/s)`).join(' | ')} |`;
  const lines = [head, `| --- |${results.map(() => ' ---: |').join('')}`];
  const fmt = (v: number | undefined) => (v === undefined || v < 0.05 ? '—' : v.toFixed(1));
  for (const stage of STAGES) {
    if (results.every((r) => (r.mainUs[stage] ?? 0) < 0.05)) continue;
    lines.push(`| ${stage} | ${results.map((r) => fmt(r.mainUs[stage])).join(' | ')} |`);
  }
  const busy = (r: ProfileResult) => STAGES.filter((s) => s !== 'idle').reduce((a, s) => a + (r.mainUs[s] ?? 0), 0);
  lines.push(`| **busy total** | ${results.map((r) => `**${busy(r).toFixed(1)}**`).join(' | ')} |`);
  const workers = results.filter((r) => Object.keys(r.workerUs).length > 0);
  if (workers.length > 0) {
    lines.push(`| replica threads, busy (ONNX Runtime ${results.map((r) => fmt(r.workerUs['ONNX Runtime (in this process)'])).join(' / ')}) | ${results.map((r) => fmt(Object.values(r.workerUs).reduce((a, b) => a + (b ?? 0), 0))).join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    isolation: { type: 'string', default: 'thread' }, entry: { type: 'string' }, model: { type: 'string', default: 'mnist' },
    connections: { type: 'string', default: '64' }, seconds: { type: 'string', default: '5' }, json: { type: 'boolean', default: false },
    label: { type: 'string' }, body: { type: 'string', default: 'json' },
  } });
  if (values.isolation !== 'thread' && values.isolation !== 'process') throw new Error('--isolation takes thread or process');
  if (values.model !== 'mnist' && values.model !== 'credit-risk') throw new Error('--model takes mnist or credit-risk');
  if (values.body !== 'json' && values.body !== 'binary') throw new Error('--body takes json or binary');
  if (values.body === 'binary' && values.model !== 'mnist') throw new Error('--body binary is measured for the mnist model only');
  const connections = Number(values.connections);
  const seconds = Number(values.seconds);
  if (!Number.isInteger(connections) || connections < 1 || connections > 256) throw new Error('--connections takes a whole number 1..256');
  if (!(seconds > 0 && seconds <= 60)) throw new Error('--seconds takes a number in (0, 60]');
  const others = process.env.ALOFT_PROFILE_DEBUG ? new Map<string, number>() : undefined;
  installCleanup();
  const tmp = mkdtempSync(join(tmpdir(), 'aloft-profile-'));
  try {
    const r = await profileAloft({
      model: values.model, body: values.body, connections, seconds,
      isolation: values.isolation, tmp, ...(others ? { others, allFrames: process.env.ALOFT_PROFILE_DEBUG === 'all' } : {}), ...(values.entry ? { entry: values.entry } : {}), ...(values.label ? { label: values.label } : {}),
    });
    console.log(values.json ? JSON.stringify(r, null, 2) : profileTable([r]));
    if (others) {
      for (const [k, v] of [...others].sort((a, b) => b[1] - a[1]).slice(0, 60)) console.log(`${(v / r.requests).toFixed(2).padStart(7)} µs/req  ${k}`);
    }
  } finally {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('profile.ts')) {
  main().then(() => process.exit(0), (err: unknown) => { console.error(err instanceof Error ? err.stack : err); process.exit(1); });
}
