/**
 * The store conformance suite: every dialect runs exactly these tests.
 * `store.test.ts` calls `runStoreSuite` once per entry of `testDialects()`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { Store } from './db.js';
import { MIGRATIONS } from './migrations/index.js';
import { ModelRepository, type NewVersion } from './models.js';
import type { TestDatabase, TestDialect } from './testing/databases.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRITER = fileURLToPath(new URL('./testing/writer.ts', import.meta.url));

function sha(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function version(model: string, content: string, extra: Partial<NewVersion> = {}): NewVersion {
  return { model, sha256: sha(content), sizeBytes: content.length, sourcePath: `${content}.onnx`, signature: { inputs: [] }, ...extra };
}

export function runStoreSuite(target: TestDialect): void {
  describe(`store conformance: ${target.name}`, { skip: target.skip ?? false }, () => {
    let database: TestDatabase;
    let store: Store;
    let repo: ModelRepository;
    let clock = 0;
    const now = (): Date => new Date(clock);

    beforeEach(async () => {
      clock = Date.UTC(2026, 0, 1);
      database = await target.create();
      store = await database.open();
      repo = new ModelRepository(store, { now });
    });
    afterEach(async () => {
      await store?.close();
      await database?.cleanup();
    });

    test('reports its dialect and a URL without secrets', () => {
      assert.equal(store.dialect, target.name);
      assert.doesNotMatch(store.url, /:[^/@:]+@/);
    });

    test('migrations are idempotent: opening again keeps data and applies nothing twice', async () => {
      await repo.addVersion(version('m', 'a'));
      const again = await database.open();
      try {
        const models = await new ModelRepository(again).listModels();
        assert.deepEqual(models.map((m) => [m.name, m.latestVersion]), [['m', 1]]);
        const applied = await sql<{ name: string }>`select name from aloft_migration order by name`.execute(again.db);
        assert.deepEqual(applied.rows.map((r) => r.name), Object.keys(MIGRATIONS));
      } finally {
        await again.close();
      }
      await store.close();
      await store.close(); // idempotent
    });

    test('versions are numbered 1, 2, 3 per model and carry their fields', async () => {
      const v1 = await repo.addVersion(version('a', 'one', { createdBy: 'alice', metadata: { k: 1 }, description: 'first' }));
      clock += 1000;
      const v2 = await repo.addVersion(version('a', 'two', { sizeBytes: 5_000_000_000 }));
      const b1 = await repo.addVersion(version('b', 'one'));
      assert.deepEqual([v1.version.version, v2.version.version, b1.version.version], [1, 2, 1]);
      assert.equal(v1.created && v2.created && b1.created, true);

      const got = await repo.getVersion('a', 1);
      assert.deepEqual(got, {
        model: 'a',
        version: 1,
        sha256: sha('one'),
        sizeBytes: 3,
        sourcePath: 'one.onnx',
        createdAt: '2026-01-01T00:00:00.000Z',
        createdBy: 'alice',
        signature: { inputs: [] },
        metadata: { k: 1 },
      });
      const big = await repo.getVersion('a', 2);
      assert.equal(big?.sizeBytes, 5_000_000_000, 'bigint sizes round-trip as numbers');
      assert.equal(big?.createdAt, '2026-01-01T00:00:01.000Z');
      assert.equal(big?.createdBy, null);
      assert.deepEqual((await repo.listVersions('a')).map((v) => v.version), [1, 2]);
      assert.equal((await repo.latestVersion('a'))?.version, 2);
      assert.equal(await repo.getVersion('a', 3), undefined);
      assert.deepEqual(await repo.listVersions('nope'), []);

      const models = await repo.listModels();
      assert.deepEqual(
        models.map((m) => ({ name: m.name, latest: m.latestVersion, count: m.versionCount, description: m.description })),
        [
          { name: 'a', latest: 2, count: 2, description: 'first' },
          { name: 'b', latest: 1, count: 1, description: null },
        ],
      );
      assert.equal((await repo.getModel('a'))?.createdAt, '2026-01-01T00:00:00.000Z');
      assert.equal(await repo.getModel('nope'), undefined);
    });

    test('the same hash as the latest version does not mint a new version', async () => {
      await repo.addVersion(version('m', 'a'));
      const again = await repo.addVersion(version('m', 'a', { sourcePath: 'moved.onnx' }));
      assert.equal(again.created, false);
      assert.equal(again.version.version, 1);
      assert.equal(again.version.sourcePath, 'a.onnx');
      // Going back to an older file is a new version (a deliberate roll-forward).
      await repo.addVersion(version('m', 'b'));
      const back = await repo.addVersion(version('m', 'a'));
      assert.deepEqual([back.created, back.version.version], [true, 3]);
    });

    test('updates description and labels when given, keeps them when not', async () => {
      await repo.addVersion(version('m', 'a', { description: 'd1', labels: { team: 'risk' } }));
      await repo.addVersion(version('m', 'a'));
      assert.deepEqual(await repo.getModel('m'), { name: 'm', description: 'd1', labels: { team: 'risk' }, createdAt: '2026-01-01T00:00:00.000Z' });
      await repo.addVersion(version('m', 'a', { description: 'd2' }));
      assert.equal((await repo.getModel('m'))?.description, 'd2');
    });

    test('concurrent additions of different files get distinct consecutive numbers', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => repo.addVersion(version('m', `f${i}`))));
      const numbers = results.map((r) => r.version.version).sort((a, b) => a - b);
      assert.deepEqual(numbers, Array.from({ length: 20 }, (_, i) => i + 1));
    });

    test('concurrent additions of the same file mint one version', async () => {
      const results = await Promise.all(Array.from({ length: 8 }, () => repo.addVersion(version('m', 'same'))));
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.deepEqual(new Set(results.map((r) => r.version.version)), new Set([1]));
    });

    test('two processes adding versions at once get distinct consecutive numbers', async () => {
      const PER_WRITER = 50; // enough that the two writers overlap after start-up
      const writer = (tag: string): Promise<number[]> =>
        run(process.execPath, ['--import', 'tsx', WRITER, database.url, database.stateDir, 'shared', tag, String(PER_WRITER)], {
          cwd: ROOT,
        }).then((r) => JSON.parse(r.stdout) as number[]);
      const [a, b] = await Promise.all([writer('p1'), writer('p2')]);
      assert.deepEqual([...a, ...b].sort((x, y) => x - y), Array.from({ length: 2 * PER_WRITER }, (_, i) => i + 1));
      for (const list of [a, b]) assert.deepEqual(list, [...list].sort((x, y) => x - y), 'each writer sees increasing numbers');
    });

    test('aliases are created, moved, listed and deleted', async () => {
      await repo.addVersion(version('m', 'a'));
      await repo.addVersion(version('m', 'b'));
      await repo.addVersion(version('n', 'a'));
      assert.deepEqual(await repo.setAlias('m', 'production', 1), { previous: null });
      await repo.setAlias('n', 'production', 1);
      clock += 60_000;
      assert.deepEqual(await repo.setAlias('m', 'production', 2), { previous: 1 });
      await repo.setAlias('m', 'canary', 2);
      assert.deepEqual(await repo.getAlias('m', 'production'), {
        model: 'm',
        alias: 'production',
        version: 2,
        updatedAt: '2026-01-01T00:01:00.000Z',
      });
      assert.deepEqual(
        (await repo.listAliases('m')).map((a) => [a.alias, a.version]),
        [
          ['canary', 2],
          ['production', 2],
        ],
      );
      assert.equal((await repo.listAliases()).length, 3);
      assert.equal(await repo.deleteAlias('m', 'canary'), 2);
      assert.equal(await repo.deleteAlias('m', 'canary'), undefined);
      assert.equal(await repo.getAlias('m', 'canary'), undefined);
      assert.deepEqual((await repo.listAliases('n')).map((a) => a.alias), ['production']);
    });

    test('an alias cannot point at a version that does not exist (foreign key)', async () => {
      await repo.addVersion(version('m', 'a'));
      await assert.rejects(repo.setAlias('m', 'production', 9));
      await assert.rejects(repo.setAlias('ghost', 'production', 1));
      assert.deepEqual(await repo.listAliases(), []);
    });

    test('a version row is unique per (model, version)', async () => {
      await repo.addVersion(version('m', 'a'));
      await assert.rejects(
        store.db
          .insertInto('model_versions')
          .values({
            model: 'm',
            version: 1,
            sha256: sha('x'),
            size_bytes: 1,
            source_path: 'x',
            created_at: 'now',
            created_by: null,
            signature: '{}',
            metadata: '{}',
          })
          .execute(),
      );
    });
  });
}
