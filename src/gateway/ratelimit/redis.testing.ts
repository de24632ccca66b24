/**
 * Tests only: run a group of tests against the Redis at ALOFT_TEST_REDIS_URL (default
 * redis://127.0.0.1:6379) under a prefix unique to this run, deleted afterwards. When
 * Redis is unreachable the group fails with one clear test, unless ALOFT_TEST_SKIP_REDIS=1,
 * in which case it is skipped and says why.
 */
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';

export const TEST_REDIS_URL = process.env.ALOFT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface RedisTestContext {
  url: string;
  /** Unique to this run, e.g. 'aloft-test-1234-9f2c01ab'. */
  prefix: string;
  /** A client for inspecting keys (closed after the group). */
  client: Redis;
}

/** undefined when Redis answers PING, else why not. */
async function probe(url: string): Promise<string | undefined> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  let cause: string | undefined;
  r.on('error', (err: Error) => { cause ??= err.message; });
  try {
    await r.connect();
    await r.ping();
    return undefined;
  } catch (err) {
    return cause ?? (err instanceof Error ? err.message : String(err));
  } finally {
    r.disconnect();
  }
}

async function deletePrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await client.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** Defines the tests `define` declares when Redis is reachable (top-level await it). */
export async function withRedis(group: string, define: (ctx: RedisTestContext) => void): Promise<void> {
  const problem = await probe(TEST_REDIS_URL);
  if (problem !== undefined) {
    const why = `Redis at ${TEST_REDIS_URL} is unreachable (${problem})`;
    const skip = process.env.ALOFT_TEST_SKIP_REDIS === '1' ? `${why} and ALOFT_TEST_SKIP_REDIS=1` : undefined;
    test(`${group}: Redis is reachable`, skip ? { skip } : {}, () => {
      throw new Error(`${why}; start Redis, or set ALOFT_TEST_SKIP_REDIS=1 to skip the Redis tests`);
    });
    return;
  }
  const prefix = `aloft-test-${process.pid}-${randomUUID().slice(0, 8)}`;
  const client = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  after(async () => {
    await deletePrefix(client, prefix);
    await client.quit();
  });
  define({ url: TEST_REDIS_URL, prefix, client });
}
