/**
 * Open Inference Protocol request bodies for the credit-risk model.
 */
import { encodeValues, FEATURE_COUNT, type Applicant } from './data.js';

/** The JSON body of `POST /v2/models/credit-risk/infer`. */
export interface InferRequestBody {
  id?: string;
  inputs: { name: 'features'; shape: [number, number]; datatype: 'FP32'; data: number[] }[];
}

/**
 * A request scoring `rows`: one `features` tensor [rows.length, F], data flat and row-major.
 * @example inferRequest(generateApplicants(3, { seed: 7 }))
 */
export function inferRequest(rows: readonly Applicant[], id?: string): InferRequestBody {
  return {
    ...(id === undefined ? {} : { id }),
    inputs: [{ name: 'features', shape: [rows.length, FEATURE_COUNT], datatype: 'FP32', data: rows.flatMap(encodeValues) }],
  };
}
