/**
 * Train the credit-risk model and write model.onnx and model.json next to this file.
 *
 *   npx tsx examples/credit-risk/train.ts                  # MLP (default), seed 42
 *   npx tsx examples/credit-risk/train.ts --model logreg   # logistic regression
 *   npx tsx examples/credit-risk/train.ts --seed 7 --rows 50000 --epochs 10 --out /tmp/cr
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FEATURE_COUNT, FEATURE_NAMES } from './data.js';
import type { ClassifierMetrics } from './metrics.js';
import { DEFAULT_CONFIGS, toOnnx, train, type ModelKind, type TrainConfig } from './trainer.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));

function usage(message: string): never {
  console.error(`${message}\nusage: npx tsx examples/credit-risk/train.ts [--model mlp|logreg] [--seed N] [--rows N] [--epochs N] [--out DIR]`);
  process.exit(2);
}

function positiveInt(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) usage(`--${name} must be a positive integer, got '${v}'`);
  return n;
}

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'mlp' },
    seed: { type: 'string' },
    rows: { type: 'string' },
    epochs: { type: 'string' },
    out: { type: 'string' },
  },
});
if (values.model !== 'mlp' && values.model !== 'logreg') usage(`--model must be mlp or logreg, got '${values.model}'`);
const kind: ModelKind = values.model;
const base = DEFAULT_CONFIGS[kind];
const config: TrainConfig = {
  ...base,
  seed: values.seed === undefined ? base.seed : Number.isInteger(Number(values.seed)) ? Number(values.seed) : usage(`--seed must be an integer, got '${values.seed}'`),
  trainRows: positiveInt('rows', values.rows, base.trainRows),
  epochs: positiveInt('epochs', values.epochs, base.epochs),
};
const outDir = values.out ?? HERE;

const started = performance.now();
const result = train(config);
const bytes = toOnnx(result);
const seconds = (performance.now() - started) / 1000;

const round = (v: number, digits = 4): number => Number(v.toFixed(digits));
const roundMetrics = (m: ClassifierMetrics): ClassifierMetrics => ({
  accuracy: round(m.accuracy), auc: round(m.auc), logLoss: round(m.logLoss), positiveRate: round(m.positiveRate), rows: m.rows,
});
// the command as typed, without --out (a local path that does not belong in the metadata)
const args = ['--model', kind, ...(values.seed ? ['--seed', values.seed] : []), ...(values.rows ? ['--rows', values.rows] : []),
  ...(values.epochs ? ['--epochs', values.epochs] : [])];
const metadata = {
  name: 'credit-risk',
  description: 'Probability that a loan applicant defaults, from raw application features (synthetic data, see data.ts).',
  model: kind,
  command: `npx tsx examples/credit-risk/train.ts ${args.join(' ')}`,
  input: { name: 'features', datatype: 'FP32', shape: [-1, FEATURE_COUNT], dimNames: ['batch', null] },
  output: { name: 'probability', datatype: 'FP32', shape: [-1, 1], dimNames: ['batch', null] },
  features: FEATURE_NAMES,
  config,
  metrics: { train: roundMetrics(result.metrics.train), test: roundMetrics(result.metrics.test) },
  // training-population feature statistics (also baked into the graph), a baseline for drift checks
  trainingStats: {
    mean: Array.from(result.standardization.mean, (v) => Number(v.toPrecision(6))),
    std: Array.from(result.standardization.std, (v) => Number(v.toPrecision(6))),
  },
  sha256: createHash('sha256').update(bytes).digest('hex'),
};

mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'model.onnx'), bytes);
writeFileSync(join(outDir, 'model.json'), `${JSON.stringify(metadata, null, 2)}\n`);

const m = metadata.metrics;
console.log(`trained ${kind} on ${config.trainRows} rows (${config.epochs} epochs, seed ${config.seed}) in ${seconds.toFixed(1)} s`);
console.log(`  train: accuracy ${m.train.accuracy}  AUC ${m.train.auc}  log loss ${m.train.logLoss}`);
console.log(`  test:  accuracy ${m.test.accuracy}  AUC ${m.test.auc}  log loss ${m.test.logLoss}  (default rate ${m.test.positiveRate})`);
console.log(`wrote ${join(values.out ?? 'examples/credit-risk', 'model.onnx')} (${bytes.byteLength} bytes, features FP32 [batch, ${FEATURE_COUNT}] → probability FP32 [batch, 1]) and model.json`);
