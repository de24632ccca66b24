/**
 * Issue 17: defects found by a hostile probe, each reproduced as the attacker did it and
 * then shown fixed. Items 1 and 6 (request bodies) are here, on every front: the wire front
 * (plain requests read off the socket), the node front (requests node:http parsed) and
 * Fastify's infer routes (a percent-encoded name), against gateways assembled with real
 * key authentication over SQLite, over real sockets. The other items have their tests
 * beside the code they fix (named "issue 17.N").
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { BodyBudget } from '../../src/gateway/body-budget.js';
import { createGateway, type Gateway } from '../../src/gateway/server.js';
import { KeyRepository } from '../../src/store/keys.js';
import { testDialects, type TestDatabase } from '../../src/store/testing/databases.js';
import { keyStore, type KeyStore } from '../helpers/key-store.js';
import { stubRoutes } from '../helpers/stub-routes.js';

const BODY_LIMIT = 32 * 1024 * 1024;
const MEMORY = 1024 * 1024;
const BODY_TIMEOUT = 60_000;
const DEADLINE = 30_000; // stubRoutes' timeout
const PATIENT = 120_000; // the 'patient' deployment's timeout, longer than the body timeout

/** A valid JSON infer body padded with spaces to exactly `size` bytes. */
function paddedBody(size: number): Buffer {
  const json = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });
  return Buffer.concat([Buffer.from(json), Buffer.alloc(size - json.length, ' ')]);
}

/** An open connection that collects every byte answered. */
class Conn {
  readonly sock: Socket;
  text = '';
  closed = false;
  readonly #waiters: (() => void)[] = [];

  constructor(url: string) {
    const u = new URL(url);
    this.sock = connect(Number(u.port), u.hostname);
    this.sock.on('data', (d) => { this.text += d.toString('latin1'); this.#wake(); });
    this.sock.on('close', () => { this.closed = true; this.#wake(); });
    this.sock.on('error', () => undefined);
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  write(b: string | Buffer): Promise<void> {
    return new Promise((resolve) => this.sock.write(b, () => resolve()));
  }

  /** Resolves once `pred` holds (checked on every byte and on close); fails after 10 s. */
  async until(pred: () => boolean, what: string): Promise<void> {
    const end = Date.now() + 10_000;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.text.slice(0, 300))}`);
      await new Promise<void>((r) => { this.#waiters.push(r); setTimeout(r, 50); });
    }
  }

  /** The first complete answer's status line and headers, once it has arrived. */
  async answer(): Promise<string> {
    await this.until(() => this.text.includes('\r\n\r\n'), 'an answer');
    return this.text;
  }

  close(): void {
    this.sock.destroy();
  }
}

const head = (path: string, length: number | 'chunked', auth?: string) =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\n${auth ? `Authorization: Bearer ${auth}\r\n` : ''}${length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`}\r\n\r\n`;

describe('issue 17: request bodies on every front', () => {
  const clock = new ManualClock(0, Date.UTC(2026, 0, 1));
  let ks: KeyStore;
  let admin = '';
  const gateways: Gateway[] = [];
  /** front name → its gateway, base URL, infer path (of a deployment) and body budget */
  const fronts = new Map<string, { url: string; path: (deployment?: string) => string; gateway: Gateway; budget: BodyBudget }>();

  before(async () => {
    ks = await keyStore(clock);
    admin = ks.admin;
    const plain = (d = 'credit-risk') => `/v2/models/${d}/infer`;
    // Fastify's infer routes take the names that need decoding.
    const encoded = (d = 'credit-risk') => `/v2/models/${d.replace('-', '%2D')}/infer`;
    for (const [name, wire, path] of [['wire', true, plain], ['node', false, plain], ['fastify', false, encoded]] as const) {
      const authenticator = await ks.authenticator();
      const budget = new BodyBudget(MEMORY);
      const routes = stubRoutes(['credit-risk', 'patient-model']);
      routes.routes.deployments.find((d) => d.name === 'patient-model')!.timeoutMs = PATIENT;
      const gateway = createGateway({
        ...routes, bodyLimit: BODY_LIMIT, bodyTimeoutMs: BODY_TIMEOUT, budget, clock, wire,
        info: { name: 'aloft', version: 'test', extensions: [] },
        auth: { authenticator, policy: { enabled: true, isPublic: () => false } },
      });
      gateways.push(gateway);
      fronts.set(name, { url: await gateway.app.listen({ host: '127.0.0.1', port: 0 }), path, gateway, budget });
    }
  });

  after(async () => {
    for (const g of gateways) await g.app.close();
    await ks?.close();
  });

  for (const front of ['wire', 'node', 'fastify']) {
    test(`17.1 (${front} front): a request without access is refused from its head, before its body is sent, and holds no body memory`, async () => {
      const { url, path, gateway, budget } = fronts.get(front)!;
      const served = gateway.wireStats()?.served ?? 0;
      for (const auth of [undefined, `aloft_${'0'.repeat(12)}_${'A'.repeat(43)}`]) {
        // The head announces 31 MiB; only 1 KiB follows, and the answer must come anyway.
        const c = new Conn(url);
        await c.write(head(path(), 31 * 1024 * 1024, auth) + 'x'.repeat(1024));
        assert.match(await c.answer(), /^HTTP\/1\.1 401 Unauthorized\r\n/);
        // The rest of the body is dropped as it arrives, never held.
        await c.write(Buffer.alloc(4 * 1024 * 1024, 'x'));
        assert.equal(budget.used, 0);
        c.close();
      }
      assert.equal(budget.peak, 0, 'no refused request ever reserved body memory');
      if (front === 'wire') assert.equal(gateway.wireStats()!.served - served, 2, 'the wire front answered both itself');
      // The gateway keeps serving.
      const ok = new Conn(url);
      const body = paddedBody(100);
      await ok.write(head(path(), body.length, admin));
      await ok.write(body);
      assert.match(await ok.answer(), /^HTTP\/1\.1 200 OK\r\n/);
      ok.close();
    });

    test(`17.1 (${front} front): body memory is capped across connections; past the cap, 503 with Retry-After`, async () => {
      const { url, path, budget } = fronts.get(front)!;
      const size = 600 * 1024; // two do not fit in 1 MiB
      const body = paddedBody(size);
      const a = new Conn(url);
      await a.write(head(path(), size, admin) + body.subarray(0, 10).toString('latin1'));
      await a.until(() => budget.used === size, 'the first request to reserve its body');
      const b = new Conn(url);
      await b.write(head(path(), size, admin) + body.subarray(0, 10).toString('latin1'));
      const refused = await b.answer();
      assert.match(refused, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
      assert.match(refused, /\r\nretry-after: 1\r\n/i);
      assert.match(refused, /server\.bodyMemory/);
      assert.equal(budget.used, size, 'the refused request holds nothing');
      // The first one completes, and gives its memory back.
      await a.write(body.subarray(10));
      assert.match(await a.answer(), /^HTTP\/1\.1 200 OK\r\n/);
      await a.until(() => budget.used === 0, 'the reservation to be released');
      a.close();
      b.close();
    });

    test(`17.6 (${front} front): the deadline counts from arrival, so a body still arriving at it gets 504 and the connection closes`, async () => {
      const { url, path, budget } = fronts.get(front)!;
      const c = new Conn(url);
      await c.write(head(path(), 1000, admin) + '{"inputs":');
      await c.until(() => budget.used === 1000, 'the body read to start');
      clock.advance(DEADLINE - 1);
      await new Promise((r) => setImmediate(r));
      assert.equal(c.text, '', 'nothing is answered before the deadline');
      clock.advance(1);
      assert.match(await c.answer(), /^HTTP\/1\.1 504 Gateway Timeout\r\n[^]*\r\nconnection: close\r\n[^]*had not arrived by the request's deadline/i);
      await c.until(() => c.closed, 'the connection to close');
      assert.equal(budget.used, 0, 'the body memory is released');
    });

    test(`17.6 (${front} front): a body that does not arrive within server.bodyTimeout gets 408 and the connection closes`, async () => {
      const { url, path, budget } = fronts.get(front)!;
      const c = new Conn(url);
      await c.write(head(path('patient-model'), 1000, admin) + '{"inputs":');
      await c.until(() => budget.used === 1000, 'the body read to start');
      clock.advance(BODY_TIMEOUT);
      assert.match(await c.answer(), /^HTTP\/1\.1 408 Request Timeout\r\n[^]*\r\nconnection: close\r\n[^]*server\.bodyTimeout/i);
      await c.until(() => c.closed, 'the connection to close');
      assert.equal(budget.used, 0);
    });
  }
});

describe('issue 17.2: a change and its audit entry commit together, whatever the moment of a crash', async () => {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const { CREDIT_RISK_MODEL } = await import('../helpers/project.js');
  const { AuditLog } = await import('../../src/security/audit.js');
  const { ArtifactStore } = await import('../../src/registry/artifacts.js');
  const { Registry } = await import('../../src/registry/registry.js');
  const { join } = await import('node:path');
  const child = fileURLToPath(new URL('../helpers/audited-change.ts', import.meta.url));

  /** Runs the child; resolves with the signal that ended it (or null on a clean exit). */
  const run = (db: TestDatabase, change: string, kill: string) => new Promise<NodeJS.Signals | null>((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, db.url, db.stateDir, change, kill, CREDIT_RISK_MODEL], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('exit', (code, signal) => (code === 0 || signal ? resolve(signal) : reject(new Error(`child failed (${code}): ${err}`))));
  });

  for (const dialect of await testDialects()) {
    test(`${dialect.name}: SIGKILL between the change and its entry, or before the commit, leaves neither; a commit leaves both`, { skip: dialect.skip }, async () => {
      const db = await dialect.create();
      try {
        const state = async () => {
          const store = await db.open();
          try {
            const audit = new AuditLog(store);
            const registry = new Registry(store, new ArtifactStore(join(db.stateDir, 'artifacts')));
            const versions = await registry.listVersions('m').catch(() => []);
            const keys = (await new KeyRepository(store).listActive()).map((k) => k.name);
            const entries = (await audit.list({ action: 'test.*' })).map((e) => `${e.action} ${e.target}`);
            return { versions: versions.map((v) => `${v.version}:${v.aliases.join(',')}`), keys, entries, verify: (await audit.verify()).ok };
          } finally {
            await store.close();
          }
        };
        for (const change of ['register', 'alias', 'key']) {
          for (const kill of ['before-audit', 'after-audit']) {
            const before = await state();
            assert.equal(await run(db, change, kill), 'SIGKILL', `${change}/${kill}: the child died at the kill point`);
            assert.deepEqual(await state(), before, `${change}/${kill}: nothing of the change or its entry remains`);
          }
          assert.equal(await run(db, change, 'none'), null);
        }
        assert.deepEqual(await state(), {
          versions: ['1:production'], keys: ['ops'], entries: ['test.register m@1', 'test.alias m@production', 'test.key ops'], verify: true,
        });
      } finally {
        await db.cleanup();
      }
    });
  }
});
