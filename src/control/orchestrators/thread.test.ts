import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { ThreadTransport } from '../../gateway/thread-transport.js';
import { runOrchestratorSuite } from './orchestrator.case.js';
import { ThreadOrchestrator } from './thread.js';
import type { ReplicaTemplate } from './types.js';

const MODEL = new URL('../../../examples/credit-risk/model.onnx', import.meta.url);
let dir: string | undefined;
const workdir = async () => (dir ??= await mkdtemp(join(tmpdir(), 'aloft-threads-')));
const template = (path: string, sha256: string): ReplicaTemplate => ({
  model: 'm', version: 1, artifactPath: path, sha256, runtime: { intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all', executionMode: 'sequential' },
});

runOrchestratorSuite('thread', {
  make: () => new ThreadOrchestrator({ backoff: { baseMs: 20, maxMs: 200, resetAfterMs: 60_000 }, stopGraceMs: 5000 }),
  async template() {
    const path = join(await workdir(), 'model.onnx');
    await copyFile(MODEL, path);
    return template(path, createHash('sha256').update(readFileSync(path)).digest('hex'));
  },
  async corruptTemplate() {
    const bytes = readFileSync(MODEL);
    const sha = createHash('sha256').update(bytes).digest('hex');
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    const path = join(await workdir(), 'corrupt.onnx');
    await writeFile(path, bytes);
    return template(path, sha);
  },
  kill(o, status) {
    void (o as ThreadOrchestrator).worker(status.url!)!.terminate();
  },
  /** A real inference through the gateway's transport. */
  async probe(o, status) {
    const worker = (o as ThreadOrchestrator).worker(status.url!);
    if (!worker) return false;
    const t = new ThreadTransport(worker);
    try {
      const [y] = await t.infer([{ name: 'features', datatype: 'FP32', shape: [1, 22], data: new Float32Array(22) }]);
      return y?.name === 'probability' && y.shape.join() === '1,1';
    } finally {
      await t.close();
    }
  },
  handle: (o, status) => (o as ThreadOrchestrator).worker(status.url!),
  isGone: (w) => (w as Worker).threadId === -1,
  async cleanup() {
    if (dir) await rm(dir, { recursive: true, force: true });
  },
});
