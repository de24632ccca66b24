/**
 * Batches to a replica running as a worker thread (runtime/thread-replica.ts): one message
 * out, one message back. A batch the batcher made for this call (`owned`) moves its tensor
 * memory to the worker instead of copying it; the worker moves its outputs back. Requests
 * in flight when the worker dies fail as retryable (ALOFT_NOT_READY), so the batcher re-runs
 * them on another replica, as with processes (from the requests' own tensors, never moved).
 */
import type { Worker } from 'node:worker_threads';
import { fail, type ErrorCode } from '../../errors.js';
import type { Tensor } from '../../runtime/tensor.js';
import { movableBuffers, restoreBytes } from '../../runtime/thread-entry.js';
import type { ReplicaTransport } from '../replica-set.js';

type Reply =
  | { type: 'result'; id: number; outputs: Tensor[] }
  | { type: 'failed'; id: number; code: ErrorCode; message: string };

export class ThreadTransport implements ReplicaTransport {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (o: Tensor[]) => void; reject: (e: Error) => void }>();
  #next = 0;
  #gone = false;
  readonly #onMessage = (msg: Reply | { type: string }) => {
    if (msg.type !== 'result' && msg.type !== 'failed') return;
    const m = msg as Reply;
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    if (m.type === 'result') p.resolve(m.outputs.map(restoreBytes));
    else p.reject(fail(m.code === 'ALOFT_NOT_READY' ? 'ALOFT_NOT_READY' : 'ALOFT_REPLICA_FAILED', m.message));
  };
  readonly #onExit = () => {
    this.#gone = true;
    for (const p of this.#pending.values()) p.reject(fail('ALOFT_NOT_READY', 'the replica thread stopped'));
    this.#pending.clear();
  };

  constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', this.#onMessage);
    worker.once('exit', this.#onExit);
  }

  /** The thread stopped answering: fail what is in flight as retryable; late answers are dropped. */
  abandon(): void {
    for (const p of this.#pending.values()) p.reject(fail('ALOFT_NOT_READY', 'the replica thread did not answer in time'));
    this.#pending.clear();
  }

  infer(inputs: Tensor[], owned = false): Promise<Tensor[]> {
    if (this.#gone) return Promise.reject(fail('ALOFT_NOT_READY', 'the replica thread stopped'));
    const id = this.#next++;
    return new Promise<Tensor[]>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const msg = { type: 'infer', id, inputs };
      if (owned) this.#worker.postMessage(msg, movableBuffers(inputs));
      else this.#worker.postMessage(msg);
    });
  }

  async close(): Promise<void> {
    this.#worker.off('message', this.#onMessage);
    this.#worker.off('exit', this.#onExit);
  }
}
