/**
 * Conformance suite every replica transport runs (HTTP to a replica process, messages to a
 * replica thread; gRPC or a pod later), against a real replica of the credit-risk example
 * started from one ReplicaSpec: answers equal ONNX Runtime's on the same file, an owned
 * batch gives the same answer, abandoned calls fail as transient and the transport serves
 * the next one, and a replica that died fails its calls as transient (the batcher then
 * retries them elsewhere).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { retryOf } from '../../errors.js';
import { replicaEntry } from '../../runtime/entry.js';
import { replicaArgs, replicaOptionsOf, type ReplicaSpec } from '../../runtime/replica-spec.js';
import { ModelSession } from '../../runtime/session.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { ReplicaTransport } from '../replica-set.js';

export interface RunningReplica {
  transport: ReplicaTransport;
  /** End the replica abruptly (SIGKILL a process, terminate a thread). */
  kill(): Promise<void>;
  /** Stop the replica and close the transport. */
  close(): Promise<void>;
}

export interface TransportFixture {
  /** Start a replica for `spec` and a transport to it, once it is ready. */
  start(spec: ReplicaSpec): Promise<RunningReplica>;
}

const MODEL = fileURLToPath(new URL('../../../examples/credit-risk/model.onnx', import.meta.url));

/** Start the replica program for `spec` (listening as given) and wait for its ready report; `kill` SIGKILLs it and waits for the exit. */
export async function spawnReplica(spec: ReplicaSpec, listen: { socket?: string } = {}): Promise<{ port: number; socket?: string; alive(): boolean; kill(): Promise<void> }> {
  const entry = replicaEntry();
  const child = spawn(entry.command, [...entry.args, ...replicaArgs(replicaOptionsOf(spec, { host: '127.0.0.1', port: 0, ...listen }))], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = await new Promise<{ port: number; socket?: string }>((resolve, reject) => {
    child.on('message', (m: { type?: string; port?: number; socket?: string; message?: string }) => {
      if (m.type === 'ready') resolve({ port: m.port!, ...(m.socket !== undefined ? { socket: m.socket } : {}) });
      if (m.type === 'error') reject(new Error(m.message));
    });
    child.once('exit', (code) => reject(new Error(`the replica exited (${code}) before it was ready`)));
  });
  return { ...ready, alive: () => child.exitCode === null && child.signalCode === null, kill: async () => { child.kill('SIGKILL'); await exited; } };
}

/** The credit-risk example as a replica spec. */
export function exampleSpec(isolation: ReplicaSpec['isolation']): ReplicaSpec {
  return {
    servedAs: 'credit-risk', model: 'credit-risk', version: 1, artifact: MODEL,
    sha256: createHash('sha256').update(readFileSync(MODEL)).digest('hex'),
    runtime: { intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all', executionMode: 'sequential', allowSpinning: false },
    isolation,
  };
}

const batch = (rows: number, seed: number): Tensor[] => {
  const data = new Float32Array(rows * 22);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 7919 + seed * 104729) % 1000) / 1000;
  return [{ name: 'features', datatype: 'FP32', shape: [rows, 22], data }];
};

export function runTransportSuite(name: string, fixture: TransportFixture, isolation: ReplicaSpec['isolation']): void {
  let replica: RunningReplica;
  let reference: ModelSession;
  const expected = async (inputs: Tensor[]) => [...((await reference.run(inputs))[0]!.data as Float32Array)];

  before(async () => {
    reference = await ModelSession.open(MODEL, { intraOpThreads: 1 });
    replica = await fixture.start(exampleSpec(isolation));
  });
  after(async () => {
    await replica?.close();
    await reference?.close();
  });

  test(`${name}: a batch comes back with ONNX Runtime's outputs for the same file`, async () => {
    const inputs = batch(5, 1);
    const [y] = await replica.transport.infer(inputs);
    assert.equal(y!.name, 'probability');
    assert.deepEqual(y!.shape, [5, 1]);
    assert.deepEqual([...(y!.data as Float32Array)], await expected(inputs));
  });

  test(`${name}: a batch given as owned gives the same answer`, async () => {
    const want = await expected(batch(3, 2));
    const [y] = await replica.transport.infer(batch(3, 2), true);
    assert.deepEqual([...(y!.data as Float32Array)], want);
  });

  test(`${name}: abandoned calls fail as transient, and the next call is served`, async () => {
    const calls = [replica.transport.infer(batch(2, 3)), replica.transport.infer(batch(2, 4))];
    replica.transport.abandon();
    for (const c of calls) await assert.rejects(c, (e: unknown) => retryOf(e) === 'transient');
    const inputs = batch(1, 5);
    assert.deepEqual([...((await replica.transport.infer(inputs))[0]!.data as Float32Array)], await expected(inputs));
  });

  test(`${name}: when the replica dies, its calls fail as transient`, async () => {
    await replica.kill();
    await assert.rejects(replica.transport.infer(batch(1, 6)), (e: unknown) => retryOf(e) === 'transient');
  });
}
