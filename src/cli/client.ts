/**
 * How the CLI reaches a running Aloft: the admin API and the data plane over HTTP. The
 * base URL comes from --url, then ALOFT_URL, then the address the server running on the
 * spec's state folder recorded (server.json: where it listens now, even after `--port` or
 * an edit to `server.port` not yet applied by a restart), then the spec's server address,
 * then http://127.0.0.1:8080 (a spec that does not load is an error, not a reason to
 * guess); the credential from --key, ALOFT_KEY, then the admin key file
 * (see credentials.ts). Every request carries it. The requests themselves are the shared
 * client's (api/client.ts).
 */
import { existsSync } from 'node:fs';
import { readAddress } from '../address-file.js';
import { AdminClient } from '../api/client.js';
import { fail } from '../errors.js';
import type { LoadedSpec } from '../spec/types.js';
import { clientSpec, explainAuthError, resolveCredentials } from './credentials.js';

export interface ClientOptions {
  url?: string;
  /** The spec file, for the default URL and the admin key file. */
  file?: string;
  /** --key */
  key?: string;
}

/**
 * A client of the Aloft the options point at, with the credential they name; its errors
 * for 401/403 say where the key came from. `purpose` picks the spec's port when no URL is
 * given: the admin API may have its own (server.adminPort).
 */
export async function connect(opts: ClientOptions, purpose: 'admin' | 'data' = 'admin'): Promise<AdminClient> {
  const [url, creds] = await Promise.all([resolveUrl(opts, purpose), resolveCredentials(opts)]);
  return new AdminClient({ url, key: creds.key, onError: (e) => explainAuthError(e, creds) });
}

export async function resolveUrl(opts: ClientOptions, purpose: 'admin' | 'data' = 'admin'): Promise<string> {
  if (opts.url) return opts.url.replace(/\/+$/, '');
  if (process.env.ALOFT_URL) return process.env.ALOFT_URL.replace(/\/+$/, '');
  const file = opts.file ?? (existsSync('aloft.yaml') ? 'aloft.yaml' : undefined);
  if (file) {
    let spec: LoadedSpec['spec'];
    try {
      ({ spec } = await clientSpec(file));
    } catch (err) {
      // Guessing the default address would hide why: say what is wrong with the file.
      throw fail('ALOFT_SPEC_INVALID', `cannot read the server's address from ${file}: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}; fix the file, or pass --url (or set ALOFT_URL)`, { cause: err });
    }
    const running = readAddress(spec.state.dir);
    if (running?.url) return reachable(purpose === 'admin' ? running.adminUrl : running.url);
    const host = spec.server.host === '0.0.0.0' || spec.server.host === '::' ? '127.0.0.1' : spec.server.host;
    const port = purpose === 'admin' && spec.server.adminPort ? spec.server.adminPort : spec.server.port;
    return `${spec.security.tls ? 'https' : 'http'}://${host}:${port}`;
  }
  return 'http://127.0.0.1:8080';
}

/** A server listening on every address is reached on the loopback one. */
function reachable(url: string): string {
  const u = new URL(url);
  if (u.hostname === '0.0.0.0' || u.hostname === '[::]') u.hostname = '127.0.0.1';
  return u.origin;
}
