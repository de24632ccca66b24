/**
 * Assembling an OIP message body: the JSON text, then (binary tensor data extension) the
 * binary tensors in order, with `Inference-Header-Content-Length` = JSON byte length.
 * Encoders build the JSON text by hand so large numeric arrays skip JSON.stringify.
 */
import type { Tensor } from '../tensor.js';
import type { EncodedBody, Parameters } from './types.js';

/** `{"name":…,"datatype":…,"shape":[…]` plus parameters and data; `dataText` undefined → binary. */
export function tensorEntryText(t: Tensor, params: Parameters | undefined, binarySize: number | undefined, dataText: string | undefined): string {
  let s = `{"name":${JSON.stringify(t.name)},"datatype":"${t.datatype}","shape":[${t.shape.join(',')}]`;
  if (binarySize !== undefined) {
    s += params === undefined
      ? `,"parameters":{"binary_data_size":${binarySize}}`
      : `,"parameters":${JSON.stringify({ ...params, binary_data_size: binarySize })}`;
  } else if (params !== undefined && Object.keys(params).length > 0) {
    s += `,"parameters":${JSON.stringify(params)}`;
  }
  if (dataText !== undefined) s += `,"data":${dataText}`;
  return s + '}';
}

/**
 * A JSON-only body when `chunks` is empty, else JSON + binary chunks with the header
 * length. Callers push one chunk per binary tensor, even an empty one, so a message whose
 * only binary outputs have zero elements is still framed as binary.
 */
export function assembleBody(text: string, chunks: readonly Buffer[]): EncodedBody {
  const head = Buffer.from(text, 'utf8');
  if (chunks.length === 0) return { body: head, contentType: 'application/json' };
  return { body: Buffer.concat([head, ...chunks]), contentType: 'application/octet-stream', headerLength: head.length };
}
