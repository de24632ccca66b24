/**
 * Where a running Aloft listens, kept in its state folder (`server.json`) while it runs.
 * The CLI reads it before the spec's `server` section: the spec says where the server
 * listens once restarted, while `aloft up --port` or an edited `server.port` leaves the
 * running one elsewhere, and `aloft plan` after such an edit must reach the server that is
 * actually running. The file also claims the folder for one server (aloft.ts writes it
 * without an address before it opens anything, and refuses to start on a folder another
 * live server holds). The file names the process and the host; a file left by a process
 * that died, or written on another machine, is ignored.
 */
import { readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { alive } from './registry/artifacts.js';

export const ADDRESS_FILE = 'server.json';

export interface ServerAddress {
  pid: number;
  host: string;
  /** Empty while the server starts (the folder is claimed, the gateway not yet listening). */
  url: string;
  adminUrl: string;
  startedAt: string;
}

/** Records where this process listens; atomically, so a reader never sees half a file. */
export async function writeAddress(stateDir: string, at: { url: string; adminUrl: string; startedAt: string }): Promise<void> {
  const body: ServerAddress = { pid: process.pid, host: hostname(), ...at };
  const file = join(stateDir, ADDRESS_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o644 });
  await rename(tmp, file);
}

/** Removes the file if it is still this process's (a newer server on the same folder keeps its own). */
export async function removeAddress(stateDir: string): Promise<void> {
  const file = join(stateDir, ADDRESS_FILE);
  if (readAddress(stateDir, { alive: () => true })?.pid !== process.pid) return;
  await rm(file, { force: true });
}

/**
 * The address of the server running on this folder, or undefined when there is none: no
 * file, a file that does not parse, one from another host, or one whose process is gone.
 * `alive` is injected for tests.
 */
export function readAddress(stateDir: string, opts: { alive?: (pid: number) => boolean } = {}): ServerAddress | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(stateDir, ADDRESS_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  if (raw === null || typeof raw !== 'object') return undefined;
  const a = raw as Partial<ServerAddress>;
  if (!Number.isInteger(a.pid) || typeof a.url !== 'string' || typeof a.adminUrl !== 'string' || typeof a.host !== 'string') return undefined;
  if (a.host !== hostname()) return undefined;
  if (!(opts.alive ?? alive)(a.pid as number)) return undefined;
  return { pid: a.pid as number, host: a.host, url: a.url, adminUrl: a.adminUrl, startedAt: typeof a.startedAt === 'string' ? a.startedAt : '' };
}
