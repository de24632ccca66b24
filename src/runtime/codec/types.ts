/**
 * The decoded form of Open Inference Protocol messages. The codecs in this folder turn
 * HTTP bodies (JSON, or JSON + binary tensor data) into these and back; the gateway and
 * the replica server share them, and gateway→replica traffic is itself an OIP binary
 * request carrying a whole batch.
 */
import type { Datatype, TensorData } from '../datatypes.js';
import type { Tensor } from '../tensor.js';

/** OIP parameter values are scalars only. */
export type ParamValue = string | number | boolean;
export type Parameters = Record<string, ParamValue>;

export interface InferInput {
  name: string;
  datatype: Datatype;
  /** As sent by the client: non-negative safe integers. */
  shape: number[];
  /** Elements decoded into the datatype's typed array (BYTES: Buffer[]). */
  data: TensorData;
  parameters?: Parameters;
}

export interface RequestedOutput {
  name: string;
  parameters?: Parameters;
}

export interface InferRequest {
  id?: string;
  parameters?: Parameters;
  inputs: InferInput[];
  /** Omitted: return every output. */
  outputs?: RequestedOutput[];
  /**
   * The request-level `parameters.binary_data_output` (true: outputs default to binary).
   * Set by the decoder when the parameter is present; a raw binary request sets it to true.
   */
  binaryOutput?: boolean;
}

export interface InferResponse {
  modelName: string;
  modelVersion?: string;
  id?: string;
  parameters?: Parameters;
  outputs: Tensor[];
}

/** A fully encoded HTTP body plus the headers that describe it. */
export interface EncodedBody {
  body: Buffer;
  contentType: 'application/json' | 'application/octet-stream';
  /** Set when the body carries binary tensor data (`Inference-Header-Content-Length`). */
  headerLength?: number;
}
