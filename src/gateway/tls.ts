/**
 * Transport security for the gateway: TLS from certificate files (re-read on demand, e.g.
 * on SIGHUP, without dropping open connections) and the rule that nothing is exposed
 * beyond this machine without TLS and authentication unless the operator says so.
 */
import { readFile } from 'node:fs/promises';
import type { Server as HttpsServer } from 'node:https';
import { isIP } from 'node:net';
import { fail } from '../errors.js';

export interface TlsFiles {
  cert: string;
  key: string;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
}

export async function readTls(files: TlsFiles): Promise<TlsMaterial> {
  const read = async (what: 'cert' | 'key', path: string) => {
    try {
      return await readFile(path);
    } catch (err) {
      throw fail('ALOFT_USAGE', `cannot read the TLS ${what === 'cert' ? 'certificate' : 'private key'} file ${path} (${(err as { code?: string }).code ?? 'error'}); check security.tls.${what}`, { cause: err });
    }
  };
  const [cert, key] = await Promise.all([read('cert', files.cert), read('key', files.key)]);
  return { cert, key };
}

/** Swap the certificate of a running HTTPS server; connections already open keep theirs. */
export async function reloadTls(server: unknown, files: TlsFiles): Promise<void> {
  const material = await readTls(files);
  try {
    (server as HttpsServer).setSecureContext(material);
  } catch (err) {
    throw fail('ALOFT_USAGE', `the TLS certificate and key in ${files.cert} and ${files.key} are not a valid pair: ${(err as Error).message}`, { cause: err });
  }
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const kind = isIP(host);
  if (kind === 4) return host.startsWith('127.');
  if (kind === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

export interface ExposureCheck {
  host: string;
  tls: boolean;
  authEnabled: boolean;
  insecure: boolean;
}

/**
 * Refuse an unsafe setup unless `insecure` is given: authentication turned off, or a
 * non-loopback address without TLS. Returns the warnings to print when it is allowed.
 */
export function checkExposure(c: ExposureCheck): string[] {
  const problems: string[] = [];
  if (!c.authEnabled) problems.push('authentication is disabled (security.auth.enabled: false): anyone who can connect can deploy, delete and predict');
  if (!isLoopback(c.host) && !c.tls) problems.push(`listening on ${c.host} without TLS: keys and predictions cross the network in clear text`);
  if (problems.length > 0 && !c.insecure) {
    throw fail('ALOFT_USAGE', `refusing to start: ${problems.join('; ')}. Configure security.tls and keep authentication on, or pass --insecure to accept the risk`);
  }
  return problems.map((p) => `WARNING: ${p}`);
}
