/**
 * Decode an inference response body (JSON, or JSON + binary tensor data): the gateway
 * reading a replica's answer, and the clients of tests and benchmarks. A malformed
 * response is the server's fault, so every error is ALOFT_REPLICA_FAILED (500).
 *
 * Lenient where our own encoder (and MLServer) are: `null` reads as NaN in float outputs,
 * FP16/BF16 may be JSON numbers, INT64 may be any integral JSON number or decimal string.
 */
import { fail } from '../../errors.js';
import type { TensorData } from '../datatypes.js';
import type { Tensor } from '../tensor.js';
import { decodeBinaryData, fixedByteSize } from './binary-data.js';
import {
  RESPONSE_CONTEXT as CTX, describe, isPlainObject, parseByteSize, parseDatatype, parseJsonHeader, parseParameters,
  parseShape, shapeText,
} from './fields.js';
import { decodeJsonData } from './json-data.js';
import type { InferResponse } from './types.js';

const BAD = 'ALOFT_REPLICA_FAILED';

/**
 * @param headerLength the response's `Inference-Header-Content-Length`, or undefined.
 * @example
 *   const res = decodeInferResponse(body, Number(headers['inference-header-content-length']) || undefined);
 */
export function decodeInferResponse(body: Buffer, headerLength?: number): InferResponse {
  const { json, jsonLength } = parseJsonHeader(body, headerLength, CTX, 'inference response body');
  if (!isPlainObject(json)) throw fail(BAD, `inference response must be a JSON object, got ${describe(json)}`);
  if (typeof json.model_name !== 'string') throw fail(BAD, `inference response has no string 'model_name' (got ${describe(json.model_name)})`);
  const res: InferResponse = { modelName: json.model_name, outputs: [] };
  if (json.model_version !== undefined) {
    if (typeof json.model_version !== 'string') throw fail(BAD, `inference response 'model_version' must be a string, got ${describe(json.model_version)}`);
    res.modelVersion = json.model_version;
  }
  if (json.id !== undefined) {
    if (typeof json.id !== 'string') throw fail(BAD, `inference response 'id' must be a string, got ${describe(json.id)}`);
    res.id = json.id;
  }
  if (json.parameters !== undefined) res.parameters = parseParameters(json.parameters, 'inference response', CTX);
  if (!Array.isArray(json.outputs)) throw fail(BAD, `inference response has no 'outputs' array (got ${describe(json.outputs)})`);
  const outputs = json.outputs as unknown[];
  let offset = jsonLength;
  for (let i = 0; i < outputs.length; i++) {
    const raw = outputs[i];
    if (!isPlainObject(raw) || typeof raw.name !== 'string') throw fail(BAD, `inference response outputs[${i}] must be an object with a string 'name'`);
    const name = raw.name;
    const where = `output '${name}'`;
    const datatype = parseDatatype(raw.datatype, where, CTX);
    const { shape, count } = parseShape(raw.shape, where, CTX);
    const params = raw.parameters === undefined ? undefined : parseParameters(raw.parameters, where, CTX);
    let data: TensorData;
    if (params?.binary_data_size !== undefined) {
      const size = parseByteSize(params.binary_data_size, where, CTX);
      const expected = fixedByteSize(datatype, count);
      if (expected !== undefined && expected !== size) {
        throw fail(BAD, `${where}: binary_data_size is ${size} but shape ${shapeText(shape)} of ${datatype} needs ${expected} bytes`);
      }
      if (offset + size > body.length) {
        throw fail(BAD, `${where}: binary_data_size is ${size} but only ${body.length - offset} bytes of binary data remain in the response`);
      }
      data = decodeBinaryData(CTX, name, datatype, shape, count, body.subarray(offset, offset + size));
      offset += size;
    } else {
      data = decodeJsonData(CTX, name, datatype, shape, count, raw.data, jsonLength);
    }
    const t: Tensor = { name, datatype, shape, data };
    res.outputs.push(t);
  }
  if (offset < body.length) throw fail(BAD, `inference response has ${body.length - offset} unexpected bytes after its last binary output`);
  return res;
}
