/**
 * Read what an ONNX model accepts and returns, straight from its bytes, without loading it
 * into ONNX Runtime. Used at registration to record a model's signature and metadata.
 */
import onnxProto from 'onnx-proto';
import { datatypeFromOnnx } from '../runtime/datatypes.js';
import { isBatchable, type ModelSignature, type TensorSpec } from '../runtime/tensor.js';
import { fail } from '../errors.js';

const { onnx } = onnxProto;

/** Model-level facts from the ModelProto header. */
export interface ModelInfo {
  irVersion: number;
  /** Version of the default ("" / "ai.onnx") operator set; 0 if the model imports none. */
  opsetVersion: number;
  producerName: string;
  producerVersion: string;
  graphName: string;
  docString: string;
}

/** protobufjs returns int64 fields as Long objects (or numbers); both become numbers. */
function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

// ONNX TensorProto.DataType names, only to say which type a model uses when we refuse it.
const ONNX_TYPE_NAMES: Record<number, string> = {
  0: 'UNDEFINED', 14: 'COMPLEX64', 15: 'COMPLEX128', 17: 'FLOAT8E4M3FN', 18: 'FLOAT8E4M3FNUZ',
  19: 'FLOAT8E5M2', 20: 'FLOAT8E5M2FNUZ', 21: 'UINT4', 22: 'INT4', 23: 'FLOAT4E2M1',
};

/**
 * Decode a ModelProto and check it has a graph. Throws ALOFT_MODEL_INVALID on anything
 * that is not a decodable ONNX model (garbage, truncated files, empty files).
 */
function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  if (bytes.byteLength === 0) {
    throw fail('ALOFT_MODEL_INVALID', 'the model file is empty (0 bytes); pass an ONNX file exported from your framework');
  }
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw fail(
      'ALOFT_MODEL_INVALID',
      `the file is not a readable ONNX model (${bytes.byteLength} bytes; protobuf decoding failed: ${why}); ` +
        'it may be truncated or not an .onnx file: re-export or re-upload the model',
      { cause: e },
    );
  }
  if (!model.graph) {
    throw fail(
      'ALOFT_MODEL_INVALID',
      `the file decodes but holds no ONNX graph (${bytes.byteLength} bytes); it is not an ONNX model: pass the .onnx file itself`,
    );
  }
  if (toNumber(model.irVersion) <= 0) {
    throw fail(
      'ALOFT_MODEL_INVALID',
      'the ONNX model has no ir_version; it is not a valid ONNX model: re-export it with a current exporter',
    );
  }
  if ((model.opsetImport ?? []).length === 0) {
    throw fail(
      'ALOFT_MODEL_INVALID',
      'the ONNX model imports no operator set (opset_import is empty); the file may be truncated: re-export or re-upload it',
    );
  }
  return model;
}

function tensorSpec(vi: onnxProto.onnx.IValueInfoProto, role: 'input' | 'output'): TensorSpec {
  const name = vi.name ?? '';
  const t = vi.type;
  if (!t?.tensorType) {
    const kind = t?.sequenceType ? 'a sequence' : t?.mapType ? 'a map' : t?.optionalType ? 'an optional'
      : t?.sparseTensorType ? 'a sparse tensor' : 'an untyped value';
    throw fail(
      'ALOFT_MODEL_INVALID',
      `${role} '${name}' is ${kind}; Aloft serves dense tensors only: export the model with tensor ${role}s ` +
        '(for scikit-learn classifiers, convert with zipmap disabled)',
    );
  }
  const code = t.tensorType.elemType ?? 0;
  const datatype = datatypeFromOnnx(code);
  if (datatype === undefined) {
    const typeName = ONNX_TYPE_NAMES[code] ?? `elem_type ${code}`;
    throw fail(
      'ALOFT_MODEL_INVALID',
      `${role} '${name}' has ONNX type ${typeName}, which Aloft cannot carry; ` +
        'cast it to a supported type (FP32, FP64, INT64, BYTES, …) in the exported graph',
    );
  }
  if (!t.tensorType.shape) {
    throw fail(
      'ALOFT_MODEL_INVALID',
      `${role} '${name}' declares no shape (unknown rank), so requests cannot be validated or batched; ` +
        're-export the model with shape information (e.g. run onnx.shape_inference or set dynamic_axes)',
    );
  }
  const dims = t.tensorType.shape.dim ?? [];
  const shape: number[] = [];
  const dimNames: (string | null)[] = [];
  let named = false;
  for (const d of dims) {
    // dim_value and dim_param are a oneof: protobufjs leaves the unset one null.
    if (d.dimValue !== null && d.dimValue !== undefined && toNumber(d.dimValue) >= 0) {
      shape.push(toNumber(d.dimValue));
      dimNames.push(null);
    } else {
      const p = d.dimParam ? d.dimParam : null;
      if (p !== null) named = true;
      shape.push(-1);
      dimNames.push(p);
    }
  }
  return named ? { name, datatype, shape, dimNames } : { name, datatype, shape };
}

/**
 * The inputs (excluding those that are also initializers, which older exporters list as
 * inputs) and outputs of an ONNX model's main graph, with `-1` for dynamic dimensions.
 *
 * @example
 *   const sig = readSignature(readFileSync('model.onnx'));
 *   // { inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 16], dimNames: ['batch', null] }], … }
 * @throws AloftError ALOFT_MODEL_INVALID for unreadable bytes, a missing graph, or an input
 *   or output Aloft cannot carry (named in the message).
 */
export function readSignature(bytes: Uint8Array): ModelSignature {
  const graph = decodeModel(bytes).graph!;
  const initNames = new Set((graph.initializer ?? []).map((i) => i.name ?? ''));
  for (const s of graph.sparseInitializer ?? []) if (s.values?.name) initNames.add(s.values.name);
  const inputs = (graph.input ?? []).filter((vi) => !initNames.has(vi.name ?? '')).map((vi) => tensorSpec(vi, 'input'));
  const outputs = (graph.output ?? []).map((vi) => tensorSpec(vi, 'output'));
  if (outputs.length === 0) {
    throw fail('ALOFT_MODEL_INVALID', 'the ONNX graph declares no outputs; a servable model needs at least one');
  }
  return { inputs, outputs, batchable: isBatchable(inputs, outputs) };
}

/**
 * Header facts of an ONNX model: IR version, default opset, producer, graph name, doc string.
 *
 * @example readModelInfo(bytes) // { irVersion: 8, opsetVersion: 17, producerName: 'aloft', … }
 * @throws AloftError ALOFT_MODEL_INVALID when the bytes are not an ONNX model.
 */
export function readModelInfo(bytes: Uint8Array): ModelInfo {
  const model = decodeModel(bytes);
  const opset = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return {
    irVersion: toNumber(model.irVersion),
    opsetVersion: toNumber(opset?.version),
    producerName: model.producerName ?? '',
    producerVersion: model.producerVersion ?? '',
    graphName: model.graph?.name ?? '',
    docString: model.docString ?? '',
  };
}
