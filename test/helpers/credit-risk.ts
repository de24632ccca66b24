/**
 * Requests for the credit-risk example model (input 'features' FP32 [-1, 22], output
 * 'probability' FP32 [-1, 1]) and a check that a gateway still answers one correctly.
 */
import assert from 'node:assert/strict';
import { postJson } from './http.js';

/** One applicant's 22 encoded features (the first row of examples/credit-risk/request.json). */
export const ROW: readonly number[] = [29, 56300, 20000, 12, 704, 0.279, 3, 9.5, 1, 10.2, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0];
export const FEATURES = ROW.length;

export interface FeaturesInput {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown;
  parameters?: Record<string, unknown>;
}

/** The `features` input for `rows` copies of ROW, with fields overridden (undefined removes one). */
export function featuresInput(overrides: Partial<Record<keyof FeaturesInput, unknown>> = {}, rows = 1): FeaturesInput {
  const input: Record<string, unknown> = {
    name: 'features', datatype: 'FP32', shape: [rows, FEATURES], data: Array.from({ length: rows }, () => ROW).flat(),
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete input[k];
    else input[k] = v;
  }
  return input as unknown as FeaturesInput;
}

/** A whole request body object: `{ inputs: [features] }` plus extra top-level fields. */
export function inferBody(extra: Record<string, unknown> = {}, rows = 1): Record<string, unknown> {
  return { inputs: [featuresInput({}, rows)], ...extra };
}

/** ROW as little-endian FP32 bytes (the binary tensor data extension). */
export function rowBytes(rows = 1): Buffer {
  const f = new Float32Array(rows * FEATURES);
  for (let r = 0; r < rows; r++) f.set(ROW, r * FEATURES);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
}

/**
 * A binary-extension body: the JSON header then `bytes`, and the header's byte length
 * (for Inference-Header-Content-Length).
 */
export function binaryBody(header: unknown, bytes: Buffer): { body: Buffer; headerLength: number } {
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  return { body: Buffer.concat([head, bytes]), headerLength: head.length };
}

/**
 * POST one row to `{base}/v2/models/{model}/infer` and check a well-formed answer: 200,
 * one 'probability' FP32 [1, 1] output in [0, 1]. Returns the probability. When `expected`
 * is given, the probability must equal it (same model, same input: same answer).
 */
export async function inferOnce(base: string, expected?: number, model = 'credit-risk'): Promise<number> {
  const res = await postJson(`${base}/v2/models/${model}/infer`, inferBody());
  assert.equal(res.status, 200, `a valid inference must succeed, got ${res.status}: ${res.text.slice(0, 500)}`);
  const body = res.json as { model_name: string; outputs: { name: string; datatype: string; shape: number[]; data: number[] }[] };
  assert.equal(body.model_name, model);
  assert.equal(body.outputs.length, 1);
  const out = body.outputs[0]!;
  assert.equal(out.name, 'probability');
  assert.equal(out.datatype, 'FP32');
  assert.deepEqual(out.shape, [1, 1]);
  assert.equal(out.data.length, 1);
  const p = out.data[0]!;
  assert.ok(typeof p === 'number' && p >= 0 && p <= 1, `probability must be in [0, 1], got ${p}`);
  if (expected !== undefined) assert.equal(p, expected, 'the same input must give the same probability');
  return p;
}
