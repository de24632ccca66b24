/**
 * `aloft keys create|list|revoke`: API keys through the admin API (admin role). The new
 * key is printed once, by `create`; nothing else ever shows a key.
 */
import { fail } from '../../errors.js';
import type { KeyLimits } from '../../api/types.js';
import { parseExpiry } from '../../security/keys.js';
import { ROLES, type Role } from '../../security/principal.js';
import { connect, type ClientOptions } from '../client.js';
import type { CredentialOptions } from '../credentials.js';
import { printJson, printTable } from '../output.js';

type Options = ClientOptions & CredentialOptions & { json?: boolean };

/** `aloft keys create --name N --role R [--scope GLOB]... [--expires 30d] [--rate N [--burst N] [--daily N]] [--priority low] [--json]` */
export async function create(opts: Options & { name?: string; role?: string; scope?: string[]; expires?: string; rate?: string; burst?: string; daily?: string; priority?: string }): Promise<void> {
  if (!opts.name) throw fail('ALOFT_USAGE', 'give the key a name with --name NAME');
  if (!opts.role) throw fail('ALOFT_USAGE', 'give the key a role with --role admin|operator|predictor|viewer');
  const num = (flag: string, v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw fail('ALOFT_USAGE', `${flag} takes a number, got '${v}'`);
    return n;
  };
  // What the flags can say wrong is a usage error (exit 2) in the flags' words; the server checks the rest.
  if (!(ROLES as readonly string[]).includes(opts.role)) throw fail('ALOFT_USAGE', `--role must be one of ${ROLES.join(', ')}, got '${opts.role}'`);
  if (opts.priority !== undefined && opts.priority !== 'low' && opts.priority !== 'normal') throw fail('ALOFT_USAGE', `--priority must be low or normal, got '${opts.priority}'`);
  if (opts.expires !== undefined && parseExpiry(opts.expires) === undefined) throw fail('ALOFT_USAGE', `--expires takes a lifetime above 0, such as 30d, 12h or 1d12h, got '${opts.expires}'`);
  if (opts.rate !== undefined && !(num('--rate', opts.rate) > 0)) throw fail('ALOFT_USAGE', `--rate must be above 0 (requests per second), got ${opts.rate}`);
  for (const [flag, v] of [['--burst', opts.burst], ['--daily', opts.daily]] as const) {
    if (v !== undefined && !(Number.isInteger(num(flag, v)) && num(flag, v) >= 1)) throw fail('ALOFT_USAGE', `${flag} must be a whole number of requests, 1 or more, got ${v}`);
  }
  // After each value's own check, so that a bad value is named as such.
  if ((opts.burst !== undefined || opts.daily !== undefined) && opts.rate === undefined) throw fail('ALOFT_USAGE', '--burst and --daily go with --rate: give the key its rate limit with --rate N (requests per second)');
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
    k.name, k.role, k.scopes.join(',') || '(none)', k.status, k.expiresAt ?? 'never', k.limits ? limitText(k.limits) : 'default', k.priority, k.createdAt, k.createdBy ?? '-', k.id,
  ]));
  if (r.keys.some((k) => !k.limits)) process.stdout.write("\nLIMIT default: the key has no limit of its own; the spec's limits.perKey applies when it sets one (else none)\n");
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
