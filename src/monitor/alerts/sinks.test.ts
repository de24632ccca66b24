/** Every alert sink runs the conformance suite: the webhook against a real HTTP receiver on 127.0.0.1, the log through a real pino logger. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from '../../log.js';
import { sinkConformance } from './sinks.case.js';
import { LogSink, WebhookSink, type WebhookPayload } from './sinks.js';

sinkConformance('webhook', async () => {
  const bodies: WebhookPayload[] = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => { data += c.toString('utf8'); });
    req.on('end', () => {
      if (req.url === '/down') { res.writeHead(503).end('maintenance'); return; }
      bodies.push(JSON.parse(data) as WebhookPayload);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    sink: new WebhookSink({ url: `${base}/hook`, timeoutMs: 2000, externalURL: () => base }),
    broken: new WebhookSink({ url: `${base}/down`, timeoutMs: 2000, externalURL: () => base }),
    delivered: async () => bodies.flatMap((b) => b.alerts.map((a) => ({ fingerprint: a.fingerprint, state: a.status }))),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
});

sinkConformance('log', async () => {
  const lines: { fingerprint: string; state: string }[] = [];
  const out = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) { const j = JSON.parse(l) as { fingerprint: string; state: string }; lines.push({ fingerprint: j.fingerprint, state: j.state }); } done(); } });
  const logger = pino({ level: 'info' }, out) as unknown as Logger;
  const failing = new Writable({ write(_c, _e, done) { done(); } });
  const brokenLogger = pino({ level: 'info' }, failing) as unknown as Logger;
  // A logger that throws (a closed destination) is what "cannot deliver" means for the log.
  const broken = new LogSink({ ...brokenLogger, warn: () => { throw new Error('the log destination is closed'); }, info: () => { throw new Error('the log destination is closed'); } } as unknown as Logger);
  return { sink: new LogSink(logger), broken, delivered: async () => lines, close: async () => undefined };
});
