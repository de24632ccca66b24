/**
 * The autoscaler (issue 15) as it last stood, one row per deployment: the replica count it
 * last chose for the deployment's newest group and its recent decisions, so that a restart
 * soon after does not drop a deployment scaled up for its load back to its initial count.
 * The same shape as 0012 (store/deployment-state.ts). Portable DDL only, as in 0001.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('autoscaler_state')
    .addColumn('deployment', 'text', (c) => c.primaryKey())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('autoscaler_state').execute();
}
