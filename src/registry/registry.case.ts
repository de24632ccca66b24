/**
 * The registry suite, run against every store dialect by `registry.test.ts`.
 */
import assert from 'node:assert/strict';
import { chmod, readFile, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { isAloftError, type ErrorCode } from '../errors.js';
import { GraphBuilder } from '../onnx/builder.js';
import type { Store } from '../store/db.js';
import type { TestDatabase, TestDialect } from '../store/testing/databases.js';
import { ArtifactStore } from './artifacts.js';
import { Registry } from './registry.js';

/** A distinct tiny ONNX model per seed: y = x + [seed, 0, 0, 0]. */
export function tinyModel(seed: number): Uint8Array {
  const g = new GraphBuilder({ name: `tiny-${seed}` });
  const x = g.input('x', 'FP32', ['batch', 4]);
  const b = g.initializer('b', new Float32Array([seed, 0, 0, 0]), [4]);
  g.output(g.add(x, b), 'y', 'FP32', ['batch', 4]);
  return g.toBytes();
}

function code(c: ErrorCode, pattern: RegExp = /./) {
  return (e: unknown) => {
    assert.ok(isAloftError(e), `expected an AloftError, got ${String(e)}`);
    assert.equal(e.code, c, e.message);
    assert.match(e.message, pattern);
    return true;
  };
}

export function runRegistrySuite(target: TestDialect): void {
  describe(`registry: ${target.name}`, { skip: target.skip ?? false }, () => {
    let database: TestDatabase;
    let store: Store;
    let artifacts: ArtifactStore;
    let registry: Registry;
    let clock = 0;
    let files = 0;

    /** Write a model file into the state folder's scratch area and return its path. */
    async function modelFile(seed: number): Promise<string> {
      const path = join(database.stateDir, `model-${seed}-${files++}.onnx`);
      await writeFile(path, tinyModel(seed));
      return path;
    }

    beforeEach(async () => {
      clock = Date.UTC(2026, 0, 1);
      database = await target.create();
      store = await database.open();
      artifacts = new ArtifactStore(join(database.stateDir, 'artifacts'));
      registry = new Registry(store, artifacts, { now: () => new Date(clock) });
    });
    afterEach(async () => {
      await store?.close();
      await database?.cleanup();
    });

    test('registers versions 1, 2, 3 with signature, source and metadata', async () => {
      const f1 = await modelFile(1);
      const r1 = await registry.register('credit-risk', f1, { description: 'PD model', createdBy: 'alice', metadata: { auc: 0.81 } });
      assert.equal(r1.created, true);
      assert.deepEqual(r1.version, {
        model: 'credit-risk',
        version: 1,
        sha256: r1.version.sha256,
        sizeBytes: tinyModel(1).byteLength,
        sourcePath: f1,
        createdAt: '2026-01-01T00:00:00.000Z',
        createdBy: 'alice',
        signature: {
          inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4], dimNames: ['batch', null] }],
          outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 4], dimNames: ['batch', null] }],
          batchable: true,
        },
        metadata: { auc: 0.81 },
        aliases: [],
      });
      clock += 1000;
      const r2 = await registry.register('credit-risk', await modelFile(2));
      const r3 = await registry.register('credit-risk', tinyModel(3), { source: 'upload:model.onnx' });
      assert.deepEqual([r2.version.version, r3.version.version], [2, 3]);
      assert.equal(r2.version.createdBy, undefined);
      assert.equal(r3.version.sourcePath, 'upload:model.onnx');
      assert.deepEqual(await registry.getVersion('credit-risk', 1), r1.version);
      assert.deepEqual((await registry.listVersions('credit-risk')).map((v) => v.version), [1, 2, 3]);
      assert.deepEqual(await registry.getModel('credit-risk'), {
        name: 'credit-risk',
        description: 'PD model',
        labels: {},
        createdAt: '2026-01-01T00:00:00.000Z',
        latestVersion: 3,
        versionCount: 3,
        aliases: {},
      });
    });

    test('re-registering an unchanged file does not mint a version', async () => {
      const f = await modelFile(1);
      const first = await registry.register('m', f);
      await registry.setAlias('m', 'production', 1);
      const again = await registry.register('m', await modelFile(1));
      assert.equal(again.created, false);
      assert.equal(again.version.version, 1);
      assert.deepEqual(again.version.aliases, ['production']);
      assert.equal(again.version.sha256, first.version.sha256);
      assert.equal((await registry.listVersions('m')).length, 1);
    });

    test('concurrent registration of different files yields distinct version numbers', async () => {
      const paths = await Promise.all([1, 2, 3, 4, 5, 6].map((s) => modelFile(s)));
      const results = await Promise.all(paths.map((p) => registry.register('m', p)));
      assert.deepEqual(results.map((r) => r.version.version).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
      assert.equal(new Set(results.map((r) => r.version.sha256)).size, 6);
    });

    test('an invalid ONNX file is refused and nothing is recorded', async () => {
      const bad = join(database.stateDir, 'bad.onnx');
      await writeFile(bad, 'this is not a protobuf');
      await assert.rejects(registry.register('m', bad), code('ALOFT_MODEL_INVALID', /bad\.onnx/));
      await assert.rejects(registry.register('m', new Uint8Array(0)), code('ALOFT_MODEL_INVALID', /empty/));
      await assert.rejects(registry.register('m', join(database.stateDir, 'absent.onnx')), code('ALOFT_MODEL_INVALID', /absent\.onnx/));
      assert.deepEqual(await registry.listModels(), []);
      await assert.rejects(readFile(join(database.stateDir, 'artifacts', 'sha256')), /ENOENT/, 'no artifact stored');
    });

    test('an invalid model name is refused', async () => {
      await assert.rejects(registry.register('bad/name', tinyModel(1)), code('ALOFT_MODEL_REF_INVALID', /bad\/name/));
      await assert.rejects(registry.register('m@2', tinyModel(1)), code('ALOFT_MODEL_REF_INVALID'));
    });

    test('aliases: set, move, resolve, list and delete', async () => {
      for (const s of [1, 2, 3]) await registry.register('m', tinyModel(s));
      assert.deepEqual(await registry.setAlias('m', 'production', 2), { model: 'm', alias: 'production', version: 2, previous: null });
      await registry.setAlias('m', 'canary', 3);
      assert.equal((await registry.resolve('m@production')).version, 2);
      assert.deepEqual((await registry.resolve('m@production')).aliases, ['production']);
      assert.deepEqual(await registry.setAlias('m', 'production', 3), { model: 'm', alias: 'production', version: 3, previous: 2 });
      const v3 = await registry.resolve({ name: 'm', selector: { kind: 'alias', alias: 'production' } });
      assert.deepEqual([v3.version, v3.aliases], [3, ['canary', 'production']]);
      assert.deepEqual((await registry.listModels())[0]?.aliases, { canary: 3, production: 3 });
      assert.deepEqual(await registry.deleteAlias('m', 'canary'), { model: 'm', alias: 'canary', version: 3 });
      await assert.rejects(registry.resolve('m@canary'), code('ALOFT_ALIAS_NOT_FOUND'));
      await assert.rejects(registry.deleteAlias('m', 'canary'), code('ALOFT_ALIAS_NOT_FOUND', /no alias 'canary'/));
    });

    test('alias names are validated and must point at an existing version', async () => {
      await registry.register('m', tinyModel(1));
      await assert.rejects(registry.setAlias('m', 'latest', 1), code('ALOFT_MODEL_REF_INVALID', /reserved/));
      await assert.rejects(registry.setAlias('m', '2', 1), code('ALOFT_MODEL_REF_INVALID', /number/));
      await assert.rejects(registry.setAlias('m', 'Prod', 1), code('ALOFT_MODEL_REF_INVALID'));
      await assert.rejects(registry.setAlias('m', 'prod', 7), code('ALOFT_VERSION_NOT_FOUND', /no version 7; m has version 1 and no aliases/));
      await assert.rejects(registry.setAlias('ghost', 'prod', 1), code('ALOFT_MODEL_NOT_FOUND', /no model named 'ghost'; registered models: m/));
    });

    test('resolves name, name@latest and name@N', async () => {
      for (const s of [1, 2]) await registry.register('m', tinyModel(s));
      assert.equal((await registry.resolve('m')).version, 2);
      assert.equal((await registry.resolve('m@latest')).version, 2);
      assert.equal((await registry.resolve('m@1')).version, 1);
      await assert.rejects(registry.resolve('m@'), code('ALOFT_MODEL_REF_INVALID', /write m@3 for a version/));
    });

    test('not-found messages list what does exist', async () => {
      await assert.rejects(registry.resolve('credit-risk'), code('ALOFT_MODEL_NOT_FOUND', /no models are registered yet/));
      for (const s of [1, 2, 3]) await registry.register('credit-risk', tinyModel(s));
      await registry.register('fraud', tinyModel(9));
      await registry.setAlias('credit-risk', 'production', 2);
      const has = 'credit-risk has versions 1..3 and alias production→2';
      await assert.rejects(registry.resolve('credit-risk@7'), code('ALOFT_VERSION_NOT_FOUND', new RegExp(`no version 7; ${has}`)));
      await assert.rejects(registry.resolve('credit-risk@staging'), code('ALOFT_ALIAS_NOT_FOUND', new RegExp(`no alias 'staging'; ${has}`)));
      await assert.rejects(registry.resolve('credit-rsk@2'), code('ALOFT_MODEL_NOT_FOUND', /'credit-rsk'; registered models: credit-risk, fraud/));
      await assert.rejects(registry.getModel('nope'), code('ALOFT_MODEL_NOT_FOUND'));
      await assert.rejects(registry.listVersions('nope'), code('ALOFT_MODEL_NOT_FOUND'));
      await assert.rejects(registry.getVersion('fraud', 2), code('ALOFT_VERSION_NOT_FOUND', /fraud has version 1 and no aliases/));
    });

    test('open returns the verified artifact path', async () => {
      const { version } = await registry.register('m', tinyModel(1));
      const path = await registry.open(version);
      assert.ok((await readFile(path)).equals(tinyModel(1)));
      assert.ok((await registry.read(version)).equals(tinyModel(1)));
    });

    test('a corrupted artifact is refused, and re-registering the file repairs it', async () => {
      const f = await modelFile(1);
      const { version } = await registry.register('m', f);
      const path = artifacts.path(version.sha256);
      await chmod(path, 0o644);
      const bytes = await readFile(path);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x01;
      await writeFile(path, bytes);
      await assert.rejects(
        registry.open(version),
        code('ALOFT_ARTIFACT_CORRUPT', new RegExp(`m@1 \\(registered from .*model-1-.*\\.onnx\\) is corrupt: expected sha256 ${version.sha256}`)),
      );
      await assert.rejects(registry.read(version), code('ALOFT_ARTIFACT_CORRUPT'));
      const again = await registry.register('m', f);
      assert.equal(again.created, false);
      assert.equal(await registry.open(version), path);
    });

    test('a truncated artifact is refused', async () => {
      const { version } = await registry.register('m', tinyModel(1));
      const path = artifacts.path(version.sha256);
      await chmod(path, 0o644);
      await truncate(path, Math.floor(version.sizeBytes / 2));
      await assert.rejects(registry.open(version), code('ALOFT_ARTIFACT_CORRUPT', /truncated/));
    });

    test('a missing artifact is reported', async () => {
      const { version } = await registry.register('m', tinyModel(1));
      await unlink(artifacts.path(version.sha256));
      await assert.rejects(registry.open(version), code('ALOFT_ARTIFACT_MISSING', /m@1 .* is missing/));
    });
  });
}
