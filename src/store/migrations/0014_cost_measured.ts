/**
 * Cost meters: the allocation behind each use figure. A thread replica shares the gateway's
 * process, so its CPU and memory are not measured; efficiency (used ÷ reserved) and idle
 * detection divide by what was reserved by replicas whose use was measured, not by every
 * reservation (which made a thread replica look idle). Rows from before this column have 0:
 * their whole allocation counts where use was recorded. Portable DDL only, as in 0001.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('cost_meters').addColumn('cpu_measured_s', 'double precision', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('cost_meters').addColumn('mem_measured_gib_s', 'double precision', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('cost_meters').dropColumn('mem_measured_gib_s').execute();
  await db.schema.alterTable('cost_meters').dropColumn('cpu_measured_s').execute();
}
