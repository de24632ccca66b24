/**
 * Content-addressed artifact storage: each model file is kept once, read-only, at
 * `<dir>/sha256/<first two hex digits>/<sha256>`, and re-hashed before it is served, so a
 * damaged or truncated file is refused instead of loaded.
 *
 * @example
 * const artifacts = new ArtifactStore('.aloft/artifacts');
 * const { sha256, size } = await artifacts.put('models/credit-risk.onnx');
 * const path = await artifacts.verify(sha256, size, 'credit-risk@3');
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fail, isAloftError } from '../errors.js';

export interface StoredArtifact {
  /** Lowercase hex sha256 of the content. */
  sha256: string;
  /** Size in bytes. */
  size: number;
  /** Where the artifact now lives. */
  path: string;
}

const SHA256_RE = /^[0-9a-f]{64}$/;
/** This machine, in temporary file names, so a folder shared by several hosts sweeps only its own. */
const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
const FOREIGN_TMP_MAX_AGE_MS = 24 * 3_600_000;
const REPUSH = 'Re-push the original model file (registering the same file again restores the artifact).';

export class ArtifactStore {
  /** The artifact folder, e.g. `.aloft/artifacts`. */
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * Remove the temporary files of writes that never finished: `tmp/<sha256>.<pid>.<rand>@<host>`
   * whose process is gone (a crash or a kill mid-push). Files of live processes stay, and so
   * do another host's (a shared folder) until a day old.
   * Returns the names removed.
   */
  async sweep(): Promise<string[]> {
    const tmpDir = join(this.dir, 'tmp');
    let names: string[];
    try {
      names = await readdir(tmpDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const removed: string[] = [];
    for (const name of names) {
      const m = /^[0-9a-f]{64}\.(\d+)\.[0-9a-f]+(?:@([0-9a-f]{8}))?$/.exec(name);
      const pid = Number(m?.[1]);
      // Another host's write (a folder shared by gateways on several machines): its pid means
      // nothing here, so its file goes only once a day has passed without it finishing.
      if (m?.[2] !== undefined && m[2] !== HOST) {
        const age = Date.now() - ((await stat(join(tmpDir, name)).catch(() => undefined))?.mtimeMs ?? Date.now());
        if (age < FOREIGN_TMP_MAX_AGE_MS) continue;
      } else if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) continue;
      await rm(join(tmpDir, name), { force: true, recursive: true });
      removed.push(name);
    }
    return removed;
  }

  /**
   * This store's identity: a random id kept in the folder (`store-id`, made by whoever comes
   * first), so that processes can tell whether they share one folder (a shared volume) or
   * each have their own.
   */
  async id(): Promise<string> {
    const file = join(this.dir, 'store-id');
    const read = async () => (await readFile(file, 'utf8').catch(() => '')).trim();
    const have = await read();
    if (/^[0-9a-f]{16}$/.test(have)) return have;
    await mkdir(this.dir, { recursive: true });
    const mine = randomBytes(8).toString('hex');
    // Exclusive create: of two processes making it at once, one wins and both read its id.
    await writeFileAtomicExclusive(file, mine);
    return read();
  }

  /** Where the artifact with this sha256 lives (whether or not it exists). */
  path(sha256: string): string {
    if (!SHA256_RE.test(sha256)) {
      throw fail('ALOFT_ARTIFACT_MISSING', `'${sha256}' is not a sha256 digest (64 lowercase hex digits), so no artifact can have that name.`);
    }
    return join(this.dir, 'sha256', sha256.slice(0, 2), sha256);
  }

  /**
   * Store a file (streamed) or bytes. Idempotent: storing the same content again keeps
   * the existing copy when it is intact, and replaces it when it is damaged. The write is
   * atomic (temp file, fsync, rename) and the result is read-only (0444).
   */
  async put(source: string | Uint8Array): Promise<StoredArtifact> {
    const { sha256, size } = typeof source === 'string' ? await hashSourceFile(source) : { sha256: digest(source), size: source.byteLength };
    const target = this.path(sha256);
    if (await intact(target, sha256, size)) return { sha256, size, path: target };

    const tmpDir = join(this.dir, 'tmp');
    const tmp = join(tmpDir, `${sha256}.${process.pid}.${randomBytes(4).toString('hex')}@${HOST}`);
    try {
      await mkdir(tmpDir, { recursive: true });
      await mkdir(dirname(target), { recursive: true });
      const written = await writeFile(tmp, source);
      if (written.sha256 !== sha256 || written.size !== size) {
        throw fail('ALOFT_MODEL_INVALID', `model file ${typeof source === 'string' ? source : '(bytes)'} changed while it was being stored; store it again once it is no longer being written.`);
      }
      await rename(tmp, target);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      if (isAloftError(e)) throw e;
      throw fail('ALOFT_STORE', `cannot store the model file in ${this.dir}: ${(e as Error).message}. Check that the state folder is writable and has free space.`, {
        cause: e,
      });
    }
    await syncDir(dirname(target));
    return { sha256, size, path: target };
  }

  /**
   * Re-hash a stored artifact and return its path if it is intact.
   * @param what names the artifact in errors, e.g. `credit-risk@3 (from models/credit.onnx)`.
   * @throws ALOFT_ARTIFACT_MISSING when absent; ALOFT_ARTIFACT_CORRUPT on a size or hash mismatch.
   */
  async verify(sha256: string, expectedSize: number, what?: string): Promise<string> {
    const path = this.path(sha256);
    let actual: { sha256: string; size: number };
    try {
      actual = await hashFile(path);
    } catch (e) {
      throw this.#readError(e, path, sha256, expectedSize, what);
    }
    this.#check(path, sha256, expectedSize, actual, what);
    return path;
  }

  /** The stored bytes of `sha256` if present and intact (re-hashed), else undefined. */
  async bytesOf(sha256: string): Promise<Buffer | undefined> {
    if (!SHA256_RE.test(sha256)) return undefined;
    const bytes = await readFile(this.path(sha256)).catch(() => undefined);
    return bytes && digest(bytes) === sha256 ? bytes : undefined;
  }

  /** Whether an intact artifact with this sha256 and size is stored. */
  async has(sha256: string, size: number): Promise<boolean> {
    return SHA256_RE.test(sha256) && intact(this.path(sha256), sha256, size);
  }

  /** The sha256 of every stored artifact, with its size and when it was stored (ms since the epoch). */
  async list(): Promise<{ sha256: string; size: number; storedAt: number }[]> {
    const root = join(this.dir, 'sha256');
    const out: { sha256: string; size: number; storedAt: number }[] = [];
    for (const prefix of await readdir(root).catch(() => [] as string[])) {
      for (const name of await readdir(join(root, prefix)).catch(() => [] as string[])) {
        if (!SHA256_RE.test(name)) continue;
        const info = await stat(join(root, prefix, name)).catch(() => undefined);
        if (info?.isFile()) out.push({ sha256: name, size: info.size, storedAt: info.mtimeMs });
      }
    }
    return out;
  }

  /** Delete a stored artifact (garbage collection of unreferenced content). */
  async remove(sha256: string): Promise<void> {
    await rm(this.path(sha256), { force: true });
  }

  /** Read a stored artifact into memory; the returned bytes are the verified ones. */
  async read(sha256: string, size: number, what?: string): Promise<Buffer> {
    const path = this.path(sha256);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (e) {
      throw this.#readError(e, path, sha256, size, what);
    }
    this.#check(path, sha256, size, { sha256: digest(bytes), size: bytes.byteLength }, what);
    return bytes;
  }

  #check(path: string, sha256: string, size: number, actual: { sha256: string; size: number }, what: string | undefined): void {
    if (actual.sha256 === sha256 && actual.size === size) return;
    const kind = actual.size < size ? 'truncated' : 'corrupt';
    throw fail(
      'ALOFT_ARTIFACT_CORRUPT',
      `the artifact ${path}${what ? ` for ${what}` : ''} is ${kind}: expected sha256 ${sha256} (${size} bytes), found sha256 ${actual.sha256} (${actual.size} bytes). It is refused. ${REPUSH}`,
      { details: { path, expectedSha256: sha256, expectedSize: size, actualSha256: actual.sha256, actualSize: actual.size } },
    );
  }

  #readError(e: unknown, path: string, sha256: string, size: number, what: string | undefined): Error {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOENT') {
      return fail(
        'ALOFT_ARTIFACT_MISSING',
        `the artifact${what ? ` for ${what}` : ''} is missing: expected ${path} (sha256 ${sha256}, ${size} bytes). The state folder was moved, pruned or edited. ${REPUSH}`,
        { cause: e, details: { path, sha256, size } },
      );
    }
    return fail('ALOFT_ARTIFACT_CORRUPT', `the artifact ${path}${what ? ` for ${what}` : ''} cannot be read: ${String(e)}. ${REPUSH}`, {
      cause: e,
      details: { path, sha256, size },
    });
  }
}

function digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    const buf = chunk as Buffer;
    hash.update(buf);
    size += buf.byteLength;
  }
  return { sha256: hash.digest('hex'), size };
}

async function hashSourceFile(path: string): Promise<{ sha256: string; size: number }> {
  try {
    return await hashFile(path);
  } catch (e) {
    throw fail('ALOFT_MODEL_INVALID', `cannot read model file ${path}: ${(e as Error).message}. Check the path and its permissions.`, { cause: e });
  }
}

/** True when the file exists with this size and hash. */
async function intact(path: string, sha256: string, size: number): Promise<boolean> {
  try {
    if ((await stat(path)).size !== size) return false;
    return (await hashFile(path)).sha256 === sha256;
  } catch {
    return false;
  }
}

/** Write bytes or copy a file to a new read-only file, fsynced; returns what was written. */
async function writeFile(tmp: string, source: string | Uint8Array): Promise<{ sha256: string; size: number }> {
  const handle = await open(tmp, 'wx', 0o444);
  try {
    const hash = createHash('sha256');
    let size = 0;
    const chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = typeof source === 'string' ? createReadStream(source) : [source];
    for await (const chunk of chunks) {
      hash.update(chunk);
      size += chunk.byteLength;
      let off = 0;
      while (off < chunk.byteLength) off += (await handle.write(chunk, off, chunk.byteLength - off)).bytesWritten;
    }
    await handle.sync();
    return { sha256: hash.digest('hex'), size };
  } finally {
    await handle.close();
  }
}

/** Make the rename durable; best-effort (not every platform can fsync a directory). */
async function syncDir(dir: string): Promise<void> {
  try {
    const h = await open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // ignore: durability hint only
  }
}

/** True when a process with this id exists (even one of another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Earlier Aloft versions staged pushed models in `<tmp>/aloft-push-*` folders, which a
 * crash left behind. Remove those untouched for `olderThanMs` (default an hour), so one
 * being written by a running older server is not taken from it. Returns the paths removed.
 */
export async function sweepPushLeftovers(dir = tmpdir(), olderThanMs = 3_600_000, now = Date.now()): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.startsWith('aloft-push-'));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      if (now - (await stat(path)).mtimeMs < olderThanMs) continue;
      await rm(path, { recursive: true, force: true });
      removed.push(path);
    } catch { /* gone meanwhile, or not ours to remove */ }
  }
  return removed;
}

/** Create `file` with `text` unless it exists (then leave it as it is). */
async function writeFileAtomicExclusive(file: string, text: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(file, 'wx', 0o644);
    await fh.writeFile(`${text}\n`);
    await fh.sync();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    await fh?.close();
  }
}
