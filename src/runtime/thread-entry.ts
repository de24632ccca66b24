/**
 * What the Aloft process needs to run and talk to thread replicas (runtime.isolation:
 * thread), without loading ONNX Runtime itself: the worker's entry and its data, which
 * tensor memory a message may move instead of copy, and the repair of BYTES tensors after
 * structured cloning.
 */
import type { ReplicaOptions } from './replica-spec.js';
import type { Tensor } from './tensor.js';

/** A replica thread's workerData: the same options a replica process gets as flags. */
export type ThreadReplicaData = ReplicaOptions;

/**
 * The buffers a message may move to the other thread instead of copying (postMessage's
 * transfer list): typed-array data that spans the whole of its own ArrayBuffer. A view on
 * a larger buffer (Node's pooled Buffers, a request body) is left to be copied, since moving
 * it would empty every other view on that memory; BYTES elements are always copied.
 * What the sender pays per message (`tsx bench/hop.ts`): 25 MNIST rows (78 KB) 9 µs moved
 * against 17 µs copied, 256 KB 17 against 48; at 1 KB the two are within noise (5–10 µs).
 */
export function movableBuffers(tensors: readonly Tensor[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const t of tensors) {
    const d = t.data;
    if (Array.isArray(d)) continue;
    const b = d.buffer;
    if (b instanceof ArrayBuffer && d.byteOffset === 0 && d.byteLength === b.byteLength && !out.includes(b)) out.push(b);
  }
  return out;
}

/** Structured clone turns Buffers into plain Uint8Arrays; BYTES elements need Buffers back. */
export function restoreBytes(t: Tensor): Tensor {
  if (t.datatype !== 'BYTES' || !Array.isArray(t.data)) return t;
  return { ...t, data: (t.data as Uint8Array[]).map((b) => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength))) };
}

const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** The worker entry file, from source (under tsx) or compiled. */
export const THREAD_REPLICA_ENTRY: URL = new URL(FROM_SOURCE ? './thread-replica.ts' : './thread-replica.js', import.meta.url);

/**
 * How to start the worker. Compiled: the .js entry. From source (tests, development):
 * workers do not inherit tsx's module hooks, so a small bootstrap registers tsx's API in
 * the worker first, then imports the .ts entry.
 */
export function threadReplicaWorker(): { entry: string | URL; eval: boolean } {
  if (!FROM_SOURCE) return { entry: THREAD_REPLICA_ENTRY, eval: false };
  const api = import.meta.resolve('tsx/esm/api');
  return {
    entry: `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(THREAD_REPLICA_ENTRY.href)}); });`,
    eval: true,
  };
}
