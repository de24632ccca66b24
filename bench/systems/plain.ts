/** The hand-written peer: bench/peers/plain-server.mjs (node:http + onnxruntime-node). */
import { Child } from '../child.js';
import type { RunningServer, ServerSystem } from './types.js';

export const plainServer: ServerSystem = {
  id: 'plain',
  label: 'plain Node server (node:http + ORT, 1 request = 1 run)',
  bodyKinds: () => ['json'],
  async start(w): Promise<RunningServer> {
    const child = new Child('plain server', './peers/plain-server.mjs', ['--model', w.modelPath, '--name', w.name]);
    try {
      const ready = await child.waitReady(30_000);
      return { url: String(ready.url), pid: child.pid, replicaPids: [], stop: () => child.stop() };
    } catch (err) {
      await child.stop();
      throw err;
    }
  },
};
