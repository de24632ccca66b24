/**
 * The alert book in the state database (migration 0009): one JSON document per book,
 * written when the book changes (an alert appears, fires or resolves, a group is
 * notified), read once at start. SQLite or PostgreSQL.
 */
import type { Kysely } from 'kysely';
import type { Store } from '../../store/db.js';
import type { Database } from '../../store/schema.js';
import type { BookSnapshot } from './model.js';

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

  async save(s: BookSnapshot, at: string): Promise<void> {
    const data = JSON.stringify(s);
    await this.#db.insertInto('alert_state').values({ id: this.#id, data, updated_at: at })
      .onConflict((oc) => oc.column('id').doUpdateSet({ data, updated_at: at }))
      .execute();
  }
}
