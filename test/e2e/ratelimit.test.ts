/**
 * Issue 3: rate limits end to end. A real Aloft with `deployments.credit-risk.limits:
 * {rate: 0.5, burst: 5}` answers 10 simultaneous requests with exactly 5×200 and 5×429
 * (the slow refill, one token per 2 s, keeps the count exact on a loaded machine)
 * (Retry-After, {"error"}), and serves again once Retry-After has passed. With
 * `limits.backend: redis`, two Aloft instances with one prefix share the limit.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { withRedis } from '../../src/gateway/ratelimit/redis.testing.js';
import { inferBody } from '../helpers/credit-risk.js';
import { assertNoLeak, postJson, type Answer } from '../helpers/http.js';
import { startProject, type Project } from '../helpers/project.js';

const LIMITED = 'deployments: { credit-risk: { public: true, limits: { rate: 0.5, burst: 5 } } }';
const body = JSON.stringify(inferBody());

const infer = (p: Project): Promise<Answer> => postJson(`${p.url}/v2/models/credit-risk/infer`, body);

function checkRefusals(answers: Answer[], allowed: number): void {
  const codes = answers.map((a) => a.status).sort();
  assert.deepEqual(codes, [...Array(allowed).fill(200), ...Array(answers.length - allowed).fill(429)], `statuses: ${codes.join(' ')}`);
  for (const a of answers.filter((x) => x.status === 429)) {
    assert.equal(a.headers['retry-after'], '2');
    assert.deepEqual(a.json, { error: "rate limit of 0.5 requests/s for deployment 'credit-risk' exceeded; retry after 2 s", code: 'ALOFT_RATE_LIMITED' });
    assertNoLeak(a.text);
  }
}

/** Honour Retry-After, then expect the deployment to answer again. */
async function servesAgain(p: Project): Promise<void> {
  await sleep(2000);
  const a = await infer(p);
  assert.equal(a.status, 200, a.text);
}

test('ratelimit e2e (memory): 10 requests at once against rate 0.5 burst 5 give exactly 5×200 and 5×429', async () => {
  const p = await startProject({ yaml: LIMITED });
  after(() => p.close());
  checkRefusals(await Promise.all(Array.from({ length: 10 }, () => infer(p))), 5);
  await servesAgain(p);
});

await withRedis('ratelimit e2e (redis)', ({ prefix }) => {
  test('ratelimit e2e (redis): two Aloft instances share one limit', async () => {
    const yaml = `${LIMITED}\nlimits: { backend: redis, redis: { prefix: ${prefix} } }`;
    const [a, b] = await Promise.all([startProject({ yaml }), startProject({ yaml })]);
    after(() => Promise.all([a.close(), b.close()]));
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => infer(i % 2 === 0 ? a : b)));
    checkRefusals(answers, 5);
    await servesAgain(a); // one token comes back every 2 s: one after the other
    await servesAgain(b);
  });
});

test('issue 17: limits.redis.failMode from the spec: closed refuses limited requests with 503 while Redis is unreachable, open (the default) serves them', async () => {
  const { createServer } = await import('node:net');
  // A port nothing listens on.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
  const spec = (mode: string) => `${LIMITED}\nlimits: { backend: redis, redis: { url: 'redis://127.0.0.1:${port}', failMode: ${mode} } }`;
  const closed = await startProject({ yaml: spec('closed') });
  const open = await startProject({ yaml: spec('open') });
  after(() => Promise.all([closed.close(), open.close()]));
  const refused = await infer(closed);
  assert.equal(refused.status, 503, refused.text);
  assert.match(refused.text, /rate limit/i);
  assert.equal(refused.headers['retry-after'], '1', 'a 503 says when to retry');
  assertNoLeak(refused.text);
  assert.equal((await infer(open)).status, 200);
});
