/**
 * What large request bodies cost the gateway's memory (issue 17.1). Starts Aloft as it
 * ships (bench/systems/aloft.ts: authentication on, the credit-risk deployment, default
 * server settings: bodyLimit 32 MiB, bodyMemory 128 MiB) and sends, each burst at once on
 * its own connections, bodies of --size (default 31 MiB):
 *
 *   1. --anonymous (16) requests without credentials,
 *   2. the same number with a wrong key,
 *   3. --authenticated (64) requests with the admin key.
 *
 * For each burst: the gateway's peak RSS during it (VmHWM, reset before the burst), its
 * RSS a second after, and the answers by status. Usage:
 *
 *   npm run build && tsx bench/body-memory.ts [--entry <another build's dist/aloft.js>] [--json]
 *
 * `--entry` measures another build the same way (e.g. a git worktree of an older commit,
 * built with `tsc -p tsconfig.build.json`). Every connection and body stays on 127.0.0.1;
 * the run is bounded (each burst waits at most 120 s) and stops its server.
 */
import { connect } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { installCleanup, stopAll } from './child.js';
import { peakRssKiB, resetPeakRss } from './rss.js';
import { aloftSystem } from './systems/aloft.js';
import { loadWorkload } from './workload.js';

const { values } = parseArgs({
  options: {
    entry: { type: 'string' }, json: { type: 'boolean', default: false },
    size: { type: 'string', default: String(31 * 1024 * 1024) },
    anonymous: { type: 'string', default: '16' }, authenticated: { type: 'string', default: '64' },
  },
});
const SIZE = Number(values.size);
const ANONYMOUS = Number(values.anonymous);
const AUTHENTICATED = Number(values.authenticated);
for (const [name, n, max] of [['--size', SIZE, 32 * 1024 * 1024 - 1024], ['--anonymous', ANONYMOUS, 256], ['--authenticated', AUTHENTICATED, 256]] as const) {
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${name} must be a whole number from 1 to ${max}, got ${n}`);
}

/** Current resident memory of a process, KiB. */
function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Sends `count` requests with `body` at once, each on its own connection; resolves with the statuses. */
function burst(url: string, path: string, body: Buffer, count: number, authorization: string | undefined): Promise<Record<string, number>> {
  const u = new URL(url);
  const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${authorization ? `Authorization: ${authorization}\r\n` : ''}Content-Length: ${body.length}\r\n\r\n`;
  const one = () => new Promise<string>((resolve) => {
    const sock = connect(Number(u.port), u.hostname);
    let text = '';
    const timer = setTimeout(() => { sock.destroy(); resolve('timeout'); }, 120_000);
    const done = (s: string) => { clearTimeout(timer); resolve(s); };
    sock.on('data', (d) => {
      text += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m) { sock.destroy(); done(m[1]!); }
    });
    sock.on('error', () => done(text.slice(9, 12) || 'reset'));
    sock.on('close', () => done(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 'closed'));
    sock.once('connect', () => { sock.write(head); sock.write(body); });
  });
  return Promise.all(Array.from({ length: count }, one)).then((codes) => {
    const out: Record<string, number> = {};
    for (const c of codes) out[c] = (out[c] ?? 0) + 1;
    return out;
  });
}

installCleanup();
const tmp = mkdtempSync(join(tmpdir(), 'aloft-body-memory-'));
try {
  const w = await loadWorkload('credit-risk', tmp);
  const system = aloftSystem(true, 'process', values.entry ? { entry: values.entry } : {});
  const server = await system.start(w, tmp);
  const path = `/v2/models/${w.name}/infer`;
  // A valid request padded with spaces to SIZE bytes (JSON allows trailing whitespace).
  const json = w.bodies.json![0]!.body;
  const body = Buffer.concat([json, Buffer.alloc(SIZE - json.length, ' ')]);
  const settle = () => new Promise((r) => setTimeout(r, 1000));
  await settle();
  const idle = rssKiB(server.pid);
  const rows: { burst: string; requests: number; peakMiB: number; afterMiB: number; answers: Record<string, number> }[] = [];
  const phases: [string, number, string | undefined][] = [
    ['no credentials', ANONYMOUS, undefined],
    ['wrong key', ANONYMOUS, `Bearer aloft_${'0'.repeat(12)}_${'A'.repeat(43)}`],
    ['admin key', AUTHENTICATED, server.headers?.authorization],
  ];
  for (const [name, count, auth] of phases) {
    resetPeakRss(server.pid);
    const answers = await burst(server.url, path, body, count, auth);
    const peak = peakRssKiB(server.pid) ?? NaN;
    await settle();
    rows.push({ burst: name, requests: count, peakMiB: Math.round(peak / 1024), afterMiB: Math.round(rssKiB(server.pid) / 1024), answers });
  }
  await server.stop();
  const result = { entry: values.entry ?? 'this checkout', sizeMiB: +(SIZE / 1048576).toFixed(1), idleMiB: Math.round(idle / 1024), rows };
  if (values.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(`gateway RSS with ${result.sizeMiB} MiB bodies (${result.entry}); idle ${result.idleMiB} MiB`);
    console.log('| burst | requests | peak RSS (MiB) | RSS 1 s after (MiB) | answers |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const r of rows) console.log(`| ${r.burst} | ${r.requests} | ${r.peakMiB} | ${r.afterMiB} | ${Object.entries(r.answers).map(([k, v]) => `${v}× ${k}`).join(', ')} |`);
  }
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}
