/**
 * Issue 3: TLS from certificate files, reloaded (SIGHUP → reloadTls) without dropping
 * open connections.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client } from 'undici';
import { startProject } from '../helpers/project.js';

function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=localhost-${name}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

async function get(client: Client, path: string): Promise<number> {
  const res = await client.request({ method: 'GET', path });
  await res.body.dump();
  return res.statusCode;
}

test('HTTPS with a certificate from files; a reload swaps it for new connections and keeps open ones', async () => {
  const q = await startProject({ replicas: 1, yaml: 'security: { tls: { cert: ./server.crt, key: ./server.key } }', files: await certFiles() });
  try {
    assert.match(q.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const a = selfSigned(q.dir, 'a');
    const b = selfSigned(q.dir, 'b');
    await copyFile(a.cert, join(q.dir, 'server.crt'));
    await copyFile(a.key, join(q.dir, 'server.key'));
    await q.aloft.reloadTls();
    const caA = await readFile(a.cert);
    const caB = await readFile(b.cert);

    const old = new Client(q.url, { connect: { ca: caA }, pipelining: 1 });
    assert.equal(await get(old, '/v2/health/live'), 200);

    await copyFile(b.cert, join(q.dir, 'server.crt'));
    await copyFile(b.key, join(q.dir, 'server.key'));
    await q.aloft.reloadTls();

    const fresh = new Client(q.url, { connect: { ca: caB } });
    assert.equal(await get(fresh, '/v2/health/live'), 200, 'a new connection gets certificate b');
    const stale = new Client(q.url, { connect: { ca: caA } });
    await assert.rejects(get(stale, '/v2/health/live'), /self[- ]signed|certificate|unable to verify/i, 'certificate a is gone for new connections');
    assert.equal(await get(old, '/v2/health/live'), 200, 'the connection opened before the reload still works');
    await Promise.all([old.close(), fresh.close(), stale.destroy()]);
  } finally {
    await q.close();
  }
});

test('a broken certificate pair is refused on reload and the old one keeps serving', async () => {
  const q = await startProject({ replicas: 1, yaml: 'security: { tls: { cert: ./server.crt, key: ./server.key } }', files: await certFiles() });
  try {
    const ca = await readFile(join(q.dir, 'server.crt'));
    const other = selfSigned(q.dir, 'other');
    await copyFile(other.key, join(q.dir, 'server.key'));
    await assert.rejects(q.aloft.reloadTls(), /not a valid pair/);
    const client = new Client(q.url, { connect: { ca } });
    assert.equal(await get(client, '/v2/health/live'), 200);
    await client.close();
  } finally {
    await q.close();
  }
});

/** A certificate and key as project files (made in a temp folder, removed after). */
async function certFiles(): Promise<Record<string, Uint8Array>> {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-certs-'));
  try {
    const s = selfSigned(dir, 'initial');
    return { 'server.crt': await readFile(s.cert), 'server.key': await readFile(s.key) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('binding a non-loopback address without TLS is refused unless --insecure', async () => {
  await assert.rejects(
    startProject({ replicas: 1, start: { host: '0.0.0.0' } }),
    (e: Error) => /refusing to start: listening on 0\.0\.0\.0 without TLS.*--insecure/.test(e.message),
  );
  const warnings: string[] = [];
  const p = await startProject({ replicas: 1, start: { host: '0.0.0.0', insecure: true, onProgress: (e) => { if (e.kind === 'warning') warnings.push(e.message); } } });
  try {
    assert.deepEqual(warnings.length, 1);
    assert.match(warnings[0]!, /^WARNING: listening on 0\.0\.0\.0 without TLS/);
  } finally {
    await p.close();
  }
});

test('server.adminPort puts the admin API on its own port, with the same authentication', async () => {
  const p = await startProject({ replicas: 1, yaml: 'server: { adminPort: 0 }' });
  try {
    assert.notEqual(p.aloft.adminUrl, p.url);
    const { request } = await import('undici');
    // The gateway no longer serves /api.
    const onGateway = await request(`${p.url}/api/v1/models`);
    assert.equal(onGateway.statusCode, 404);
    await onGateway.body.dump();
    const anonymous = await request(`${p.aloft.adminUrl}/api/v1/models`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(anonymous.statusCode, 401);
    await anonymous.body.dump();
    const admin = await request(`${p.aloft.adminUrl}/api/v1/models`, { headers: p.headers });
    assert.equal(admin.statusCode, 200);
    assert.deepEqual(((await admin.body.json()) as { models: { name: string }[] }).models.map((m) => m.name), ['credit-risk']);
    // Inference stays on the gateway.
    const infer = await request(`${p.aloft.adminUrl}/v2/models/credit-risk`, { headers: p.headers });
    assert.equal(infer.statusCode, 404);
    await infer.body.dump();
  } finally {
    await p.close();
  }
});
