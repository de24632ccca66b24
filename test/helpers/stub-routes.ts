/**
 * A route table for gateway tests that need no model: each deployment serves version 1
 * with signature x FP32 [-1, 2] → y FP32 [-1, 1], batched, through one stub replica.
 */
import type { ManualClock } from '../../src/clock.js';
import { PowerOfTwoChoices } from '../../src/gateway/balancers/index.js';
import { Batcher } from '../../src/gateway/batcher.js';
import { ReplicaSet, type ReplicaTransport } from '../../src/gateway/replica-set.js';
import { RouteTable } from '../../src/gateway/route-table.js';
import { ModelStats } from '../../src/gateway/stats.js';
import type { Tensor } from '../../src/runtime/tensor.js';

/** A replica stand-in: answers every batch with one FP32 row per input row, y = x0 + x1. */
export const sumTransport: ReplicaTransport = {
  infer: async (inputs: Tensor[]): Promise<Tensor[]> => {
    const x = inputs[0]!.data as Float32Array;
    const rows = inputs[0]!.shape[0]!;
    const y = new Float32Array(rows);
    for (let r = 0; r < rows; r++) y[r] = x[2 * r]! + x[2 * r + 1]!;
    return [{ name: 'y', datatype: 'FP32', shape: [rows, 1], data: y }];
  },
  abandon: () => undefined, // answers at once: nothing is ever in flight to give up on
  close: async () => undefined,
};

export function stubRoutes(clock: ManualClock, names: readonly string[], transport: ReplicaTransport = sumTransport): RouteTable {
  const routes = new RouteTable();
  for (const name of names) {
    const replicas = new ReplicaSet({ balancer: new PowerOfTwoChoices(), maxInFlightPerReplica: 2, connect: () => transport, clock });
    replicas.setEndpoints([{ id: `${name}-0`, url: 'http://stub' }]);
    const stats = new ModelStats();
    const batcher = new Batcher(replicas, { maxBatchSize: 8, maxQueueDelayMs: 0, maxQueueSize: 100, batchable: true }, clock, stats);
    const signature = { inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [-1, 2] }], outputs: [{ name: 'y', datatype: 'FP32' as const, shape: [-1, 1] }], batchable: true };
    routes.set({ name, current: 1, timeoutMs: 30_000, versions: new Map([[1, { model: name, version: 1, signature, platform: 'onnxruntime_onnx', desiredReplicas: 1, batcher, replicas, stats }]]) });
  }
  return routes;
}
