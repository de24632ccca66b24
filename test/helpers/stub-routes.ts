/**
 * Routes for gateway tests that need no model: each deployment serves version 1 (replica
 * group `<name>@1`) with signature x FP32 [-1, 2] → y FP32 [-1, 1], batched, through one
 * stub replica. Spread into createGateway's options: `createGateway({ ...stubRoutes(['m']), ... })`.
 */
import type { GatewayOptions } from '../../src/gateway/server.js';
import type { ReplicaTransport } from '../../src/gateway/replica-set.js';
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

const signature = { inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [-1, 2] }], outputs: [{ name: 'y', datatype: 'FP32' as const, shape: [-1, 1] }], batchable: true };

export function stubRoutes(names: readonly string[], transport: ReplicaTransport = sumTransport): Required<Pick<GatewayOptions, 'connect' | 'routes' | 'endpoints'>> {
  return {
    connect: () => transport,
    routes: {
      deployments: names.map((name) => ({
        name, current: 1, timeoutMs: 30_000,
        versions: [{ group: `${name}@1`, model: name, version: 1, signature, batching: { maxBatchSize: 8, maxQueueDelayMs: 0, maxQueueSize: 100, coalesce: false }, transport: 'http' as const, desiredReplicas: 1 }],
      })),
    },
    endpoints: Object.fromEntries(names.map((name) => [`${name}@1`, [{ id: `${name}-0`, url: 'http://stub' }]])),
  };
}
