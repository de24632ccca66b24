/**
 * Drift against the first captured predictions (no reference file), on a real capture store
 * with a stepped clock: the reference says which rows it is and when they were captured,
 * and the window compared with it starts after them, so no row is compared with itself.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../clock.js';
import type { Observation } from '../gateway/observe.js';
import { silentLogger } from '../log.js';
import { deploymentSchema } from '../spec/schema.js';
import type { DeploymentSpec } from '../spec/types.js';
import type { Store } from '../store/db.js';
import { freshDatabaseEach, testDialects } from '../store/testing/databases.js';
import { Capture } from './capture/capture.js';
import { CaptureStore } from './capture/store.js';
import { DriftMonitor } from './drift-monitor.js';

const KEY = Buffer.alloc(32, 7).toString('base64');
const spec = deploymentSchema.parse({
  model: 'm', features: [{ name: 'age' }, { name: 'income' }], capture: { key: KEY }, drift: { referenceSize: 20, minRows: 5 },
}) as unknown as DeploymentSpec;

for (const target of await testDialects()) {
  describe(`drift against the first captured rows: ${target.name}`, { skip: target.skip ?? false }, () => {
    let store: Store;
    freshDatabaseEach(target, (_d, s) => { store = s; });

    test('the reference names its rows and their capture times; the window starts after them', async () => {
      const clock = new ManualClock(0, Date.UTC(2026, 0, 1, 12));
      const captureStore = new CaptureStore(store);
      const capture = new Capture({ clock, logger: silentLogger, sinks: [captureStore], config: () => ({ capture: spec.capture!, features: spec.features! }) });
      const observe = capture.observer();
      const answer = (id: string, age: number, income: number): Observation => ({
        deployment: 'd', version: 1, model: 'm', status: 200, totalMs: 1, at: clock.date().getTime(), requestId: id,
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: Float32Array.from([age, income]) }],
        outputs: [{ name: 'p', datatype: 'FP32', shape: [1, 1], data: Float32Array.from([0.5]) }],
      });
      for (let i = 0; i < 20; i++) { observe(answer(`ref-${i}`, 30 + i, 1000 + i)); clock.advance(1000); }
      clock.advance(600_000);
      for (let i = 0; i < 30; i++) { observe(answer(`now-${i}`, 30 + (i % 20), 1000 + (i % 20))); clock.advance(1000); }
      await capture.flush();
      const monitor = new DriftMonitor({ clock, logger: silentLogger, capture, store: captureStore, spec: () => spec, deployments: () => ['d'] });
      const check = (await monitor.check('d', 'on demand'))!;
      assert.equal(check.reference.rows, 20);
      assert.equal(check.reference.source, 'the first 20 captured rows (captured 2026-01-01T12:00:00.000Z to 2026-01-01T12:00:19.000Z)');
      assert.equal(check.currentRows, 30, 'the window (1h) holds all 50 rows; the 20 of the reference are not compared with themselves');
      assert.ok(check.result, check.note);
    });
  });
}
