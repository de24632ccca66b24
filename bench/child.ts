/**
 * Child processes of the benchmark: peers started from TypeScript (`node --import tsx`),
 * so the child's pid is the server's pid (the `tsx` CLI would add a wrapper process).
 * Every child, and every extra pid registered with `track` (Aloft's replicas), is
 * killed when the benchmark exits, fails or is interrupted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { commandLine, isAlive } from './rss.js';

/** The repository root (children run there, so `--import tsx` resolves). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

const live = new Set<Child>();
const extraPids = new Map<number, string>();

/**
 * A pid to SIGKILL on exit if it is still alive and its command line still contains
 * `marker` (so a reused pid is left alone): e.g. a replica of a gateway that was killed.
 */
export function track(pid: number, marker: string): void {
  extraPids.set(pid, marker);
}

export interface ReadyLine {
  event: 'ready';
  [key: string]: unknown;
}

/**
 * Start a peer server that prints one ready line with its `url`; a server that does not
 * come up is stopped before the error is thrown.
 */
export async function startPeer(label: string, script: string, args: string[], timeoutMs = 30_000): Promise<{ url: string; pid: number; replicaPids: number[]; stop: () => Promise<void> }> {
  const child = new Child(label, script, args);
  try {
    const ready = await child.waitReady(timeoutMs);
    return { url: String(ready.url), pid: child.pid, replicaPids: [], stop: () => child.stop() };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

export class Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  private readonly stderrTail: string[] = [];
  private readonly lines: string[] = [];
  private readonly waiters = new Set<() => void>();
  private exitInfo: string | undefined;
  private readonly exited: Promise<void>;

  constructor(readonly label: string, script: string, args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []) {
    // .mjs peers run on plain node (Aloft from dist/); TypeScript peers through tsx.
    const loader = script.endsWith('.mjs') ? [] : ['--import', 'tsx'];
    this.proc = spawn(process.execPath, [...nodeArgs, ...loader, fileURLToPath(new URL(script, import.meta.url)), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ALOFT_LOG_LEVEL: process.env.ALOFT_LOG_LEVEL ?? 'warn', ...env },
    });
    if (this.proc.pid === undefined) throw new Error(`${label}: could not start ${script}`);
    this.pid = this.proc.pid;
    live.add(this);
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      this.lines.push(line);
      for (const w of this.waiters) w();
    });
    createInterface({ input: this.proc.stderr! }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 30) this.stderrTail.shift();
    });
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.exitInfo = signal ? `killed by ${signal}` : `exited with code ${code}`;
        live.delete(this);
        for (const w of this.waiters) w();
        resolve();
      });
    });
  }

  /** What the child wrote to stderr last, for error messages. */
  stderr(): string {
    return this.stderrTail.join('\n');
  }

  /** Wait for a stdout line that is a JSON object with `event: 'ready'` (or `'error'`, which rejects). */
  waitReady(timeoutMs: number): Promise<ReadyLine> {
    return new Promise((resolve, reject) => {
      let seen = 0;
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label} was not ready after ${timeoutMs} ms\n${this.stderr()}`));
      }, timeoutMs);
      const check = () => {
        for (; seen < this.lines.length; seen++) {
          let msg: { event?: unknown; message?: unknown };
          try { msg = JSON.parse(this.lines[seen]!) as typeof msg; } catch { continue; }
          if (msg.event === 'ready') { done(); resolve(msg as ReadyLine); return; }
          if (msg.event === 'error') { done(); reject(new Error(`${this.label} failed to start: ${String(msg.message)}\n${this.stderr()}`)); return; }
        }
        if (this.exitInfo !== undefined) {
          done();
          reject(new Error(`${this.label} ${this.exitInfo} before it was ready\n${this.stderr()}`));
        }
      };
      const done = () => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
      check();
    });
  }

  /** The next JSON stdout line with `event: name` (after any already read). */
  async waitEvent(name: string, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      let seen = 0;
      const timer = setTimeout(() => { done(); reject(new Error(`${this.label}: no '${name}' after ${timeoutMs} ms\n${this.stderr()}`)); }, timeoutMs);
      const check = () => {
        for (; seen < this.lines.length; seen++) {
          try {
            const msg = JSON.parse(this.lines[seen]!) as Record<string, unknown>;
            if (msg.event === name) { done(); resolve(msg); return; }
            if (msg.event === 'error') { done(); reject(new Error(`${this.label}: ${String(msg.message)}\n${this.stderr()}`)); return; }
          } catch { /* not JSON */ }
        }
        if (this.exitInfo !== undefined) { done(); reject(new Error(`${this.label} ${this.exitInfo}\n${this.stderr()}`)); }
      };
      const done = () => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
      check();
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exitInfo !== undefined) return;
    this.proc.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise<void>((r) => { timer = setTimeout(r, graceMs); })]);
    clearTimeout(timer);
    if (this.exitInfo === undefined) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
  }
}

const exitHooks: (() => void)[] = [];

/** Run `fn` (synchronously) when the benchmark exits, after its children are killed. */
export function onExit(fn: () => void): void {
  exitHooks.push(fn);
}

/** Kill every child and tracked pid now (synchronous; for exit paths). */
export function killAllSync(): void {
  for (const c of live) {
    try { c.proc.kill('SIGKILL'); } catch { /* gone */ }
  }
  for (const [pid, marker] of extraPids) {
    if (!isAlive(pid) || !commandLine(pid).includes(marker)) continue;
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

/** Stop every child gracefully (SIGTERM), then kill what is left. */
export async function stopAll(graceMs = 5_000): Promise<void> {
  await Promise.all([...live].map((c) => c.stop(graceMs).catch(() => undefined)));
  killAllSync();
}

let installed = false;

/** Kill children on exit, SIGINT, SIGTERM and uncaught errors. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    killAllSync();
    for (const fn of exitHooks.splice(0)) {
      try { fn(); } catch { /* best effort */ }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      console.error(`\n${sig}: stopping benchmark processes`);
      process.exit(130); // the 'exit' handler kills the children
    });
  }
}
