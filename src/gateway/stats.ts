/**
 * Per model-version counters in the shape of the OIP statistics extension. Durations are
 * accumulated in nanoseconds; updated on the hot path with plain arithmetic only.
 */
import type { Observation } from './observe.js';

export interface DurationStat { count: number; ns: number }

export interface BatchStat {
  batch_size: number;
  compute_input: DurationStat;
  compute_infer: DurationStat;
  compute_output: DurationStat;
}

const zero = (): DurationStat => ({ count: 0, ns: 0 });

export class ModelStats {
  lastInference = 0;
  /** Requests answered (OIP counts each request as one inference). */
  inferenceCount = 0;
  /** Batches executed on replicas. */
  executionCount = 0;
  readonly success = zero();
  readonly fail = zero();
  readonly queue = zero();
  readonly computeInput = zero();
  readonly computeInfer = zero();
  readonly computeOutput = zero();
  readonly #batches = new Map<number, BatchStat>();
  readonly #onBatch: ((size: number) => void) | undefined;

  /** `onBatch` sees every batch size (for metrics). */
  constructor(onBatch?: (size: number) => void) {
    this.#onBatch = onBatch;
  }

  /** Record one finished batch of `size` requests. */
  recordBatch(size: number, inferMs: number): void {
    this.executionCount++;
    this.#onBatch?.(size);
    let b = this.#batches.get(size);
    if (!b) {
      b = { batch_size: size, compute_input: zero(), compute_infer: zero(), compute_output: zero() };
      this.#batches.set(size, b);
    }
    b.compute_infer.count++;
    b.compute_infer.ns += Math.round(inferMs * 1e6);
    this.computeInfer.count += size;
    this.computeInfer.ns += Math.round(inferMs * 1e6) * size;
  }

  recordQueue(ms: number): void {
    this.queue.count++;
    this.queue.ns += Math.round(ms * 1e6);
  }

  recordInput(ms: number): void {
    this.computeInput.count++;
    this.computeInput.ns += Math.round(ms * 1e6);
  }

  recordOutput(ms: number): void {
    this.computeOutput.count++;
    this.computeOutput.ns += Math.round(ms * 1e6);
  }

  /** One answered request (the pipeline's observation point). */
  observe(o: Observation): void {
    if (o.inputMs !== undefined) this.recordInput(o.inputMs);
    if (o.outputMs !== undefined) this.recordOutput(o.outputMs);
    this.recordResult(o.status === 200, o.totalMs, o.at);
  }

  recordResult(ok: boolean, totalMs: number, wallMs: number): void {
    const s = ok ? this.success : this.fail;
    s.count++;
    s.ns += Math.round(totalMs * 1e6);
    if (ok) {
      this.inferenceCount++;
      this.lastInference = wallMs;
    }
  }

  toJSON(name: string, version: string): Record<string, unknown> {
    return {
      name,
      version,
      last_inference: Math.round(this.lastInference),
      inference_count: this.inferenceCount,
      execution_count: this.executionCount,
      inference_stats: {
        success: this.success,
        fail: this.fail,
        queue: this.queue,
        compute_input: this.computeInput,
        compute_infer: this.computeInfer,
        compute_output: this.computeOutput,
        cache_hit: zero(),
        cache_miss: zero(),
      },
      batch_stats: [...this.#batches.values()].sort((a, b) => a.batch_size - b.batch_size),
    };
  }
}
