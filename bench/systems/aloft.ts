/**
 * Aloft (bench/peers/aloft-server.mjs → startAloft from dist/) with a temporary spec and state folder.
 * `aloft` is the default configuration, the deployment a new user writes: `model:` and
 * nothing else (1 process replica, batching on, maxBatchSize 64, intraOpThreads auto).
 * Beside it: thread replicas, and batching off, each otherwise the same.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKey } from '../../src/security/keys.js';
import { Child, track } from '../child.js';
import { childPids, commandLine } from '../rss.js';
import type { BodyKind, Workload } from '../workload.js';
import type { RunningServer, ServerSystem } from './types.js';

/** Node flags for Aloft's process from ALOFT_BENCH_NODE_ARGS (e.g. '--max-semi-space-size=4'). */
export const ALOFT_NODE_ARGS: readonly string[] = (process.env.ALOFT_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
for (const a of ALOFT_NODE_ARGS) {
  if (!a.startsWith('--')) throw new Error(`ALOFT_BENCH_NODE_ARGS takes node flags such as --max-semi-space-size=4, got '${a}'`);
}

/**
 * Deployment fields for Aloft from ALOFT_BENCH_DEPLOYMENT, as JSON merged over the bench's
 * own (e.g. '{"replicas":1,"runtime":{"allowSpinning":true}}'); Aloft validates them.
 */
export const ALOFT_DEPLOYMENT: Record<string, unknown> = parseDeployment(process.env.ALOFT_BENCH_DEPLOYMENT);

/** Server fields for Aloft from ALOFT_BENCH_SERVER (e.g. '{"fastInferPath":false}'), merged the same way. */
export const ALOFT_SERVER: Record<string, unknown> = parseObject('ALOFT_BENCH_SERVER', process.env.ALOFT_BENCH_SERVER, '{"fastInferPath":false}');

export function parseDeployment(text: string | undefined): Record<string, unknown> {
  const v = parseObject('ALOFT_BENCH_DEPLOYMENT', text, '{"replicas":1}');
  const replicas = v.replicas;
  if (replicas !== undefined && !(Number.isInteger(replicas) && (replicas as number) >= 1 && (replicas as number) <= 16)) {
    throw new Error(`ALOFT_BENCH_DEPLOYMENT: replicas must be a whole number from 1 to 16 (the bench counts the replicas it measures; no ranges), got ${JSON.stringify(replicas)}`);
  }
  return v;
}

/** A JSON object from the environment variable `name` (empty: none). */
export function parseObject(name: string, text: string | undefined, example: string): Record<string, unknown> {
  if (text === undefined || text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name} must be a JSON object such as '${example}': ${(e as Error).message}`, { cause: e });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${name} must be a JSON object such as '${example}', got ${text}`);
  return v as Record<string, unknown>;
}

/** Replicas per deployment: the spec's default (1) unless ALOFT_BENCH_DEPLOYMENT says otherwise. */
const REPLICAS = ALOFT_DEPLOYMENT.replicas as number | undefined;
const replicaCount = REPLICAS ?? 1;
/** The setting as a label says it: "default" when the spec leaves it out. */
const replicasText = REPLICAS === undefined ? '1 replica, the default' : `${REPLICAS} replica${REPLICAS === 1 ? '' : 's'}`;

export interface AloftStartOptions {
  /** Extra node flags for the gateway process (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Another build's dist/aloft.js instead of this checkout's. */
  entry?: string;
}

export function aloftSystem(batching: boolean, isolation: 'process' | 'thread' = 'process', start: AloftStartOptions = {}): ServerSystem {
  const threads = isolation === 'thread';
  return {
    id: threads ? 'aloft-threads' : batching ? 'aloft' : 'aloft-nobatch',
    label: threads ? `Aloft, thread replicas (${replicasText}, batching on)`
      : batching ? (Object.keys(ALOFT_DEPLOYMENT).length === 0 ? `Aloft, default configuration (minimal spec: ${replicasText}, process, batching on)` : `Aloft, process replicas (${replicasText}, batching on)`)
        : `Aloft, batching off (${replicasText})`,
    bodyKinds: (w: Workload): BodyKind[] => (batching && w.bodies.binary ? ['json', 'binary'] : ['json']),
    async start(w, tmpDir): Promise<RunningServer> {
      const dir = join(tmpDir, `aloft-${w.id}-${batching ? 'batching' : 'nobatch'}-${isolation}`);
      mkdirSync(dir, { recursive: true });
      const { runtime: runtimeOverride, ...override } = ALOFT_DEPLOYMENT;
      const runtime = { ...(runtimeOverride as Record<string, unknown> | undefined), ...(threads ? { isolation: 'thread' } : {}) };
      const specPath = join(dir, 'aloft.yaml');
      // JSON is YAML.
      writeFileSync(specPath, JSON.stringify({
        server: { ...ALOFT_SERVER, host: '127.0.0.1', port: 0 },
        state: { dir: join(dir, 'state') },
        models: { [w.name]: { path: w.modelPath } },
        deployments: { [w.name]: {
          model: w.name,
          ...(batching ? {} : { batching: { enabled: false } }),
          ...override,
          // Only what is asked for: the default configuration is the minimal spec.
          ...(REPLICAS !== undefined ? { replicas: REPLICAS } : {}),
          ...(Object.keys(runtime).length > 0 ? { runtime } : {}),
        } },
      }, null, 2));
      // Aloft is measured as it ships: authentication on, every request carrying a key.
      const key = generateKey().token;
      const env: NodeJS.ProcessEnv = { ALOFT_ADMIN_KEY: key, ...(start.entry ? { ALOFT_BENCH_ENTRY: start.entry } : {}) };
      const child = new Child(`Aloft (batching ${batching ? 'on' : 'off'})`, './peers/aloft-server.mjs', ['--spec', specPath], env, [...ALOFT_NODE_ARGS, ...(start.nodeArgs ?? [])]);
      try {
        const ready = await child.waitReady(90_000);
        const announced = Array.isArray(ready.replicas) ? (ready.replicas as number[]) : [];
        const children = childPids(child.pid).filter((p) => commandLine(p).includes('replica-main'));
        const replicaPids = [...new Set([...announced, ...children])];
        for (const pid of replicaPids) track(pid, 'replica-main');
        const expected = threads ? 0 : replicaCount;
        if (replicaPids.length !== expected) throw new Error(`Aloft: expected ${expected} replica processes, found ${replicaPids.length} (${replicaPids.join(', ')})`);
        return { url: String(ready.url), pid: child.pid, replicaPids, headers: { authorization: `Bearer ${key}` }, stop: () => child.stop(20_000) };
      } catch (err) {
        await child.stop();
        throw err;
      }
    },
  };
}

export const aloftBatching = aloftSystem(true);
export const aloftNoBatching = aloftSystem(false);
/** Replicas as worker threads of the Aloft process (runtime.isolation: thread). */
export const aloftThreads = aloftSystem(true, 'thread');
