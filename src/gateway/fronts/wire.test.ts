import assert from 'node:assert/strict';
import { test } from 'node:test';
import { headerIn, parseHead } from './wire.js';

test('headerIn finds any header of an accepted head by its lower-case name, trimmed, first copy', () => {
  const raw = 'POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nX-User-Id:  u-42 \t\r\nx-user-id: second\r\nX-Other: 1\r\n\r\n{}';
  const buf = Buffer.from(raw, 'latin1');
  const head = parseHead(buf, 1000);
  assert.ok(head, 'a plain infer head');
  assert.equal(headerIn(buf, head.headLength, 'x-user-id'), 'u-42');
  assert.equal(headerIn(buf, head.headLength, 'x-other'), '1');
  assert.equal(headerIn(buf, head.headLength, 'host'), 'x');
  assert.equal(headerIn(buf, head.headLength, 'x-missing'), undefined);
  assert.equal(headerIn(buf, head.headLength, 'x-user'), undefined, 'a prefix is not the header');
});
