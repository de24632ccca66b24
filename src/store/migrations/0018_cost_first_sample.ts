/**
 * Cost meters: when metering of a deployment's version began within an hour (`first_s`,
 * epoch seconds, the earliest any process recorded). The hours start on the hour, and a
 * range's expected cost divides the replica-seconds by the time they were metered over: from
 * the hour's start it came out too low for a deployment started mid-hour, and from this
 * process's first sample too high after a restart within that hour (the earlier process's
 * seconds counted over a shorter time). Rows from before this column have NULL: their hour's
 * start is used. Portable DDL only, as in 0001.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('cost_meters').addColumn('first_s', 'double precision').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('cost_meters').dropColumn('first_s').execute();
}
