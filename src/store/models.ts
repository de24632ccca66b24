/**
 * The model repository: rows of `models`, `model_versions` and `model_aliases` as plain
 * records. No files, no ONNX and no user-facing "not found" messages here; the registry
 * builds those. Shared by both dialects; the only dialect branch is the row lock.
 */
import { fail } from '../errors.js';
import { atomically, type Store } from './db.js';
import type { Insertable, Selectable } from 'kysely';
import type { ModelVersionsTable } from './schema.js';

export interface ModelRecord {
  name: string;
  description: string | null;
  labels: Record<string, string>;
  createdAt: string;
}

export interface ModelSummaryRecord extends ModelRecord {
  /** Highest version number; 0 when the model has none. */
  latestVersion: number;
  versionCount: number;
}

export interface VersionRecord {
  model: string;
  version: number;
  sha256: string;
  sizeBytes: number;
  sourcePath: string;
  createdAt: string;
  createdBy: string | null;
  /** Parsed JSON as stored (the registry stores a ModelSignature). */
  signature: unknown;
  metadata: Record<string, unknown>;
}

export interface AliasRecord {
  model: string;
  alias: string;
  version: number;
  updatedAt: string;
}

export interface NewVersion {
  model: string;
  sha256: string;
  sizeBytes: number;
  sourcePath: string;
  signature: unknown;
  metadata?: Record<string, unknown>;
  createdBy?: string | null;
  /** Set on the model row (created or updated) when given. */
  description?: string;
  labels?: Record<string, string>;
}

export class ModelRepository {
  readonly #store: Store;
  readonly #now: () => Date;

  constructor(store: Store, opts: { now?: () => Date } = {}) {
    this.#store = store;
    this.#now = opts.now ?? (() => new Date());
  }

  /**
   * Record a new version numbered latest+1, creating the model row if needed, unless the
   * latest version already has this sha256 (then that version is returned, created:false).
   * Safe under concurrent callers: SQLite transactions take the write lock up front
   * (`begin immediate`); PostgreSQL locks the model row (`select … for update`).
   */
  async addVersion(input: NewVersion): Promise<{ version: VersionRecord; created: boolean }> {
    const now = this.#now().toISOString();
    return atomically(this.#store, async ({ db: trx }) => {
      await trx
        .insertInto('models')
        .values({
          name: input.model,
          description: input.description ?? null,
          labels: JSON.stringify(input.labels ?? {}),
          created_at: now,
        })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();

      let lock = trx.selectFrom('models').select(['name', 'description', 'labels']).where('name', '=', input.model);
      if (this.#store.dialect === 'postgres') lock = lock.forUpdate();
      const model = await lock.executeTakeFirstOrThrow();

      const labels = input.labels === undefined ? undefined : JSON.stringify(input.labels);
      const description = input.description;
      if ((description !== undefined && description !== model.description) || (labels !== undefined && labels !== model.labels)) {
        await trx
          .updateTable('models')
          .set({ ...(description !== undefined ? { description } : {}), ...(labels !== undefined ? { labels } : {}) })
          .where('name', '=', input.model)
          .execute();
      }

      const latest = await trx
        .selectFrom('model_versions')
        .selectAll()
        .where('model', '=', input.model)
        .where('deleted_at', 'is', null)
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (latest && latest.sha256 === input.sha256) return { version: toVersion(latest), created: false };
      // Numbers count deleted versions too: a number names one file forever.
      const top = await trx.selectFrom('model_versions').select((eb) => eb.fn.max('version').as('n')).where('model', '=', input.model).executeTakeFirst();

      const row = {
        model: input.model,
        version: Number(top?.n ?? 0) + 1,
        sha256: input.sha256,
        size_bytes: input.sizeBytes,
        source_path: input.sourcePath,
        created_at: now,
        created_by: input.createdBy ?? null,
        signature: JSON.stringify(input.signature),
        metadata: JSON.stringify(input.metadata ?? {}),
      } satisfies Insertable<ModelVersionsTable>;
      await trx.insertInto('model_versions').values(row).execute();
      return { version: toVersion({ ...row, deleted_at: null }), created: true };
    });
  }

  async getModel(name: string): Promise<ModelRecord | undefined> {
    const row = await this.#store.db.selectFrom('models').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toModel(row);
  }

  /** Every model with its latest version number and version count, by name. */
  async listModels(): Promise<ModelSummaryRecord[]> {
    const rows = await this.#store.db
      .selectFrom('models')
      .leftJoin('model_versions as v', (join) => join.onRef('v.model', '=', 'models.name').on('v.deleted_at', 'is', null))
      .select((eb) => [
        'models.name',
        'models.description',
        'models.labels',
        'models.created_at',
        eb.fn.max('v.version').as('latest_version'),
        eb.fn.count('v.version').as('version_count'),
      ])
      .groupBy(['models.name', 'models.description', 'models.labels', 'models.created_at'])
      .execute();
    return rows
      .map((r) => ({
        ...toModel(r),
        latestVersion: Number(r.latest_version ?? 0),
        versionCount: Number(r.version_count),
      }))
      .sort((a, b) => compare(a.name, b.name));
  }

  /** Versions of one model, oldest first. */
  async listVersions(model: string): Promise<VersionRecord[]> {
    const rows = await this.#store.db
      .selectFrom('model_versions')
      .selectAll()
      .where('model', '=', model)
      .where('deleted_at', 'is', null)
      .orderBy('version', 'asc')
      .execute();
    return rows.map(toVersion);
  }

  async getVersion(model: string, version: number): Promise<VersionRecord | undefined> {
    const row = await this.#store.db
      .selectFrom('model_versions')
      .selectAll()
      .where('model', '=', model)
      .where('version', '=', version)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row && toVersion(row);
  }

  async latestVersion(model: string): Promise<VersionRecord | undefined> {
    const row = await this.#store.db
      .selectFrom('model_versions')
      .selectAll()
      .where('model', '=', model)
      .where('deleted_at', 'is', null)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toVersion(row);
  }

  /** Mark a version deleted (a tombstone); false when there is no such live version. */
  async deleteVersion(model: string, version: number): Promise<boolean> {
    const r = await this.#store.db.updateTable('model_versions').set({ deleted_at: this.#now().toISOString() })
      .where('model', '=', model).where('version', '=', version).where('deleted_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** The sha256 of every live version of every model: what garbage collection keeps. */
  async liveHashes(): Promise<Set<string>> {
    const rows = await this.#store.db.selectFrom('model_versions').select('sha256').where('deleted_at', 'is', null).execute();
    return new Set(rows.map((r) => r.sha256));
  }

  /** Aliases of one model, or of all models when `model` is omitted; by model then alias. */
  async listAliases(model?: string): Promise<AliasRecord[]> {
    let q = this.#store.db.selectFrom('model_aliases').selectAll();
    if (model !== undefined) q = q.where('model', '=', model);
    const rows = await q.execute();
    return rows
      .map((r) => ({ model: r.model, alias: r.alias, version: Number(r.version), updatedAt: r.updated_at }))
      .sort((a, b) => compare(a.model, b.model) || compare(a.alias, b.alias));
  }

  async getAlias(model: string, alias: string): Promise<AliasRecord | undefined> {
    const r = await this.#store.db
      .selectFrom('model_aliases')
      .selectAll()
      .where('model', '=', model)
      .where('alias', '=', alias)
      .executeTakeFirst();
    return r && { model: r.model, alias: r.alias, version: Number(r.version), updatedAt: r.updated_at };
  }

  /**
   * Point an alias at a version (creating or moving it). The version must exist (foreign
   * key). Returns the version it pointed at before, or null if it is new.
   */
  async setAlias(model: string, alias: string, version: number): Promise<{ previous: number | null }> {
    const now = this.#now().toISOString();
    return atomically(this.#store, async ({ db: trx }) => {
      let q = trx.selectFrom('model_aliases').select('version').where('model', '=', model).where('alias', '=', alias);
      if (this.#store.dialect === 'postgres') q = q.forUpdate();
      const before = await q.executeTakeFirst();
      await trx
        .insertInto('model_aliases')
        .values({ model, alias, version, updated_at: now })
        .onConflict((oc) => oc.columns(['model', 'alias']).doUpdateSet({ version, updated_at: now }))
        .execute();
      return { previous: before ? Number(before.version) : null };
    });
  }

  /** Remove an alias; returns the version it pointed at, or undefined if there was none. */
  async deleteAlias(model: string, alias: string): Promise<number | undefined> {
    const row = await this.#store.db
      .deleteFrom('model_aliases')
      .where('model', '=', model)
      .where('alias', '=', alias)
      .returning('version')
      .executeTakeFirst();
    return row && Number(row.version);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function toModel(r: { name: string; description: string | null; labels: string; created_at: string }): ModelRecord {
  return {
    name: r.name,
    description: r.description,
    labels: parseJson(r.labels, `labels of model ${r.name}`) as Record<string, string>,
    createdAt: r.created_at,
  };
}

function toVersion(r: Selectable<ModelVersionsTable>): VersionRecord {
  const where = `${r.model}@${r.version}`;
  return {
    model: r.model,
    version: Number(r.version),
    sha256: r.sha256,
    sizeBytes: Number(r.size_bytes),
    sourcePath: r.source_path,
    createdAt: r.created_at,
    createdBy: r.created_by,
    signature: parseJson(r.signature, `signature of ${where}`),
    metadata: parseJson(r.metadata, `metadata of ${where}`) as Record<string, unknown>,
  };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw fail('ALOFT_STORE', `the stored ${what} is not valid JSON; the state database was edited or damaged. Restore it from a backup.`, {
      cause: e,
    });
  }
}
