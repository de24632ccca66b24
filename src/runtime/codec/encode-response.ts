/**
 * Encode an inference response: JSON, or JSON + binary tensor data.
 *
 * Which outputs: every output of the response in model order, or, when the request lists
 * `outputs`, exactly those in the requested order.
 *
 * Binary or JSON, per output, following the binary tensor data extension's text: the
 * output's `parameters.binary_data` when given, else the request's `binary_data_output`,
 * else JSON. (Triton's server differs: an output listed without `binary_data` is returned
 * as JSON even when `binary_data_output` is true, which then applies only to outputs not
 * listed. We follow the spec; a client that sets `binary_data` explicitly, as tritonclient
 * does, gets the same result from both.)
 */
import { fail } from '../../errors.js';
import type { Tensor } from '../tensor.js';
import { checkTensor, tensorBytes } from './binary-data.js';
import { assembleBody, tensorEntryText } from './frame.js';
import { jsonDataText } from './json-data.js';
import type { EncodedBody, InferResponse, RequestedOutput } from './types.js';

export interface EncodeResponseOptions {
  /** The request's `outputs`; omitted → all outputs. */
  outputs?: readonly RequestedOutput[];
  /** The request's `binary_data_output`; default false. */
  binaryOutput?: boolean;
}

/**
 * @example
 *   encodeInferResponse({ modelName: 'm', modelVersion: '1', outputs: [y] }, { binaryOutput: true })
 *   // → { body: <JSON + bytes>, contentType: 'application/octet-stream', headerLength: 97 }
 * @throws AloftError ALOFT_BAD_REQUEST when a requested output is not in the response
 *   (check with `checkRequestedOutputs` before running the model to fail earlier).
 */
export function encodeInferResponse(res: InferResponse, req: EncodeResponseOptions = {}): EncodedBody {
  const defaultBinary = req.binaryOutput === true;
  const selected: Tensor[] = [];
  const binary: boolean[] = [];
  if (req.outputs === undefined) {
    for (const t of res.outputs) { selected.push(t); binary.push(defaultBinary); }
  } else {
    for (const r of req.outputs) {
      const t = res.outputs.find((o) => o.name === r.name);
      if (t === undefined) {
        throw fail('ALOFT_BAD_REQUEST', `unknown output '${r.name}'; the model returns ${res.outputs.map((o) => `'${o.name}'`).join(', ')}`);
      }
      const b = r.parameters?.binary_data;
      selected.push(t);
      binary.push(typeof b === 'boolean' ? b : defaultBinary);
    }
  }

  let text = `{"model_name":${JSON.stringify(res.modelName)}`;
  if (res.modelVersion !== undefined) text += `,"model_version":${JSON.stringify(res.modelVersion)}`;
  if (res.id !== undefined) text += `,"id":${JSON.stringify(res.id)}`;
  if (res.parameters !== undefined) text += `,"parameters":${JSON.stringify(res.parameters)}`;
  text += ',"outputs":[';
  const chunks: Buffer[] = [];
  for (let i = 0; i < selected.length; i++) {
    const t = selected[i]!;
    checkTensor(t);
    if (i > 0) text += ',';
    if (binary[i]) {
      const bytes = tensorBytes(t);
      chunks.push(bytes);
      text += tensorEntryText(t, undefined, bytes.length, undefined);
    } else {
      text += tensorEntryText(t, undefined, undefined, jsonDataText(t));
    }
  }
  text += ']}';
  return assembleBody(text, chunks);
}
