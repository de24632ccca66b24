/**
 * Key scopes say "every name" explicitly: `["*"]` instead of `[]`. An empty list now means
 * no name at all, so a damaged or emptied scope value fails closed instead of granting
 * every deployment (issue 17.5). Every key stored with `[]` meant every name; it keeps
 * that meaning as `["*"]`.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`update api_keys set scopes = '["*"]' where scopes = '[]'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`update api_keys set scopes = '[]' where scopes = '["*"]'`.execute(db);
}
