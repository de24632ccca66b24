/**
 * An MNIST-sized MLP (784-256-128-10, ReLU, softmax) with seeded He-initialized weights:
 * a realistic compute load for benchmarks without downloading a trained model. Its
 * predictions are meaningless; its cost is that of a real MNIST MLP.
 */
import { mlp, type DenseLayer } from '../../src/onnx/mlp.js';
import { Random } from '../../examples/credit-risk/random.js';

/** Layer sizes of the benchmark MLP. */
export const MNIST_LAYERS = [784, 256, 128, 10] as const;

/**
 * Build the model. Same seed, same bytes. Input `input` FP32 [batch, 784]; output
 * `probabilities` FP32 [batch, 10] (softmax).
 */
export function buildMnistMlp(seed = 1): Uint8Array {
  const rng = new Random(seed);
  const layers: DenseLayer[] = [];
  for (let i = 0; i + 1 < MNIST_LAYERS.length; i++) {
    const nIn = MNIST_LAYERS[i]!;
    const nOut = MNIST_LAYERS[i + 1]!;
    const sd = Math.sqrt(2 / nIn); // He initialization for ReLU layers
    layers.push({
      weights: Float32Array.from({ length: nIn * nOut }, () => rng.normal(0, sd)),
      bias: new Float32Array(nOut),
      in: nIn,
      out: nOut,
    });
  }
  return mlp(layers, {
    name: 'mnist-mlp',
    inputName: 'input',
    outputName: 'probabilities',
    activation: 'softmax',
    docString: `784-256-128-10 MLP with random He-initialized weights (seed ${seed}) for benchmarks`,
  });
}
