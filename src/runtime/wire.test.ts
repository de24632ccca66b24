import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAloftError } from '../errors.js';
import { serveFrames } from './socket-server.js';
import type { ModelSignature, Tensor } from './tensor.js';
import {
  decodeFailedFrame, decodeTensorFrame, encodeFailedFrame, encodeTensorFrame, FRAME_FAILED, FRAME_INFER, FRAME_RESULT, FrameReader, MAX_FRAME_BYTES, type Frame,
} from './wire.js';

const every: Tensor[] = [
  { name: 'f32', datatype: 'FP32', shape: [2, 3], data: new Float32Array([1, -2.5, Number.NaN, 4, Infinity, 6]) },
  { name: 'f64', datatype: 'FP64', shape: [1], data: new Float64Array([Math.PI]) },
  { name: 'i64', datatype: 'INT64', shape: [2], data: new BigInt64Array([-(2n ** 62n), 7n]) },
  { name: 'u8', datatype: 'UINT8', shape: [3], data: new Uint8Array([0, 128, 255]) },
  { name: 'b', datatype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
  { name: 'h', datatype: 'FP16', shape: [1], data: new Uint16Array([0x3c00]) },
  { name: 's', datatype: 'BYTES', shape: [3], data: [Buffer.from('héllo'), Buffer.alloc(0), Buffer.from([0, 1, 2])] },
  { name: 'scalar', datatype: 'INT32', shape: [], data: new Int32Array([42]) },
  { name: 'empty', datatype: 'FP32', shape: [0, 4], data: new Float32Array(0) },
];

/** Frames read from `parts` joined and cut into pieces of `step` bytes. */
function readAll(parts: Buffer[], step: number): Frame[] {
  const all = Buffer.concat(parts);
  const frames: Frame[] = [];
  const r = new FrameReader((f) => frames.push(f), (e) => { throw e; });
  for (let i = 0; i < all.length; i += step) r.push(all.subarray(i, i + step));
  return frames;
}

const plain = (ts: Tensor[]) => ts.map((t) => ({ ...t, data: Array.isArray(t.data) ? t.data.map((b) => [...b]) : Array.from(t.data as ArrayLike<number | bigint>) }));

test('every datatype round-trips through a frame, whole or cut into pieces of any size', () => {
  for (const step of [1, 3, 7, 64, 1 << 20]) {
    const frames = readAll(encodeTensorFrame(77, FRAME_INFER, every), step);
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.id, 77);
    assert.equal(frames[0]!.kind, FRAME_INFER);
    assert.deepEqual(plain(decodeTensorFrame(frames[0]!, 'request')), plain(every), `pieces of ${step} bytes`);
  }
});

test('several frames in one chunk come out in order, and a large frame is written as views', () => {
  const big: Tensor = { name: 'x', datatype: 'FP32', shape: [100, 784], data: new Float32Array(78_400).map((_, i) => i) };
  const parts = encodeTensorFrame(2, FRAME_RESULT, [big]);
  assert.ok(parts.length > 1, 'a frame over 64 KiB is not copied into one buffer');
  assert.equal(parts.at(-1)!.buffer, (big.data as Float32Array).buffer, 'its data is the tensor\'s own memory');
  const frames = readAll([...encodeTensorFrame(1, FRAME_INFER, every.slice(0, 2)), ...parts, encodeFailedFrame(3, new Error('boom'))], 4096);
  assert.deepEqual(frames.map((f) => [f.id, f.kind]), [[1, FRAME_INFER], [2, FRAME_RESULT], [3, FRAME_FAILED]]);
  const [y] = decodeTensorFrame(frames[1]!, 'response');
  assert.deepEqual([...(y!.data as Float32Array).subarray(0, 3)], [0, 1, 2]);
  assert.equal((y!.data as Float32Array)[78_399], 78_399);
  assert.deepEqual(decodeFailedFrame(frames[2]!), { code: 'ALOFT_REPLICA_FAILED', message: 'boom' });
});

test('malformed frames are refused with the side\'s codes: 400 for a request, 500 for a response', () => {
  const [frame] = readAll(encodeTensorFrame(1, FRAME_INFER, [every[0]!]), 1 << 20);
  const corrupt = (at: number, byte: number): Frame => { const b = Buffer.from(frame!.bytes); b[at] = byte; return { ...frame!, bytes: b }; };
  const codeOf = (f: Frame, role: 'request' | 'response') => {
    try { decodeTensorFrame(f, role); } catch (e) { assert.ok(isAloftError(e)); return `${e.code} ${e.message}`; }
    return 'accepted';
  };
  assert.match(codeOf(corrupt(10, 99), 'request'), /^ALOFT_BAD_REQUEST .*unknown datatype code 99/);
  assert.match(codeOf(corrupt(10, 99), 'response'), /^ALOFT_REPLICA_FAILED /);
  assert.match(codeOf({ ...frame!, bytes: frame!.bytes.subarray(0, frame!.bytes.length - 4) }, 'request'), /^ALOFT_BAD_REQUEST .*declares 24 bytes of data; 20 remain/);
  // The shape [2,3] rewritten as [2,4]: 32 bytes needed, 24 given.
  const shapeAt = 9 + 1 + 1 + 1 + 3 + 1 + 4;
  assert.match(codeOf(corrupt(shapeAt, 4), 'request'), /^ALOFT_INVALID_INPUT .*needs 32 bytes of FP32 data, the frame has 24/);
  assert.match(codeOf({ ...frame!, bytes: Buffer.concat([frame!.bytes, Buffer.alloc(3)]) }, 'request'), /3 bytes after the last tensor/);
});

test('a frame that declares more than the limit stops the reader once, with a clear error', () => {
  const errors: Error[] = [];
  const frames: Frame[] = [];
  const r = new FrameReader((f) => frames.push(f), (e) => errors.push(e));
  const head = Buffer.alloc(9);
  head.writeUInt32LE(MAX_FRAME_BYTES + 1, 0);
  r.push(head);
  r.push(Buffer.concat(encodeTensorFrame(1, FRAME_INFER, every)));
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /declares 1073741825 bytes/);
  assert.equal(frames.length, 0, 'nothing is read after an unframed stream');
});

test('the socket server answers by id, refuses bad frames as the caller\'s error and keeps serving, and removes its file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aloft-w-'));
  const path = join(dir, 'r.sock');
  const sig: ModelSignature = { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }], batchable: true };
  const errors: unknown[] = [];
  const server = await serveFrames(path, sig, async ([x]) => {
    const d = x!.data as Float32Array;
    const rows = x!.shape[0]!;
    return [{ name: 'y', datatype: 'FP32', shape: [rows, 1], data: new Float32Array(rows).map((_, i) => d[2 * i]! + d[2 * i + 1]!) }];
  }, (e) => errors.push(e));
  try {
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const sock = connect(path);
    const got: Frame[] = [];
    const reader = new FrameReader((f) => got.push(f), (e) => { throw e; });
    sock.on('data', (c: Buffer) => reader.push(c));
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const x = (rows: number): Tensor => ({ name: 'x', datatype: 'FP32', shape: [rows, 2], data: new Float32Array(rows * 2).fill(1.5) });
    for (const p of encodeTensorFrame(5, FRAME_INFER, [x(2)])) sock.write(p);
    for (const p of encodeTensorFrame(6, FRAME_INFER, [{ ...x(1), name: 'z' }])) sock.write(p);
    sock.write(Buffer.from([10, 0, 0, 0, 7, 0, 0, 0, FRAME_INFER, 1, 200, 0, 0, 0]));
    for (const p of encodeTensorFrame(8, FRAME_RESULT, [x(1)])) sock.write(p);
    for (const p of encodeTensorFrame(9, FRAME_INFER, [x(3)])) sock.write(p);
    while (got.length < 5) await new Promise((r) => setTimeout(r, 5));
    const byId = new Map(got.map((f) => [f.id, f]));
    assert.deepEqual([...(decodeTensorFrame(byId.get(5)!, 'response')[0]!.data as Float32Array)], [3, 3]);
    assert.match(decodeFailedFrame(byId.get(6)!).code, /ALOFT_INVALID_INPUT/);
    assert.match(decodeFailedFrame(byId.get(6)!).message, /unexpected input 'z'/);
    assert.deepEqual(decodeFailedFrame(byId.get(7)!).code, 'ALOFT_BAD_REQUEST');
    assert.match(decodeFailedFrame(byId.get(8)!).message, /takes infer frames/);
    assert.deepEqual([...(decodeTensorFrame(byId.get(9)!, 'response')[0]!.data as Float32Array)], [3, 3, 3], 'the connection kept serving');
    assert.equal(errors.length, 0, 'the caller\'s mistakes are not reported as the replica\'s errors');
    sock.destroy();
  } finally {
    await server.close();
    assert.throws(() => statSync(path), /ENOENT/);
    rmSync(dir, { recursive: true, force: true });
  }
});
