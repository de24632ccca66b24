/**
 * The alert book in the state database (migration 0009): one JSON document per book,
 * written when the book changes (an alert appears, fires or resolves, a group is
 * notified), read once at start; beside it, one row per process standing by with the
 * conditions it sees, which the evaluator adds to its own. SQLite or PostgreSQL.
 */
import type { Kysely } from 'kysely';
import type { Store } from '../../store/db.js';
import type { Database } from '../../store/schema.js';
import type { BookSnapshot, Condition } from './model.js';

/** Rows of conditions published by processes standing by: `conditions/<holder>`. */
const PUBLISHED = 'conditions/';

interface AlertStateTable {
  id: string;
  data: string;
  updated_at: string;
}

type Tables = { alert_state: AlertStateTable };

export class AlertStateStore {
  readonly #db: Kysely<Database & Tables>;
  readonly #id: string;

  /** `id` names the book: one per controller. */
  constructor(store: Store, id = 'alerts') {
    this.#db = store.db.withTables<Tables>();
    this.#id = id;
  }

  async load(): Promise<BookSnapshot | undefined> {
    const row = await this.#db.selectFrom('alert_state').select('data').where('id', '=', this.#id).executeTakeFirst();
    if (!row) return undefined;
    const s = JSON.parse(row.data) as Partial<BookSnapshot>;
    return { active: Array.isArray(s.active) ? s.active : [], resolved: Array.isArray(s.resolved) ? s.resolved : [], notified: Array.isArray(s.notified) ? s.notified : [] };
  }

  /**
   * What a process standing by sees hold now (its own replicas' crash loops, its capture
   * drops), for the evaluator to alert on: one row per process, replaced at each of its
   * evaluations.
   */
  async publish(holder: string, conditions: readonly Condition[], at: string): Promise<void> {
    const id = `${PUBLISHED}${holder}`;
    const data = JSON.stringify(conditions);
    await this.#db.insertInto('alert_state').values({ id, data, updated_at: at })
      .onConflict((oc) => oc.column('id').doUpdateSet({ data, updated_at: at }))
      .execute();
  }

  /** Conditions other processes published at or after `since` (ISO); rows older than `dropBefore` are removed. */
  async published(since: string, except: string, dropBefore: string): Promise<Condition[]> {
    await this.#db.deleteFrom('alert_state').where('id', 'like', `${PUBLISHED}%`).where('updated_at', '<', dropBefore).execute();
    const rows = await this.#db.selectFrom('alert_state').select(['id', 'data'])
      .where('id', 'like', `${PUBLISHED}%`).where('updated_at', '>=', since).where('id', '!=', `${PUBLISHED}${except}`).execute();
    const out: Condition[] = [];
    for (const r of rows) {
      try {
        const list = JSON.parse(r.data) as unknown;
        if (Array.isArray(list)) for (const c of list as Condition[]) if (c && typeof c.labels === 'object' && c.annotations) out.push(c);
      } catch { /* a row not written by this code: skipped */ }
    }
    return out;
  }

  async save(s: BookSnapshot, at: string): Promise<void> {
    const data = JSON.stringify(s);
    await this.#db.insertInto('alert_state').values({ id: this.#id, data, updated_at: at })
      .onConflict((oc) => oc.column('id').doUpdateSet({ data, updated_at: at }))
      .execute();
  }
}
