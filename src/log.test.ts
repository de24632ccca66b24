import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, humanLogLine, humanLogStream, REDACTED } from './log.js';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const text = (): string => chunks.join('');
  return { stream, text, lines: () => text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('credentials in logged objects are redacted, other fields kept', () => {
  const out = capture();
  const log = createLogger({ level: 'info', destination: out.stream });
  log.info({
    req: { method: 'POST', url: '/v2/models/m/infer', headers: { authorization: 'Bearer aloft_sk_header1', 'content-type': 'application/json' } },
    headers: { authorization: 'Bearer aloft_sk_header2', accept: 'json' },
    authorization: 'Bearer aloft_sk_top',
    created: { name: 'ci', key: 'aloft_sk_created' },
    jwt: { token: 'eyJ.secret.token' },
    redis: { password: 'hunter2-pw', host: 'cache' },
    tls: { secret: 'pem-secret-bytes' },
    key: 'aloft_sk_bare',
  }, 'request');
  const text = out.text();
  for (const secret of ['aloft_sk_header1', 'aloft_sk_header2', 'aloft_sk_top', 'aloft_sk_created', 'eyJ.secret.token', 'hunter2-pw', 'pem-secret-bytes', 'aloft_sk_bare']) {
    assert.ok(!text.includes(secret), `${secret} leaked into the log: ${text}`);
  }
  const [line] = out.lines();
  assert.deepEqual((line!.req as { headers: unknown }).headers, { authorization: REDACTED, 'content-type': 'application/json' });
  assert.deepEqual(line!.created, { name: 'ci', key: REDACTED });
  assert.deepEqual(line!.redis, { password: REDACTED, host: 'cache' });
  assert.equal(line!.msg, 'request');
});

test('child loggers redact too', () => {
  const out = capture();
  createLogger({ level: 'info', destination: out.stream }).child({ component: 'auth' }).warn({ key: { token: 'nested-tok' }, token: 'tok-1' }, 'x');
  assert.doesNotMatch(out.text(), /tok-1|nested-tok/);
});

test('on a terminal a log line reads as text, still redacted; a line that is not JSON passes as it is', async () => {
  const out = capture();
  const log = createLogger({ level: 'info', destination: humanLogStream(out.stream) });
  log.warn({ deployment: 'credit-risk', key: 'aloft_sk_secret', n: 3, nested: { a: 1 } }, 'replica slow');
  await new Promise((r) => setImmediate(r));
  assert.match(out.text(), /^\d\d:\d\d:\d\d warn {2}replica slow \(deployment=credit-risk, key=\[redacted\], n=3, nested=\{"a":1\}\)\n$/);
  assert.ok(!out.text().includes('aloft_sk_secret'));
  assert.equal(humanLogLine('plain text'), 'plain text');
});
