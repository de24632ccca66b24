/** Open Inference Protocol codecs: decode and encode requests and responses, validate inputs. */
export * from './types.js';
export { decodeInferRequest, decodeRawInferRequest, type DecodeRequestOptions } from './decode-request.js';
export { decodeInferResponse } from './decode-response.js';
export { encodeInferRequest, type EncodeRequestOptions } from './encode-request.js';
export { encodeInferResponse, type EncodeResponseOptions } from './encode-response.js';
export { validateInputs, checkRequestedOutputs } from './validate.js';
export { locateJsonError, type JsonErrorLocation } from './json-error.js';
export { fp16FromNumber, numberFromFp16, bf16FromNumber, numberFromBf16 } from './float16.js';
