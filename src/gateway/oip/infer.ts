import type { Clock } from '../../clock.js';
import { randomBytes } from 'node:crypto';
import { fail } from '../../errors.js';
import { checkRequestedOutputs, decodeInferRequest, encodeInferResponse, validateInputs } from '../../runtime/codec/index.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { DeploymentRoute, ServedVersion } from '../route-table.js';

export const INFERENCE_HEADER = 'inference-header-content-length';

function headerLength(raw: string | string[] | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const s = Array.isArray(raw) ? raw[0] : raw;
  if (s === undefined || !/^[0-9]{1,15}$/.test(s.trim())) {
    throw fail('ALOFT_BAD_REQUEST', `Inference-Header-Content-Length must be a non-negative integer, got '${String(s).slice(0, 40)}'`);
  }
  return Number(s.trim());
}

export interface InferAnswer {
  contentType: string;
  /** Inference-Header-Content-Length of a binary answer. */
  headerLength?: number;
  body: Buffer | string;
}

/** What a request's run measured, for the observation (observe.ts); filled as far as it got. */
export interface InferTimings {
  inputMs?: number;
  outputMs?: number;
  rows?: number;
  /** An output held NaN or an infinity: the model failed on this request, whatever the status (rollout analysis counts it). */
  nonFinite?: boolean;
  /**
   * The decoded inputs and the model's outputs, when it got that far (references, not
   * copies): what the observers compare and keep, such as the shadow copy to a candidate and the
   * distribution of predictions. Nobody may change them.
   */
  inputs?: readonly Tensor[];
  outputs?: readonly Tensor[];
  /**
   * The request's id. In: the client's X-Request-Id header, if any. Out: the body's `id`,
   * else that header, else one assigned here; the answer carries it.
   */
  requestId?: string;
}

/** Assigned request ids: a random prefix per process and a counter, unique without coordination. */
const ID_PREFIX = `${randomBytes(5).toString('hex')}-`;
let idCounter = 0;
export function nextRequestId(): string {
  return ID_PREFIX + (idCounter++).toString(36);
}

/** Whether any floating-point output holds NaN or an infinity. */
export function hasNonFinite(outputs: readonly { data: unknown }[]): boolean {
  for (const o of outputs) {
    const d = o.data;
    if (d instanceof Float32Array || d instanceof Float64Array) {
      for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) return true;
    }
  }
  return false;
}

/**
 * POST /v2/models/{name}[/versions/{v}]/infer once the version is resolved and the body
 * read, without the HTTP around it: decode, validate, batch, encode. `deadline` is the
 * clock time by which the answer is due. Throws AloftErrors with the protocol's statuses.
 * The pipeline (pipeline.ts) calls it for every front.
 */
export async function runInfer(
  { dep, served }: { dep: DeploymentRoute; served: ServedVersion },
  body: Buffer, inferenceHeader: string | string[] | undefined, deadline: number, clock: Clock, timings: InferTimings = {},
): Promise<InferAnswer> {
  const t0 = clock.now();
  if (body.length === 0) throw fail('ALOFT_BAD_REQUEST', 'the request body is empty; send an inference request such as {"inputs": [...]}');
  const request = decodeInferRequest(body, headerLength(inferenceHeader), { signature: served.signature });
  const inputs = validateInputs(request.inputs, served.signature);
  if (request.outputs) checkRequestedOutputs(request.outputs, served.signature);
  const t1 = clock.now();
  timings.inputMs = t1 - t0;
  timings.rows = served.signature.batchable ? (inputs[0]?.shape[0] ?? 1) : 1;
  const left = deadline - t1;
  if (left <= 0) throw fail('ALOFT_TIMEOUT', `the request passed its deadline (${dep.timeoutMs} ms from its arrival) before it could be queued; send the body faster or raise the deployment's timeout`);
  timings.inputs = inputs;
  const outputs = await served.batcher.infer(inputs, left);
  timings.outputs = outputs;
  if (hasNonFinite(outputs)) timings.nonFinite = true;
  const t2 = clock.now();
  const binaryOutput = request.binaryOutput === true;
  const id = request.id ?? timings.requestId ?? nextRequestId();
  timings.requestId = id;
  const enc = encodeInferResponse(
    { modelName: dep.name, modelVersion: String(served.version), id, outputs },
    { ...(request.outputs ? { outputs: request.outputs } : {}), binaryOutput },
  );
  timings.outputMs = clock.now() - t2;
  return { contentType: enc.contentType, ...(enc.headerLength !== undefined ? { headerLength: enc.headerLength } : {}), body: enc.body };
}
