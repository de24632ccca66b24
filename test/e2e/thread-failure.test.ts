/** Issue 4: a replica thread that dies under load is restarted, and no request fails. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import type { SplitOrchestrator } from '../../src/control/orchestrators/split.js';
import type { ThreadOrchestrator } from '../../src/control/orchestrators/thread.js';
import { startProject } from '../helpers/project.js';
import { inferBody } from '../helpers/credit-risk.js';

test('a terminated replica thread is restarted and no request fails', async () => {
  const p = await startProject({ replicas: 2, yaml: 'deployments: { credit-risk: { runtime: { isolation: thread } } }' });
  try {
    const threads = (p.aloft.orchestrator as SplitOrchestrator).threads as ThreadOrchestrator;
    const victim = p.aloft.orchestrator.status().find((r) => r.state === 'ready')!;
    const body = JSON.stringify(inferBody());
    let sent = 0;
    let ok = 0;
    const failures: string[] = [];
    const worker = async () => {
      while (sent < 2000) {
        if (++sent === 300) void threads.worker(victim.url!)!.terminate();
        const res = await request(`${p.url}/v2/models/credit-risk/infer`, { method: 'POST', body });
        const text = await res.body.text();
        if (res.statusCode === 200) ok++;
        else failures.push(`${res.statusCode} ${text}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    console.log(`thread-failure: 2000 requests, ${ok} ok, ${failures.length} failed`);
    assert.deepEqual(failures, []);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`not restarted: ${JSON.stringify(p.aloft.orchestrator.status())}`)), 30_000);
      const check = () => {
        const s = p.aloft.orchestrator.status();
        if (s.filter((r) => r.state === 'ready').length === 2 && s.find((r) => r.id === victim.id)?.restarts === 1) { clearTimeout(t); resolve(); }
      };
      p.aloft.orchestrator.onChange(check);
      check();
    });
    assert.notEqual(p.aloft.orchestrator.status().find((r) => r.id === victim.id)!.url, victim.url);
  } finally {
    await p.close();
  }
});
