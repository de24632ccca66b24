/**
 * One ONNX model loaded in ONNX Runtime, with Aloft's tensors in and out.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { fail, isAloftError } from '../errors.js';
import { readSignature } from '../onnx/signature.js';
import { DATATYPES, datatypeFromOrt, type TensorData } from './datatypes.js';
import type { ExecutionMode, GraphOptimization } from './replica-spec.js';
import type { ModelSignature, Tensor } from './tensor.js';

export interface SessionOptions {
  /** Threads for one operator. Default max(1, availableParallelism() / 2); the caller divides the machine between replicas. */
  intraOpThreads?: number;
  /** Threads across operators (parallel execution mode only). Default 1. */
  interOpThreads?: number;
  /** ONNX Runtime graph optimization level. Default 'all'. */
  graphOptimization?: GraphOptimization;
  /** Default 'sequential'. */
  executionMode?: ExecutionMode;
  /**
   * ONNX Runtime's worker threads busy-wait for work instead of sleeping (its own default).
   * Default false: spinning threads hold cores between batches that the gateway and the
   * other replicas need (spec field runtime.allowSpinning says what was measured).
   */
  allowSpinning?: boolean;
  /** Lower-case hex sha256 the file must have; a mismatch is refused (ALOFT_ARTIFACT_CORRUPT) before loading. */
  expectedSha256?: string;
}

/** What ONNX Runtime is given for `opts` (Aloft's defaults filled in). */
export function ortSessionOptions(opts: SessionOptions): InferenceSession.SessionOptions {
  const spin = opts.allowSpinning === true ? '1' : '0';
  return {
    intraOpNumThreads: opts.intraOpThreads ?? defaultIntraOpThreads(),
    interOpNumThreads: opts.interOpThreads ?? 1,
    graphOptimizationLevel: opts.graphOptimization ?? 'all',
    executionMode: opts.executionMode ?? 'sequential',
    // session.intra_op.allow_spinning and session.inter_op.allow_spinning: ONNX Runtime's config keys.
    extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
  };
}

export function defaultIntraOpThreads(): number {
  return Math.max(1, Math.floor(availableParallelism() / 2));
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * @example
 *   const s = await ModelSession.open('model.onnx', { intraOpThreads: 1 });
 *   await s.warmUp();
 *   const [y] = await s.run([{ name: 'features', datatype: 'FP32', shape: [1, 16], data: x }]);
 *   await s.close();
 */
/** Where a replica's start went, ms: reading and hashing the file, ONNX Runtime's load, the warm-up run, listening. */
export interface StartupTimings {
  /** From the process's (or thread's) start to the replica code running: node and its imports. */
  bootMs?: number;
  verifyMs?: number;
  loadMs?: number;
  warmUpMs?: number;
  listenMs?: number;
}

export class ModelSession {
  private closed = false;

  private constructor(
    private readonly session: InferenceSession,
    /** What the model accepts and returns, read from the same bytes ONNX Runtime loaded. */
    readonly signature: ModelSignature,
  ) {}

  /**
   * Read, verify (when `expectedSha256` is given) and load a model file. The bytes that
   * were hashed are the bytes loaded.
   *
   * @throws AloftError ALOFT_ARTIFACT_MISSING (unreadable file), ALOFT_ARTIFACT_CORRUPT
   *   (hash mismatch), ALOFT_MODEL_INVALID (not a model ONNX Runtime can load).
   */
  static async open(path: string, opts: SessionOptions = {}, timings?: StartupTimings): Promise<ModelSession> {
    let t = performance.now();
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (e) {
      throw fail('ALOFT_ARTIFACT_MISSING', `cannot read the model file ${path}: ${errorMessage(e)}`, { cause: e });
    }
    if (opts.expectedSha256 !== undefined) {
      const actual = createHash('sha256').update(bytes).digest('hex');
      if (actual !== opts.expectedSha256.toLowerCase()) {
        throw fail(
          'ALOFT_ARTIFACT_CORRUPT',
          `the model file ${path} has sha256 ${actual} but ${opts.expectedSha256} was recorded; it was changed or corrupted and will not be loaded: re-register the model`,
        );
      }
    }
    if (timings) { const n = performance.now(); timings.verifyMs = n - t; t = n; }
    const signature = readSignature(bytes);
    let session: InferenceSession;
    try {
      session = await InferenceSession.create(bytes, ortSessionOptions(opts));
      if (timings) timings.loadMs = performance.now() - t;
    } catch (e) {
      throw fail('ALOFT_MODEL_INVALID', `ONNX Runtime cannot load the model ${path}: ${errorMessage(e)}`, { cause: e });
    }
    return new ModelSession(session, signature);
  }

  /**
   * Run the model. Inputs are by name (any order); outputs come back in `outputNames`
   * order, or the model's output order when omitted.
   *
   * @throws AloftError ALOFT_UNSUPPORTED_DATATYPE for BF16 (not supported by onnxruntime-node),
   *   ALOFT_REPLICA_FAILED when ONNX Runtime fails.
   */
  async run(inputs: readonly Tensor[], outputNames?: readonly string[]): Promise<Tensor[]> {
    if (this.closed) throw fail('ALOFT_NOT_READY', 'the model session is closed');
    const feeds: Record<string, OrtTensor> = {};
    for (const t of inputs) feeds[t.name] = toOrt(t);
    const names = outputNames ?? this.signature.outputs.map((o) => o.name);
    let results: InferenceSession.ReturnType;
    try {
      results = await this.session.run(feeds, names as string[]);
    } catch (e) {
      if (isAloftError(e)) throw e;
      throw fail('ALOFT_REPLICA_FAILED', `the model failed to run: ${errorMessage(e)}`, { cause: e });
    }
    return names.map((name) => fromOrt(name, results[name]));
  }

  /** One inference with zeros (dynamic dimensions = 1), so the first real request is not slow. */
  async warmUp(): Promise<void> {
    const inputs: Tensor[] = this.signature.inputs.map((spec) => {
      const shape = spec.shape.map((d) => (d < 0 ? 1 : d));
      let n = 1;
      for (const d of shape) n *= d;
      const ctor = DATATYPES[spec.datatype].array;
      const data: TensorData = ctor === null ? Array.from({ length: n }, () => Buffer.alloc(0)) : new ctor(n);
      return { name: spec.name, datatype: spec.datatype, shape, data };
    });
    await this.run(inputs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.release();
  }
}

function toOrt(t: Tensor): OrtTensor {
  const info = DATATYPES[t.datatype];
  if (t.datatype === 'BF16') {
    throw fail('ALOFT_UNSUPPORTED_DATATYPE', `input '${t.name}' is BF16, which onnxruntime-node cannot feed; cast the model input to FP32 or FP16`);
  }
  const data = Array.isArray(t.data) ? t.data.map((b) => b.toString('utf8')) : t.data;
  return new OrtTensor(info.ort as 'float32', data as Float32Array, t.shape);
}

function fromOrt(name: string, v: unknown): Tensor {
  if (!(v instanceof OrtTensor)) throw fail('ALOFT_REPLICA_FAILED', `the model returned no tensor for output '${name}'`);
  const datatype = datatypeFromOrt(v.type);
  if (datatype === undefined) throw fail('ALOFT_REPLICA_FAILED', `output '${name}' has ONNX Runtime type ${v.type}, which Aloft cannot carry`);
  const shape = v.dims.map(Number);
  const raw = v.data;
  const data: TensorData = Array.isArray(raw) ? (raw as string[]).map((s) => Buffer.from(s, 'utf8')) : (raw as Exclude<TensorData, Buffer[]>);
  return { name, datatype, shape, data };
}
