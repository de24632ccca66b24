/**
 * Shared by the paired benches (shadow.ts, capture.ts): one Aloft as it ships, measured
 * with a feature off and on, alternating, at the same closed-loop load; the medians over
 * pairs go into a section of BENCHMARKS.md between markers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdminClient } from '../src/api/client.js';
import { ROOT } from './child.js';
import { runLoad, type LoadResult } from './load.js';
import { aloftSystem } from './systems/aloft.js';
import type { RunningServer } from './systems/types.js';
import type { Workload } from './workload.js';

export async function poll<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface PairedAloft {
  server: RunningServer;
  admin: AdminClient;
  /** The spec the bench started with, as JSON (JSON is YAML). */
  base: { models: Record<string, { path: string }>; deployments: Record<string, Record<string, unknown>> };
  /** Apply `spec` as the next revision and wait for its outcome. */
  apply(spec: unknown, wait?: boolean): Promise<number>;
  settled(revision: number): Promise<void>;
  /** One closed-loop (or fixed-rate) run; `hooks` are called as its measured window starts and ends. */
  load(hooks?: { onWindowStart?: () => void; onWindowEnd?: () => void }): Promise<LoadResult>;
}

export async function startPaired(w: Workload, tmp: string, opts: { connections: number; warmupMs: number; durationMs: number; rate?: number }): Promise<PairedAloft> {
  const server = await aloftSystem(true).start(w, tmp);
  const specPath = join(tmp, `aloft-${w.id}-batching-process`, 'aloft.yaml');
  const base = JSON.parse(readFileSync(specPath, 'utf8')) as PairedAloft['base'];
  const key = server.headers!.authorization!.replace(/^Bearer /, '');
  const admin = new AdminClient({ url: server.url, key });
  let revision = Math.max(...(await admin.revisions()).revisions.map((r) => r.number));
  const settled = async (n: number) => {
    await poll(`revision ${n}`, 120_000, async () => ((await admin.revision(n)).outcome === 'applying' ? undefined : true));
  };
  return {
    server, admin, base, settled,
    async apply(spec, wait = true) {
      const r = await admin.apply({ spec: JSON.stringify(spec), file: 'aloft.yaml', base: revision });
      revision = r.revision ?? revision;
      if (wait) await settled(revision);
      return revision;
    },
    load: (hooks = {}) => runLoad({
      ...hooks,
      url: server.url, path: `/v2/models/${w.name}/infer`, connections: opts.connections, warmupMs: opts.warmupMs, durationMs: opts.durationMs,
      ...(opts.rate !== undefined ? { rate: opts.rate } : {}),
      requests: w.bodies.json!.map((r) => ({ body: r.body, headers: { ...r.headers, ...server.headers } })),
    }),
  };
}

/** Put `table` into BENCHMARKS.md between `<!-- name:start -->` and `<!-- name:end -->` (a new section `title` at the end if missing). */
export function writeSection(name: string, title: string, table: string): void {
  const file = join(ROOT, 'BENCHMARKS.md');
  const doc = readFileSync(file, 'utf8');
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${table}\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  writeFileSync(file, i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n## ${title}\n\n${block}\n`);
}
