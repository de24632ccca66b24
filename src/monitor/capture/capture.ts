/**
 * Prediction capture, off the request path. The observer (one of the observation point's,
 * gateway/observe.ts) decides per answer whether to keep it (the deployment's
 * capture.sampleRate) and, if so, appends its stored form (record.ts: the tensors' bytes,
 * redacted columns left out; a copy of a few hundred bytes, no number formatting, no I/O)
 * to the batch being filled. A flush, on the injected clock's timer, hands the batches to
 * the writer, which hashes the `hash` columns and writes them to the sinks the deployment
 * names, which seal them (crypto.ts: the store a block per batch, JSONL and NATS each
 * record); aloft up runs the writer in its own thread. One flush runs at a time; while a sink is slow the queue fills to
 * capture.buffer and then new samples are dropped and counted, so a stalled sink costs
 * bounded memory and never slows or fails a prediction. A sink that fails drops its batch
 * (counted, logged) and the next flush tries again with new records.
 */
import type { Clock, Timer } from '../../clock.js';
import { MAX_REQUEST_ID } from '../../runtime/codec/decode-request.js';
import type { Observer } from '../../gateway/observe.js';
import type { Logger } from '../../log.js';
import type { CaptureSpec, FeatureSpec } from '../../spec/types.js';
import { KeyRings, type KeyRing, type SealedRecord } from './crypto.js';
import { ByteWriter, hashStored, readHead, writeSource, type RecordSource } from './record.js';

/** One sealed record with what a sink may keep in the clear. */
export interface SealedCapture {
  deployment: string;
  id: string;
  /** ISO time of the answer. */
  at: string;
  version: number;
  sealed: SealedRecord;
}

/**
 * One record on its way to the sinks: its stored form (record.ts), hashed, not yet sealed,
 * with the key ring it is sealed under. The store seals the records of a batch together
 * (store.ts); the JSONL and NATS sinks ship records one by one, each sealed on its own
 * (`sealed`, computed once however many sinks ask).
 */
export class PlainCapture {
  readonly deployment: string;
  readonly id: string;
  /** ms since the epoch */
  readonly at: number;
  readonly version: number;
  readonly plain: Buffer;
  readonly ring: KeyRing;
  #sealed: SealedCapture | undefined;

  /** `head`: the record's own (record.ts readHead); `plain`: its stored form. */
  constructor(head: { deployment: string; id: string; at: number; version: number }, plain: Buffer, ring: KeyRing) {
    this.deployment = head.deployment;
    this.id = head.id;
    this.at = head.at;
    this.version = head.version;
    this.plain = plain;
    this.ring = ring;
  }

  /** The record sealed alone (AES-256-GCM, its deployment and id as associated data). */
  sealed(): SealedCapture {
    return (this.#sealed ??= { deployment: this.deployment, id: this.id, at: new Date(this.at).toISOString(), version: this.version, sealed: this.ring.seal(this.plain, aadOf(this.deployment, this.id)) });
  }
}

export interface CaptureSink {
  readonly name: 'store' | 'jsonl' | 'nats';
  /** Resolves, optionally, to the records not kept per deployment because a record with their request id was stored before (the store keeps the first). */
  write(batch: readonly PlainCapture[]): Promise<void | ReadonlyMap<string, number>>;
  close?(): Promise<void>;
}

/** What a deployment captures (the live spec). */
export interface CaptureConfig {
  capture: CaptureSpec;
  features?: readonly FeatureSpec[];
}

export interface CaptureCounts {
  /** Records written, per sink. */
  written: Record<string, number>;
  /** Samples dropped because the queue was full. */
  droppedFull: number;
  /** Records lost because a sink failed. */
  droppedSink: number;
  /** droppedSink by the sink that failed (store, jsonl, nats, or writer when the writer itself failed). */
  failedBy?: Record<string, number>;
  /** Records the store did not keep: a record with the same request id was stored before (it keeps the first). */
  repeated: number;
  queued: number;
}

export interface CaptureOptions {
  clock: Clock;
  logger: Logger;
  config(deployment: string): CaptureConfig | undefined;
  /** Where records go, built and sealed here (tests, and the worker's own writer); or `writer`. */
  sinks?: readonly CaptureSink[];
  /** Sinks that depend on a deployment's settings (the NATS stream it names), made on first use. */
  sinksFor?(c: CaptureConfig): readonly CaptureSink[];
  /** Who builds, seals and writes the records: default in this thread to `sinks`; aloft up uses a worker thread (capture-worker.ts). */
  writer?: CaptureWriter;
  /** [0, 1) per answer, for sampling. Default Math.random. */
  random?: () => number;
  /** How often the queue is flushed. Default 200 ms. */
  flushMs?: number;
  /** Records per batch (per writer call). Default 500. */
  batch?: number;
}

/**
 * Records to write, in their stored form (record.ts), back to back in one buffer: the
 * gateway writes each as it samples it, and a batch travels to the capture thread as one
 * transferred buffer, not as objects to clone.
 */
export interface CaptureBatch {
  bytes: Uint8Array;
  /** Where each record ends in `bytes`. */
  ends: Uint32Array;
  /** Each record's deployment and settings: an index into `configs`. */
  config: Uint16Array;
  configs: { deployment: string; config: CaptureConfig }[];
}

/** Builds a CaptureBatch as predictions are sampled. */
export class BatchBuilder {
  readonly #w = new ByteWriter(16 * 1024);
  #ends = new Uint32Array(64);
  #config = new Uint16Array(64);
  #n = 0;
  readonly #configs: { deployment: string; config: CaptureConfig }[] = [];

  get size(): number {
    return this.#n;
  }

  /** Append one prediction (redacted now; hashed and sealed in the writer). */
  add(src: RecordSource, c: CaptureConfig): void {
    let i = this.#configs.findIndex((x) => x.deployment === src.deployment && x.config.capture === c.capture && x.config.features === c.features);
    if (i < 0) {
      if (this.#configs.length > 0xffff) throw new Error('a capture batch holds at most 65536 settings');
      i = this.#configs.push({ deployment: src.deployment, config: c }) - 1;
    }
    // Nothing of a record that fails to encode stays in the buffer.
    const from = this.#w.n;
    try {
      writeSource(this.#w, src, c.capture, c.features);
    } catch (err) {
      this.#w.n = from;
      throw err;
    }
    if (this.#n === this.#ends.length) {
      const ends = new Uint32Array(this.#n * 2);
      ends.set(this.#ends);
      this.#ends = ends;
      const config = new Uint16Array(this.#n * 2);
      config.set(this.#config);
      this.#config = config;
    }
    this.#ends[this.#n] = this.#w.n;
    this.#config[this.#n++] = i;
  }

  finish(): CaptureBatch {
    return { bytes: this.#w.buf.subarray(0, this.#w.n), ends: this.#ends.subarray(0, this.#n), config: this.#config.subarray(0, this.#n), configs: this.#configs };
  }
}

/** How many records of a batch each deployment has. */
export function perDeployment(batch: CaptureBatch): Map<string, number> {
  const per = new Map<string, number>();
  for (let i = 0; i < batch.config.length; i++) {
    const d = batch.configs[batch.config[i]!]!.deployment;
    per.set(d, (per.get(d) ?? 0) + 1);
  }
  return per;
}

/** What a write did, per deployment and sink. */
export interface WriteReport {
  written: { deployment: string; sink: string; n: number }[];
  failed: { deployment: string; sink: string; n: number }[];
  /** Records a sink did not keep because their request id was stored before (counted once per deployment, not as written). */
  repeated?: { deployment: string; sink: string; n: number }[];
}

/** Every record of a batch, counted as lost by `sink`. */
export function lostAll(batch: CaptureBatch, sink: string): WriteReport {
  return { written: [], failed: [...perDeployment(batch)].map(([deployment, n]) => ({ deployment, sink, n })) };
}

export interface CaptureWriter {
  write(batch: CaptureBatch): Promise<WriteReport>;
  close(): Promise<void>;
}

/**
 * Hashes and writes records in the calling thread; the sinks seal them (the store one
 * block per batch, the others each record). aloft up runs it in a worker thread
 * (capture-worker.ts), off the gateway's event loop.
 */
export interface InlineWriterOptions {
  sinks: readonly CaptureSink[];
  sinksFor?: (c: CaptureConfig) => readonly CaptureSink[];
  logger: Logger;
  ring(deployment: string, spec: CaptureSpec): KeyRing;
}

export class InlineWriter implements CaptureWriter {
  readonly #o: InlineWriterOptions;
  readonly #made = new Set<CaptureSink>();

  constructor(o: InlineWriterOptions) {
    this.#o = o;
  }

  async write(batch: CaptureBatch): Promise<WriteReport> {
    const bySink = new Map<CaptureSink, PlainCapture[]>();
    // Per settings of the batch (few): its key ring and the lists of the sinks it names.
    const per = batch.configs.map(({ deployment, config: c }) => {
      const made = this.#o.sinksFor?.(c) ?? [];
      for (const s of made) this.#made.add(s);
      const lists = [...this.#o.sinks, ...made].filter((s) => c.capture.sinks.includes(s.name)).map((sink) => {
        let list = bySink.get(sink);
        if (!list) bySink.set(sink, (list = []));
        return list;
      });
      return { capture: c.capture, ring: this.#o.ring(deployment, c.capture), lists };
    });
    const all = Buffer.from(batch.bytes.buffer, batch.bytes.byteOffset, batch.bytes.byteLength);
    let from = 0;
    for (let i = 0; i < batch.ends.length; i++) {
      const p = per[batch.config[i]!]!;
      const plain = hashStored(all.subarray(from, batch.ends[i]!), p.capture);
      from = batch.ends[i]!;
      const item = new PlainCapture(readHead(plain), plain, p.ring);
      for (const list of p.lists) list.push(item);
    }
    const report: WriteReport = { written: [], failed: [] };
    await Promise.all([...bySink].map(async ([sink, records]) => {
      const per = new Map<string, number>();
      for (const r of records) per.set(r.deployment, (per.get(r.deployment) ?? 0) + 1);
      try {
        const repeated = await sink.write(records);
        for (const [deployment, n] of per) {
          const r = repeated?.get(deployment) ?? 0;
          if (n > r) report.written.push({ deployment, sink: sink.name, n: n - r });
          if (r > 0) (report.repeated ??= []).push({ deployment, sink: sink.name, n: r });
        }
      } catch (err) {
        for (const [deployment, n] of per) report.failed.push({ deployment, sink: sink.name, n });
        this.#o.logger.warn({ err, sink: sink.name, records: records.length }, 'capture sink failed; its records were dropped');
      }
    }));
    return report;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#o.sinks, ...this.#made].map((s) => s.close?.()));
  }
}

/** The longest request id that is captured (and that feedback accepts): the longest a request may carry. */
export const MAX_ID = MAX_REQUEST_ID;

/** The associated data of a record: it belongs to this deployment and request id. */
export const aadOf = (deployment: string, id: string) => `${deployment}\u0000${id}`;

export class Capture {
  readonly #o: CaptureOptions;
  /** Full batches waiting for the writer, then the one being filled. */
  readonly #ready: BatchBuilder[] = [];
  #current: BatchBuilder | undefined;
  #warnedEncode = false;
  readonly #counts = new Map<string, CaptureCounts>();
  readonly #rings = new KeyRings();
  #timer: Timer | undefined;
  #flushing: Promise<void> | undefined;
  #closed = false;
  readonly #writer: CaptureWriter;

  constructor(o: CaptureOptions) {
    this.#o = o;
    this.#writer = o.writer ?? new InlineWriter({ sinks: o.sinks ?? [], ...(o.sinksFor ? { sinksFor: o.sinksFor } : {}), logger: o.logger, ring: (d, spec) => this.ring(d, spec) });
  }

  observer(): Observer {
    const random = this.#o.random ?? Math.random;
    return (o) => {
      if (o.status !== 200 || o.inputs === undefined || o.outputs === undefined || o.requestId === undefined || this.#closed) return;
      // An id that feedback could not name is not captured (empty, or longer than MAX_ID): not
      // reached from the protocol, whose decoder refuses a longer id and assigns one for an empty one.
      if (o.requestId.length === 0 || o.requestId.length > MAX_ID) return;
      const c = this.#o.config(o.deployment);
      if (c === undefined || !(random() < c.capture.sampleRate)) return;
      const counts = this.#countsOf(o.deployment);
      if (counts.queued >= c.capture.buffer) {
        counts.droppedFull++;
        return;
      }
      const batch = (this.#current ??= new BatchBuilder());
      try {
        batch.add({ id: o.requestId, at: o.at, deployment: o.deployment, version: o.version, model: o.model, key: o.principal?.name ?? 'anonymous', latencyMs: o.totalMs, inputs: o.inputs, outputs: o.outputs }, c);
      } catch (err) {
        counts.droppedSink++;
        (counts.failedBy ??= {}).encoding = (counts.failedBy.encoding ?? 0) + 1;
        if (!this.#warnedEncode) this.#o.logger.warn({ err, deployment: o.deployment }, 'a prediction could not be captured (its record could not be encoded); it was dropped and counted');
        this.#warnedEncode = true;
        return;
      }
      counts.queued++;
      if (batch.size >= (this.#o.batch ?? 500)) {
        this.#ready.push(batch);
        this.#current = undefined;
      }
      this.#timer ??= this.#o.clock.setTimeout(() => {
        this.#timer = undefined;
        void this.flush();
      }, this.#o.flushMs ?? 200);
    };
  }

  /** Per deployment: written, dropped, queued. */
  counts(): { deployment: string; counts: CaptureCounts }[] {
    return [...this.#counts].map(([deployment, counts]) => ({ deployment, counts: structuredClone(counts) }));
  }

  /** The key ring of a deployment's capture spec (cached while the keys stay the same). */
  ring(deployment: string, spec: CaptureSpec): KeyRing {
    return this.#rings.of(deployment, spec.key, spec.previousKeys);
  }

  /** Write everything queued now; resolves when written (or dropped). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#ready.length === 0 && this.#current === undefined) return;
    this.#flushing = this.#write().finally(() => { this.#flushing = undefined; });
    await this.#flushing;
  }

  /** Flush what is queued, then stop taking samples and close the sinks. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.flush();
    await this.#writer.close();
  }

  async #write(): Promise<void> {
    for (;;) {
      const taken = this.#ready.shift() ?? this.#current;
      if (taken === undefined) return;
      if (taken === this.#current) this.#current = undefined;
      const batch = taken.finish();
      for (const [d, n] of perDeployment(batch)) this.#countsOf(d).queued -= n;
      const report = await this.#writer.write(batch).catch((err: unknown): WriteReport => {
        this.#o.logger.warn({ err }, 'the capture writer failed; its records were dropped');
        return lostAll(batch, 'writer');
      });
      for (const w of report.written) {
        const c = this.#countsOf(w.deployment).written;
        c[w.sink] = (c[w.sink] ?? 0) + w.n;
      }
      for (const f of report.failed) {
        const c = this.#countsOf(f.deployment);
        c.droppedSink += f.n;
        (c.failedBy ??= {})[f.sink] = (c.failedBy[f.sink] ?? 0) + f.n;
      }
      for (const r of report.repeated ?? []) this.#countsOf(r.deployment).repeated += r.n;
    }
  }

  #countsOf(deployment: string): CaptureCounts {
    let c = this.#counts.get(deployment);
    if (!c) this.#counts.set(deployment, (c = { written: {}, droppedFull: 0, droppedSink: 0, repeated: 0, queued: 0 }));
    return c;
  }
}
