/**
 * Credentials for end-to-end tests of features other than authentication: a fresh admin
 * key per Aloft, sent automatically by undici's global dispatcher to that Aloft's origin
 * only, and only when a request carries no Authorization header of its own (so tests of
 * auth itself stay in control). The access matrix and auth tests never rely on this.
 */
import { getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { generateKey } from '../../src/security/keys.js';

const tokens = new Map<string, string>();
let installed = false;

function hasAuthorization(headers: Dispatcher.DispatchOptions['headers']): boolean {
  if (!headers) return false;
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) if (String(headers[i]).toLowerCase() === 'authorization') return true;
    return false;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function' && !(headers instanceof Object && 'authorization' in headers)) {
    for (const [k] of headers as Iterable<[string, string]>) if (k.toLowerCase() === 'authorization') return true;
    return false;
  }
  return Object.keys(headers).some((k) => k.toLowerCase() === 'authorization');
}

function withAuthorization(headers: Dispatcher.DispatchOptions['headers'], token: string): Dispatcher.DispatchOptions['headers'] {
  const value = `Bearer ${token}`;
  if (!headers) return { authorization: value };
  if (Array.isArray(headers)) return [...headers, 'authorization', value];
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') return [...(headers as Iterable<[string, string]>)].flat().concat(['authorization', value]);
  return { ...(headers as Record<string, string>), authorization: value };
}

/** A new admin token (the form ALOFT_ADMIN_KEY takes). */
export function newAdminKey(): string {
  return generateKey().token;
}

/** Send `token` as the bearer credential on requests to `url`'s origin through undici's global dispatcher. */
export function authorize(url: string, token: string): void {
  tokens.set(new URL(url).origin, token);
  if (installed) return;
  installed = true;
  setGlobalDispatcher(getGlobalDispatcher().compose((dispatch) => (opts, handler) => {
    const origin = typeof opts.origin === 'string' ? opts.origin : opts.origin?.toString();
    const token = origin ? tokens.get(new URL(origin).origin) : undefined;
    if (token && !hasAuthorization(opts.headers)) return dispatch({ ...opts, headers: withAuthorization(opts.headers, token) }, handler);
    return dispatch(opts, handler);
  }));
}

/** The header to add by hand for clients that do not use the global dispatcher (Pool, Client). */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
