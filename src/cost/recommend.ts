/**
 * The capacity planner behind `aloft recommend` (issue 16): measure a deployment's model in
 * a bounded run against temporary replicas, one candidate configuration at a time
 * (isolation, ONNX Runtime threads, batch size), and price each at a target rate.
 *
 * Each candidate gets one fresh replica (its own orchestrator, never the system's groups)
 * behind the gateway's own batcher and replica set, driven closed-loop for `durationMs` by
 * `concurrency` callers with a realistic request mix: captured requests' inputs when there
 * are some, else synthetic rows from the signature. Measured: requests per second, p50 and
 * p99 from the call to the answer (queue, batch, transport, model), the replica's resident
 * memory. Priced: the replicas needed for the target rate at 70% of the measured
 * throughput (at least 1), each reserving its threads' vCPUs and its measured memory,
 * a month at the price table, and per 1,000 predictions at that rate. The cheapest that
 * meets the p99 target is recommended, with the spec fragment; when none does, the closest.
 *
 * One replica is measured and replicas are assumed to add throughput linearly: true where
 * each has cores of its own, optimistic on a machine they share.
 */
import type { Clock } from '../clock.js';
import type { ResolvedDeployment } from '../control/groups.js';
import type { Orchestrator, ReplicaGroup } from '../control/orchestrators/types.js';
import { PowerOfTwoChoices } from '../gateway/balancers/index.js';
import { Batcher } from '../gateway/batcher.js';
import { ReplicaSet, type EndpointInfo, type ReplicaTransport } from '../gateway/replica-set.js';
import { DATATYPES, elementCount, type TensorData } from '../runtime/datatypes.js';
import type { ModelSignature, Tensor, TensorSpec } from '../runtime/tensor.js';
import { columnNames, type CaptureRecord, type CellValue } from '../monitor/capture/record.js';
import type { FeatureSpec } from '../spec/types.js';
import { hourlyCost, HOURS_PER_MONTH, type Rates } from './prices.js';

export interface Candidate {
  isolation: 'process' | 'thread';
  threads: number;
  maxBatchSize: number;
}

export interface Measured extends Candidate {
  rps: number;
  p50: number;
  p99: number;
  /** Resident MiB of the replica process (undefined for a thread). */
  memoryMiB?: number;
  errors: number;
  concurrency: number;
}

export interface Priced extends Measured {
  replicas: number;
  /** $ a month at the target rate. */
  monthly: number;
  /** $ per 1,000 predictions at the target rate. */
  per1k: number;
  unpriced: string[];
  meets: boolean;
}

export interface Recommendation {
  deployment: string;
  rps: number;
  p99Ms: number;
  currency: string;
  inputs: 'captured' | 'synthetic';
  /** Which captured predictions were replayed, or why none were. */
  inputsWhy?: string;
  /** What the figures include. */
  measuredAt: string;
  rows: Priced[];
  /** The cheapest meeting the target, or undefined. */
  best?: Priced;
  /** When none meets it: the one with the lowest p99. */
  closest?: Priced;
  /** The spec fragment of `best` (or `closest`). */
  fragment?: string;
  note: string;
}

/** What a measurement covers. */
export const MEASURED_AT = "the gateway's batcher: queueing, batching, the transport to the replica and the model; not the clients' HTTP, which a gateway adds (its own ceiling is in BENCHMARKS.md)";

/** The candidates for a machine of `cores`: both isolations, 1 to `cores` threads, batches of 1, 16 and 64 (the model's batch dimension allowing). */
export function candidates(cores: number, batchable: boolean): Candidate[] {
  const threads = [...new Set([1, Math.min(2, cores), cores])].filter((t) => t >= 1 && t <= cores);
  const batches = batchable ? [1, 16, 64] : [1];
  const out: Candidate[] = [];
  for (const isolation of ['process', 'thread'] as const) for (const t of threads) for (const b of batches) out.push({ isolation, threads: t, maxBatchSize: b });
  return out;
}

/** Price the measurements at `rps` and pick the cheapest meeting `p99Ms` (pure). */
export function choose(measured: readonly Measured[], o: { deployment: string; rps: number; p99Ms: number; rates: Rates; currency: string; defaultMemoryMiB: number; inputs: Recommendation['inputs']; inputsWhy?: string; range?: { min: number; max: number } }): Recommendation {
  const rows = measured.map((m): Priced => {
    const replicas = m.rps > 0 ? Math.max(1, Math.ceil(o.rps / (0.7 * m.rps))) : Infinity;
    const memoryGiB = Math.ceil((m.memoryMiB ?? o.defaultMemoryMiB) / 64) * 64 / 1024;
    const h = hourlyCost({ cpu: m.threads, memoryGiB, gpu: 0 }, o.rates);
    const monthly = h.priced * replicas * HOURS_PER_MONTH;
    return { ...m, replicas, monthly, per1k: o.rps > 0 ? (h.priced * replicas) / (o.rps * 3600) * 1000 : 0, unpriced: h.unpriced, meets: m.errors === 0 && m.rps > 0 && m.p99 <= o.p99Ms };
  }).sort((a, b) => a.monthly - b.monthly || a.p99 - b.p99);
  const best = rows.find((r) => r.meets);
  const closest = best ? undefined : [...rows].filter((r) => r.rps > 0).sort((a, b) => a.p99 - b.p99)[0];
  const pick = best ?? closest;
  const fragment = pick ? [
    ...(best ? [] : [`# NOT a recommendation: the closest configuration, which misses p99 ≤ ${o.p99Ms} ms (its p99 ${pick.p99.toFixed(2)} ms)`]),
    // A range stays a range, its min kept (scale to zero, or the floor kept for availability, is the user's choice); its max is raised to what the rate needs.
    `deployments:`, `  ${o.deployment}:`, o.range && o.range.min !== o.range.max ? `    replicas: { min: ${o.range.min}, max: ${Math.max(o.range.max, pick.replicas)} }   # ${pick.replicas} for ${o.rps} req/s` : `    replicas: ${pick.replicas}`,
    `    runtime: { isolation: ${pick.isolation}, intraOpThreads: ${pick.threads} }`,
    pick.maxBatchSize > 1 ? `    batching: { maxBatchSize: ${pick.maxBatchSize} }` : '    batching: { enabled: false }',
    `    resources: { cpu: ${pick.threads}, memory: ${Math.ceil((pick.memoryMiB ?? o.defaultMemoryMiB) / 64) * 64}Mi }`,
  ].join('\n') : undefined;
  const note = best
    ? `the cheapest configuration with p99 ≤ ${o.p99Ms} ms at ${o.rps} req/s`
    : closest
      ? `no configuration meets p99 ≤ ${o.p99Ms} ms; the closest is ${closest.isolation}, ${closest.threads} thread${closest.threads === 1 ? '' : 's'}, batch ${closest.maxBatchSize} at p99 ${closest.p99.toFixed(2)} ms`
      : 'no configuration answered';
  return { deployment: o.deployment, rps: o.rps, p99Ms: o.p99Ms, currency: o.currency, inputs: o.inputs, ...(o.inputsWhy !== undefined ? { inputsWhy: o.inputsWhy } : {}), measuredAt: MEASURED_AT, rows, ...(best ? { best } : {}), ...(closest ? { closest } : {}), ...(fragment ? { fragment } : {}), note };
}

export interface MeasureOptions {
  deployment: ResolvedDeployment;
  candidate: Candidate;
  /** Request inputs to cycle through (in signature order). */
  inputs: readonly Tensor[][];
  durationMs: number;
  concurrency: number;
  clock: Clock;
  /** A fresh orchestrator of the candidate's isolation (never the system's). */
  orchestrator: Orchestrator;
  /** The transport to a ready replica. */
  connect(info: EndpointInfo): ReplicaTransport;
  rssBytes(pid: number): number | undefined;
}

/** Measure one candidate: start one replica, drive it closed-loop, stop it. */
export async function measure(o: MeasureOptions): Promise<Measured> {
  const d = o.deployment;
  const c = o.candidate;
  const group: ReplicaGroup = {
    key: `recommend:${d.name}:${c.isolation}:${c.threads}:${c.maxBatchSize}`, deployment: `${d.name} (recommend)`, replicas: 1,
    spec: {
      servedAs: d.name, model: d.model, version: d.version, sha256: d.sha256, artifact: d.artifactPath, isolation: c.isolation,
      runtime: { intraOpThreads: c.threads, interOpThreads: 1, graphOptimization: d.spec.runtime.graphOptimization, executionMode: d.spec.runtime.executionMode, allowSpinning: false },
    },
  };
  const set = new ReplicaSet({ balancer: new PowerOfTwoChoices(), maxInFlightPerReplica: 2, clock: o.clock, connect: (info) => o.connect(info) });
  const batcher = new Batcher(set, { maxBatchSize: c.maxBatchSize, maxQueueDelayMs: 0, maxQueueSize: 1_000_000, batchable: d.signature.batchable, coalesce: true }, o.clock);
  try {
    await o.orchestrator.apply([group]);
    const ready = await new Promise<{ id: string; url: string; socket?: string; pid?: number }>((resolve, reject) => {
      const started = Date.now();
      const check = () => {
        const r = o.orchestrator.status().find((x) => x.group === group.key);
        if (r?.state === 'ready' && r.url) return resolve({ id: r.id, url: r.url, ...(r.socket !== undefined ? { socket: r.socket } : {}), ...(r.pid !== undefined ? { pid: r.pid } : {}) });
        if (r?.state === 'failed') return reject(new Error(`the replica failed to start: ${r.lastError ?? 'unknown'}`));
        if (Date.now() - started > 60_000) return reject(new Error('the replica was not ready within 60 s'));
        setTimeout(check, 20);
      };
      check();
    });
    set.setEndpoints([{ id: ready.id, url: ready.url, ...(ready.socket !== undefined ? { socket: ready.socket } : {}) }]);
    const latencies: number[] = [];
    let errors = 0;
    let i = 0;
    const until = performance.now() + o.durationMs;
    const warmUntil = performance.now() + Math.min(300, o.durationMs / 5);
    const loop = async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          await batcher.infer(o.inputs[i++ % o.inputs.length]!.map((t) => t), 10_000);
          if (t0 >= warmUntil) latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, loop));
    latencies.sort((a, b) => a - b);
    const q = (p: number) => latencies.length === 0 ? Number.NaN : latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)]!;
    const rss = ready.pid !== undefined ? o.rssBytes(ready.pid) : undefined;
    return { ...c, rps: latencies.length / ((o.durationMs - (warmUntil - (until - o.durationMs))) / 1000), p50: q(0.5), p99: q(0.99), ...(rss !== undefined ? { memoryMiB: rss / 2 ** 20 } : {}), errors, concurrency: o.concurrency };
  } finally {
    batcher.close();
    await o.orchestrator.stop();
    await set.close();
  }
}

/** Synthetic request inputs from a signature: `n` one-row requests of standard-normal values (integers as small counts). */
/**
 * The requests `recommend` replays from captured predictions: each record's inputs as the
 * model takes them (its first input from the named rows, the others from their tensors).
 * Unusable when the capture redacts or hashes a column of the first input (the value the
 * model saw is gone), or the model takes text: `reason` says why, and recommend measures
 * with synthetic requests instead.
 */
export function capturedInputs(records: readonly CaptureRecord[], sig: ModelSignature, o: { features?: readonly FeatureSpec[]; redact: readonly string[]; hash: readonly string[] }): { inputs: Tensor[][] } | { reason: string } {
  const first = sig.inputs[0];
  if (!first) return { reason: 'the model has no inputs' };
  if (sig.inputs.some((s) => s.datatype === 'BYTES')) return { reason: 'the model takes text (BYTES), which is not replayed' };
  const width = first.shape.length >= 2 ? first.shape[first.shape.length - 1]! : -1;
  const inner = first.shape.slice(1);
  if (width < 1 || inner.some((x) => x < 0)) return { reason: `input '${first.name}' has a dynamic dimension beyond the first (shape [${first.shape.join(', ')}]), so captured rows cannot be reshaped` };
  const names = columnNames(width, o.features);
  const lost = names.filter((n) => o.redact.includes(n) || o.hash.includes(n));
  if (lost.length > 0) {
    const said = (verb: string, names: string[]) => (names.length > 0 ? [`${verb} ${names.map((n) => `'${n}'`).join(', ')}`] : []);
    const how = [...said('redacts', lost.filter((n) => o.redact.includes(n))), ...said('hashes', lost.filter((n) => !o.redact.includes(n)))];
    return { reason: `capture ${how.join(' and ')}, so the values the model saw are not stored` };
  }
  const rowSize = elementCount(inner);
  const out: Tensor[][] = [];
  for (const r of records) {
    const cells: CellValue[] = [];
    for (const row of r.rows) for (const n of names) cells.push(row[n] ?? null);
    if (cells.length === 0 || cells.length % rowSize !== 0) continue;
    const head = tensorOf(first, [cells.length / rowSize, ...inner], cells);
    const rest = sig.inputs.slice(1).map((s) => { const t = r.inputs?.[s.name]; return t ? tensorOf(s, t.shape, t.data) : undefined; });
    if (!head || rest.some((t) => t === undefined)) continue;
    out.push([head, ...(rest as Tensor[])]);
  }
  return out.length > 0 ? { inputs: out } : { reason: 'no captured prediction could be rebuilt' };
}

/** A tensor of `spec`'s datatype from captured cells (null: NaN; a cell that is not a number: undefined). */
function tensorOf(spec: TensorSpec, shape: number[], cells: readonly CellValue[]): Tensor | undefined {
  const ctor = DATATYPES[spec.datatype].array;
  if (!ctor || cells.length !== elementCount(shape)) return undefined;
  const data = new ctor(cells.length);
  const big = data instanceof BigInt64Array || data instanceof BigUint64Array;
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i];
    const v = c === null ? Number.NaN : typeof c === 'boolean' ? Number(c) : c;
    if (typeof v !== 'number') return undefined;
    if (big) (data as BigInt64Array)[i] = BigInt(Number.isFinite(v) ? Math.trunc(v) : 0);
    else (data as Float64Array)[i] = v;
  }
  return { name: spec.name, datatype: spec.datatype, shape, data: data as TensorData };
}

export function syntheticInputs(d: ResolvedDeployment, n = 64): Tensor[][] {
  let seed = 12345;
  const u = () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return (seed + 0.5) / 2 ** 32; };
  const normal = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return Array.from({ length: n }, () => d.signature.inputs.map((s): Tensor => {
    const shape = s.shape.map((x, k) => (x < 0 ? (k === 0 ? 1 : 1) : x));
    const size = shape.reduce((a, b) => a * b, 1);
    const isInt = s.datatype.startsWith('INT') || s.datatype.startsWith('UINT');
    const data = s.datatype === 'FP64' ? Float64Array.from({ length: size }, normal)
      : isInt ? (s.datatype === 'INT64' ? BigInt64Array.from({ length: size }, () => BigInt(Math.floor(u() * 4))) : Int32Array.from({ length: size }, () => Math.floor(u() * 4)))
        : Float32Array.from({ length: size }, normal);
    return { name: s.name, datatype: s.datatype === 'FP64' || isInt ? s.datatype : 'FP32', shape, data } as Tensor;
  }));
}
