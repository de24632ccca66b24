import * as ort from 'onnxruntime-node';
import { mlp, type DenseLayer } from '../src/onnx/mlp.js';
import { FEATURES, ROW } from '../test/helpers/credit-risk.js';
import { random, creditModel } from '../test/helpers/models.js';
function slow(hidden: number, width = 1024) {
  const r = random(4242);
  const dense = (nIn: number, nOut: number, scale: number): DenseLayer => {
    const weights = new Float32Array(nIn * nOut);
    for (let i = 0; i < weights.length; i++) weights[i] = (r() * 2 - 1) * scale;
    return { in: nIn, out: nOut, weights, bias: new Float32Array(nOut).fill(0.01) };
  };
  const layers = [dense(FEATURES, width, 1e-6)];
  for (let i = 0; i < hidden; i++) layers.push(dense(width, width, 1 / Math.sqrt(width)));
  layers.push(dense(width, 1, 1 / Math.sqrt(width)));
  return mlp(layers, { inputName: 'features', outputName: 'probability', activation: 'sigmoid', name: 'credit-slow' });
}
async function direct(bytes: Uint8Array) {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const feeds = { features: new ort.Tensor('float32', Float32Array.from(ROW), [1, FEATURES]) };
  for (let i = 0; i < 3; i++) await s.run(feeds);
  const ms: number[] = [];
  for (let i = 0; i < 15; i++) { const t0 = performance.now(); await s.run(feeds); ms.push(performance.now() - t0); }
  ms.sort((a, b) => a - b);
  return ms[7];
}
for (const h of [0]) console.log('fast', await direct(creditModel(1)));
for (const h of [4, 8, 12, 24]) { const t0 = Date.now(); const b = slow(h); const built = Date.now() - t0; console.log('slow', h, b.length, built, await direct(b)); }
