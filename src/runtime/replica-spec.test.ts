import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseReplicaArgs, replicaArgs, replicaOptionsOf, sessionOptionsOf, type ReplicaSpec } from './replica-spec.js';
import { ortSessionOptions } from './session.js';

const spec: ReplicaSpec = {
  servedAs: 'credit-risk', model: 'risk-model', version: 7, sha256: 'ab'.repeat(32), artifact: '/state/artifacts/sha256/ab/abab',
  runtime: { intraOpThreads: 2, interOpThreads: 3, graphOptimization: 'basic', executionMode: 'parallel', allowSpinning: true },
  isolation: 'process',
};

test('a replica spec round-trips through the replica program\'s flags, unchanged', () => {
  const options = replicaOptionsOf(spec, { host: '0.0.0.0', port: 8001 });
  const args = replicaArgs(options);
  assert.deepEqual(parseReplicaArgs(args), options);
  assert.deepEqual(args.slice(0, 6), ['--model', spec.artifact, '--name', 'credit-risk', '--version', '7']);
  const quiet = replicaOptionsOf({ ...spec, runtime: { ...spec.runtime, allowSpinning: false } });
  assert.deepEqual(parseReplicaArgs(replicaArgs(quiet)), quiet, 'off survives as off');
});

test('a replica spec reaches a replica thread as structured-cloned workerData, unchanged', () => {
  const options = replicaOptionsOf(spec);
  assert.deepEqual(structuredClone(options), options);
});

test('the replica opens ONNX Runtime with the spec\'s settings and checks its hash', () => {
  const session = sessionOptionsOf(replicaOptionsOf(spec));
  assert.deepEqual(session, { ...spec.runtime, expectedSha256: spec.sha256 });
  const ort = ortSessionOptions(session);
  assert.equal(ort.intraOpNumThreads, 2);
  assert.equal(ort.interOpNumThreads, 3);
  assert.equal(ort.graphOptimizationLevel, 'basic');
  assert.equal(ort.executionMode, 'parallel');
  assert.deepEqual(ort.extra, { session: { intra_op: { allow_spinning: '1' }, inter_op: { allow_spinning: '1' } } });
});
