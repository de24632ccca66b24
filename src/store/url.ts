/**
 * Store URLs: which dialect, where, and how to show the URL without its secrets.
 *
 * Accepted forms:
 * - unset or empty: SQLite at `<stateDir>/aloft.db`
 * - `postgres://user[:password]@host[:port]/db[?params]` or `postgresql://…`
 * - `sqlite:path/to.db`, `sqlite:///abs/path.db`, `file:path/to.db`, `file:///abs/path.db`
 * - a bare file path (`./state/aloft.db`)
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail } from '../errors.js';

export type StoreTarget =
  | { dialect: 'postgres'; connectionString: string; display: string }
  | { dialect: 'sqlite'; file: string; display: string };

export const STORE_URL_FORMS =
  'postgres://user@host:5432/db, sqlite:path/to/aloft.db, file:path/to/aloft.db, or no URL for <stateDir>/aloft.db';

/** Replace the password (in userinfo or a `password=` parameter) with `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString();
  } catch {
    // Unparseable: still never echo a password-looking userinfo.
    return url.replace(/(\/\/[^/@:]*):[^/@]*@/, '$1:***@').replace(/(password=)[^&]*/gi, '$1***');
  }
}

export function parseStoreUrl(url: string | undefined, stateDir: string): StoreTarget {
  const raw = url?.trim() ?? '';
  if (raw === '') {
    const file = resolve(stateDir, 'aloft.db');
    return { dialect: 'sqlite', file, display: `sqlite:${file}` };
  }
  if (/^postgres(ql)?:\/\//i.test(raw)) {
    try {
      const u = new URL(raw);
      if (!u.hostname && !u.searchParams.has('host')) throw new Error('no host');
    } catch {
      throw fail('ALOFT_STORE', `store URL ${redactUrl(raw)} is not a valid PostgreSQL URL; expected ${STORE_URL_FORMS}`);
    }
    return { dialect: 'postgres', connectionString: raw, display: redactUrl(raw) };
  }
  let file: string;
  if (/^sqlite:/i.test(raw)) {
    file = raw.slice('sqlite:'.length);
    if (file.startsWith('//')) file = file.slice(2); // sqlite:///abs → /abs, sqlite://rel → rel
  } else if (/^file:/i.test(raw)) {
    try {
      file = raw.startsWith('file://') ? fileURLToPath(raw) : decodeURIComponent(raw.slice('file:'.length));
    } catch {
      throw fail('ALOFT_STORE', `store URL ${redactUrl(raw)} is not a valid file URL; expected ${STORE_URL_FORMS}`);
    }
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    throw fail(
      'ALOFT_STORE',
      `store URL ${redactUrl(raw)} uses an unsupported scheme; Aloft stores state in PostgreSQL or SQLite: ${STORE_URL_FORMS}`,
    );
  } else {
    file = raw;
  }
  if (file === '') throw fail('ALOFT_STORE', `store URL ${redactUrl(raw)} names no file; expected ${STORE_URL_FORMS}`);
  if (file !== ':memory:') file = isAbsolute(file) ? file : resolve(file);
  return { dialect: 'sqlite', file, display: `sqlite:${file}` };
}

