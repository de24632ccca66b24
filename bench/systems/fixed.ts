/**
 * The fixed-answer ceilings: a server that reads the body and answers one fixed response,
 * no model. bench/peers/fixed-server.mjs on bare node:http (in every run), and
 * bench/peers/fastify-fixed-server.mjs on Fastify with Aloft's number of hooks (on request:
 * `--systems fastify-fixed`), which shows the framework's own cost, and
 * bench/peers/socket-fixed-server.mjs on raw sockets with a minimal HTTP reader (on request:
 * `--systems socket-fixed`), which shows node:http's own.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPeer } from '../child.js';
import type { RunningServer, ServerSystem } from './types.js';

function fixedAnswerSystem(id: string, label: string, script: string): ServerSystem {
  return {
    id,
    label,
    bodyKinds: () => ['json'],
    fixedAnswer: true,
    async start(w, tmpDir): Promise<RunningServer> {
      // The correct answer to row 0, so the response has a real inference response's size.
      const file = join(tmpDir, `${w.id}-fixed-response.json`);
      writeFileSync(file, JSON.stringify({
        model_name: w.name, model_version: '1',
        outputs: [{ name: w.outputName, datatype: 'FP32', shape: [1, w.outWidth], data: Array.from(w.expected[0]!) }],
      }));
      return startPeer(label, script, ['--response', file]);
    },
  };
}

export const fixedServer = fixedAnswerSystem('fixed', 'bare node:http (fixed answer, no model)', './peers/fixed-server.mjs');
export const socketFixedServer = fixedAnswerSystem('socket-fixed', 'raw sockets, minimal HTTP reader (fixed answer, no model)', './peers/socket-fixed-server.mjs');
export const fastifyFixedServer = fixedAnswerSystem('fastify-fixed', 'Fastify, 4 no-op hooks (fixed answer, no model)', './peers/fastify-fixed-server.mjs');
