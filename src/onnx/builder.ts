/**
 * A small ONNX graph builder over onnx-proto, for examples, the trainer, benchmarks and
 * tests. It covers the operators dense models need; `node()` adds any other.
 *
 * @example
 *   const g = new GraphBuilder({ name: 'scorer', opset: 17, producer: 'aloft' });
 *   const x = g.input('features', 'FP32', ['batch', 16]);    // 'batch': named dynamic dim; -1: unnamed
 *   const w = g.initializer('w1', new Float32Array(16 * 8), [16, 8]);
 *   const b = g.initializer('b1', new Float32Array(8), [8]);
 *   const h = g.relu(g.add(g.matmul(x, w), b));
 *   g.output(g.sigmoid(h), 'probability', 'FP32', ['batch', 8]);
 *   const bytes: Uint8Array = g.toBytes();
 */
import { endianness } from 'node:os';
import onnxProto from 'onnx-proto';
import { DATATYPES, type Datatype } from '../runtime/datatypes.js';
import { fail } from '../errors.js';

const { onnx } = onnxProto;
const AttrType = onnx.AttributeProto.AttributeType;

/** A dimension: a size ≥ 0, -1 for an unnamed dynamic dimension, or a name for a named one. */
export type Dim = number | string;

/** Element arrays an initializer can hold (Uint8Array is UINT8 unless `datatype` says BOOL). */
export type InitializerData =
  | Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

/** A node attribute with its ONNX type made explicit (1 vs 1.0 are different attributes). */
export type Attribute =
  | { int: number } | { float: number } | { string: string }
  | { ints: readonly number[] } | { floats: readonly number[] };

/**
 * A handle to a value in the graph. Its name can change until `toBytes()` (when `output()`
 * gives a node result its public name), so nodes hold handles, not names.
 */
export class Value {
  /** @internal */
  constructor(public name: string, readonly kind: 'input' | 'initializer' | 'node') {}
}

export interface GraphBuilderOptions {
  /** Graph name, recorded in the model (e.g. "credit-risk-mlp"). */
  name: string;
  /** Default-domain opset version. Default 17. */
  opset?: number;
  /** ONNX IR version. Default 8 (what opset 17 exporters write). */
  irVersion?: number;
  /** producer_name. Default "aloft". */
  producer?: string;
  producerVersion?: string;
  docString?: string;
}

const ARRAY_DATATYPE = new Map<unknown, Datatype>([
  [Float32Array, 'FP32'], [Float64Array, 'FP64'], [Int8Array, 'INT8'], [Int16Array, 'INT16'],
  [Int32Array, 'INT32'], [BigInt64Array, 'INT64'], [Uint8Array, 'UINT8'], [Uint16Array, 'UINT16'],
  [Uint32Array, 'UINT32'], [BigUint64Array, 'UINT64'],
]);

/** Element bytes in little-endian order, as TensorProto.raw_data requires. */
function littleEndianBytes(data: InitializerData): Uint8Array {
  const bytes = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  if (endianness() === 'LE' || data.BYTES_PER_ELEMENT === 1) return bytes;
  const n = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += n) bytes.subarray(i, i + n).reverse();
  return bytes;
}

function shapeProto(shape: readonly Dim[]): onnxProto.onnx.ITensorShapeProto {
  return {
    dim: shape.map((d) => {
      if (typeof d === 'string') return { dimParam: d };
      if (d === -1) return {};
      if (!Number.isInteger(d) || d < 0) throw fail('ALOFT_MODEL_INVALID', `dimension ${d} is not a size ≥ 0, -1 or a name`);
      return { dimValue: d };
    }),
  };
}

function attributeProto(name: string, a: Attribute): onnxProto.onnx.IAttributeProto {
  if ('int' in a) return { name, type: AttrType.INT, i: a.int };
  if ('float' in a) return { name, type: AttrType.FLOAT, f: a.float };
  if ('string' in a) return { name, type: AttrType.STRING, s: new TextEncoder().encode(a.string) };
  if ('ints' in a) return { name, type: AttrType.INTS, ints: [...a.ints] };
  return { name, type: AttrType.FLOATS, floats: [...a.floats] };
}

interface NodeRecord {
  opType: string;
  name: string;
  domain: string;
  inputs: (Value | null)[];
  outputs: Value[];
  attributes: onnxProto.onnx.IAttributeProto[];
}

interface IoRecord { value: Value; datatype: Datatype; shape: readonly Dim[] }

/** Builds one ONNX model: declare inputs and initializers, chain operators, mark outputs. */
export class GraphBuilder {
  private readonly opts: Required<Omit<GraphBuilderOptions, 'producerVersion' | 'docString'>> &
    Pick<GraphBuilderOptions, 'producerVersion' | 'docString'>;
  private readonly inputs: IoRecord[] = [];
  private readonly outputs: IoRecord[] = [];
  private readonly initializers: { value: Value; proto: onnxProto.onnx.ITensorProto }[] = [];
  private readonly nodes: NodeRecord[] = [];
  private readonly names = new Set<string>();
  private readonly counters = new Map<string, number>();

  constructor(options: GraphBuilderOptions) {
    this.opts = { opset: 17, irVersion: 8, producer: 'aloft', ...options };
  }

  /** The opset this graph targets; operators whose signature changed between opsets check it. */
  get opset(): number {
    return this.opts.opset;
  }

  private claim(name: string): string {
    if (name === '') throw fail('ALOFT_MODEL_INVALID', 'graph value names must not be empty');
    if (this.names.has(name)) throw fail('ALOFT_MODEL_INVALID', `the name '${name}' is already used in graph '${this.opts.name}'; pick another`);
    this.names.add(name);
    return name;
  }

  /** A name `<base>_<n>` not yet used in the graph (not yet claimed). */
  private unused(base: string): string {
    let n = this.counters.get(base) ?? 0;
    while (this.names.has(`${base}_${n}`)) n++;
    this.counters.set(base, n + 1);
    return `${base}_${n}`;
  }

  private fresh(base: string): string {
    return this.claim(this.unused(base));
  }

  /** Declare a graph input. `shape`: sizes, -1 (dynamic) or names (named dynamic, e.g. 'batch'). */
  input(name: string, datatype: Datatype, shape: readonly Dim[]): Value {
    shapeProto(shape); // validate now, where the caller is
    const value = new Value(this.claim(name), 'input');
    this.inputs.push({ value, datatype, shape: [...shape] });
    return value;
  }

  /**
   * A constant tensor stored in the model (raw_data, little-endian). The datatype follows the
   * array type; pass `datatype: 'BOOL'` for a Uint8Array of booleans.
   */
  initializer(name: string, data: InitializerData, dims: readonly number[], datatype?: Datatype): Value {
    const dt = datatype ?? ARRAY_DATATYPE.get(data.constructor);
    if (dt === undefined) throw fail('ALOFT_MODEL_INVALID', `initializer '${name}': unsupported array type ${data.constructor.name}`);
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw fail('ALOFT_MODEL_INVALID', `initializer '${name}': dims [${dims.join(', ')}] hold ${count} elements but the data has ${data.length}`);
    }
    const value = new Value(this.claim(name), 'initializer');
    this.initializers.push({
      value,
      proto: { name, dataType: DATATYPES[dt].onnx, dims: [...dims], rawData: littleEndianBytes(data) },
    });
    return value;
  }

  /** An initializer with a generated name, for operator parameters such as Reshape's shape. */
  constant(data: InitializerData, dims: readonly number[] = [data.length], datatype?: Datatype): Value {
    return this.initializer(this.unused('const'), data, dims, datatype);
  }

  /**
   * Add any operator node; returns its outputs. Inputs may be null for skipped optional inputs.
   * @example g.node('LeakyRelu', [x], { alpha: { float: 0.1 } })[0]
   */
  node(
    opType: string,
    inputs: readonly (Value | null)[],
    attributes: Record<string, Attribute> = {},
    options: { outputs?: number; domain?: string } = {},
  ): Value[] {
    const base = opType.toLowerCase();
    const name = this.fresh(opType);
    const outputs = Array.from({ length: options.outputs ?? 1 }, () => new Value(this.fresh(base), 'node'));
    this.nodes.push({
      opType, name, domain: options.domain ?? '', inputs: [...inputs], outputs,
      attributes: Object.entries(attributes).map(([k, v]) => attributeProto(k, v)),
    });
    return outputs;
  }

  private op(opType: string, inputs: readonly (Value | null)[], attributes: Record<string, Attribute> = {}): Value {
    return this.node(opType, inputs, attributes)[0]!;
  }

  matmul(a: Value, b: Value): Value { return this.op('MatMul', [a, b]); }

  /** Y = alpha·A'·B' + beta·C (A, B 2-D; C broadcast). Defaults: alpha 1, beta 1, no transposes. */
  gemm(a: Value, b: Value, c?: Value, o: { alpha?: number; beta?: number; transA?: boolean; transB?: boolean } = {}): Value {
    const attrs: Record<string, Attribute> = {};
    if (o.alpha !== undefined) attrs.alpha = { float: o.alpha };
    if (o.beta !== undefined) attrs.beta = { float: o.beta };
    if (o.transA) attrs.transA = { int: 1 };
    if (o.transB) attrs.transB = { int: 1 };
    return this.op('Gemm', c ? [a, b, c] : [a, b], attrs);
  }

  add(a: Value, b: Value): Value { return this.op('Add', [a, b]); }
  sub(a: Value, b: Value): Value { return this.op('Sub', [a, b]); }
  mul(a: Value, b: Value): Value { return this.op('Mul', [a, b]); }
  div(a: Value, b: Value): Value { return this.op('Div', [a, b]); }
  relu(x: Value): Value { return this.op('Relu', [x]); }
  sigmoid(x: Value): Value { return this.op('Sigmoid', [x]); }
  tanh(x: Value): Value { return this.op('Tanh', [x]); }
  identity(x: Value): Value { return this.op('Identity', [x]); }

  /** Softmax along `axis` (default -1, the last). */
  softmax(x: Value, axis = -1): Value { return this.op('Softmax', [x], { axis: { int: axis } }); }

  concat(values: readonly Value[], axis: number): Value { return this.op('Concat', values, { axis: { int: axis } }); }

  /** Reshape to `shape` (0 copies the input dim, -1 infers one dim), given as numbers or an INT64 value. */
  reshape(x: Value, shape: readonly number[] | Value): Value {
    const s = shape instanceof Value ? shape : this.constant(BigInt64Array.from(shape, (d) => BigInt(d)));
    return this.op('Reshape', [x, s]);
  }

  /** Index of the largest element along `axis` (INT64). Defaults: axis 0, keepdims true. */
  argmax(x: Value, o: { axis?: number; keepdims?: boolean } = {}): Value {
    return this.op('ArgMax', [x], { axis: { int: o.axis ?? 0 }, keepdims: { int: o.keepdims === false ? 0 : 1 } });
  }

  cast(x: Value, to: Datatype): Value { return this.op('Cast', [x], { to: { int: DATATYPES[to].onnx } }); }

  /**
   * Mark `value` as a graph output called `name`. A node result is renamed in place; a graph
   * input, initializer or value already output under another name goes through an Identity.
   */
  output(value: Value, name: string, datatype: Datatype, shape: readonly Dim[]): Value {
    shapeProto(shape);
    let v = value;
    if (v.name !== name) {
      if (v.kind !== 'node' || this.outputs.some((o) => o.value === v)) v = this.identity(v);
      this.names.delete(v.name);
      v.name = this.claim(name);
    }
    this.outputs.push({ value: v, datatype, shape: [...shape] });
    return v;
  }

  /** The ModelProto as a plain object (for inspection); `toBytes()` serializes it. */
  toProto(): onnxProto.onnx.IModelProto {
    if (this.outputs.length === 0) throw fail('ALOFT_MODEL_INVALID', `graph '${this.opts.name}' has no outputs; call output() first`);
    const io = (r: IoRecord): onnxProto.onnx.IValueInfoProto => ({
      name: r.value.name,
      type: { tensorType: { elemType: DATATYPES[r.datatype].onnx, shape: shapeProto(r.shape) } },
    });
    const domains = new Set(this.nodes.map((n) => n.domain).filter((d) => d !== '' && d !== 'ai.onnx'));
    return {
      irVersion: this.opts.irVersion,
      opsetImport: [{ domain: '', version: this.opts.opset }, ...[...domains].map((domain) => ({ domain, version: 1 }))],
      producerName: this.opts.producer,
      ...(this.opts.producerVersion ? { producerVersion: this.opts.producerVersion } : {}),
      ...(this.opts.docString ? { docString: this.opts.docString } : {}),
      graph: {
        name: this.opts.name,
        input: this.inputs.map(io),
        output: this.outputs.map(io),
        initializer: this.initializers.map((i) => i.proto),
        node: this.nodes.map((n) => ({
          opType: n.opType,
          name: n.name,
          ...(n.domain ? { domain: n.domain } : {}),
          input: n.inputs.map((v) => (v ? v.name : '')),
          output: n.outputs.map((v) => v.name),
          attribute: n.attributes,
        })),
      },
    };
  }

  /** The serialized model, ready for `InferenceSession.create(bytes)` or a file. */
  toBytes(): Uint8Array {
    return onnx.ModelProto.encode(this.toProto()).finish();
  }
}
