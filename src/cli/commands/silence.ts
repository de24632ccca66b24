/**
 * `aloft silence add|list|expire`: hold alerts back from notifications for a while (a
 * planned retraining, a maintenance window). `add --match deployment=credit-risk
 * [--match alertname=DataDrift] --for 2h --comment "why"` prints the new silence's id,
 * the alerts it matches now and any warning (it matches nothing, an unknown deployment);
 * `list` shows active, pending and recently ended silences; `expire ID` ends one now.
 */
import type { SilenceView } from '../../monitor/alerts/routes.js';
import { fail } from '../../errors.js';
import { connect, type ClientOptions } from '../client.js';
import { printJson, printTable } from '../output.js';

function matchersOf(list: readonly string[]): Record<string, string> {
  if (list.length === 0) throw fail('ALOFT_USAGE', 'give at least one --match label=value, e.g. --match deployment=credit-risk (aloft alerts --json shows each alert\'s labels)');
  const out: Record<string, string> = {};
  for (const m of list) {
    const i = m.indexOf('=');
    if (i <= 0 || i === m.length - 1) throw fail('ALOFT_USAGE', `--match takes label=value, e.g. deployment=credit-risk or alertname=DataDrift; got '${m}'`);
    out[m.slice(0, i)] = m.slice(i + 1);
  }
  return out;
}

const matchText = (s: Pick<SilenceView, 'matchers'>) => Object.entries(s.matchers).map(([k, v]) => `${k}=${v}`).join(' ');

/** An ISO time of a flag, checked here so that the error names the flag. */
function timeOf(flag: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw fail('ALOFT_USAGE', `${flag} takes an ISO time such as ${new Date(Date.now() + 3_600_000).toISOString()}; got '${v}'`);
  return new Date(ms).toISOString();
}

export async function add(opts: ClientOptions & { json?: boolean; match?: string[]; for?: string; until?: string; from?: string; comment?: string }): Promise<void> {
  const matchers = matchersOf(opts.match ?? []);
  if ((opts.for === undefined) === (opts.until === undefined)) throw fail('ALOFT_USAGE', 'give --for <duration> (e.g. 2h) or --until <ISO time>, one of them');
  if (opts.comment === undefined || opts.comment.trim() === '') throw fail('ALOFT_USAGE', '--comment "why" is required: whoever reads the alert list later sees it');
  const from = timeOf('--from', opts.from);
  const until = timeOf('--until', opts.until);
  if (until !== undefined && Date.parse(until) <= Math.max(Date.now(), from !== undefined ? Date.parse(from) : 0)) {
    throw fail('ALOFT_USAGE', `--until ${until} is ${from !== undefined ? 'not after --from' : 'in the past'}; give a later time, or --for <duration>`);
  }
  const r = await (await connect(opts)).silence({ matchers, ...(opts.for !== undefined ? { duration: opts.for } : { endsAt: until }), ...(from !== undefined ? { startsAt: from } : {}), comment: opts.comment });
  if (opts.json) return printJson(r);
  const s = r.silence;
  process.stdout.write(`silence ${s.id}: ${matchText(s)}, ${s.state === 'pending' ? `from ${s.startsAt} ` : ''}until ${s.endsAt}\n`);
  const list = r.matching.map((a) => `${a.name}${a.labels.deployment ? ` ${a.labels.deployment}` : ''} (${a.state})`).join(', ');
  if (r.matching.length > 0) {
    const n = `${r.matching.length} alert${r.matching.length === 1 ? '' : 's'}`;
    process.stdout.write(s.state === 'pending' ? `from ${s.startsAt} it will silence what matches then; ${n} match now: ${list}\n` : `it silences ${n} now: ${list}\n`);
  }
  for (const w of r.warnings) process.stdout.write(`warning: ${w}\n`);
  process.stdout.write(`end it early: aloft silence expire ${s.id}\n`);
}

export async function list(opts: ClientOptions & { json?: boolean }): Promise<void> {
  const r = await (await connect(opts)).silences();
  if (opts.json) return printJson(r);
  if (r.silences.length === 0) {
    process.stdout.write('no silences (aloft silence add --match deployment=<name> --for 2h --comment "why" makes one)\n');
    return;
  }
  printTable(['ID', 'STATE', 'MATCHERS', 'STARTS', 'ENDS', 'BY', 'COMMENT'], r.silences.map((s) => [
    s.id, s.state, matchText(s), s.startsAt, s.endsAt + (s.expiredBy ? ` (ended by ${s.expiredBy})` : ''), s.createdBy, s.comment,
  ]));
}

export async function expire(id: string, opts: ClientOptions & { json?: boolean }): Promise<void> {
  const r = await (await connect(opts)).expireSilence(id);
  if (opts.json) return printJson(r);
  if (r.changed === false) process.stdout.write(`silence ${r.silence.id} had already ended, at ${r.silence.endsAt}${r.silence.expiredBy ? ` (ended by ${r.silence.expiredBy})` : ''}: nothing changed\n`);
  else process.stdout.write(`silence ${r.silence.id} ended at ${r.silence.endsAt}; alerts it held back that still fire are notified at the next evaluation\n`);
}
