/**
 * Replicas as worker threads in this process (runtime.isolation: thread). The same
 * lifecycle as process replicas — ready after warm-up, restarted with backoff when they
 * exit, terminal errors not retried, stopped after finishing their queue — without an HTTP
 * hop per batch. Endpoint URLs are `thread://<threadId>`: a restarted worker is a new
 * endpoint, so the gateway never sends to a dead one.
 */
import { Worker } from 'node:worker_threads';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../log.js';
import { replicaOptionsOf } from '../../runtime/replica-spec.js';
import { threadReplicaWorker, type ThreadReplicaData } from '../../runtime/thread-entry.js';
import type { BackoffPolicy } from './backoff.js';
import { ReplicaSlot, SlotOrchestrator } from './slots.js';
import type { ReplicaGroup, ReplicaStartup } from './types.js';

export interface ThreadOrchestratorOptions {
  clock?: Clock;
  backoff?: BackoffPolicy;
  /** Grace period for a stopping replica to finish its queue. Default 10 s. */
  stopGraceMs?: number;
  logger?: Logger;
  random?: () => number;
}

/** A replica as a worker thread: started with its spec as workerData, ready on its message. */
class ThreadSlot extends ReplicaSlot {
  worker: Worker | undefined;

  constructor(id: string, group: ReplicaGroup, orch: ThreadOrchestrator) {
    super(id, group, orch, orch.opts.stopGraceMs ?? 10_000);
  }

  get url(): string | undefined {
    return this.worker && this.state === 'ready' ? `thread://${this.worker.threadId}` : undefined;
  }

  get pid(): number | undefined {
    return undefined;
  }

  protected get running(): boolean {
    return this.worker !== undefined;
  }

  protected launch(): void {
    const data: ThreadReplicaData = replicaOptionsOf(this.group.spec);
    const how = threadReplicaWorker();
    const worker = new Worker(how.entry, { workerData: data, eval: how.eval });
    this.worker = worker;
    worker.on('message', (msg: { type?: string; code?: string; message?: string; startup?: Omit<ReplicaStartup, 'totalMs'> }) => {
      if (worker !== this.worker) return;
      if (msg.type === 'ready') this.ready(msg.startup);
      else if (msg.type === 'error') this.startupError(msg.code, msg.message);
    });
    worker.on('error', (err) => {
      if (worker === this.worker) this.lastError = `replica thread error: ${err.message}`;
    });
    worker.on('exit', (code) => {
      if (worker !== this.worker) return;
      this.worker = undefined;
      this.exited(`code ${code}`);
    });
  }

  /** Gracefully: the worker finishes its queue and exits; forced: terminated. */
  protected terminate(force: boolean): void {
    if (force) void this.worker?.terminate();
    else this.worker?.postMessage({ type: 'stop' });
  }
}

export class ThreadOrchestrator extends SlotOrchestrator<ThreadSlot> {
  readonly kind = 'thread';
  readonly opts: ThreadOrchestratorOptions;

  constructor(opts: ThreadOrchestratorOptions = {}) {
    super(opts);
    this.opts = opts;
  }

  protected makeSlot(id: string, group: ReplicaGroup): ThreadSlot {
    return new ThreadSlot(id, group, this);
  }

  /** The live worker behind a `thread://<threadId>` URL, for the gateway's transport. */
  worker(url: string): Worker | undefined {
    return this.slots().find((s) => s.url === url)?.worker;
  }
}
