/**
 * Rate-limit accuracy: how many requests a deployment limit lets through, against what it
 * is configured to allow. Each gateway is a real Aloft (bench/peers/aloft-server.mjs, one
 * replica) serving `credit-risk` with `limits: { rate: 100, burst: 10 }`; a closed loop of
 * 32 requests in flight (split evenly across the gateways) runs for 10 s, far above the
 * limit. A bucket that starts full allows `burst + rate × T` in T seconds.
 *
 * Setups: one gateway (memory backend); two gateways sharing the limit through Redis; and,
 * for contrast, two gateways with the memory backend, where each enforces its own limit.
 * Everything listens on 127.0.0.1; nothing is written outside a temp folder, which is removed.
 *
 * Usage: npx tsx bench/ratelimit-accuracy.ts [--seconds 10] [--rate 100] [--burst 10]
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { Child } from './child.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rate: { type: 'string', default: '100' }, burst: { type: 'string', default: '10' } } });
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const BURST = Number(values.burst);
const IN_FLIGHT = 32;
const REDIS_URL = process.env.ALOFT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const MODEL = fileURLToPath(new URL('../examples/credit-risk/model.onnx', import.meta.url));
const ROW = [29, 56300, 20000, 12, 704, 0.279, 3, 9.5, 1, 10.2, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0];
const BODY = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, ROW.length], data: ROW }] });

interface Setup { label: string; gateways: number; backend: 'memory' | 'redis' }

interface Outcome {
  attempts: number;
  allowed: number;
  limited: number;
  other: number;
  /** From the first request sent to the last one sent, s. */
  spanS: number;
}

async function startGateways(dir: string, setup: Setup, prefix: string): Promise<{ children: Child[]; urls: string[] }> {
  const children: Child[] = [];
  try {
    for (let i = 0; i < setup.gateways; i++) {
      const gdir = join(dir, `${setup.backend}-${setup.gateways}-${i}`);
      const spec = {
        server: { host: '127.0.0.1', port: 0 },
        state: { dir: join(gdir, 'state') },
        models: { 'credit-risk': { path: MODEL } },
        deployments: { 'credit-risk': { model: 'credit-risk', replicas: 1, public: true, limits: { rate: RATE, burst: BURST } } },
        limits: { backend: setup.backend, redis: { url: REDIS_URL, prefix } },
      };
      await mkdir(gdir, { recursive: true });
      const specPath = join(gdir, 'aloft.yaml');
      await writeFile(specPath, JSON.stringify(spec, null, 2)); // JSON is YAML
      const child = new Child(`gateway ${i + 1}`, './peers/aloft-server.mjs', ['--spec', specPath]);
      children.push(child);
    }
    const ready = await Promise.all(children.map((c) => c.waitReady(90_000)));
    return { children, urls: ready.map((r) => String(r.url)) };
  } catch (err) {
    await Promise.all(children.map((c) => c.stop()));
    throw err;
  }
}

/** IN_FLIGHT closed loops, spread over the gateways, until the deadline. */
async function closedLoop(urls: string[]): Promise<Outcome> {
  const pools = urls.map((u) => new Pool(u, { connections: Math.ceil(IN_FLIGHT / urls.length), pipelining: 1 }));
  const out: Outcome = { attempts: 0, allowed: 0, limited: 0, other: 0, spanS: 0 };
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  let lastSend = t0;
  const loop = async (pool: Pool) => {
    while (performance.now() < deadline) {
      lastSend = Math.max(lastSend, performance.now());
      out.attempts++;
      const res = await pool.request({ path: '/v2/models/credit-risk/infer', method: 'POST', body: BODY, headers: { 'content-type': 'application/json' } });
      await res.body.dump();
      if (res.statusCode === 200) out.allowed++;
      else if (res.statusCode === 429) out.limited++;
      else out.other++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => loop(pools[i % pools.length]!)));
  out.spanS = (lastSend - t0) / 1000;
  await Promise.all(pools.map((p) => p.close()));
  return out;
}

async function redisReachable(): Promise<string | undefined> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await r.ping();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    r.disconnect();
  }
}

async function deletePrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await r.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await r.quit();
  }
}

const SETUPS: Setup[] = [
  { label: '1 gateway, memory', gateways: 1, backend: 'memory' },
  { label: '2 gateways, redis (shared)', gateways: 2, backend: 'redis' },
  { label: '2 gateways, memory (not shared)', gateways: 2, backend: 'memory' },
];

const dir = await mkdtemp(join(tmpdir(), 'aloft-rl-bench-'));
const prefix = `aloft-bench-${process.pid}-${randomUUID().slice(0, 8)}`;
const rows: string[][] = [];
try {
  const redisProblem = await redisReachable();
  for (const setup of SETUPS) {
    if (setup.backend === 'redis' && redisProblem) {
      rows.push([setup.label, `skipped: Redis at ${REDIS_URL} unreachable (${redisProblem})`]);
      continue;
    }
    process.stderr.write(`${setup.label}: starting ${setup.gateways} gateway(s)…\n`);
    const { children, urls } = await startGateways(dir, setup, prefix);
    try {
      const o = await closedLoop(urls);
      // Buckets in play: one shared bucket with Redis, one per gateway in memory.
      const buckets = setup.backend === 'memory' ? setup.gateways : 1;
      const expected = buckets * (BURST + RATE * o.spanS);
      const perSecond = (o.allowed - buckets * BURST) / o.spanS;
      rows.push([
        setup.label,
        (o.attempts / o.spanS).toFixed(0),
        String(o.allowed),
        `${buckets} × (${BURST} + ${RATE} × ${o.spanS.toFixed(2)} s) = ${expected.toFixed(0)}`,
        perSecond.toFixed(1),
        `${(((o.allowed - expected) / expected) * 100).toFixed(2)}%`,
        String(o.limited),
        String(o.other),
      ]);
    } finally {
      await Promise.all(children.map((c) => c.stop(20_000)));
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
  if (!(await redisReachable())) await deletePrefix(prefix);
}

const header = ['setup', 'attempts/s', 'allowed', 'configured allows', 'allowed/s after burst', 'error', '429', 'other'];
console.log(`\nRate-limit accuracy: deployment limit rate ${RATE}/s, burst ${BURST}; closed loop, ${IN_FLIGHT} in flight, ${SECONDS} s`);
console.log(`| ${header.join(' | ')} |`);
console.log(`| ${header.map(() => '---').join(' | ')} |`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log('\nThe memory backend limits each gateway separately, so two gateways allow twice the configured rate; Redis shares one bucket.');
