/**
 * The two benchmark models, their request rows, the pre-encoded request bodies every
 * system receives, and the expected answers from ONNX Runtime in this process, against
 * which every system's answers are checked before it is measured.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { generateApplicants, encode } from '../examples/credit-risk/data.js';
import { inferRequest } from '../examples/credit-risk/infer-request.js';
import { Random } from '../examples/credit-risk/random.js';
import { decodeInferResponse, encodeInferRequest } from '../src/runtime/codec/index.js';
import { ROOT } from './child.js';
import { buildMnistMlp } from './models/mnist.js';

export const MODEL_IDS = ['credit-risk', 'mnist'] as const;
export type ModelId = (typeof MODEL_IDS)[number];

/** Absolute tolerance when comparing a system's outputs with ONNX Runtime's. */
export const TOLERANCE = 1e-5;

export type BodyKind = 'json' | 'binary';

export interface EncodedRequest {
  body: Buffer;
  headers: Record<string, string>;
}

export interface Workload {
  id: ModelId;
  /** For the report. */
  title: string;
  /** Deployment name, as in /v2/models/<name>/infer. */
  name: string;
  /** Absolute path of the .onnx file (runtime only). */
  modelPath: string;
  inputName: string;
  width: number;
  outputName: string;
  outWidth: number;
  /** Distinct request rows (batch 1 each). */
  rows: Float32Array[];
  /** ONNX Runtime's output for each row. */
  expected: Float32Array[];
  /** One request per row, by body kind (binary only where the benchmark sends it). */
  bodies: Partial<Record<BodyKind, EncodedRequest[]>>;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

function binaryRequest(inputName: string, row: Float32Array): EncodedRequest {
  const enc = encodeInferRequest([{ name: inputName, datatype: 'FP32', shape: [1, row.length], data: row }], { binary: true, binaryOutput: true });
  return {
    body: enc.body,
    headers: { 'content-type': enc.contentType, 'inference-header-content-length': String(enc.headerLength ?? enc.body.length) },
  };
}

/** Pixel-like MNIST inputs: mostly 0, the rest k/255. */
function mnistRows(n: number, seed: number): Float32Array[] {
  const rng = new Random(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: 784 }, () => (rng.next() < 0.8 ? 0 : Math.round(rng.next() * 255) / 255)));
}

/** ONNX Runtime's answers for each row, batch 1, default session options. */
async function reference(modelPath: string, inputName: string, outputName: string, rows: readonly Float32Array[]): Promise<Float32Array[]> {
  const session = await InferenceSession.create(modelPath);
  try {
    const out: Float32Array[] = [];
    for (const row of rows) {
      const res = await session.run({ [inputName]: new OrtTensor('float32', row, [1, row.length]) }, [outputName]);
      out.push(Float32Array.from(res[outputName]!.data as Float32Array));
    }
    return out;
  } finally {
    await session.release();
  }
}

/** Build a workload; the MNIST model file is written into `tmpDir`. */
export async function loadWorkload(id: ModelId, tmpDir: string): Promise<Workload> {
  if (id === 'credit-risk') {
    const applicants = generateApplicants(64, { seed: 2024 });
    const rows = applicants.map((a) => encode(a));
    const modelPath = join(ROOT, 'examples/credit-risk/model.onnx');
    return {
      id, name: 'credit-risk', title: 'credit-risk (examples/credit-risk/model.onnx, `features` FP32 [-1,22] → `probability` [-1,1])',
      modelPath, inputName: 'features', width: 22, outputName: 'probability', outWidth: 1,
      rows, expected: await reference(modelPath, 'features', 'probability', rows),
      bodies: { json: applicants.map((a) => ({ body: Buffer.from(JSON.stringify(inferRequest([a]))), headers: JSON_HEADERS })) },
    };
  }
  const modelPath = join(tmpDir, 'mnist-mlp.onnx');
  writeFileSync(modelPath, buildMnistMlp());
  // 32 distinct bodies: autocannon pre-builds every body per connection (64 × 32 × ~5 KB).
  const rows = mnistRows(32, 7);
  return {
    id, name: 'mnist', title: 'MNIST-sized MLP (784-256-128-10, `buildMnistMlp()`, `input` FP32 [-1,784] → `probabilities` [-1,10])',
    modelPath, inputName: 'input', width: 784, outputName: 'probabilities', outWidth: 10,
    rows, expected: await reference(modelPath, 'input', 'probabilities', rows),
    bodies: {
      json: rows.map((row) => ({
        body: encodeInferRequest([{ name: 'input', datatype: 'FP32', shape: [1, 784], data: row }], { binary: false }).body,
        headers: JSON_HEADERS,
      })),
      binary: rows.map((row) => binaryRequest('input', row)),
    },
  };
}

/** Compare one output row with the expected one; a message on mismatch. */
export function compareRow(w: Workload, i: number, got: ArrayLike<number>): string | undefined {
  const want = w.expected[i]!;
  if (got.length !== want.length) return `row ${i}: ${got.length} output values, expected ${want.length}`;
  for (let j = 0; j < want.length; j++) {
    const d = Math.abs(got[j]! - want[j]!);
    if (!(d <= TOLERANCE)) return `row ${i}: ${w.outputName}[${j}] = ${got[j]} but ONNX Runtime gives ${want[j]} (|diff| ${d} > ${TOLERANCE})`;
  }
  return undefined;
}

/**
 * Check one HTTP response against ONNX Runtime's answer for row `i`: status 200, an OIP
 * response (JSON or binary) with the output tensor [1, outWidth] and values within TOLERANCE.
 */
export function checkResponse(w: Workload, i: number, status: number, body: Buffer, headerLength: string | null): string | undefined {
  if (status !== 200) return `row ${i}: HTTP ${status}: ${body.toString('utf8').slice(0, 200)}`;
  let outputs;
  try {
    outputs = decodeInferResponse(body, headerLength === null ? undefined : Number(headerLength)).outputs;
  } catch (err) {
    return `row ${i}: not an inference response: ${(err as Error).message}`;
  }
  const out = outputs.find((o) => o.name === w.outputName);
  if (!out) return `row ${i}: no output '${w.outputName}' (got ${outputs.map((o) => o.name).join(', ') || 'none'})`;
  if (out.shape.length !== 2 || out.shape[0] !== 1 || out.shape[1] !== w.outWidth) return `row ${i}: output shape [${out.shape.join(',')}], expected [1,${w.outWidth}]`;
  return compareRow(w, i, out.data as Float32Array);
}
