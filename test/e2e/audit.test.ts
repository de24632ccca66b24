/**
 * The audit trail end to end, on SQLite and PostgreSQL: two processes append to one chain
 * without forking it; the admin API and `aloft audit list|verify` (as separate processes,
 * over HTTP) report an intact chain, and name the entry after it is tampered with in the
 * database: edited, deleted, reordered, truncated.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { ManualClock } from '../../src/clock.js';
import { registerAuditRoutes } from '../../src/control/admin-audit.js';
import { makeErrorHandler } from '../../src/gateway/http-errors.js';
import { silentLogger } from '../../src/log.js';
import { AuditLog, type AuditEntry, type AuditVerification } from '../../src/security/audit.js';
import type { AuditTables } from '../../src/store/audit.js';
import type { Store } from '../../src/store/db.js';
import type { Database } from '../../src/store/schema.js';
import { testDialects, type TestDatabase } from '../../src/store/testing/databases.js';
import { call } from '../helpers/http.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const module = (path: string): string => pathToFileURL(`${ROOT}${path}`).href;

/** Run an ES module snippet in a fresh Node process (TypeScript through tsx). */
async function node(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, env: { ...process.env, ALOFT_URL: '' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    if (typeof err.code !== 'number') throw e;
    return { code: err.code, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** `aloft audit <command>` as the CLI runs it: the command function, its output and exit code. */
function cli(command: 'list' | 'verify', opts: Record<string, unknown>): Promise<{ code: number; stdout: string; stderr: string }> {
  return node(`
    import { ${command} } from ${JSON.stringify(module('src/cli/commands/audit.ts'))};
    import { isAloftError } from ${JSON.stringify(module('src/errors.ts'))};
    try {
      const code = await ${command}(${JSON.stringify(opts)});
      process.exitCode = typeof code === 'number' ? code : 0;
    } catch (e) {
      process.stderr.write('error: ' + (isAloftError(e) ? e.message : String(e)) + '\\n');
      process.exitCode = isAloftError(e) && e.code === 'ALOFT_USAGE' ? 2 : 1;
    }
  `);
}

const admin = { kind: 'key' as const, id: 'k_admin', name: 'admin' };
const ops = { kind: 'key' as const, id: 'k_ops', name: 'ops' };

for (const dialect of await testDialects()) {
  describe(`audit trail end to end: ${dialect.name}`, { skip: dialect.skip ?? false }, () => {
    let database: TestDatabase;
    let store: Store;
    let audit: AuditLog;
    let clock: ManualClock;
    let app: FastifyInstance;
    let url: string;
    let db: Kysely<Database & AuditTables>;

    beforeEach(async () => {
      database = await dialect.create();
      store = await database.open();
      db = store.db.withTables<AuditTables>();
      clock = new ManualClock();
      audit = new AuditLog(store, { clock });
      app = Fastify({ logger: false });
      app.setErrorHandler(makeErrorHandler(silentLogger, 1024 * 1024));
      registerAuditRoutes(app, { audit });
      url = await app.listen({ host: '127.0.0.1', port: 0 });
    });
    afterEach(async () => {
      await app?.close();
      await store?.close();
      await database?.cleanup();
    });

    /** A fresh chain of 10 admin actions. */
    async function chain(): Promise<AuditEntry[]> {
      const out: AuditEntry[] = [];
      const add = async (e: Parameters<AuditLog['append']>[0]) => {
        out.push(await audit.append(e));
        clock.advance(60_000);
      };
      await add({ actor: admin, action: 'key.created', target: 'ops', source: 'cli', after: { role: 'operator', key: 'aloft_sk_never' } });
      await add({ actor: ops, action: 'spec.applied', target: 'aloft.yaml', source: '10.0.0.5', details: { revision: 1 } });
      await add({ actor: ops, action: 'model.registered', target: 'credit-risk@1', source: '10.0.0.5' });
      await add({ actor: ops, action: 'alias.set', target: 'credit-risk@production', source: '10.0.0.5', before: null, after: { version: 1 } });
      await add({ actor: ops, action: 'model.registered', target: 'credit-risk@2', source: '10.0.0.5' });
      await add({ actor: ops, action: 'rollout.promoted', target: 'credit-risk', source: '10.0.0.5', before: { version: 1 }, after: { version: 2 } });
      await add({ actor: ops, action: 'rollout.rolled_back', target: 'credit-risk', source: 'system', before: { version: 2 }, after: { version: 1 } });
      await add({ actor: { kind: 'system', id: 'system', name: 'system' }, action: 'auth.failures', target: '10.9.9.9', source: '10.9.9.9', details: { count: 10, windowMs: 60000 } });
      await add({ actor: admin, action: 'key.revoked', target: 'ops', source: 'cli', before: { role: 'operator' } });
      await add({ actor: admin, action: 'alias.set', target: 'credit-risk@production', source: 'cli', before: { version: 1 }, after: { version: 2 } });
      return out;
    }

    async function verifyFails(expected: { problem: string; seq: number; message: RegExp }): Promise<void> {
      const api = await call(`${url}/api/v1/audit/verify`);
      assert.equal(api.status, 200);
      const r = api.json as AuditVerification;
      assert.equal(r.ok, false, api.text);
      assert.deepEqual(r.ok ? [] : [r.problem, r.seq], [expected.problem, expected.seq]);
      const c = await cli('verify', { url });
      assert.equal(c.code, 1, c.stderr);
      assert.match(c.stderr, new RegExp(`audit trail broken at entry ${expected.seq} \\(${expected.problem}\\): `));
      assert.match(c.stderr, expected.message);
    }

    test('two processes appending at once make one unbroken chain', async () => {
      const writer = (tag: string) => node(`
        import { openStore } from ${JSON.stringify(module('src/store/db.ts'))};
        import { AuditLog } from ${JSON.stringify(module('src/security/audit.ts'))};
        const store = await openStore({ url: ${JSON.stringify(database.url)}, stateDir: ${JSON.stringify(database.stateDir)} });
        const audit = new AuditLog(store);
        const seqs = [];
        for (let i = 0; i < 40; i++) seqs.push((await audit.append({ actor: { kind: 'key', id: ${JSON.stringify(tag)}, name: ${JSON.stringify(tag)} }, action: 'model.registered', target: 'm@' + i, source: 'cli' })).seq);
        await store.close();
        process.stdout.write(JSON.stringify(seqs));
      `);
      const [a, b] = await Promise.all([writer('p1'), writer('p2')]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const seqs = [...(JSON.parse(a.stdout) as number[]), ...(JSON.parse(b.stdout) as number[])].sort((x, y) => x - y);
      assert.deepEqual(seqs, Array.from({ length: 80 }, (_, i) => i + 1));
      const v = await audit.verify();
      assert.equal(v.ok, true, JSON.stringify(v));
      assert.equal(v.entries, 80);
    });

    test('an untouched chain: the API lists and verifies it, and so does the CLI', async () => {
      const entries = await chain();
      const head = entries[entries.length - 1]!.hash;

      const v = await call(`${url}/api/v1/audit/verify`);
      assert.deepEqual([v.status, v.json], [200, { ok: true, entries: 10, head }]);

      const all = await call(`${url}/api/v1/audit`);
      assert.equal(all.status, 200);
      assert.deepEqual((all.json as { entries: AuditEntry[] }).entries, entries);
      assert.doesNotMatch(all.text, /aloft_sk_never/);
      const ops = await call(`${url}/api/v1/audit?actor=ops&action=rollout.*&limit=1`);
      assert.deepEqual((ops.json as { entries: AuditEntry[] }).entries.map((e) => [e.seq, e.action]), [[7, 'rollout.rolled_back']]);
      const paged = await call(`${url}/api/v1/audit?after=8`);
      assert.deepEqual((paged.json as { entries: AuditEntry[] }).entries.map((e) => e.seq), [9, 10]);
      const window = await call(`${url}/api/v1/audit?since=2026-01-01T00:02:00Z&until=2026-01-01T00:04:00Z`);
      assert.deepEqual((window.json as { entries: AuditEntry[] }).entries.map((e) => e.seq), [3, 4]);
      for (const bad of ['since=soon', 'limit=-1', 'limit=abc', 'bogus=1', 'action=a&action=b']) {
        const r = await call(`${url}/api/v1/audit?${bad}`);
        assert.equal(r.status, 400, bad);
        assert.equal(typeof (r.json as { error?: unknown }).error, 'string', bad);
      }

      const ok = await cli('verify', { url });
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, `audit trail intact: 10 entries, head ${head.slice(0, 12)}\n`);
      const json = await cli('verify', { url, json: true });
      assert.deepEqual([json.code, JSON.parse(json.stdout)], [0, { ok: true, entries: 10, head }]);

      const table = await cli('list', { url, action: 'alias.set' });
      assert.equal(table.code, 0, table.stderr);
      const lines = table.stdout.trimEnd().split('\n');
      assert.match(lines[0]!, /^SEQ\s+TIME\s+ACTOR\s+ACTION\s+TARGET\s+SOURCE\s+CHANGE$/);
      assert.match(lines[1]!, /^4\s+2026-01-01T00:03:00.000Z\s+ops \(key\)\s+alias.set\s+credit-risk@production\s+10.0.0.5\s+\+ \{"version":1\}$/);
      assert.match(lines[2]!, /^10\s+.*admin \(key\)\s+alias.set\s+.*\{"version":1\} → \{"version":2\}$/);
      assert.equal(lines.length, 3);
      const listed = await cli('list', { url, target: 'ops', json: true });
      assert.deepEqual((JSON.parse(listed.stdout) as { entries: AuditEntry[] }).entries.map((e) => e.action), ['key.created', 'key.revoked']);
      const usage = await cli('list', { url, since: 'tomorrow' });
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /--since must be an ISO time/);
    });

    test('tamper: an edited entry is named', async () => {
      await chain();
      await db.updateTable('audit_entries').set({ after: '{"version":7}' }).where('seq', '=', 6).execute();
      await verifyFails({ problem: 'edited', seq: 6, message: /entry 6 was edited/ });
    });

    test('tamper: a deleted entry is named', async () => {
      await chain();
      await db.deleteFrom('audit_entries').where('seq', '=', 5).execute();
      await verifyFails({ problem: 'deleted', seq: 5, message: /entry 5 is missing \(deleted\): entry 4 is followed by entry 6/ });
    });

    test('tamper: reordered entries are named', async () => {
      await chain();
      const setSeq = (from: number, to: number) => db.updateTable('audit_entries').set({ seq: to }).where('seq', '=', from).execute();
      await setSeq(2, 99);
      await setSeq(8, 2);
      await setSeq(99, 8);
      await verifyFails({ problem: 'reordered', seq: 2, message: /entries 2 and 8 were swapped/ });
    });

    test('tamper: a deleted last entry is named', async () => {
      await chain();
      await db.deleteFrom('audit_entries').where('seq', '=', 10).execute();
      await verifyFails({ problem: 'deleted', seq: 10, message: /entry 10 is missing \(deleted from the end\)/ });
    });
  });
}
