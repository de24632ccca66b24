/**
 * Command-line flags of the replica program (see replica-main.ts).
 */
import { parseArgs } from 'node:util';
import { fail } from '../errors.js';
import type { ReplicaOptions } from './replica.js';

function toInt(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined || v === 'auto') return undefined;
  if (!/^[0-9]+$/.test(v) || Number(v) < min) throw fail('ALOFT_USAGE', `--${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return Number(v);
}

function oneOf<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw fail('ALOFT_USAGE', `--${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Parse the replica's flags; throws ALOFT_USAGE naming the bad flag. */
export function parseReplicaArgs(argv: string[]): ReplicaOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        model: { type: 'string' }, name: { type: 'string' }, version: { type: 'string' }, sha256: { type: 'string' },
        host: { type: 'string' }, port: { type: 'string' },
        'intra-op-threads': { type: 'string' }, 'inter-op-threads': { type: 'string' },
        'graph-optimization': { type: 'string' }, 'execution-mode': { type: 'string' }, 'allow-spinning': { type: 'string' },
      },
    }));
  } catch (e) {
    throw fail('ALOFT_USAGE', `replica: ${(e as Error).message}`, { cause: e });
  }
  for (const required of ['model', 'name', 'version'] as const) {
    if (!values[required]) throw fail('ALOFT_USAGE', `replica: --${required} is required`);
  }
  const opts: ReplicaOptions = { modelPath: values.model!, modelName: values.name!, modelVersion: values.version! };
  if (values.sha256 !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(values.sha256)) throw fail('ALOFT_USAGE', `--sha256 must be 64 hex digits, got ${JSON.stringify(values.sha256)}`);
    opts.sha256 = values.sha256;
  }
  if (values.host !== undefined) opts.host = values.host;
  const port = toInt('port', values.port, 0);
  if (port !== undefined) {
    if (port > 65535) throw fail('ALOFT_USAGE', `--port must be at most 65535, got ${port}`);
    opts.port = port;
  }
  const intra = toInt('intra-op-threads', values['intra-op-threads'], 0);
  if (intra !== undefined) opts.intraOpThreads = intra;
  const inter = toInt('inter-op-threads', values['inter-op-threads'], 0);
  if (inter !== undefined) opts.interOpThreads = inter;
  const go = oneOf('graph-optimization', values['graph-optimization'], ['all', 'extended', 'basic', 'disabled'] as const);
  if (go !== undefined) opts.graphOptimization = go;
  const em = oneOf('execution-mode', values['execution-mode'], ['sequential', 'parallel'] as const);
  if (em !== undefined) opts.executionMode = em;
  const spin = oneOf('allow-spinning', values['allow-spinning'], ['on', 'off'] as const);
  if (spin !== undefined) opts.allowSpinning = spin === 'on';
  return opts;
}
