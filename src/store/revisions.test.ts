/**
 * The revision repository on every store dialect (the same cases for SQLite and PostgreSQL).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAloftError } from '../errors.js';
import type { Store } from './db.js';
import { RevisionRepository, type NewRevision } from './revisions.js';
import { freshDatabaseEach, testDialects } from './testing/databases.js';

function revision(number: number, extra: Partial<NewRevision> = {}): NewRevision {
  return {
    number, author: 'alice', message: `change ${number}`, kind: 'apply', rollbackOf: null, specFile: 'aloft.yaml',
    specText: 'models:\n  m:\n    path: ./m.onnx\n  # ${env:SECRET} stays a template\n', spec: { models: { m: { sha256: 'a'.repeat(64) } }, deployments: {} },
    models: [{ model: 'm', version: number, sha256: 'a'.repeat(64), created: true }],
    deployments: [{ name: 'm', ref: 'm', model: 'm', version: number, sha256: 'a'.repeat(64) }],
    diff: { deployments: [{ name: 'm', action: 'change' }] }, ...extra,
  };
}

for (const target of await testDialects()) {
  describe(`revision repository: ${target.name}`, { skip: target.skip ?? false }, () => {
    let store: Store;
    let repo: RevisionRepository;
    let clock = 0;

    freshDatabaseEach(target, (_d, s) => {
      clock = Date.UTC(2026, 0, 1);
      store = s;
      repo = new RevisionRepository(store, { now: () => new Date(clock) });
    });

    test('records every field and reads it back; latest and current', async () => {
      assert.equal(await repo.latest(), undefined);
      assert.equal(await repo.current(), undefined);
      const created = await repo.create(revision(1, { kind: 'startup', author: 'system' }));
      assert.equal(created.outcome, 'applying');
      assert.equal(created.finishedAt, null);
      const got = await repo.get(1);
      assert.deepEqual(got, created);
      assert.equal(got!.specText, revision(1).specText, 'the spec text is stored as written, templates included');
      assert.deepEqual(got!.models, revision(1).models);
      assert.equal((await repo.latest())!.number, 1);
      assert.equal(await repo.current(), undefined, 'an applying revision is not current');
      clock += 1000;
      assert.equal(await repo.finish(1, 'applied'), true);
      const done = (await repo.get(1))!;
      assert.equal(done.outcome, 'applied');
      assert.equal(done.finishedAt, new Date(clock).toISOString());
      assert.equal((await repo.current())!.number, 1);
    });

    test('two revisions with the same number: exactly one lands, the other is a conflict that says to plan again', async () => {
      await repo.create(revision(1));
      await repo.finish(1, 'applied');
      const results = await Promise.allSettled([repo.create(revision(2, { author: 'a' })), repo.create(revision(2, { author: 'b' }))]);
      const ok = results.filter((r) => r.status === 'fulfilled');
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(ok.length, 1);
      assert.equal(failed.length, 1);
      assert.ok(isAloftError(failed[0]!.reason));
      assert.equal(failed[0]!.reason.code, 'ALOFT_REVISION_CONFLICT');
      assert.match(failed[0]!.reason.message, /plan' again/);
      assert.equal((await repo.list()).length, 2);
    });

    test('an outcome is written once: finish only moves a revision from the state it is in', async () => {
      await repo.create(revision(1));
      assert.equal(await repo.finish(1, 'failed', 'model failed to load'), true);
      assert.equal(await repo.finish(1, 'applied'), false, 'a failed revision is never turned into applied');
      assert.equal((await repo.get(1))!.reason, 'model failed to load');
      await repo.create(revision(2));
      await repo.finish(2, 'applied');
      assert.equal(await repo.finish(2, 'rolled_back', 'by 3', 'applied'), true);
      assert.equal((await repo.get(2))!.outcome, 'rolled_back');
    });

    test('current is the newest applied; applying lists the interrupted ones; list is newest first without the spec text', async () => {
      for (const n of [1, 2, 3, 4]) await repo.create(revision(n));
      await repo.finish(1, 'applied');
      await repo.finish(2, 'applied');
      await repo.finish(3, 'failed', 'x');
      assert.equal((await repo.current())!.number, 2);
      assert.deepEqual((await repo.applying()).map((r) => r.number), [4]);
      const list = await repo.list(3);
      assert.deepEqual(list.map((r) => r.number), [4, 3, 2]);
      assert.equal('specText' in list[0]!, false);
      assert.deepEqual(list[2]!.deployments, revision(2).deployments);
    });

    test('the database refuses unknown outcomes and kinds', async () => {
      await assert.rejects(repo.create(revision(1, { kind: 'weird' as never })));
      await assert.rejects(repo.create(revision(1, { outcome: 'done' as never })));
    });
  });
}
