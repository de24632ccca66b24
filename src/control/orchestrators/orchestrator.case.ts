/**
 * Conformance suite every orchestrator runs (local processes now, Kubernetes later):
 * apply is level-based and idempotent, replicas become ready and answer, scaling keeps
 * survivors, a crashed replica is restarted, a terminal failure is not retried, and stop
 * stops everything.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import type { Orchestrator, ReplicaGroup, ReplicaSpec, ReplicaStatus } from './types.js';

export interface OrchestratorFixture {
  make(): Orchestrator;
  /** A replica spec that starts a working replica. */
  template(): Promise<ReplicaSpec>;
  /** A replica spec whose artifact fails its hash check (a terminal error). */
  corruptTemplate(): Promise<ReplicaSpec>;
  /** Kill a replica abruptly (SIGKILL a process, terminate a thread, delete a pod). */
  kill(o: Orchestrator, status: ReplicaStatus): void;
  /** True when a ready replica answers (a health check, or a real inference). */
  probe(o: Orchestrator, status: ReplicaStatus): Promise<boolean>;
  /** Something to check the replica is gone with after stop (a pid, a worker). */
  handle(o: Orchestrator, status: ReplicaStatus): unknown;
  isGone(handle: unknown): boolean;
  cleanup?(): Promise<void>;
}

/** The process fixture's probe: GET /v2/health/ready. */
export async function httpProbe(status: ReplicaStatus): Promise<boolean> {
  const res = await request(`${status.url}/v2/health/ready`);
  await res.body.dump();
  return res.statusCode === 200;
}

function until(o: Orchestrator, pred: (s: ReplicaStatus[]) => boolean, what: string, timeoutMs = 30_000): Promise<ReplicaStatus[]> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(new Error(`timed out waiting for ${what}; status: ${JSON.stringify(o.status())}`));
    }, timeoutMs);
    const check = () => {
      if (done) return;
      const s = o.status();
      if (pred(s)) {
        done = true;
        clearTimeout(timer);
        resolve(s);
      }
    };
    o.onChange(check);
    check();
  });
}

const ready = (s: ReplicaStatus[], group: string) => s.filter((r) => r.group === group && r.state === 'ready');

export function runOrchestratorSuite(name: string, fixture: OrchestratorFixture): void {
  let o: Orchestrator;
  let template: ReplicaSpec;
  const group = (replicas: number, key = 'm@1', t = template): ReplicaGroup => ({ key, deployment: 'm', replicas, spec: t });

  before(async () => {
    o = fixture.make();
    template = await fixture.template();
  });
  after(async () => {
    await o?.stop();
    await fixture.cleanup?.();
  });

  test(`${name}: apply starts the replicas, each ready and answering`, async () => {
    await o.apply([group(2)]);
    const s = await until(o, (x) => ready(x, 'm@1').length === 2, 'two ready replicas');
    for (const r of ready(s, 'm@1')) {
      assert.ok(r.url, 'a ready replica has a URL');
      assert.ok(await fixture.probe(o, r), `${r.id} answers`);
    }
    assert.notEqual(ready(s, 'm@1')[0]!.id, ready(s, 'm@1')[1]!.id);
  });

  test(`${name}: applying the same desired state again changes nothing`, async () => {
    const before = o.status().map((r) => [r.id, r.pid, r.state]);
    await o.apply([group(2)]);
    assert.deepEqual(o.status().map((r) => [r.id, r.pid, r.state]), before);
  });

  test(`${name}: a crashed replica is restarted in the same slot`, async () => {
    const victim = ready(o.status(), 'm@1')[0]!;
    fixture.kill(o, victim);
    const s = await until(o, (x) => x.some((r) => r.id === victim.id && r.state === 'ready' && r.restarts === 1), 'the restart');
    const now = s.find((r) => r.id === victim.id)!;
    assert.notEqual(now.url, victim.url, 'a new process or thread serves the slot');
    assert.equal(ready(s, 'm@1').length, 2);
    assert.ok(await fixture.probe(o, now));
  });

  test(`${name}: scaling down keeps the survivors running`, async () => {
    const survivors = ready(o.status(), 'm@1');
    await o.apply([group(1)]);
    const s = o.status().filter((r) => r.group === 'm@1');
    assert.equal(s.length, 1);
    assert.equal(s[0]!.id, survivors[0]!.id);
    assert.equal(s[0]!.url, survivors[0]!.url, 'the survivor was not restarted');
  });

  test(`${name}: a replica whose artifact fails its hash check is marked failed, not restarted`, async () => {
    await o.apply([group(1), group(1, 'bad@1', await fixture.corruptTemplate())]);
    const s = await until(o, (x) => x.some((r) => r.group === 'bad@1' && r.state === 'failed'), 'the failed replica');
    const bad = s.find((r) => r.group === 'bad@1')!;
    assert.match(bad.lastError ?? '', /ALOFT_ARTIFACT_CORRUPT/);
    assert.equal(bad.restarts, 0);
  });

  test(`${name}: removing a group stops its replicas`, async () => {
    await o.apply([group(1)]);
    assert.deepEqual(o.status().map((r) => r.group), ['m@1']);
  });

  test(`${name}: stop stops every replica`, async () => {
    const handles = o.status().map((r) => fixture.handle(o, r));
    assert.ok(handles.length > 0);
    await o.stop();
    assert.deepEqual(o.status(), []);
    for (const h of handles) assert.ok(fixture.isGone(h), 'the replica is gone');
  });
}

/**
 * Templates for fixtures: the credit-risk example model, and a copy with one byte flipped
 * that still carries the original hash (a terminal error). Files live in a temp folder
 * that `cleanup` removes.
 */
export function exampleModelTemplates(): Pick<OrchestratorFixture, 'template' | 'corruptTemplate' | 'cleanup'> {
  const model = new URL('../../../examples/credit-risk/model.onnx', import.meta.url);
  const bytes = readFileSync(model);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  let dir: string | undefined;
  const write = async (name: string, data: Uint8Array) => {
    dir ??= await mkdtemp(join(tmpdir(), 'aloft-orch-'));
    const path = join(dir, name);
    await writeFile(path, data);
    return path;
  };
  const template = (artifact: string): ReplicaSpec => ({
    servedAs: 'm', model: 'm', version: 1, artifact, sha256,
    runtime: { intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all', executionMode: 'sequential', allowSpinning: false },
    isolation: 'process',
  });
  return {
    template: async () => template(await write('model.onnx', bytes)),
    async corruptTemplate() {
      const bad = Buffer.from(bytes);
      bad[bad.length - 10] = bad[bad.length - 10]! ^ 0xff;
      return template(await write('corrupt.onnx', bad));
    },
    async cleanup() {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
