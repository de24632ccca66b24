/**
 * Aloft as `aloft up` runs it (startAloft: gateway + replicas), from the compiled `dist/`
 * with plain `node`: what ships, without the TypeScript loader's thread and memory. The
 * benchmark builds first (`npm run bench` runs `npm run build`) and refuses a stale dist.
 *
 * Usage: node bench/peers/aloft-server.mjs --spec <aloft.yaml>
 * Prints `{"event":"ready","url":...,"pid":N,"replicas":[pid,...]}` once every replica is
 * ready; SIGTERM/SIGINT drain and stop (replicas included).
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

// ALOFT_BENCH_ENTRY: another build's dist/aloft.js (bench/profile.ts profiles an older commit with it).
const entry = process.env.ALOFT_BENCH_ENTRY ? pathToFileURL(process.env.ALOFT_BENCH_ENTRY).href : '../../dist/aloft.js';
const { startAloft } = await import(entry);

const { values } = parseArgs({ options: { spec: { type: 'string' } } });
if (!values.spec) throw new Error('usage: aloft-server.mjs --spec <aloft.yaml>');

let aloft;
try {
  const running = await startAloft({ spec: values.spec, port: 0, host: '127.0.0.1' });
  aloft = running;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void running.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await running.waitReady(60_000);
  const replicas = running.orchestrator.status().flatMap((r) => (r.pid === undefined ? [] : [r.pid]));
  process.stdout.write(`${JSON.stringify({ event: 'ready', url: running.url, pid: process.pid, replicas })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ event: 'error', message: err instanceof Error ? err.message : String(err) })}\n`);
  await aloft?.close().catch(() => undefined);
  process.exit(1);
}
