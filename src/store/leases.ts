/**
 * Leases in the state database (migration 0011): a named role that one process holds at a
 * time. The holder renews before its lease runs out; once it has run out, any other
 * process may take it. One conditional upsert does both (taken when free, expired or
 * already ours), so of two processes trying at once exactly one holds it. Times are the
 * injected clock's wall time (`clock.date()`), so the processes' clocks must agree to well
 * within the lease's length, as for any lease.
 *
 * @example
 * const lease = new Lease(store, { name: 'alerts', holder: `${hostname()}/${process.pid}`, clock });
 * if (await lease.hold(30_000)) evaluate();   // renew at every turn, well before 30 s pass
 * await lease.release();                       // on a clean stop: the next process need not wait
 */
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Store } from './db.js';
import type { Database } from './schema.js';

interface LeasesTable {
  name: string;
  holder: string;
  expires_at: number;
  acquired_at: number;
}

type Tables = { leases: LeasesTable };

export interface LeaseHolder {
  holder: string;
  /** ISO times. */
  expiresAt: string;
  acquiredAt: string;
}

export interface LeaseOptions {
  name: string;
  /** Who asks: unique per process (host, pid and a random part). */
  holder: string;
  clock: Clock;
}

export class Lease {
  readonly #db: Kysely<Database & Tables>;
  readonly #o: LeaseOptions;
  #held = false;

  constructor(store: Store, o: LeaseOptions) {
    this.#db = store.db.withTables<Tables>();
    this.#o = o;
  }

  get name(): string {
    return this.#o.name;
  }

  get holder(): string {
    return this.#o.holder;
  }

  /** Whether the last `hold` got it. */
  get held(): boolean {
    return this.#held;
  }

  /** Take the lease, or renew it, for `ttlMs` from now. True when this process holds it. */
  async hold(ttlMs: number): Promise<boolean> {
    const now = this.#o.clock.date().getTime();
    const r = await this.#db.insertInto('leases')
      .values({ name: this.#o.name, holder: this.#o.holder, expires_at: now + ttlMs, acquired_at: now })
      .onConflict((oc) => oc.column('name').doUpdateSet({
        holder: (eb) => eb.ref('excluded.holder'),
        expires_at: (eb) => eb.ref('excluded.expires_at'),
        // A renewal keeps when it was taken.
        acquired_at: (eb) => eb.case().when('leases.holder', '=', this.#o.holder).then(eb.ref('leases.acquired_at')).else(eb.ref('excluded.acquired_at')).end(),
      }).where((eb) => eb.or([eb('leases.holder', '=', this.#o.holder), eb('leases.expires_at', '<=', now)])))
      .executeTakeFirst();
    this.#held = Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
    return this.#held;
  }

  /** Give the lease up now, if this process holds it. */
  async release(): Promise<void> {
    this.#held = false;
    await this.#db.deleteFrom('leases').where('name', '=', this.#o.name).where('holder', '=', this.#o.holder).execute();
  }

  /** Who holds the lease now (an expired one is nobody's). */
  async current(): Promise<LeaseHolder | undefined> {
    const now = this.#o.clock.date().getTime();
    const row = await this.#db.selectFrom('leases').selectAll().where('name', '=', this.#o.name).where('expires_at', '>', now).executeTakeFirst();
    return row ? { holder: row.holder, expiresAt: new Date(Number(row.expires_at)).toISOString(), acquiredAt: new Date(Number(row.acquired_at)).toISOString() } : undefined;
  }
}

/**
 * Who else serves the database: every process holds its own lease `member/<holder>`,
 * renewed while it runs; the others whose lease has not run out are its peers.
 *
 * @example
 * const members = new Membership(store, { holder, clock });
 * await members.renew(15_000);            // at every turn, well before 15 s pass
 * if (await members.peers() > 0) join();  // others serve this database now
 */
export class Membership {
  readonly #lease: Lease;
  readonly #db: Kysely<Database & Tables>;
  readonly #o: { holder: string; clock: Clock; artifacts?: string };

  /** `artifacts`: the id of the artifact store this process uses (ArtifactStore.id), so that one on another store is found. */
  constructor(store: Store, o: { holder: string; clock: Clock; artifacts?: string }) {
    this.#lease = new Lease(store, { name: `member/${o.holder}${o.artifacts ? `@${o.artifacts}` : ''}`, holder: o.holder, clock: o.clock });
    this.#db = store.db.withTables<Tables>();
    this.#o = o;
  }

  /** Say this process still serves, for `ttlMs` from now. */
  renew(ttlMs: number): Promise<boolean> {
    return this.#lease.hold(ttlMs);
  }

  /**
   * How many other processes serve now. A holder on this host (`host/pid/…`) whose process
   * is gone (a crash moments ago, its lease not yet run out) is none: a gateway restarted at
   * once is not its own peer.
   */
  async peers(): Promise<number> {
    const now = this.#o.clock.date().getTime();
    const rows = await this.#db.selectFrom('leases').select('holder')
      .where('name', 'like', 'member/%').where('expires_at', '>', now).where('holder', '!=', this.#o.holder).execute();
    return rows.filter((r) => !deadHere(r.holder)).length;
  }

  /** The other processes serving now whose artifact store is not this one's (their holder ids). */
  async onOtherStores(): Promise<string[]> {
    const now = this.#o.clock.date().getTime();
    const rows = await this.#db.selectFrom('leases').select(['name', 'holder'])
      .where('name', 'like', 'member/%').where('expires_at', '>', now).where('holder', '!=', this.#o.holder).execute();
    return rows.filter((r) => !deadHere(r.holder) && r.name.slice(`member/${r.holder}`.length).replace(/^@/, '') !== (this.#o.artifacts ?? '')).map((r) => r.holder);
  }

  /** On a clean stop: the others count one fewer at once. */
  release(): Promise<void> {
    return this.#lease.release();
  }
}

/** A holder id `host/pid/…` of this host whose process no longer runs. */
function deadHere(holder: string): boolean {
  const [host, pid] = holder.split('/');
  if (host !== hostname() || !/^\d+$/.test(pid ?? '')) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
