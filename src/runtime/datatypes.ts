/**
 * Open Inference Protocol datatypes and how each maps to bytes, typed arrays and
 * ONNX Runtime tensor types. Leaf module: imports nothing internal.
 */

export const DATATYPE_NAMES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64',
  'FP16', 'FP32', 'FP64', 'BYTES', 'BF16',
] as const;

export type Datatype = (typeof DATATYPE_NAMES)[number];

/** The typed array that holds a tensor's elements (BYTES: an array of Buffers). */
export type TensorData =
  | Float32Array | Float64Array
  | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array
  | Buffer[];

type TypedArrayCtor =
  | Float32ArrayConstructor | Float64ArrayConstructor
  | Int8ArrayConstructor | Int16ArrayConstructor | Int32ArrayConstructor | BigInt64ArrayConstructor
  | Uint8ArrayConstructor | Uint16ArrayConstructor | Uint32ArrayConstructor | BigUint64ArrayConstructor;

export interface DatatypeInfo {
  /** Bytes per element; 0 for BYTES (variable). */
  bytes: number;
  /** ONNX Runtime's tensor type name. */
  ort: string;
  /** ONNX TensorProto.DataType enum value. */
  onnx: number;
  /** Typed array for the elements; null for BYTES. FP16/BF16 are raw Uint16 bit patterns. */
  array: TypedArrayCtor | null;
  /** How elements appear in JSON. */
  json: 'number' | 'integer' | 'bigint' | 'boolean' | 'string' | 'none';
}

export const DATATYPES: Record<Datatype, DatatypeInfo> = {
  BOOL: { bytes: 1, ort: 'bool', onnx: 9, array: Uint8Array, json: 'boolean' },
  UINT8: { bytes: 1, ort: 'uint8', onnx: 2, array: Uint8Array, json: 'integer' },
  UINT16: { bytes: 2, ort: 'uint16', onnx: 4, array: Uint16Array, json: 'integer' },
  UINT32: { bytes: 4, ort: 'uint32', onnx: 12, array: Uint32Array, json: 'integer' },
  UINT64: { bytes: 8, ort: 'uint64', onnx: 13, array: BigUint64Array, json: 'bigint' },
  INT8: { bytes: 1, ort: 'int8', onnx: 3, array: Int8Array, json: 'integer' },
  INT16: { bytes: 2, ort: 'int16', onnx: 5, array: Int16Array, json: 'integer' },
  INT32: { bytes: 4, ort: 'int32', onnx: 6, array: Int32Array, json: 'integer' },
  INT64: { bytes: 8, ort: 'int64', onnx: 7, array: BigInt64Array, json: 'bigint' },
  FP16: { bytes: 2, ort: 'float16', onnx: 10, array: Uint16Array, json: 'none' },
  FP32: { bytes: 4, ort: 'float32', onnx: 1, array: Float32Array, json: 'number' },
  FP64: { bytes: 8, ort: 'float64', onnx: 11, array: Float64Array, json: 'number' },
  BYTES: { bytes: 0, ort: 'string', onnx: 8, array: null, json: 'string' },
  BF16: { bytes: 2, ort: 'bfloat16', onnx: 16, array: Uint16Array, json: 'none' },
};

export function isDatatype(s: unknown): s is Datatype {
  return typeof s === 'string' && Object.hasOwn(DATATYPES, s);
}

const BY_ONNX = new Map<number, Datatype>(
  (Object.entries(DATATYPES) as [Datatype, DatatypeInfo][]).map(([k, v]) => [v.onnx, k]),
);
const BY_ORT = new Map<string, Datatype>(
  (Object.entries(DATATYPES) as [Datatype, DatatypeInfo][]).map(([k, v]) => [v.ort, k]),
);

/** ONNX TensorProto.DataType → OIP datatype (undefined if unsupported). */
export function datatypeFromOnnx(code: number): Datatype | undefined {
  return BY_ONNX.get(code);
}

/** ONNX Runtime tensor type ('float32', …) → OIP datatype. */
export function datatypeFromOrt(type: string): Datatype | undefined {
  return BY_ORT.get(type);
}

/** Number of elements of a shape (1 for a scalar `[]`). Caller guarantees non-negative ints. */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
