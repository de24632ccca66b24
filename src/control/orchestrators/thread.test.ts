import type { Worker } from 'node:worker_threads';
import { ThreadTransport } from '../../gateway/transports/thread.js';
import { exampleModelTemplates, runOrchestratorSuite } from './orchestrator.case.js';
import { ThreadOrchestrator } from './thread.js';

runOrchestratorSuite('thread', {
  ...exampleModelTemplates(),
  make: () => new ThreadOrchestrator({ backoff: { baseMs: 20, maxMs: 200, resetAfterMs: 60_000 }, stopGraceMs: 5000 }),
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
});
