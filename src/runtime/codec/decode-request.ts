/**
 * Decode an Open Inference Protocol inference request body: JSON, or JSON followed by
 * binary tensor data (the binary tensor data extension), into an InferRequest with every
 * input's elements in a typed array. Checks everything that can be checked without the
 * model; `validate.ts` then checks the inputs against the model's signature.
 */
import { fail } from '../../errors.js';
import { DATATYPES, type Datatype, type TensorData } from '../datatypes.js';
import type { ModelSignature } from '../tensor.js';
import { decodeBinaryData, fixedByteSize } from './binary-data.js';
import {
  REQUEST_CONTEXT as CTX, describe, isPlainObject, parseByteSize, parseDatatype, parseJsonHeader, parseParameters,
  parseShape, shapeText,
} from './fields.js';
import { decodeJsonData } from './json-data.js';
import { extractDataArrays, parseDataRange, placeholderIndex, type ExtractedJson } from './json-fast.js';
import type { InferInput, InferRequest, Parameters, RequestedOutput } from './types.js';

/** The longest request `id` a request may carry: capture keeps it and feedback names the prediction by it. */
export const MAX_REQUEST_ID = 1024;

export interface DecodeRequestOptions {
  /**
   * The model's signature, needed only for a raw binary request
   * (`Inference-Header-Content-Length: 0`, the body being the only input's bytes).
   */
  signature?: ModelSignature;
}

/**
 * Decode a request body.
 *
 * @param body the whole (decompressed) HTTP body.
 * @param headerLength the parsed `Inference-Header-Content-Length` header, or undefined
 *   when absent (then the whole body is JSON). 0 means a raw binary request, which needs
 *   `opts.signature`.
 * @throws AloftError (400) ALOFT_BAD_REQUEST for malformed JSON, fields or framing,
 *   ALOFT_UNSUPPORTED_DATATYPE for unknown datatypes or FP16/BF16 in JSON,
 *   ALOFT_INVALID_INPUT for element counts and values; every message names the input.
 * @example
 *   const req = decodeInferRequest(Buffer.from('{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1,2]}]}'));
 *   req.inputs[0].data // Float32Array [1, 2]
 */
export function decodeInferRequest(body: Buffer, headerLength?: number, opts?: DecodeRequestOptions): InferRequest {
  if (headerLength === 0 && body.length > 0) {
    if (opts?.signature === undefined) {
      throw fail('ALOFT_BAD_REQUEST', 'Inference-Header-Content-Length is 0 (a raw binary request), which this endpoint does not accept; send a JSON inference header');
    }
    return decodeRawInferRequest(body, opts.signature);
  }
  // Fast path: numeric `data` arrays parsed from the bytes (json-fast.ts). Whenever it
  // cannot vouch for the result, the ordinary path decodes the request from scratch.
  const validLength = headerLength === undefined || (Number.isSafeInteger(headerLength) && headerLength > 0 && headerLength <= body.length);
  const extracted = validLength ? extractDataArrays(body, headerLength ?? body.length) : undefined;
  if (extracted) {
    let json: unknown;
    try {
      json = JSON.parse(extracted.text);
    } catch {
      json = undefined;
    }
    let fast: InferRequest | undefined;
    try {
      fast = json === undefined ? undefined : decodeParsed(body, headerLength, json, headerLength ?? body.length, extracted);
    } catch {
      // Invalid requests are judged by the ordinary path, whose messages quote the original text.
      fast = undefined;
    }
    if (fast) return fast;
  }
  const { json, jsonLength } = parseJsonHeader(body, headerLength, CTX, 'request body');
  return decodeParsed(body, headerLength, json, jsonLength, undefined)!;
}

/**
 * Decode a parsed JSON header. With `fast`, inputs whose data was extracted are parsed from
 * the body's bytes; returns undefined when the fast path must give way (a placeholder
 * outside an input's data, or data the fast parser will not vouch for and the ordinary
 * path must judge from the original text).
 */
function decodeParsed(body: Buffer, headerLength: number | undefined, json: unknown, jsonLength: number, fast: ExtractedJson | undefined): InferRequest | undefined {
  if (!isPlainObject(json)) {
    throw fail('ALOFT_BAD_REQUEST', `the request body must be a JSON object with an 'inputs' array, got ${describe(json)}`);
  }
  const req: InferRequest = { inputs: [] };

  if (json.id !== undefined) {
    if (typeof json.id !== 'string') throw fail('ALOFT_BAD_REQUEST', `request 'id' must be a string, got ${describe(json.id)}`);
    if (json.id.length > MAX_REQUEST_ID) throw fail('ALOFT_BAD_REQUEST', `request 'id' is ${json.id.length} characters long; the most is ${MAX_REQUEST_ID} (feedback names a prediction by it). Send a shorter id, or none and use the one Aloft assigns`);
    // An empty id names nothing: the request gets an assigned one, as without an id.
    if (json.id.length > 0) req.id = json.id;
  }
  if (json.parameters !== undefined) {
    const params = parseParameters(json.parameters, 'request', CTX);
    const bdo = params.binary_data_output;
    if (bdo !== undefined) {
      if (typeof bdo !== 'boolean') {
        throw fail('ALOFT_BAD_REQUEST', `request parameter 'binary_data_output' must be true or false, got ${describe(bdo)}`);
      }
      req.binaryOutput = bdo;
    }
    req.parameters = params;
  }
  if (json.outputs !== undefined) req.outputs = parseRequestedOutputs(json.outputs);

  if (!Array.isArray(json.inputs)) {
    throw fail('ALOFT_BAD_REQUEST', `the request must have an 'inputs' array, got ${describe(json.inputs)}`);
  }
  const inputs = json.inputs as unknown[];
  const seen = new Set<string>();
  let offset = jsonLength;
  let consumed = 0;
  for (let i = 0; i < inputs.length; i++) {
    const raw = inputs[i];
    if (!isPlainObject(raw)) throw fail('ALOFT_BAD_REQUEST', `inputs[${i}] must be an object, got ${describe(raw)}`);
    if (typeof raw.name !== 'string' || raw.name === '') {
      throw fail('ALOFT_BAD_REQUEST', `inputs[${i}] must have a non-empty string 'name', got ${describe(raw.name)}`);
    }
    const name = raw.name;
    if (seen.has(name)) throw fail('ALOFT_BAD_REQUEST', `input '${name}' appears more than once in the request; send each input once`);
    seen.add(name);
    const where = `input '${name}'`;
    const datatype = parseDatatype(raw.datatype, where, CTX);
    const { shape, count } = parseShape(raw.shape, where, CTX);
    const params = raw.parameters === undefined ? undefined : parseParameters(raw.parameters, where, CTX);
    const size = params?.binary_data_size;
    let data: TensorData;
    if (size !== undefined) {
      if (raw.data !== undefined) {
        throw fail('ALOFT_BAD_REQUEST', `${where} has both 'data' and parameters.binary_data_size; send exactly one`);
      }
      const byteSize = parseByteSize(size, where, CTX);
      if (headerLength === undefined) {
        throw fail('ALOFT_BAD_REQUEST', `${where} is sent as binary (parameters.binary_data_size) but the request has no Inference-Header-Content-Length header giving the length of its JSON part`);
      }
      const expected = fixedByteSize(datatype, count);
      if (expected !== undefined && expected !== byteSize) {
        throw fail('ALOFT_BAD_REQUEST', `${where}: binary_data_size is ${byteSize} but shape ${shapeText(shape)} of ${datatype} needs ${expected} bytes (${count} elements × ${DATATYPES[datatype].bytes} bytes)`);
      }
      if (offset + byteSize > body.length) {
        throw fail('ALOFT_BAD_REQUEST', `${where}: binary_data_size is ${byteSize} but only ${body.length - offset} bytes of binary data remain in the body; the request is truncated or a size is wrong`);
      }
      data = decodeBinaryData(CTX, name, datatype, shape, count, body.subarray(offset, offset + byteSize));
      offset += byteSize;
    } else {
      if (raw.data === undefined) {
        throw fail('ALOFT_BAD_REQUEST', `${where} has no 'data' (and no parameters.binary_data_size); send its elements in 'data' or as binary`);
      }
      const index = fast ? placeholderIndex(raw.data) : -1;
      if (index >= 0) {
        const parsed = parseDataRange(body, fast!.ranges[2 * index]!, fast!.ranges[2 * index + 1]!, datatype, count);
        if (parsed === undefined) return undefined;
        data = parsed;
        consumed++;
      } else {
        data = decodeJsonData(CTX, name, datatype, shape, count, raw.data, jsonLength);
      }
    }
    const input: InferInput = { name, datatype, shape, data };
    if (params !== undefined) input.parameters = params;
    req.inputs.push(input);
  }
  if (offset < body.length) {
    throw fail('ALOFT_BAD_REQUEST', `unexpected additional input data: ${body.length - offset} bytes follow the last binary input; check binary_data_size and Inference-Header-Content-Length`);
  }
  // Every extracted array must have been an input's data; otherwise decode from scratch.
  if (fast && consumed !== fast.ranges.length / 2) return undefined;
  return req;
}

function parseRequestedOutputs(v: unknown): RequestedOutput[] {
  if (!Array.isArray(v)) throw fail('ALOFT_BAD_REQUEST', `request 'outputs' must be an array of {"name": ...}, got ${describe(v)}`);
  const list = v as unknown[];
  const out: RequestedOutput[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < list.length; i++) {
    const o = list[i];
    if (!isPlainObject(o) || typeof o.name !== 'string' || o.name === '') {
      throw fail('ALOFT_BAD_REQUEST', `outputs[${i}] must be an object with a non-empty string 'name', got ${isPlainObject(o) ? `name ${describe(o.name)}` : describe(o)}`);
    }
    if (seen.has(o.name)) throw fail('ALOFT_BAD_REQUEST', `output '${o.name}' is requested more than once; list each output once`);
    seen.add(o.name);
    const r: RequestedOutput = { name: o.name };
    if (o.parameters !== undefined) {
      const params: Parameters = parseParameters(o.parameters, `output '${o.name}'`, CTX);
      if (params.binary_data !== undefined && typeof params.binary_data !== 'boolean') {
        throw fail('ALOFT_BAD_REQUEST', `output '${o.name}': parameter 'binary_data' must be true or false, got ${describe(params.binary_data)}`);
      }
      r.parameters = params;
    }
    out.push(r);
  }
  return out;
}

/**
 * A raw binary request: the body is the bytes of the model's only input, without a JSON
 * header. The shape is the model's, with a batchable model's first dimension set to 1 and
 * at most one other dynamic dimension deduced from the byte count; a BYTES input must have
 * shape [1] (one length-prefixed element). Every output is returned as binary.
 */
export function decodeRawInferRequest(body: Buffer, sig: ModelSignature): InferRequest {
  if (sig.inputs.length !== 1) {
    throw fail('ALOFT_BAD_REQUEST', `a raw binary request (Inference-Header-Content-Length: 0) needs a model with exactly one input; this model has ${sig.inputs.length}: send a JSON inference header`);
  }
  const spec = sig.inputs[0]!;
  const shape = spec.shape.slice();
  if (sig.batchable) shape[0] = 1;
  const dynamic: number[] = [];
  let fixed = 1;
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === -1) dynamic.push(i);
    else fixed *= shape[i]!;
  }
  const where = `raw binary request for input '${spec.name}' (model shape ${shapeText(spec.shape)})`;
  const dt: Datatype = spec.datatype;
  const elementBytes = DATATYPES[dt].bytes;
  if (elementBytes === 0) {
    if (!(shape.length === 1 && (shape[0] === 1 || shape[0] === -1))) {
      throw fail('ALOFT_BAD_REQUEST', `${where}: a BYTES input must have shape [1] to be sent raw; send a JSON inference header`);
    }
    shape[0] = 1;
  } else if (dynamic.length > 1) {
    throw fail('ALOFT_BAD_REQUEST', `${where}: more than one dynamic dimension, so the shape cannot be deduced from the byte count; send a JSON inference header`);
  } else if (dynamic.length === 1) {
    const per = fixed * elementBytes;
    if (per === 0 || body.length % per !== 0) {
      throw fail('ALOFT_BAD_REQUEST', `${where}: ${body.length} bytes is not a whole number of ${per}-byte rows of ${dt}`);
    }
    shape[dynamic[0]!] = body.length / per;
  } else if (fixed * elementBytes !== body.length) {
    throw fail('ALOFT_BAD_REQUEST', `${where}: ${body.length} bytes, but shape ${shapeText(shape)} of ${dt} needs ${fixed * elementBytes}`);
  }
  let count = 1;
  for (const d of shape) count *= d;
  const data = decodeBinaryData(CTX, spec.name, dt, shape, count, body);
  return {
    inputs: [{ name: spec.name, datatype: dt, shape, data, parameters: { binary_data_size: body.length } }],
    parameters: { binary_data_output: true },
    binaryOutput: true,
  };
}
