/**
 * The capture writer's thread. Building a record, encoding it, sealing it with AES-GCM and
 * inserting it cost about 100 µs of CPU each (capture.ts, InlineWriter): on the gateway's
 * event loop that would take a third of its time at full load. Here they run beside it.
 * The thread opens its own connection to the state database (SQLite in WAL mode, or the
 * same PostgreSQL), its own JSONL files and NATS connections; the gateway sends it batches
 * of raw predictions (copies of the tensors) and gets back what was written.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '../../clock.js';
import { silentLogger, type Logger } from '../../log.js';
import type { CaptureSpec } from '../../spec/types.js';
import { openStore } from '../../store/db.js';
import { InlineWriter, type CaptureConfig, type PendingCapture } from './capture.js';
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

export type ToWorker = { type: 'write'; seq: number; items: PendingCapture[] } | { type: 'close' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'report'; seq: number; report: import('./capture.js').WriteReport }
  | { type: 'warn'; message: string; error?: string }
  | { type: 'closed' };

if (parentPort) {
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
      void writer.write(m.items).then((report) => send({ type: 'report', seq: m.seq, report }), (err: unknown) => {
        send({ type: 'warn', message: 'capture write failed', error: err instanceof Error ? err.message : String(err) });
        send({ type: 'report', seq: m.seq, report: { written: [], failed: m.items.map((i) => ({ deployment: i.source.deployment, sink: 'writer', n: 1 })) } });
      });
    } else if (m.type === 'close') {
      void writer.close().then(() => store.close()).finally(() => send({ type: 'closed' }));
    }
  });
  send({ type: 'ready' });
}
