/**
 * Replicas as worker threads in this process (runtime.isolation: thread). The same
 * lifecycle as process replicas — ready after warm-up, restarted with backoff when they
 * exit, terminal errors not retried, stopped after finishing their queue — without an HTTP
 * hop per batch. Endpoint URLs are `thread://<threadId>`: a restarted worker is a new
 * endpoint, so the gateway never sends to a dead one.
 */
import { Worker } from 'node:worker_threads';
import type { Clock, Timer } from '../../clock.js';
import { retryOfCode } from '../../errors.js';
import { replicaOptionsOf } from '../../runtime/replica-spec.js';
import type { Logger } from '../../log.js';
import { threadReplicaWorker, type ThreadReplicaData } from '../../runtime/thread-entry.js';
import type { BackoffPolicy } from './backoff.js';
import { SlotOrchestrator } from './slots.js';
import { type ReplicaGroup, type ReplicaState, type ReplicaStatus } from './types.js';

export interface ThreadOrchestratorOptions {
  clock?: Clock;
  backoff?: BackoffPolicy;
  /** Grace period for a stopping replica to finish its queue. Default 10 s. */
  stopGraceMs?: number;
  logger?: Logger;
  random?: () => number;
}

class ThreadSlot {
  state: ReplicaState = 'stopped';
  worker: Worker | undefined;
  restarts = 0;
  failures = 0;
  lastError: string | undefined;
  since: number;
  readySince = 0;
  terminal = false;
  wanted = true;
  #timer: Timer | undefined;
  #stopped: Promise<void> | undefined;

  constructor(readonly id: string, readonly group: ReplicaGroup, readonly orch: ThreadOrchestrator) {
    this.since = orch.clock.date().getTime();
  }

  get url(): string | undefined {
    return this.worker && this.state === 'ready' ? `thread://${this.worker.threadId}` : undefined;
  }

  status(): ReplicaStatus {
    const url = this.url;
    return {
      id: this.id, group: this.group.key, deployment: this.group.deployment, version: this.group.spec.version,
      state: this.state, restarts: this.restarts, since: this.since,
      ...(url ? { url } : {}), ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  #set(state: ReplicaState): void {
    if (this.state === state) return;
    this.state = state;
    this.since = this.orch.clock.date().getTime();
    this.orch.emit(this);
  }

  start(): void {
    const data: ThreadReplicaData = replicaOptionsOf(this.group.spec);
    const how = threadReplicaWorker();
    const worker = new Worker(how.entry, { workerData: data, eval: how.eval });
    this.worker = worker;
    this.#set('starting');
    worker.on('message', (msg: { type?: string; code?: string; message?: string }) => {
      if (worker !== this.worker) return;
      if (msg.type === 'ready') {
        this.readySince = this.orch.clock.now();
        this.#set('ready');
      } else if (msg.type === 'error') {
        this.lastError = `${msg.code}: ${msg.message}`;
        if (retryOfCode(msg.code) === 'terminal') this.terminal = true;
      }
    });
    worker.on('error', (err) => {
      if (worker === this.worker) this.lastError = `replica thread error: ${err.message}`;
    });
    worker.on('exit', (code) => {
      if (worker !== this.worker) return;
      this.worker = undefined;
      if (!this.wanted) {
        this.#set('stopped');
        return;
      }
      if (!this.lastError || this.state === 'ready') this.lastError = `replica thread exited (code ${code})`;
      this.orch.logger.warn({ replica: this.id, code }, 'replica thread exited');
      this.#crashed();
    });
  }

  #crashed(): void {
    if (this.terminal) {
      this.#set('failed');
      return;
    }
    const delay = this.orch.restartDelay(this);
    this.#set('backoff');
    this.#timer = this.orch.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.wanted) this.start();
    }, delay);
  }

  /** Finish the queue, then end the thread (terminated after the grace period). */
  stop(): Promise<void> {
    this.wanted = false;
    this.#timer?.cancel();
    const worker = this.worker;
    if (!worker) {
      this.#set('stopped');
      return Promise.resolve();
    }
    this.#stopped ??= new Promise<void>((resolve) => {
      this.#set('stopping');
      const t = setTimeout(() => void worker.terminate(), this.orch.opts.stopGraceMs ?? 10_000);
      t.unref();
      worker.once('exit', () => { clearTimeout(t); resolve(); });
      worker.postMessage({ type: 'stop' });
    });
    return this.#stopped;
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
