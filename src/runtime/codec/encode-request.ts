/**
 * Encode an inference request from tensors: the gateway's batches to replicas (all binary),
 * and the requests of tests and benchmark clients.
 */
import type { Tensor } from '../tensor.js';
import { DATATYPES } from '../datatypes.js';
import { checkTensor, tensorBytes } from './binary-data.js';
import { assembleBody, tensorEntryText } from './frame.js';
import { jsonDataTextExact } from './json-data.js';
import type { EncodedBody, Parameters } from './types.js';

export interface EncodeRequestOptions {
  id?: string;
  /** Request only these outputs (in this order); omitted → all. */
  outputs?: readonly string[];
  /**
   * Send inputs as binary tensor data (default true). With false, inputs go in JSON
   * `data`, except FP16/BF16, which JSON cannot carry and are always binary.
   */
  binary?: boolean;
  /** Ask for binary outputs (`binary_data_output`); default false. */
  binaryOutput?: boolean;
  /** Extra request-level parameters. */
  parameters?: Parameters;
}

/**
 * @example
 *   const { body, headerLength, contentType } = encodeInferRequest([x], { binaryOutput: true });
 *   // POST body with headers Content-Type and Inference-Header-Content-Length: headerLength
 */
export function encodeInferRequest(inputs: readonly Tensor[], opts: EncodeRequestOptions = {}): EncodedBody {
  const binaryInputs = opts.binary !== false;
  let text = '{';
  let sep = '';
  if (opts.id !== undefined) { text += `"id":${JSON.stringify(opts.id)}`; sep = ','; }
  const params: Parameters = { ...opts.parameters };
  if (opts.binaryOutput !== undefined) params.binary_data_output = opts.binaryOutput;
  if (Object.keys(params).length > 0) { text += `${sep}"parameters":${JSON.stringify(params)}`; sep = ','; }
  text += `${sep}"inputs":[`;
  const chunks: Buffer[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i]!;
    checkTensor(t);
    if (i > 0) text += ',';
    if (binaryInputs || DATATYPES[t.datatype].json === 'none') {
      const bytes = tensorBytes(t);
      chunks.push(bytes);
      text += tensorEntryText(t, undefined, bytes.length, undefined);
    } else {
      text += tensorEntryText(t, undefined, undefined, jsonDataTextExact(t));
    }
  }
  text += ']';
  if (opts.outputs !== undefined) {
    text += ',"outputs":[';
    // Per-output binary_data too: Triton ignores binary_data_output for listed outputs.
    const per = opts.binaryOutput === undefined ? '' : `,"parameters":{"binary_data":${opts.binaryOutput}}`;
    for (let i = 0; i < opts.outputs.length; i++) text += `${i > 0 ? ',' : ''}{"name":${JSON.stringify(opts.outputs[i])}${per}}`;
    text += ']';
  }
  text += '}';
  return assembleBody(text, chunks);
}
