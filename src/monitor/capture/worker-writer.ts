/**
 * The gateway's side of the capture thread (capture-worker.ts): a CaptureWriter that
 * posts each batch's buffer of stored records to the thread, transferred (not cloned), one
 * batch at a time. If the thread dies, what it had is counted as dropped and the next
 * batch starts a new one.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../log.js';
import { lostAll, type CaptureBatch, type CaptureWriter, type WriteReport } from './capture.js';
import type { CaptureWorkerData, FromWorker, ToWorker } from './capture-worker.js';

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const ENTRY = new URL(FROM_SOURCE ? './capture-worker.ts' : './capture-worker.js', import.meta.url);

export class WorkerWriter implements CaptureWriter {
  readonly #data: CaptureWorkerData;
  readonly #logger: Logger;
  #worker: Worker | undefined;
  #ready: Promise<void> | undefined;
  #seq = 0;
  readonly #pending = new Map<number, { resolve(r: WriteReport): void; batch: CaptureBatch }>();

  constructor(data: CaptureWorkerData, logger: Logger) {
    this.#data = data;
    this.#logger = logger;
  }

  async write(batch: CaptureBatch): Promise<WriteReport> {
    const worker = await this.#start();
    const seq = this.#seq++;
    // The buffer is the batch's own (record.ts ByteWriter, never pooled): it moves to the thread.
    const bytes = batch.bytes;
    return new Promise<WriteReport>((resolve) => {
      this.#pending.set(seq, { resolve, batch: { ...batch, bytes: new Uint8Array(0), config: batch.config.slice() } });
      worker.postMessage({ type: 'write', seq, batch } satisfies ToWorker, [bytes.buffer as ArrayBuffer, batch.config.buffer as ArrayBuffer, batch.ends.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    await this.#ready?.catch(() => undefined);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      worker.on('message', (m: FromWorker) => { if (m.type === 'closed') { clearTimeout(timer); resolve(); } });
      worker.once('exit', () => { clearTimeout(timer); resolve(); });
      worker.postMessage({ type: 'close' } satisfies ToWorker);
    });
    this.#worker = undefined;
    await worker.terminate();
  }

  #start(): Promise<Worker> {
    if (this.#worker && this.#ready) return this.#ready.then(() => this.#worker!);
    const worker = FROM_SOURCE
      ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(ENTRY.href)}); });`, { eval: true, workerData: this.#data })
      : new Worker(ENTRY, { workerData: this.#data });
    worker.unref();
    this.#worker = worker;
    this.#ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'report') {
          const p = this.#pending.get(m.seq);
          this.#pending.delete(m.seq);
          p?.resolve(m.report);
        } else if (m.type === 'warn') this.#logger.warn({ error: m.error }, m.message);
      });
      const gone = (why: string) => {
        reject(new Error(why));
        if (this.#worker === worker) this.#worker = undefined;
        for (const [seq, p] of this.#pending) {
          this.#pending.delete(seq);
          p.resolve(lostAll(p.batch, 'writer'));
        }
      };
      worker.once('error', (err) => { this.#logger.warn({ err }, 'the capture thread failed; what it held was dropped'); gone(err.message); });
      worker.once('exit', (code) => gone(`the capture thread exited (${code})`));
    });
    return this.#ready.then(() => worker);
  }
}
