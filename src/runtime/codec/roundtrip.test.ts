import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DATATYPE_NAMES, type Datatype } from '../datatypes.js';
import type { Tensor } from '../tensor.js';
import { decodeInferRequest } from './decode-request.js';
import { decodeInferResponse } from './decode-response.js';
import { encodeInferRequest } from './encode-request.js';
import { encodeInferResponse } from './encode-response.js';
import { bf16FromNumber, fp16FromNumber, numberFromBf16, numberFromFp16 } from './float16.js';

/** One tensor of each datatype with its edge values, shape [2, 2]. */
function sample(dt: Datatype, exactJson: boolean): Tensor {
  const shape = [2, 2];
  const big = exactJson; // 64-bit extremes only where the text is read back exactly
  const data = {
    BOOL: () => new Uint8Array([1, 0, 0, 1]),
    UINT8: () => new Uint8Array([0, 1, 254, 255]),
    UINT16: () => new Uint16Array([0, 1, 65534, 65535]),
    UINT32: () => new Uint32Array([0, 1, 4294967294, 4294967295]),
    UINT64: () => new BigUint64Array(big ? [0n, 1n, 2n ** 53n + 1n, 2n ** 64n - 1n] : [0n, 1n, 2n ** 40n, 2n ** 53n - 1n]),
    INT8: () => new Int8Array([-128, -1, 0, 127]),
    INT16: () => new Int16Array([-32768, -1, 0, 32767]),
    INT32: () => new Int32Array([-2147483648, -1, 0, 2147483647]),
    INT64: () => new BigInt64Array(big ? [-(2n ** 63n), -1n, 2n ** 53n + 1n, 2n ** 63n - 1n] : [-(2n ** 53n - 1n), -1n, 0n, 2n ** 53n - 1n]),
    FP16: () => new Uint16Array([fp16FromNumber(1.5), fp16FromNumber(-65504), fp16FromNumber(2 ** -24), 0]),
    FP32: () => new Float32Array([1.5, -3.4028234663852886e38, 1e-45, 0.1]),
    FP64: () => new Float64Array([Math.PI, -1e300, 5e-324, 0.1]),
    BYTES: () => [Buffer.from('héllo'), Buffer.alloc(0), Buffer.from('"quoted"\\\n'), Buffer.from('✓')],
    BF16: () => new Uint16Array([bf16FromNumber(1.5), bf16FromNumber(-3e38), bf16FromNumber(1e-3), 0]),
  }[dt]();
  return { name: `t_${dt.toLowerCase()}`, datatype: dt, shape, data };
}

describe('request codec round trip', () => {
  for (const dt of DATATYPE_NAMES) {
    for (const binary of [true, false]) {
      it(`${dt} as ${binary ? 'binary' : 'JSON'}`, () => {
        const t = sample(dt, true);
        const enc = encodeInferRequest([t], { id: 'rq', binary, binaryOutput: true, outputs: ['y'] });
        // FP16/BF16 always travel as binary (JSON cannot carry them).
        const expectBinary = binary || dt === 'FP16' || dt === 'BF16';
        assert.equal(enc.contentType, expectBinary ? 'application/octet-stream' : 'application/json');
        assert.equal(enc.headerLength !== undefined, expectBinary);
        const req = decodeInferRequest(enc.body, enc.headerLength);
        assert.equal(req.id, 'rq');
        assert.equal(req.binaryOutput, true);
        assert.deepEqual(req.outputs, [{ name: 'y', parameters: { binary_data: true } }]);
        assert.equal(req.inputs.length, 1);
        const got = req.inputs[0]!;
        assert.deepEqual({ name: got.name, datatype: got.datatype, shape: got.shape, data: got.data }, t);
      });
    }
  }

  it('carries several inputs, mixed binary and JSON order preserved', () => {
    const a = sample('FP32', true);
    const b = sample('BYTES', true);
    const c = sample('FP16', true);
    const enc = encodeInferRequest([a, b, c], { binary: false });
    const req = decodeInferRequest(enc.body, enc.headerLength);
    assert.deepEqual(req.inputs.map((i) => i.data), [a.data, b.data, c.data]);
  });
});

describe('response codec round trip', () => {
  for (const dt of DATATYPE_NAMES) {
    for (const binary of [true, false]) {
      it(`${dt} as ${binary ? 'binary' : 'JSON'}`, () => {
        const t = sample(dt, binary);
        const enc = encodeInferResponse({ modelName: 'm', modelVersion: '3', id: 'r', outputs: [t] }, { binaryOutput: binary });
        const res = decodeInferResponse(enc.body, enc.headerLength);
        assert.equal(res.modelName, 'm');
        assert.equal(res.modelVersion, '3');
        assert.equal(res.id, 'r');
        assert.deepEqual(res.outputs, [t]);
      });
    }
  }

  it('writes NaN and infinities as null in JSON and reads them back as NaN', () => {
    const t: Tensor = { name: 'y', datatype: 'FP32', shape: [3], data: new Float32Array([NaN, Infinity, 1]) };
    const enc = encodeInferResponse({ modelName: 'm', outputs: [t] });
    assert.match(enc.body.toString(), /"data":\[null,null,1\]/);
    assert.deepEqual(decodeInferResponse(enc.body).outputs[0]!.data, new Float32Array([NaN, NaN, 1]));
  });
});

describe('float16 conversions', () => {
  it('round-trips every finite FP16 and BF16 bit pattern through numbers', () => {
    for (let h = 0; h < 0x10000; h++) {
      const e = (h >>> 10) & 0x1f;
      if (e !== 0x1f) assert.equal(fp16FromNumber(numberFromFp16(h)), h);
      if (((h >>> 7) & 0xff) !== 0xff) assert.equal(bf16FromNumber(numberFromBf16(h)), h);
    }
  });

  it('rounds to nearest even and saturates to infinity', () => {
    assert.equal(fp16FromNumber(1 + 2 ** -11), 0x3c00); // tie → even (1.0)
    assert.equal(fp16FromNumber(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
    assert.equal(fp16FromNumber(65520), 0x7c00);
    assert.equal(fp16FromNumber(-1e9), 0xfc00);
    assert.ok(Number.isNaN(numberFromFp16(fp16FromNumber(NaN))));
    assert.equal(numberFromFp16(fp16FromNumber(2 ** -25)), 0); // tie → even (zero)
    assert.equal(numberFromFp16(fp16FromNumber(3 * 2 ** -26)), 2 ** -24);
  });
});
