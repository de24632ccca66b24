/**
 * Aloft as `aloft up` runs it (startAloft: gateway + replicas as child processes), from
 * source, so the benchmark does not depend on a fresh `npm run build`.
 *
 * Usage: node --import tsx bench/peers/aloft-server.ts --spec <aloft.yaml>
 * Prints `{"event":"ready","url":...,"pid":N,"replicas":[pid,...]}` once every replica is
 * ready; SIGTERM/SIGINT drain and stop (replicas included).
 */
import { parseArgs } from 'node:util';
import { startAloft, type RunningAloft } from '../../src/aloft.js';

const { values } = parseArgs({ options: { spec: { type: 'string' } } });
if (!values.spec) throw new Error('usage: aloft-server.ts --spec <aloft.yaml>');

let aloft: RunningAloft | undefined;
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
  process.stdout.write(`${JSON.stringify({ event: 'error', message: (err as Error).message })}\n`);
  await aloft?.close().catch(() => undefined);
  process.exit(1);
}
