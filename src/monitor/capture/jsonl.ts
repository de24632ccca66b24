/**
 * The `jsonl` capture sink: one line per record, `{"deployment","id","at","version","kid","data"}`
 * (data is the AES-256-GCM sealed record, as in the store), appended to
 * `<dir>/<deployment>/capture-<time>.jsonl`. A file is closed and a new one started when it
 * reaches `maxBytes` or has been open `maxAgeMs`, so closed files can be shipped to a data
 * lake as they are; files older than the retention are deleted with `deleteBefore`.
 */
import { mkdir, open, readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../clock.js';
import type { CaptureSink, PlainCapture } from './capture.js';

export interface JsonlOptions {
  dir: string;
  clock: Clock;
  /** Default 64 MiB. */
  maxBytes?: number;
  /** Default 1 h. */
  maxAgeMs?: number;
}

interface OpenFile { handle: FileHandle; bytes: number; openedAt: number; path: string }

export class JsonlSink implements CaptureSink {
  readonly name = 'jsonl' as const;
  readonly #o: JsonlOptions;
  readonly #files = new Map<string, OpenFile>();

  constructor(o: JsonlOptions) {
    this.#o = o;
  }

  async write(records: readonly PlainCapture[]): Promise<void> {
    const batch = records.map((r) => r.sealed());
    const byDeployment = new Map<string, string[]>();
    for (const r of batch) {
      let lines = byDeployment.get(r.deployment);
      if (!lines) byDeployment.set(r.deployment, (lines = []));
      lines.push(JSON.stringify({ deployment: r.deployment, id: r.id, at: r.at, version: r.version, kid: r.sealed.kid, data: r.sealed.data }));
    }
    for (const [deployment, lines] of byDeployment) {
      const text = `${lines.join('\n')}\n`;
      const f = await this.#file(deployment, Buffer.byteLength(text));
      await f.handle.appendFile(text);
      f.bytes += Buffer.byteLength(text);
    }
  }

  /** The closed and open files of a deployment, oldest first. */
  async files(deployment: string): Promise<string[]> {
    const dir = join(this.#o.dir, deployment);
    const names = await readdir(dir).catch(() => [] as string[]);
    return names.filter((n) => n.endsWith('.jsonl')).sort().map((n) => join(dir, n));
  }

  /** Delete a deployment's files whose newest record is older than `beforeMs` (wall clock); how many went. */
  async deleteBefore(deployment: string, beforeMs: number): Promise<number> {
    let n = 0;
    for (const path of await this.files(deployment)) {
      if (this.#files.get(deployment)?.path === path) continue;
      const s = await stat(path).catch(() => undefined);
      if (s && s.mtimeMs < beforeMs) {
        await rm(path, { force: true });
        n++;
      }
    }
    return n;
  }

  async close(): Promise<void> {
    for (const f of this.#files.values()) await f.handle.close();
    this.#files.clear();
  }

  async #file(deployment: string, adding: number): Promise<OpenFile> {
    const now = this.#o.clock.now();
    const open_ = this.#files.get(deployment);
    if (open_ && open_.bytes + adding <= (this.#o.maxBytes ?? 64 * 1024 * 1024) && now - open_.openedAt < (this.#o.maxAgeMs ?? 3_600_000)) return open_;
    if (open_) await open_.handle.close();
    const dir = join(this.#o.dir, deployment);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const stamp = this.#o.clock.date().toISOString().replace(/[:.]/g, '-');
    let path = join(dir, `capture-${stamp}.jsonl`);
    for (let k = 1; await stat(path).then(() => true, () => false); k++) path = join(dir, `capture-${stamp}-${k}.jsonl`);
    const f: OpenFile = { handle: await open(path, 'a', 0o600), bytes: 0, openedAt: now, path };
    this.#files.set(deployment, f);
    return f;
  }
}
