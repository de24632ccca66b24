/**
 * Rollouts (issue 13) as they last stood, one row per deployment: the step a canary had
 * reached, its verdicts and whether it was paused, so that a restart in the middle of a
 * rollout resumes it where it was instead of from its first step. Portable DDL only, as in 0001.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('rollout_state')
    .addColumn('deployment', 'text', (c) => c.primaryKey())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('rollout_state').execute();
}
