/** GET /metrics: Prometheus text with request counts by status, latency, batch sizes and replica gauges. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { startProject } from '../helpers/project.js';
import { inferBody } from '../helpers/credit-risk.js';

test('metrics count answered inference requests by status and report replicas and batches', async () => {
  const p = await startProject({ replicas: 2 });
  try {
    const body = JSON.stringify(inferBody());
    for (let i = 0; i < 3; i++) await (await request(`${p.url}/v2/models/credit-risk/infer`, { method: 'POST', body })).body.dump();
    await (await request(`${p.url}/v2/models/credit-risk/infer`, { method: 'POST', body: '{bad' })).body.dump();
    const res = await request(`${p.url}/metrics`);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /text\/plain/);
    const text = await res.body.text();
    const value = (re: RegExp) => Number(re.exec(text)?.[1]);
    assert.equal(value(/aloft_requests_total\{deployment="credit-risk",version="1",code="200"\} (\d+)/), 3);
    assert.equal(value(/aloft_requests_total\{deployment="credit-risk",version="1",code="400"\} (\d+)/), 1);
    assert.equal(value(/aloft_request_duration_seconds_count\{deployment="credit-risk",version="1"\} (\d+)/), 4);
    assert.equal(value(/aloft_batch_size_count\{deployment="credit-risk",version="1"\} (\d+)/), 3);
    assert.equal(value(/aloft_replicas_ready\{deployment="credit-risk",version="1"\} (\d+)/), 2);
    assert.equal(value(/aloft_replicas_desired\{deployment="credit-risk",version="1"\} (\d+)/), 2);
    assert.match(text, /aloft_gateway_process_resident_memory_bytes \d+/);
  } finally {
    await p.close();
  }
});

test('a model whose outputs are NaN answers 200, and /metrics counts those answers as non-finite (what rollout analysis treats as failures)', async () => {
  const { mlp } = await import('../../src/onnx/mlp.js');
  const nan = mlp([{ in: 22, out: 1, weights: new Float32Array(22).fill(0.001), bias: Float32Array.of(Number.NaN) }], { inputName: 'features', outputName: 'probability', activation: 'sigmoid' });
  const p = await startProject({ files: { 'nan.onnx': Buffer.from(nan) }, yaml: 'models: { credit-risk: { path: ./nan.onnx } }' });
  try {
    const body = JSON.stringify(inferBody());
    for (let i = 0; i < 3; i++) {
      const r = await request(`${p.url}/v2/models/credit-risk/infer`, { method: 'POST', body });
      assert.equal(r.statusCode, 200);
      assert.match(await r.body.text(), /"data":\[null\]|NaN/, 'the answer carries the NaN (JSON null)');
    }
    const text = await (await request(`${p.url}/metrics`)).body.text();
    assert.equal(Number(/aloft_nonfinite_outputs_total\{deployment="credit-risk",version="1"\} (\d+)/.exec(text)?.[1]), 3);
  } finally {
    await p.close();
  }
});
