/**
 * The gateway's side of the capture thread (capture-worker.ts): a CaptureWriter that
 * copies each batch's tensors (exact-size copies, so no request body or batch output
 * travels with them) and posts it, one batch at a time. If the thread dies, what it had
 * is counted as dropped and the next batch starts a new one.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../log.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { CaptureWriter, PendingCapture, WriteReport } from './capture.js';
import type { CaptureWorkerData, FromWorker, ToWorker } from './capture-worker.js';

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const ENTRY = new URL(FROM_SOURCE ? './capture-worker.ts' : './capture-worker.js', import.meta.url);

function copy(t: Tensor): Tensor {
  const d = t.data;
  return { name: t.name, datatype: t.datatype, shape: [...t.shape], data: Array.isArray(d) ? d : (d as Float32Array).slice() } as Tensor;
}

export class WorkerWriter implements CaptureWriter {
  readonly #data: CaptureWorkerData;
  readonly #logger: Logger;
  #worker: Worker | undefined;
  #ready: Promise<void> | undefined;
  #seq = 0;
  readonly #pending = new Map<number, { resolve(r: WriteReport): void; items: readonly PendingCapture[] }>();

  constructor(data: CaptureWorkerData, logger: Logger) {
    this.#data = data;
    this.#logger = logger;
  }

  async write(items: readonly PendingCapture[]): Promise<WriteReport> {
    const worker = await this.#start();
    const seq = this.#seq++;
    const batch: PendingCapture[] = items.map((i) => ({ config: i.config, source: { ...i.source, inputs: i.source.inputs.map(copy), outputs: i.source.outputs.map(copy) } }));
    return new Promise<WriteReport>((resolve) => {
      this.#pending.set(seq, { resolve, items });
      worker.postMessage({ type: 'write', seq, items: batch } satisfies ToWorker);
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
          p.resolve({ written: [], failed: p.items.map((i) => ({ deployment: i.source.deployment, sink: 'writer', n: 1 })) });
        }
      };
      worker.once('error', (err) => { this.#logger.warn({ err }, 'the capture thread failed; what it held was dropped'); gone(err.message); });
      worker.once('exit', (code) => gone(`the capture thread exited (${code})`));
    });
    return this.#ready.then(() => worker);
  }
}
