/** The bare HTTP ceiling: bench/peers/fixed-server.mjs reads the body, answers a fixed response. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Child } from '../child.js';
import type { RunningServer, ServerSystem } from './types.js';

export const fixedServer: ServerSystem = {
  id: 'fixed',
  label: 'bare node:http (fixed answer, no model)',
  bodyKinds: () => ['json'],
  fixedAnswer: true,
  async start(w, tmpDir): Promise<RunningServer> {
    // The correct answer to row 0, so the response has a real inference response's size.
    const file = join(tmpDir, `${w.id}-fixed-response.json`);
    writeFileSync(file, JSON.stringify({
      model_name: w.name, model_version: '1',
      outputs: [{ name: w.outputName, datatype: 'FP32', shape: [1, w.outWidth], data: Array.from(w.expected[0]!) }],
    }));
    const child = new Child('fixed server', './peers/fixed-server.mjs', ['--response', file]);
    try {
      const ready = await child.waitReady(30_000);
      return { url: String(ready.url), pid: child.pid, replicaPids: [], stop: () => child.stop() };
    } catch (err) {
      await child.stop();
      throw err;
    }
  },
};
