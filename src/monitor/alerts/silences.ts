/**
 * Silences, as Alertmanager has them: for a stated time, alerts whose labels match every
 * matcher of a silence are not notified. They still move through pending, firing and
 * resolved, `aloft alerts` shows them silenced (by which silence, until when), and when
 * the silence ends an alert that still fires is notified then. What a silence is for: a
 * planned retraining that will drift, a maintenance window, a known cause being fixed.
 *
 * Matchers are equalities on labels (`deployment=credit-risk`, `alertname=DataDrift`);
 * every one must hold. Silences live in the state database (migration 0013), so every
 * process sharing it sees the same ones and whichever evaluates alerts applies them. A
 * silence ends at `endsAt`, or earlier when expired by hand; ended ones are kept a week
 * for display.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { fail } from '../../errors.js';
import { didYouMean } from '../../spec/suggest.js';
import { formatDuration, parseDuration } from '../../spec/units.js';
import type { Store } from '../../store/db.js';
import type { Database } from '../../store/schema.js';

export interface Silence {
  id: string;
  /** Label → value; an alert is silenced when it has every one. */
  matchers: Record<string, string>;
  /** ISO times. */
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  createdAt: string;
  /** Who ended it before endsAt, if anyone. */
  expiredBy?: string;
}

/** The longest a silence may last: one forgotten must not hide alerts for ever. */
export const MAX_SILENCE_MS = 30 * 24 * 3_600_000;
/** Ended silences are listed this long. */
const KEEP_ENDED_MS = 7 * 24 * 3_600_000;
const LABEL = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function matches(s: Pick<Silence, 'matchers'>, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(s.matchers)) if (labels[k] !== v) return false;
  return true;
}

export function isActive(s: Pick<Silence, 'startsAt' | 'endsAt'>, nowMs: number): boolean {
  return Date.parse(s.startsAt) <= nowMs && nowMs < Date.parse(s.endsAt);
}

/** What a request to create a silence may say. */
export interface SilenceRequest {
  matchers?: unknown;
  /** How long from now (or from startsAt): '2h', '90m', or ms. */
  duration?: unknown;
  /** Or an end time (ISO). */
  endsAt?: unknown;
  /** Default now. */
  startsAt?: unknown;
  comment?: unknown;
}

const EXAMPLE = '{"matchers": {"deployment": "credit-risk", "alertname": "DataDrift"}, "duration": "2h", "comment": "retraining today"}';

const FIELDS = ['matchers', 'duration', 'endsAt', 'startsAt', 'comment'];

/** Check a request and build the silence (ALOFT_BAD_REQUEST with what to fix). */
export function newSilence(r: SilenceRequest, by: string, nowMs: number): Silence {
  for (const k of Object.keys(r)) {
    if (!FIELDS.includes(k)) {
      const hint = didYouMean(k, FIELDS);
      throw fail('ALOFT_BAD_REQUEST', `unknown field '${k.slice(0, 40)}' in the silence${hint ? `; ${hint}` : ''} (fields: ${FIELDS.join(', ')})`);
    }
  }
  const m = r.matchers;
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw fail('ALOFT_BAD_REQUEST', `matchers must be an object of label → value, e.g. ${EXAMPLE}`);
  const entries = Object.entries(m as Record<string, unknown>);
  if (entries.length === 0) throw fail('ALOFT_BAD_REQUEST', 'a silence needs at least one matcher (one that matches everything would hide every alert); e.g. {"deployment": "credit-risk"}');
  if (entries.length > 16) throw fail('ALOFT_BAD_REQUEST', `a silence takes at most 16 matchers, got ${entries.length}`);
  const matchers: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (!LABEL.test(k)) throw fail('ALOFT_BAD_REQUEST', `matcher label ${JSON.stringify(k.slice(0, 70))} is not a label name (letters, digits and _, not starting with a digit)`);
    if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw fail('ALOFT_BAD_REQUEST', `matcher ${k} must be a non-empty string of at most 256 characters (an exact value; every matcher must hold)`);
    matchers[k] = v;
  }
  const startsAt = r.startsAt === undefined ? nowMs : Date.parse(String(r.startsAt));
  if (!Number.isFinite(startsAt) || typeof (r.startsAt ?? '') !== 'string') throw fail('ALOFT_BAD_REQUEST', `startsAt must be an ISO time such as ${new Date(nowMs).toISOString()}`);
  let endsAt: number;
  if (r.duration !== undefined && r.endsAt !== undefined) throw fail('ALOFT_BAD_REQUEST', 'give duration or endsAt, not both');
  if (r.duration !== undefined) {
    // A bare number would be milliseconds (the spec's rule), which nobody means for a silence.
    if (typeof r.duration !== 'string') throw fail('ALOFT_BAD_REQUEST', `duration takes a duration with its unit, such as "2h", "90m" or "3d", got ${JSON.stringify(r.duration).slice(0, 40)}`);
    const d = parseDuration(r.duration);
    if (d === undefined || d <= 0) throw fail('ALOFT_BAD_REQUEST', `duration must be a positive duration such as "2h", "90m" or "3d", got ${JSON.stringify(r.duration).slice(0, 40)}`);
    endsAt = startsAt + d;
  } else if (r.endsAt !== undefined) {
    endsAt = typeof r.endsAt === 'string' ? Date.parse(r.endsAt) : NaN;
    if (!Number.isFinite(endsAt)) throw fail('ALOFT_BAD_REQUEST', `endsAt must be an ISO time such as ${new Date(nowMs + 7_200_000).toISOString()}`);
  } else {
    throw fail('ALOFT_BAD_REQUEST', `a silence needs its duration ("2h") or endsAt; e.g. ${EXAMPLE}`);
  }
  if (endsAt <= Math.max(startsAt, nowMs)) throw fail('ALOFT_BAD_REQUEST', 'the silence would end before it starts or in the past; give a later endsAt or a positive duration');
  if (endsAt - Math.max(startsAt, nowMs) > MAX_SILENCE_MS) throw fail('ALOFT_BAD_REQUEST', `a silence lasts at most ${formatDuration(MAX_SILENCE_MS)} (30 days); for an alert that should never fire, change the rule or the spec instead`);
  const comment = r.comment;
  if (typeof comment !== 'string' || comment.trim() === '') throw fail('ALOFT_BAD_REQUEST', 'a silence needs a comment saying why (who reads the alert list later sees it)');
  if (comment.length > 1000) throw fail('ALOFT_BAD_REQUEST', `the comment is at most 1000 characters, got ${comment.length}`);
  const now = new Date(nowMs).toISOString();
  return {
    id: randomBytes(6).toString('hex'), matchers, startsAt: new Date(startsAt).toISOString(), endsAt: new Date(endsAt).toISOString(),
    createdBy: by, comment: comment.trim(), createdAt: now,
  };
}

interface SilencesTable {
  id: string;
  data: string;
  ends_at: string;
}

type Tables = { alert_silences: SilencesTable };

/** Silences in the state database (SQLite or PostgreSQL). */
export class SilenceStore {
  readonly #db: Kysely<Database & Tables>;

  constructor(store: Store) {
    this.#db = store.db.withTables<Tables>();
  }

  async add(s: Silence): Promise<void> {
    await this.#db.insertInto('alert_silences').values({ id: s.id, data: JSON.stringify(s), ends_at: s.endsAt }).execute();
  }

  /** Silences not ended a week ago, newest first; a row that does not parse is skipped. */
  async list(nowMs: number): Promise<Silence[]> {
    const rows = await this.#db.selectFrom('alert_silences').select(['data']).where('ends_at', '>=', new Date(nowMs - KEEP_ENDED_MS).toISOString()).execute();
    const out: Silence[] = [];
    for (const r of rows) {
      try {
        const s = JSON.parse(r.data) as Silence;
        if (typeof s.id === 'string' && s.matchers && typeof s.endsAt === 'string') out.push(s);
      } catch { /* skipped: not written by this code */ }
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** End a silence now; undefined when there is none with that id. */
  async expire(id: string, by: string, nowMs: number): Promise<Silence | undefined> {
    const row = await this.#db.selectFrom('alert_silences').select(['data']).where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    const s = JSON.parse(row.data) as Silence;
    if (Date.parse(s.endsAt) <= nowMs) return s;
    const ended: Silence = { ...s, endsAt: new Date(nowMs).toISOString(), expiredBy: by };
    await this.#db.updateTable('alert_silences').set({ data: JSON.stringify(ended), ends_at: ended.endsAt }).where('id', '=', id).execute();
    return ended;
  }

  /** Remove silences ended more than a week ago. */
  async prune(nowMs: number): Promise<void> {
    await this.#db.deleteFrom('alert_silences').where('ends_at', '<', new Date(nowMs - KEEP_ENDED_MS).toISOString()).execute();
  }
}
