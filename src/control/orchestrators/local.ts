/**
 * Replicas as child processes of this one. Each replica slot spawns the replica program,
 * waits for its `ready` message (sent after the model is loaded and warmed up), probes
 * its liveness, restarts it with exponential backoff when it exits or stops answering,
 * and stops it with SIGTERM (drain) then SIGKILL after a grace period.
 *
 * A ready replica that fails one probe (hung, stopped with SIGSTOP, swapped out) becomes
 * `unhealthy` at once: it leaves the gateway's rotation and readiness, and comes back on
 * the next probe it passes; after `probeFailures` in a row it is killed and restarted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import type { Clock, Timer } from '../../clock.js';
import { retryOfCode } from '../../errors.js';
import { replicaArgs, replicaOptionsOf } from '../../runtime/replica-spec.js';
import type { Logger } from '../../log.js';
import type { BackoffPolicy } from './backoff.js';
import { SlotOrchestrator } from './slots.js';
import { type ReplicaGroup, type ReplicaState, type ReplicaStatus } from './types.js';

export interface LocalOrchestratorOptions {
  /** How to start the replica program (see runtime/entry.ts `replicaEntry`). */
  entry: { command: string; args: string[] };
  /** Address replicas listen on. Default 127.0.0.1. */
  host?: string;
  clock?: Clock;
  backoff?: BackoffPolicy;
  /** A replica that is not ready this long after spawning is killed and restarted. Default 120 s. */
  startTimeoutMs?: number;
  /** Liveness probe period while ready. Default 5 s. */
  probeIntervalMs?: number;
  /** Consecutive failed probes before the replica is killed. Default 3. */
  probeFailures?: number;
  /** SIGTERM → SIGKILL grace period. Default 10 s. */
  stopGraceMs?: number;
  logger?: Logger;
  random?: () => number;
  /** Extra environment for replica processes. */
  env?: NodeJS.ProcessEnv;
}

class Slot {
  state: ReplicaState = 'stopped';
  child: ChildProcess | undefined;
  url: string | undefined;
  restarts = 0;
  failures = 0;
  lastError: string | undefined;
  since: number;
  readySince = 0;
  #timer: Timer | undefined;
  #probeFails = 0;
  #stopped: Promise<void> | undefined;
  #resolveStopped: (() => void) | undefined;
  #wanted = true;

  constructor(
    readonly id: string,
    readonly group: ReplicaGroup,
    readonly orch: LocalOrchestrator,
  ) {
    this.since = orch.clock.date().getTime();
  }

  status(): ReplicaStatus {
    const s: ReplicaStatus = {
      id: this.id, group: this.group.key, deployment: this.group.deployment, version: this.group.spec.version,
      state: this.state, restarts: this.restarts, since: this.since,
    };
    if (this.url && this.state === 'ready') s.url = this.url;
    if (this.child?.pid !== undefined && this.state !== 'stopped' && this.state !== 'backoff' && this.state !== 'failed') s.pid = this.child.pid;
    if (this.lastError) s.lastError = this.lastError;
    return s;
  }

  #set(state: ReplicaState): void {
    if (this.state === state) return;
    this.state = state;
    this.since = this.orch.clock.date().getTime();
    this.orch.emit(this);
  }

  start(): void {
    const o = this.orch.opts;
    const args = [...o.entry.args, ...replicaArgs(replicaOptionsOf(this.group.spec, { host: this.orch.host, port: 0 }))];
    let child: ChildProcess;
    try {
      child = spawn(o.entry.command, args, {
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        env: { ...process.env, ...o.env },
      });
    } catch (err) {
      this.lastError = `could not start the replica process: ${(err as Error).message}`;
      this.#crashed();
      return;
    }
    this.child = child;
    this.url = undefined;
    this.#probeFails = 0;
    this.#set('starting');
    const log = this.orch.logger;
    const forward = (stream: NodeJS.ReadableStream | null, level: 'debug' | 'warn') => {
      if (!stream) return;
      createInterface({ input: stream }).on('line', (line) => {
        if (line.startsWith('{"event":"error"')) {
          try {
            const e = JSON.parse(line) as { code?: string; message?: string };
            this.#noteError(e.code, e.message);
          } catch { /* not our event line */ }
        }
        log[level]({ replica: this.id }, line);
      });
    };
    forward(child.stdout, 'debug');
    forward(child.stderr, 'warn');
    child.on('message', (msg: { type?: string; port?: number; code?: string; message?: string }) => {
      if (msg?.type === 'ready' && typeof msg.port === 'number' && child === this.child) {
        this.#cancelTimer();
        const host = this.orch.host === '0.0.0.0' ? '127.0.0.1' : this.orch.host;
        this.url = `http://${host}:${msg.port}`;
        this.readySince = this.orch.clock.now();
        this.#set('ready');
        this.#scheduleProbe();
      } else if (msg?.type === 'error') {
        this.#noteError(msg.code, msg.message);
      }
    });
    child.on('error', (err) => {
      this.lastError = `replica process error: ${err.message}`;
    });
    child.on('exit', (code, signal) => {
      if (child !== this.child) return;
      this.#cancelTimer();
      this.child = undefined;
      this.url = undefined;
      if (!this.#wanted) {
        this.#set('stopped');
        this.#resolveStopped?.();
        return;
      }
      if (!this.lastError || this.state === 'ready') {
        this.lastError = `replica exited (${signal ?? `code ${code}`})`;
      }
      log.warn({ replica: this.id, code, signal }, 'replica exited');
      this.#crashed();
    });
    this.#timer = this.orch.clock.setTimeout(() => {
      this.lastError = `replica was not ready within ${o.startTimeoutMs ?? 120_000} ms`;
      child.kill('SIGKILL');
    }, this.orch.opts.startTimeoutMs ?? 120_000);
  }

  #noteError(code: string | undefined, message: string | undefined): void {
    this.lastError = message ? `${code ?? 'error'}: ${message}` : code;
    if (retryOfCode(code) === 'terminal') this.terminal = true;
  }

  terminal = false;

  #crashed(): void {
    if (this.terminal) {
      this.#set('failed');
      return;
    }
    const delay = this.orch.restartDelay(this);
    this.#set('backoff');
    this.#timer = this.orch.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#wanted) this.start();
    }, delay);
  }

  #scheduleProbe(): void {
    const every = this.orch.opts.probeIntervalMs ?? 5000;
    this.#timer = this.orch.clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#probe();
    }, every);
  }

  async #probe(): Promise<void> {
    const child = this.child;
    const url = this.url;
    const probed = (s: ReplicaState) => s === 'ready' || s === 'unhealthy';
    if (!child || !url || !probed(this.state)) return;
    let ok: boolean;
    try {
      const res = await request(`${url}/v2/health/live`, { headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      ok = res.statusCode === 200;
    } catch { ok = false; }
    if (child !== this.child || !probed(this.state)) return;
    this.#probeFails = ok ? 0 : this.#probeFails + 1;
    if (this.#probeFails >= (this.orch.opts.probeFailures ?? 3)) {
      this.lastError = `replica failed ${this.#probeFails} liveness probes`;
      child.kill('SIGKILL');
      return;
    }
    if (!ok) this.lastError = `replica failed its liveness probe (${this.#probeFails} of ${this.orch.opts.probeFailures ?? 3} before a restart)`;
    this.#set(ok ? 'ready' : 'unhealthy');
    this.#scheduleProbe();
  }

  #cancelTimer(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** Stop for good: SIGTERM (the replica drains), SIGKILL after the grace period. */
  stop(): Promise<void> {
    this.#wanted = false;
    this.#cancelTimer();
    const child = this.child;
    if (!child) {
      this.#set('stopped');
      return Promise.resolve();
    }
    if (!this.#stopped) {
      this.#stopped = new Promise<void>((resolve) => { this.#resolveStopped = resolve; });
      this.#set('stopping');
      child.kill('SIGTERM');
      const grace = this.orch.opts.stopGraceMs ?? 10_000;
      const t = setTimeout(() => child.kill('SIGKILL'), grace);
      t.unref();
      void this.#stopped.then(() => clearTimeout(t));
    }
    return this.#stopped;
  }
}

export class LocalOrchestrator extends SlotOrchestrator<Slot> {
  readonly kind = 'local';
  readonly opts: LocalOrchestratorOptions;
  readonly host: string;

  constructor(opts: LocalOrchestratorOptions) {
    super(opts);
    this.opts = opts;
    this.host = opts.host ?? '127.0.0.1';
  }

  protected makeSlot(id: string, group: ReplicaGroup): Slot {
    return new Slot(id, group, this);
  }

  /** The pid of a replica, for fault-injection tests and `aloft status`. */
  pidOf(id: string): number | undefined {
    return this.slots().find((s) => s.id === id)?.child?.pid;
  }
}
