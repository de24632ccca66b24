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
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../log.js';
import { replicaArgs, replicaOptionsOf } from '../../runtime/replica-spec.js';
import type { BackoffPolicy } from './backoff.js';
import { ReplicaSlot, SlotOrchestrator } from './slots.js';
import type { ReplicaGroup, ReplicaStartup, ReplicaState } from './types.js';

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
  /**
   * Replicas also serve the wire protocol (runtime/wire.ts) on a Unix socket in a folder
   * of this orchestrator's (mode 0700), and report it, so the gateway reaches them without
   * HTTP. Default true; false leaves them HTTP only.
   */
  socket?: boolean;
}

/** A replica as a child process: spawned with its spec as flags, ready on its IPC message, probed over HTTP. */
class ProcessSlot extends ReplicaSlot {
  child: ChildProcess | undefined;
  #url: string | undefined;
  #socket: string | undefined;
  #probeFails = 0;

  constructor(id: string, group: ReplicaGroup, readonly local: LocalOrchestrator) {
    super(id, group, local, local.opts.stopGraceMs ?? 10_000);
  }

  get url(): string | undefined {
    return this.#url;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  override get socket(): string | undefined {
    return this.#socket;
  }

  protected get running(): boolean {
    return this.child !== undefined;
  }

  protected launch(): void {
    const o = this.local.opts;
    const socket = this.local.socketPath();
    const args = [...o.entry.args, ...replicaArgs(replicaOptionsOf(this.group.spec, { host: this.local.host, port: 0, ...(socket ? { socket } : {}) }))];
    let child: ChildProcess;
    try {
      child = spawn(o.entry.command, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, ...o.env } });
    } catch (err) {
      this.lastError = `could not start the replica process: ${(err as Error).message}`;
      this.exited('not started');
      return;
    }
    this.child = child;
    this.#url = undefined;
    this.#socket = undefined;
    this.#probeFails = 0;
    const log = this.local.logger;
    const forward = (stream: NodeJS.ReadableStream | null, level: 'debug' | 'warn') => {
      if (!stream) return;
      createInterface({ input: stream }).on('line', (line) => {
        if (line.startsWith('{"event":"error"')) {
          try {
            const e = JSON.parse(line) as { code?: string; message?: string };
            this.startupError(e.code, e.message);
          } catch { /* not our event line */ }
        }
        log[level]({ replica: this.id }, line);
      });
    };
    forward(child.stdout, 'debug');
    forward(child.stderr, 'warn');
    child.on('message', (msg: { type?: string; port?: number; socket?: string; code?: string; message?: string; startup?: Omit<ReplicaStartup, 'totalMs'> }) => {
      if (msg?.type === 'ready' && typeof msg.port === 'number' && child === this.child) {
        const host = this.local.host === '0.0.0.0' ? '127.0.0.1' : this.local.host;
        this.#url = `http://${host}:${msg.port}`;
        this.#socket = typeof msg.socket === 'string' ? msg.socket : undefined;
        this.ready(msg.startup);
        this.#scheduleProbe();
      } else if (msg?.type === 'error') {
        this.startupError(msg.code, msg.message);
      }
    });
    child.on('error', (err) => {
      this.lastError = `replica process error: ${err.message}`;
    });
    child.on('exit', (code, signal) => {
      if (child !== this.child) return;
      this.child = undefined;
      this.#url = undefined;
      this.#socket = undefined;
      this.exited(signal ?? `code ${code}`);
    });
    const startTimeout = o.startTimeoutMs ?? 120_000;
    this.after(startTimeout, () => {
      this.lastError = `replica was not ready within ${startTimeout} ms`;
      child.kill('SIGKILL');
    });
  }

  protected terminate(force: boolean): void {
    this.child?.kill(force ? 'SIGKILL' : 'SIGTERM');
  }

  #scheduleProbe(): void {
    this.after(this.local.opts.probeIntervalMs ?? 5000, () => void this.#probe());
  }

  async #probe(): Promise<void> {
    const child = this.child;
    const url = this.#url;
    const probed = (s: ReplicaState) => s === 'ready' || s === 'unhealthy';
    if (!child || !url || !probed(this.state)) return;
    let ok: boolean;
    try {
      ok = await liveProbe(`${url}/v2/health/live`, 2000);
    } catch { ok = false; }
    if (child !== this.child || !probed(this.state)) return;
    this.#probeFails = ok ? 0 : this.#probeFails + 1;
    const limit = this.local.opts.probeFailures ?? 3;
    if (this.#probeFails >= limit) {
      this.lastError = `replica failed ${this.#probeFails} liveness probes`;
      child.kill('SIGKILL');
      return;
    }
    if (!ok) this.lastError = `replica failed its liveness probe (${this.#probeFails} of ${limit} before a restart)`;
    this.set(ok ? 'ready' : 'unhealthy');
    this.#scheduleProbe();
  }
}

export class LocalOrchestrator extends SlotOrchestrator<ProcessSlot> {
  readonly kind = 'local';
  readonly opts: LocalOrchestratorOptions;
  readonly host: string;
  #socketDir: string | undefined;
  #launches = 0;

  constructor(opts: LocalOrchestratorOptions) {
    super(opts);
    this.opts = opts;
    this.host = opts.host ?? '127.0.0.1';
  }

  protected makeSlot(id: string, group: ReplicaGroup): ProcessSlot {
    return new ProcessSlot(id, group, this);
  }

  /** A fresh socket path for one launch (never reused, so a restarted replica cannot be mistaken for its predecessor). */
  socketPath(): string | undefined {
    if (this.opts.socket === false) return undefined;
    // mkdtemp makes the folder 0700: only this user can reach the replicas' sockets.
    this.#socketDir ??= mkdtempSync(join(tmpdir(), 'aloft-'));
    return join(this.#socketDir, `r${++this.#launches}.sock`);
  }

  override async stop(): Promise<void> {
    await super.stop();
    if (this.#socketDir) rmSync(this.#socketDir, { recursive: true, force: true });
    this.#socketDir = undefined;
  }

  /** The pid of a replica, for fault-injection tests and `aloft status`. */
  pidOf(id: string): number | undefined {
    return this.slots().find((s) => s.id === id)?.child?.pid;
  }
}

/** GET `url` on a fresh connection: true on a 200 within `timeoutMs` (node:http, so the gateway needs no HTTP client library for its probes). */
function liveProbe(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy(new Error('probe timed out')));
    req.on('error', () => resolve(false));
  });
}
