/**
 * `aloft keys create|list|revoke`: API keys through the admin API (admin role). The new
 * key is printed once, by `create`; nothing else ever shows a key.
 */
import { fail } from '../../errors.js';
import type { KeyLimits } from '../../api/types.js';
import type { Role } from '../../security/principal.js';
import { connect, type ClientOptions } from '../client.js';
import type { CredentialOptions } from '../credentials.js';
import { printJson, printTable } from '../output.js';

type Options = ClientOptions & CredentialOptions & { json?: boolean };

/** `aloft keys create --name N --role R [--scope GLOB]... [--expires 30d] [--rate N [--burst N] [--daily N]] [--priority low] [--json]` */
export async function create(opts: Options & { name?: string; role?: string; scope?: string[]; expires?: string; rate?: string; burst?: string; daily?: string; priority?: string }): Promise<void> {
  if (!opts.name) throw fail('ALOFT_USAGE', 'give the key a name with --name NAME');
  if (!opts.role) throw fail('ALOFT_USAGE', 'give the key a role with --role admin|operator|predictor|viewer');
  if ((opts.burst !== undefined || opts.daily !== undefined) && opts.rate === undefined) throw fail('ALOFT_USAGE', '--burst and --daily go with --rate: give the key its rate limit with --rate N (requests per second)');
  const num = (flag: string, v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw fail('ALOFT_USAGE', `${flag} takes a number, got '${v}'`);
    return n;
  };
  const limits = opts.rate === undefined ? undefined : {
    rate: num('--rate', opts.rate), ...(opts.burst !== undefined ? { burst: num('--burst', opts.burst) } : {}), ...(opts.daily !== undefined ? { daily: num('--daily', opts.daily) } : {}),
  };
  // The role, the limit's ranges and the priority are checked by the server, which says what is valid.
  const r = await (await connect(opts)).createKey({
    name: opts.name, role: opts.role as Role, ...(opts.scope?.length ? { scopes: opts.scope } : {}), ...(opts.expires ? { expires: opts.expires } : {}),
    ...(limits ? { limits } : {}), ...(opts.priority !== undefined ? { priority: opts.priority as 'low' } : {}),
  });
  if (opts.json) return printJson(r);
  process.stderr.write(
    `created key '${r.name}' (role ${r.role}; scopes ${r.scopes.includes('*') ? 'every deployment' : r.scopes.join(', ')}; ${r.expiresAt ? `expires ${r.expiresAt}` : 'never expires'}` +
      `${r.limits ? `; limit ${limitText(r.limits)}` : ''}${r.priority === 'low' ? '; low priority' : ''})\n` +
      'this is the only time the key is shown: store it now (e.g. in a secret manager)\n',
  );
  process.stdout.write(`${r.key}\n`);
}

/** `aloft keys list [--all] [--json]`: keys without secrets. */
export async function list(opts: Options & { all?: boolean }): Promise<void> {
  const r = await (await connect(opts)).keys({ all: opts.all === true });
  if (opts.json) return printJson(r);
  if (r.keys.length === 0) {
    process.stdout.write("no API keys; create one with 'aloft keys create --name NAME --role ROLE'\n");
    return;
  }
  printTable(['NAME', 'ROLE', 'SCOPES', 'STATUS', 'EXPIRES', 'LIMIT', 'PRIORITY', 'CREATED', 'BY', 'ID'], r.keys.map((k) => [
    k.name, k.role, k.scopes.join(',') || '(none)', k.status, k.expiresAt ?? 'never', k.limits ? limitText(k.limits) : 'limits.perKey', k.priority, k.createdAt, k.createdBy ?? '-', k.id,
  ]));
}

/** `10/s burst 20, 1000/day` */
function limitText(l: KeyLimits): string {
  return `${l.rate}/s burst ${l.burst}${l.daily !== undefined ? `, ${l.daily}/day` : ''}`;
}

/** `aloft keys revoke NAME [--json]` */
export async function revoke(name: string, opts: Options): Promise<void> {
  const r = await (await connect(opts)).revokeKey(name);
  if (opts.json) return printJson(r);
  process.stdout.write(`revoked key '${r.name}' (${r.id}); it stops working on every gateway within seconds\n`);
}
