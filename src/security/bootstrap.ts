/**
 * The first admin key, so a fresh Aloft is never open and never locked:
 *
 * 1. `ALOFT_ADMIN_KEY` set: it must be a valid key token; the active key named 'admin'
 *    becomes exactly that key (created, or replacing another key of that name; a revoked
 *    copy of it is reactivated — the environment wins on every start).
 * 2. Otherwise, `<stateDir>/admin.key` exists and holds a valid token: reused. If the
 *    store has no row for it at all (a fresh database), it is registered as 'admin'; if
 *    its row was revoked, the file is stale and ignored.
 * 3. Otherwise, when no active, unexpired admin-role key exists, a new one is generated
 *    and written to `<stateDir>/admin.key` (mode 0600, created exclusively; a stale file
 *    is replaced).
 *
 * The key itself is never logged or returned.
 *
 * @example
 * const r = await ensureAdminKey({ keys, stateDir: spec.state.dir, env: process.env, log });
 * if (r.created && r.file) console.log(`admin key written to ${relative(cwd, r.file)}`);
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { Store } from '../store/db.js';
import type { KeyRecord, KeyRepository } from '../store/keys.js';
import { generateKey, hashSecret, parseToken, secretMatches } from './keys.js';

export const ADMIN_KEY_FILE = 'admin.key';
export const ADMIN_KEY_NAME = 'admin';

export interface BootstrapOptions {
  keys: Pick<KeyRepository, 'create' | 'put' | 'listActive' | 'getById'>;
  /** The state folder; the generated key goes to `<stateDir>/admin.key`. */
  stateDir: string;
  /** Where ALOFT_ADMIN_KEY is read from. Default process.env. */
  env?: Record<string, string | undefined>;
  log?: Logger;
  /** For expiry checks. Default: the system time. */
  now?: () => Date;
  /** Runs in the transaction that makes a key the admin key (the audit entry). */
  record?: (tx: Store, key: KeyRecord) => Promise<unknown>;
}

export interface BootstrapResult {
  /** True when a key was created or (re)registered by this call. */
  created: boolean;
  /** Where the key is, when it is in the admin key file. */
  file?: string;
  /** env: ALOFT_ADMIN_KEY; file: the existing key file; existing: another active admin key; generated: a new key file. */
  source: 'env' | 'file' | 'existing' | 'generated';
}

/** Absolute path of the admin key file for a state folder. */
export function adminKeyFile(stateDir: string): string {
  return join(stateDir, ADMIN_KEY_FILE);
}

export async function ensureAdminKey(opts: BootstrapOptions): Promise<BootstrapResult> {
  const log = opts.log ?? silentLogger;
  const env = opts.env ?? process.env;
  const now = opts.now ?? (() => new Date());
  const { keys } = opts;

  const fromEnv = env.ALOFT_ADMIN_KEY;
  if (fromEnv !== undefined && fromEnv !== '') {
    const parsed = parseToken(fromEnv.trim());
    if (parsed === undefined) {
      throw fail('ALOFT_KEY_INVALID', "ALOFT_ADMIN_KEY is not an Aloft key (aloft_<12 hex>_<43 base64url characters>); unset it to have Aloft generate one, or set it to a key from 'aloft keys create'");
    }
    const { changed } = await keys.put({ id: parsed.id, name: ADMIN_KEY_NAME, role: 'admin', secretHash: hashSecret(parsed.secret), createdBy: 'ALOFT_ADMIN_KEY' }, opts.record);
    if (changed) log.info({ key: ADMIN_KEY_NAME, id: parsed.id }, 'admin key set from ALOFT_ADMIN_KEY');
    return { created: changed, source: 'env' };
  }

  const file = adminKeyFile(opts.stateDir);
  const fromFile = await readKeyFile(file, log);
  if (fromFile !== undefined) {
    const row = await keys.getById(fromFile.id);
    if (row === undefined) {
      await keys.put({ id: fromFile.id, name: ADMIN_KEY_NAME, role: 'admin', secretHash: hashSecret(fromFile.secret), createdBy: 'admin.key' }, opts.record);
      log.info({ key: ADMIN_KEY_NAME, id: fromFile.id, file }, 'registered the admin key from the admin key file');
      return { created: true, file, source: 'file' };
    }
    if (usableAdmin(row, now()) && secretMatches(fromFile.secret, row.secretHash)) return { created: false, file, source: 'file' };
    log.warn({ file }, 'the admin key file holds a revoked, expired or non-admin key; ignoring it');
  }

  if ((await keys.listActive()).some((k) => usableAdmin(k, now()))) return { created: false, source: 'existing' };

  const key = generateKey();
  await mkdir(opts.stateDir, { recursive: true });
  await rm(file, { force: true }); // a stale file (checked above); the new one is created exclusively
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.writeFile(`${key.token}\n`);
    await handle.chmod(0o600); // whatever the umask
  } finally {
    await handle.close();
  }
  await keys.put({ id: key.id, name: ADMIN_KEY_NAME, role: 'admin', secretHash: hashSecret(key.secret), createdBy: 'aloft up' }, opts.record);
  log.info({ key: ADMIN_KEY_NAME, id: key.id, file }, 'generated an admin key');
  return { created: true, file, source: 'generated' };
}

function usableAdmin(k: KeyRecord, now: Date): boolean {
  return k.role === 'admin' && k.revokedAt === null && (k.expiresAt === null || Date.parse(k.expiresAt) > now.getTime());
}

/** The key in the file, or undefined if there is no file or it does not hold a key. */
async function readKeyFile(file: string, log: Logger): Promise<{ id: string; secret: string } | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fail('ALOFT_KEY_INVALID', `cannot read the admin key file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  const parsed = parseToken(text.trim());
  if (parsed === undefined) log.warn({ file }, 'the admin key file does not hold an Aloft key; ignoring it');
  return parsed;
}
