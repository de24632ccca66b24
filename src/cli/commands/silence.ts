/**
 * `aloft silence add|list|expire`: hold alerts back from notifications for a while (a
 * planned retraining, a maintenance window). `add --match deployment=credit-risk
 * [--match alertname=DriftDetected] --for 2h --comment "why"` prints the new silence's id,
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
    if (i <= 0 || i === m.length - 1) throw fail('ALOFT_USAGE', `--match takes label=value, e.g. deployment=credit-risk or alertname=DriftDetected; got '${m}'`);
    out[m.slice(0, i)] = m.slice(i + 1);
  }
  return out;
}

const matchText = (s: Pick<SilenceView, 'matchers'>) => Object.entries(s.matchers).map(([k, v]) => `${k}=${v}`).join(' ');

export async function add(opts: ClientOptions & { json?: boolean; match?: string[]; for?: string; until?: string; comment?: string }): Promise<void> {
  const matchers = matchersOf(opts.match ?? []);
  if ((opts.for === undefined) === (opts.until === undefined)) throw fail('ALOFT_USAGE', 'give --for <duration> (e.g. 2h) or --until <ISO time>, one of them');
  if (opts.comment === undefined || opts.comment.trim() === '') throw fail('ALOFT_USAGE', '--comment "why" is required: whoever reads the alert list later sees it');
  const r = await (await connect(opts)).silence({ matchers, ...(opts.for !== undefined ? { duration: opts.for } : { endsAt: opts.until }), comment: opts.comment });
  if (opts.json) return printJson(r);
  const s = r.silence;
  process.stdout.write(`silence ${s.id}: ${matchText(s)}, ${s.state === 'pending' ? `from ${s.startsAt} ` : ''}until ${s.endsAt}\n`);
  process.stdout.write(r.matching.length > 0 ? `it silences ${r.matching.length} alert${r.matching.length === 1 ? '' : 's'} now: ${r.matching.map((a) => `${a.name}${a.labels.deployment ? ` ${a.labels.deployment}` : ''} (${a.state})`).join(', ')}\n` : '');
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
  process.stdout.write(`silence ${r.silence.id} ended at ${r.silence.endsAt}; alerts it held back that still fire are notified at the next evaluation\n`);
}
