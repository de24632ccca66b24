/**
 * The capture writer's thread. Hashing, sealing and storing records cost about 10 µs of
 * CPU per record (capture.ts InlineWriter, store.ts), more with hashed columns: on the
 * gateway's event loop that would be a sixth of its time at full load. Here they run beside it.
 * The thread opens its own connection to the state database (SQLite in WAL mode, or the
 * same PostgreSQL), its own JSONL files and NATS connections; the gateway sends it batches
 * of stored records (one transferred buffer each) and gets back what was written.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '../../clock.js';
import { silentLogger, type Logger } from '../../log.js';
import type { CaptureSpec } from '../../spec/types.js';
import { openStore } from '../../store/db.js';
import { InlineWriter, lostAll, type CaptureBatch, type CaptureConfig } from './capture.js';
import { KeyRings } from './crypto.js';
import { JsonlSink } from './jsonl.js';
import { NatsSink } from './nats.js';
import { CaptureStore } from './store.js';

export interface CaptureWorkerData {
  /** The database URL (undefined: SQLite in stateDir). */
  url: string | undefined;
  stateDir: string;
  jsonlDir: string;
}

export type ToWorker = { type: 'write'; seq: number; batch: CaptureBatch } | { type: 'close' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'report'; seq: number; report: import('./capture.js').WriteReport }
  | { type: 'warn'; message: string; error?: string }
  | { type: 'closed' };

/**
 * The thread runs at a lower CPU priority than the gateway and the replicas (nice +10, on
 * Linux; elsewhere it stays as it is): when the cores are saturated, predictions keep the
 * CPU and capture falls behind, so its queue fills and samples are dropped and counted,
 * rather than capture taking its share from the answers. With cores to spare it changes
 * nothing.
 */
export const CAPTURE_THREAD_NICE = 10;

function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, Math.min(19, getPriority(tid) + CAPTURE_THREAD_NICE));
  } catch { /* not Linux, or not allowed: the thread keeps the process's priority */ }
}

if (parentPort) {
  lowerPriority();
  const port = parentPort;
  const data = workerData as CaptureWorkerData;
  const send = (m: FromWorker) => port.postMessage(m);
  // Warnings go to the gateway's log.
  const logger = Object.assign(Object.create(silentLogger) as Logger, {
    warn: (obj: unknown, msg?: string) => {
      const err = (obj as { err?: unknown })?.err;
      send({ type: 'warn', message: msg ?? String(obj), ...(err ? { error: err instanceof Error ? err.message : String(err) } : {}) });
    },
  });
  const store = await openStore({ url: data.url, stateDir: data.stateDir });
  const rings = new KeyRings();
  const nats = new Map<string, NatsSink>();
  const writer = new InlineWriter({
    sinks: [new CaptureStore(store), new JsonlSink({ dir: data.jsonlDir, clock: systemClock })],
    sinksFor: (c: CaptureConfig) => {
      if (!c.capture.sinks.includes('nats')) return [];
      const { url, stream, subject } = c.capture.nats;
      const id = `${url}\u0000${stream}\u0000${subject}`;
      let sink = nats.get(id);
      if (!sink) nats.set(id, (sink = new NatsSink({ url, stream, subject, logger, maxAgeMs: c.capture.retention })));
      return [sink];
    },
    logger,
    ring: (deployment: string, spec: CaptureSpec) => rings.of(deployment, spec.key, spec.previousKeys),
  });
  port.on('message', (m: ToWorker) => {
    if (m.type === 'write') {
      void writer.write(m.batch).then((report) => send({ type: 'report', seq: m.seq, report }), (err: unknown) => {
        send({ type: 'warn', message: 'capture write failed', error: err instanceof Error ? err.message : String(err) });
        send({ type: 'report', seq: m.seq, report: lostAll(m.batch, 'writer') });
      });
    } else if (m.type === 'close') {
      void writer.close().then(() => store.close()).finally(() => send({ type: 'closed' }));
    }
  });
  send({ type: 'ready' });
}
