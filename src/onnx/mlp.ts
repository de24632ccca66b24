/**
 * Build a standard multi-layer perceptron as an ONNX model: optional standardization baked
 * into the graph (so clients send raw features), dense layers with ReLU between them, and
 * a final activation.
 */
import { GraphBuilder, type Value } from './builder.js';
import { fail } from '../errors.js';

/** One dense layer: y = x·W + b, with W row-major [in, out]. */
export interface DenseLayer {
  weights: Float32Array;
  bias: Float32Array;
  in: number;
  out: number;
}

export interface MlpOptions {
  /** Graph name. Default "mlp". */
  name?: string;
  /** Input name. Default "features". */
  inputName?: string;
  /** Output name. Default "output". */
  outputName?: string;
  /** Name of the dynamic first dimension. Default "batch". */
  batchDim?: string;
  /** Activation after the last layer. Default "none". */
  activation?: 'none' | 'sigmoid' | 'softmax';
  /**
   * Per-feature training mean and standard deviation; the graph computes (x - mean) / std
   * first. A std of 0 (a constant feature) is stored as 1.
   */
  standardize?: { mean: Float32Array; std: Float32Array };
  opset?: number;
  producer?: string;
  producerVersion?: string;
  docString?: string;
}

/**
 * Add the MLP's layers to an existing graph, from `x` (already standardized if wanted).
 * Hidden layers use ReLU; the last layer's activation is left to the caller.
 */
export function addDenseLayers(g: GraphBuilder, x: Value, layers: readonly DenseLayer[], prefix = 'layer'): Value {
  let h = x;
  layers.forEach((l, i) => {
    if (l.weights.length !== l.in * l.out) {
      throw fail('ALOFT_MODEL_INVALID', `${prefix} ${i}: weights hold ${l.weights.length} values, expected in×out = ${l.in}×${l.out}`);
    }
    if (l.bias.length !== l.out) throw fail('ALOFT_MODEL_INVALID', `${prefix} ${i}: bias holds ${l.bias.length} values, expected ${l.out}`);
    if (i > 0 && layers[i - 1]!.out !== l.in) {
      throw fail('ALOFT_MODEL_INVALID', `${prefix} ${i} takes ${l.in} inputs but ${prefix} ${i - 1} gives ${layers[i - 1]!.out}`);
    }
    const w = g.initializer(`${prefix}${i}.weight`, l.weights, [l.in, l.out]);
    const b = g.initializer(`${prefix}${i}.bias`, l.bias, [l.out]);
    h = g.add(g.matmul(h, w), b);
    if (i < layers.length - 1) h = g.relu(h);
  });
  return h;
}

/**
 * The serialized ONNX model of an MLP: input `[batch, layers[0].in]` FP32, output
 * `[batch, last.out]` FP32.
 *
 * @example
 *   const bytes = mlp([{ weights, bias, in: 16, out: 1 }], { activation: 'sigmoid', outputName: 'probability' });
 */
export function mlp(layers: readonly DenseLayer[], opts: MlpOptions = {}): Uint8Array {
  if (layers.length === 0) throw fail('ALOFT_MODEL_INVALID', 'an MLP needs at least one layer');
  const nIn = layers[0]!.in;
  const nOut = layers[layers.length - 1]!.out;
  const batch = opts.batchDim ?? 'batch';
  const g = new GraphBuilder({
    name: opts.name ?? 'mlp',
    ...(opts.opset !== undefined ? { opset: opts.opset } : {}),
    ...(opts.producer !== undefined ? { producer: opts.producer } : {}),
    ...(opts.producerVersion !== undefined ? { producerVersion: opts.producerVersion } : {}),
    ...(opts.docString !== undefined ? { docString: opts.docString } : {}),
  });
  let x = g.input(opts.inputName ?? 'features', 'FP32', [batch, nIn]);
  if (opts.standardize) {
    const { mean, std } = opts.standardize;
    if (mean.length !== nIn || std.length !== nIn) {
      throw fail('ALOFT_MODEL_INVALID', `standardize: mean and std need ${nIn} values (one per input feature), got ${mean.length} and ${std.length}`);
    }
    const safeStd = std.map((s) => (s === 0 || !Number.isFinite(s) ? 1 : s));
    x = g.div(g.sub(x, g.initializer('input.mean', mean, [nIn])), g.initializer('input.std', safeStd, [nIn]));
  }
  let y = addDenseLayers(g, x, layers);
  if (opts.activation === 'sigmoid') y = g.sigmoid(y);
  else if (opts.activation === 'softmax') y = g.softmax(y, -1);
  g.output(y, opts.outputName ?? 'output', 'FP32', [batch, nOut]);
  return g.toBytes();
}
