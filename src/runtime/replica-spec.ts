/**
 * One replica, described once. The control plane plans a `ReplicaSpec` per replica group
 * (what runs, by hash, under which name, with which ONNX Runtime settings and isolation);
 * `replicaOptionsOf` makes the replica server's options from it, which reach a replica
 * process as flags (`replicaArgs` ↔ `parseReplicaArgs`, one flag table for both) and a
 * replica thread as its workerData; the replica turns them into ONNX Runtime session
 * options (`sessionOptionsOf`). Every step is plain data and round-trips (replica-spec
 * tests), so a pod can later get the same description as its arguments. Leaf module: no
 * ONNX Runtime here.
 *
 * @example
 * const spec: ReplicaSpec = { servedAs: 'credit-risk', model: 'credit-risk', version: 3, sha256, artifact: '/state/artifacts/…',
 *   runtime: { intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all', executionMode: 'sequential', allowSpinning: false },
 *   isolation: 'process' };
 * spawn(node, [...entry.args, ...replicaArgs(replicaOptionsOf(spec, { host: '127.0.0.1', port: 0 }))]);
 */
import { parseArgs } from 'node:util';
import { fail } from '../errors.js';

/** The OIP platform string of what Aloft serves, in the gateway's model metadata and the replica's. */
export const PLATFORM = 'onnxruntime_onnx';

export const GRAPH_OPTIMIZATIONS = ['all', 'extended', 'basic', 'disabled'] as const;
export type GraphOptimization = (typeof GRAPH_OPTIMIZATIONS)[number];
export const EXECUTION_MODES = ['sequential', 'parallel'] as const;
export type ExecutionMode = (typeof EXECUTION_MODES)[number];
export const ISOLATIONS = ['process', 'thread'] as const;
export type Isolation = (typeof ISOLATIONS)[number];

/** ONNX Runtime settings of a replica, resolved (no 'auto'). */
export interface RuntimeSettings {
  intraOpThreads: number;
  interOpThreads: number;
  graphOptimization: GraphOptimization;
  executionMode: ExecutionMode;
  /** ONNX Runtime's worker threads busy-wait for work instead of sleeping. */
  allowSpinning: boolean;
}

/** Everything a replica of one group runs; plain JSON. */
export interface ReplicaSpec {
  /** The name the replica serves under: `/v2/models/{servedAs}` (the deployment's name). */
  servedAs: string;
  /** The registered model and version. */
  model: string;
  version: number;
  /** sha256 of the artifact; the replica re-checks it before loading. */
  sha256: string;
  /** Where the artifact is (a path on this machine). */
  artifact: string;
  runtime: RuntimeSettings;
  isolation: Isolation;
}

/** What the replica server is started with (runtime/replica.ts `startReplica`); every field plain data. */
export interface ReplicaOptions {
  /** Path of the .onnx file. */
  modelPath: string;
  /** Name the model is served under (`/v2/models/{name}`). */
  modelName: string;
  /** Version served, e.g. "3". */
  modelVersion: string;
  /** Expected sha256 (hex) of the model file; a mismatch refuses to start (ALOFT_ARTIFACT_CORRUPT). */
  sha256?: string;
  /** Default 127.0.0.1; use 0.0.0.0 in a pod. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /**
   * Also serve the wire protocol (wire.ts) on this Unix socket path: what a gateway on the
   * same machine uses instead of HTTP. HTTP stays on for probes and direct calls.
   */
  socket?: string;
  intraOpThreads?: number;
  interOpThreads?: number;
  graphOptimization?: GraphOptimization;
  executionMode?: ExecutionMode;
  allowSpinning?: boolean;
}

/** The replica server's options for `spec`, listening where given (processes and pods; threads do not listen). */
export function replicaOptionsOf(spec: ReplicaSpec, listen: { host?: string; port?: number; socket?: string } = {}): ReplicaOptions {
  return {
    modelPath: spec.artifact, modelName: spec.servedAs, modelVersion: String(spec.version), sha256: spec.sha256,
    ...(listen.host !== undefined ? { host: listen.host } : {}), ...(listen.port !== undefined ? { port: listen.port } : {}),
    ...(listen.socket !== undefined ? { socket: listen.socket } : {}),
    ...spec.runtime,
  };
}

/** What ONNX Runtime's session is opened with for these options (runtime/session.ts `SessionOptions`). */
export function sessionOptionsOf(o: ReplicaOptions): {
  intraOpThreads?: number; interOpThreads?: number; graphOptimization?: GraphOptimization; executionMode?: ExecutionMode; allowSpinning?: boolean; expectedSha256?: string;
} {
  return {
    ...(o.intraOpThreads !== undefined ? { intraOpThreads: o.intraOpThreads } : {}),
    ...(o.interOpThreads !== undefined ? { interOpThreads: o.interOpThreads } : {}),
    ...(o.graphOptimization !== undefined ? { graphOptimization: o.graphOptimization } : {}),
    ...(o.executionMode !== undefined ? { executionMode: o.executionMode } : {}),
    ...(o.allowSpinning !== undefined ? { allowSpinning: o.allowSpinning } : {}),
    ...(o.sha256 !== undefined ? { expectedSha256: o.sha256 } : {}),
  };
}

type Kind = { type: 'text' } | { type: 'int'; min: number; max?: number } | { type: 'hex64' } | { type: 'oneOf'; values: readonly string[] } | { type: 'onOff' };

/** The replica program's flags: `--flag` ↔ option field, the one table flags are written and read by. */
const FLAGS: readonly { flag: string; field: keyof ReplicaOptions; kind: Kind; required?: true }[] = [
  { flag: 'model', field: 'modelPath', kind: { type: 'text' }, required: true },
  { flag: 'name', field: 'modelName', kind: { type: 'text' }, required: true },
  { flag: 'version', field: 'modelVersion', kind: { type: 'text' }, required: true },
  { flag: 'sha256', field: 'sha256', kind: { type: 'hex64' } },
  { flag: 'host', field: 'host', kind: { type: 'text' } },
  { flag: 'port', field: 'port', kind: { type: 'int', min: 0, max: 65535 } },
  { flag: 'socket', field: 'socket', kind: { type: 'text' } },
  { flag: 'intra-op-threads', field: 'intraOpThreads', kind: { type: 'int', min: 0 } },
  { flag: 'inter-op-threads', field: 'interOpThreads', kind: { type: 'int', min: 0 } },
  { flag: 'graph-optimization', field: 'graphOptimization', kind: { type: 'oneOf', values: GRAPH_OPTIMIZATIONS } },
  { flag: 'execution-mode', field: 'executionMode', kind: { type: 'oneOf', values: EXECUTION_MODES } },
  { flag: 'allow-spinning', field: 'allowSpinning', kind: { type: 'onOff' } },
];

/** The flags that start the replica program with `o` (runtime/replica-main.ts). */
export function replicaArgs(o: ReplicaOptions): string[] {
  const args: string[] = [];
  for (const { flag, field, kind } of FLAGS) {
    const v = o[field];
    if (v === undefined) continue;
    args.push(`--${flag}`, kind.type === 'onOff' ? (v ? 'on' : 'off') : String(v));
  }
  return args;
}

/** Parse the replica program's flags; throws ALOFT_USAGE naming the bad flag. */
export function parseReplicaArgs(argv: string[]): ReplicaOptions {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, options: Object.fromEntries(FLAGS.map((f) => [f.flag, { type: 'string' as const }])) }) as { values: Record<string, string | undefined> });
  } catch (e) {
    throw fail('ALOFT_USAGE', `replica: ${(e as Error).message}`, { cause: e });
  }
  const out: Record<string, unknown> = {};
  for (const { flag, field, kind, required } of FLAGS) {
    const v = values[flag];
    if (v === undefined || v === '') {
      if (required) throw fail('ALOFT_USAGE', `replica: --${flag} is required`);
      continue;
    }
    out[field] = parseFlag(flag, v, kind);
  }
  return out as unknown as ReplicaOptions;
}

function parseFlag(flag: string, v: string, kind: Kind): unknown {
  switch (kind.type) {
    case 'text': return v;
    case 'hex64':
      if (!/^[0-9a-fA-F]{64}$/.test(v)) throw fail('ALOFT_USAGE', `--${flag} must be 64 hex digits, got ${JSON.stringify(v)}`);
      return v;
    case 'int': {
      if (!/^[0-9]+$/.test(v) || Number(v) < kind.min) throw fail('ALOFT_USAGE', `--${flag} must be an integer ≥ ${kind.min}, got ${JSON.stringify(v)}`);
      if (kind.max !== undefined && Number(v) > kind.max) throw fail('ALOFT_USAGE', `--${flag} must be at most ${kind.max}, got ${v}`);
      return Number(v);
    }
    case 'oneOf':
      if (!kind.values.includes(v)) throw fail('ALOFT_USAGE', `--${flag} must be one of ${kind.values.join(', ')}, got ${JSON.stringify(v)}`);
      return v;
    case 'onOff':
      if (v !== 'on' && v !== 'off') throw fail('ALOFT_USAGE', `--${flag} must be one of on, off, got ${JSON.stringify(v)}`);
      return v === 'on';
  }
}
