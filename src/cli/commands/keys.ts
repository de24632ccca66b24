/**
 * `aloft keys create|list|revoke`: API keys through the admin API (admin role). The new
 * key is printed once, by `create`; nothing else ever shows a key.
 */
import { fail } from '../../errors.js';
import { callJson, connect, type ClientOptions } from '../client.js';
import type { CredentialOptions } from '../credentials.js';
import { printJson, printTable } from '../output.js';

type Options = ClientOptions & CredentialOptions & { json?: boolean };

interface KeyView {
  id: string; name: string; role: string; scopes: string[]; createdAt: string; createdBy: string | null;
  expiresAt: string | null; revokedAt: string | null; status: 'active' | 'expired' | 'revoked';
}

async function request<T>(opts: Options, method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = body !== undefined ? { 'content-type': 'application/json' } : {};
  return callJson<T>(await connect(opts), method, path, body === undefined ? undefined : JSON.stringify(body), headers);
}

/** `aloft keys create --name N --role R [--scope GLOB]... [--expires 30d] [--json]` */
export async function create(opts: Options & { name?: string; role?: string; scope?: string[]; expires?: string }): Promise<void> {
  if (!opts.name) throw fail('ALOFT_USAGE', 'give the key a name with --name NAME');
  if (!opts.role) throw fail('ALOFT_USAGE', 'give the key a role with --role admin|operator|predictor|viewer');
  const r = await request<{ id: string; key: string; name: string; role: string; scopes: string[]; expiresAt: string | null; createdAt: string }>(
    opts, 'POST', '/api/v1/keys',
    { name: opts.name, role: opts.role, ...(opts.scope?.length ? { scopes: opts.scope } : {}), ...(opts.expires ? { expires: opts.expires } : {}) },
  );
  if (opts.json) return printJson(r);
  process.stderr.write(
    `created key '${r.name}' (role ${r.role}; scopes ${r.scopes.includes('*') ? 'every deployment' : r.scopes.join(', ')}; ${r.expiresAt ? `expires ${r.expiresAt}` : 'never expires'})\n` +
      'this is the only time the key is shown: store it now (e.g. in a secret manager)\n',
  );
  process.stdout.write(`${r.key}\n`);
}

/** `aloft keys list [--all] [--json]`: keys without secrets. */
export async function list(opts: Options & { all?: boolean }): Promise<void> {
  const r = await request<{ keys: KeyView[] }>(opts, 'GET', `/api/v1/keys${opts.all ? '?all=true' : ''}`);
  if (opts.json) return printJson(r);
  if (r.keys.length === 0) {
    process.stdout.write("no API keys; create one with 'aloft keys create --name NAME --role ROLE'\n");
    return;
  }
  printTable(['NAME', 'ROLE', 'SCOPES', 'STATUS', 'EXPIRES', 'CREATED', 'BY', 'ID'], r.keys.map((k) => [
    k.name, k.role, k.scopes.join(',') || '(none)', k.status, k.expiresAt ?? 'never', k.createdAt, k.createdBy ?? '-', k.id,
  ]));
}

/** `aloft keys revoke NAME [--json]` */
export async function revoke(name: string, opts: Options): Promise<void> {
  const r = await request<{ id: string; name: string; revoked: boolean; revokedAt: string }>(opts, 'DELETE', `/api/v1/keys/${encodeURIComponent(name)}`);
  if (opts.json) return printJson(r);
  process.stdout.write(`revoked key '${r.name}' (${r.id}); it stops working on every gateway within seconds\n`);
}
