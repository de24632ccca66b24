/**
 * Closed-loop load for e2e tests: `connections` loops on 127.0.0.1, one request at a time
 * each, until stopped (at most 500,000 requests in all). Counts answers, failures (the
 * first five described) and, per model_version, the 200s.
 */
import { Pool } from 'undici';
import { inferBody } from './credit-risk.js';
import type { Project } from './project.js';

export interface LoadTally {
  sent: number;
  ok: number;
  failed: number;
  failures: string[];
  byVersion: Map<string, number>;
}

export function closedLoop(p: Project, deployment: string, connections: number): { tally: LoadTally; stop(): Promise<void> } {
  const pool = new Pool(p.url, { connections });
  const tally: LoadTally = { sent: 0, ok: 0, failed: 0, failures: [], byVersion: new Map() };
  let stopped = false;
  const body = JSON.stringify(inferBody());
  const loop = async () => {
    while (!stopped && tally.sent < 500_000) {
      tally.sent++;
      try {
        const r = await pool.request({ method: 'POST', path: `/v2/models/${deployment}/infer`, headers: { ...p.headers, 'content-type': 'application/json' }, body });
        const text = await r.body.text();
        if (r.statusCode !== 200) {
          tally.failed++;
          if (tally.failures.length < 5) tally.failures.push(`${r.statusCode}: ${text.slice(0, 200)}`);
          continue;
        }
        tally.ok++;
        const v = (JSON.parse(text) as { model_version: string }).model_version;
        tally.byVersion.set(v, (tally.byVersion.get(v) ?? 0) + 1);
      } catch (err) {
        tally.failed++;
        if (tally.failures.length < 5) tally.failures.push(String(err));
      }
    }
  };
  const loops = Array.from({ length: connections }, loop);
  return { tally, stop: async () => { stopped = true; await Promise.all(loops); await pool.close(); } };
}
