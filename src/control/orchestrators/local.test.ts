import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replicaEntry } from '../../runtime/entry.js';
import { LocalOrchestrator } from './local.js';
import { httpProbe, runOrchestratorSuite } from './orchestrator.case.js';
import type { ReplicaTemplate } from './types.js';

const MODEL = new URL('../../../examples/credit-risk/model.onnx', import.meta.url);
let dir: string | undefined;

async function workdir(): Promise<string> {
  dir ??= await mkdtemp(join(tmpdir(), 'aloft-orch-'));
  return dir;
}

function template(path: string, sha256: string): ReplicaTemplate {
  return { model: 'm', version: 1, artifactPath: path, sha256, runtime: { intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all', executionMode: 'sequential' } };
}

runOrchestratorSuite('local', {
  make: () => new LocalOrchestrator({ entry: replicaEntry(), backoff: { baseMs: 20, maxMs: 200, resetAfterMs: 60_000 }, stopGraceMs: 5000 }),
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
  kill(_o, status) {
    process.kill(status.pid!, 'SIGKILL');
  },
  probe: (_o, status) => httpProbe(status),
  handle: (_o, status) => status.pid,
  isGone(pid) {
    try {
      process.kill(pid as number, 0);
      return false;
    } catch {
      return true;
    }
  },
  async cleanup() {
    if (dir) await rm(dir, { recursive: true, force: true });
  },
});
