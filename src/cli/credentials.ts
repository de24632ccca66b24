/**
 * Which credential the CLI sends: `--key`, then `ALOFT_KEY`, then the admin key file
 * `<state dir>/admin.key` (the state dir from the spec file `-f`, default ./aloft.yaml;
 * `.aloft` beside the spec when the spec cannot be read). A key or a JWT both work.
 * Keys are never printed; only where one came from.
 *
 * @example
 * const headers = { ...(await authHeaders(opts)), 'content-type': 'application/json' };
 * await callJson(base, 'GET', '/api/v1/keys', undefined, headers);
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { AloftError, fail, isAloftError } from '../errors.js';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { loadSpec, parseSpec } from '../spec/load.js';
import type { LoadedSpec } from '../spec/types.js';

export interface CredentialOptions {
  /** --key */
  key?: string;
  /** -f: the spec file, to find the admin key file. Default ./aloft.yaml. */
  file?: string;
}

export interface Credentials {
  key?: string;
  /** Where the key came from, for messages: '--key', 'ALOFT_KEY' or the admin key file's path. */
  source?: string;
}

export async function resolveCredentials(opts: CredentialOptions, env: Record<string, string | undefined> = process.env): Promise<Credentials> {
  if (opts.key !== undefined && opts.key !== '') return { key: checked(opts.key, '--key'), source: '--key' };
  const fromEnv = env.ALOFT_KEY;
  if (fromEnv !== undefined && fromEnv !== '') return { key: checked(fromEnv, 'ALOFT_KEY'), source: 'ALOFT_KEY' };
  const file = await adminKeyPath(opts.file ?? 'aloft.yaml');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw fail('ALOFT_USAGE', `cannot read the admin key file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; pass --key or set ALOFT_KEY`, { cause: e });
  }
  const key = text.trim();
  return key === '' ? {} : { key: checked(key, file), source: file };
}

/** `{authorization: 'Bearer …'}`, or `{}` when no credential is configured (the server then answers 401). */
export async function authHeaders(opts: CredentialOptions): Promise<Record<string, string>> {
  const { key } = await resolveCredentials(opts);
  return key === undefined ? {} : { authorization: `Bearer ${key}` };
}

/**
 * Add where the credential came from to a 401/403 from the server, so the fix is obvious.
 * Other errors pass through unchanged.
 */
export function explainAuthError(err: unknown, creds: Credentials): unknown {
  if (!isAloftError(err)) return err;
  const unauthenticated = /^(authentication required|invalid credentials)/.test(err.message);
  if (!unauthenticated && !/^(the role '|(deployment|model) '.*' is outside the scopes|these credentials are scoped to )/.test(err.message)) return err;
  const where = creds.source === undefined
    ? 'no key was sent: pass --key, set ALOFT_KEY, or run where the spec (-f) points at a state folder with admin.key'
    : `the key came from ${creds.source}`;
  return new AloftError(unauthenticated ? 'ALOFT_UNAUTHENTICATED' : 'ALOFT_FORBIDDEN', `${err.message} (${where})`, { cause: err });
}

/**
 * What the CLI needs of a spec file: where the server listens and where its state is. The
 * whole spec when it loads; else only its `server`, `state` and `security` sections, so
 * that a secret only the server has (a capture key in its environment) or a mistake in a
 * deployment does not send the CLI to the wrong address. Throws, with the spec's own
 * error, when even those sections do not load.
 */
export async function clientSpec(specFile: string): Promise<LoadedSpec> {
  try {
    return await loadSpec(specFile);
  } catch (whole) {
    let raw: unknown;
    try {
      raw = parseYaml(await readFile(specFile, 'utf8'));
    } catch {
      throw whole;
    }
    const r = raw !== null && typeof raw === 'object' ? raw as Record<string, unknown> : {};
    const part = Object.fromEntries(['server', 'state', 'security'].filter((k) => k in r).map((k) => [k, r[k]]));
    try {
      return parseSpec(stringifyYaml(part), resolve(specFile));
    } catch {
      throw whole;
    }
  }
}

async function adminKeyPath(specFile: string): Promise<string> {
  try {
    const { spec } = await clientSpec(specFile);
    return join(spec.state.dir, 'admin.key');
  } catch {
    return join(dirname(resolve(specFile)), '.aloft', 'admin.key');
  }
}

function checked(key: string, source: string): string {
  if (/\s/.test(key) || key.length > 16_384) throw fail('ALOFT_USAGE', `the key from ${source} contains whitespace or is too long; give exactly the key`);
  return key;
}
