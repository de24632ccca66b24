/** The hand-written peer: bench/peers/plain-server.mjs (node:http + onnxruntime-node). */
import { startPeer } from '../child.js';
import type { RunningServer, ServerSystem } from './types.js';

export const plainServer: ServerSystem = {
  id: 'plain',
  label: 'plain Node server (node:http + ORT, 1 request = 1 run)',
  bodyKinds: () => ['json'],
  start(w): Promise<RunningServer> {
    return startPeer('plain server', './peers/plain-server.mjs', ['--model', w.modelPath, '--name', w.name]);
  },
};
