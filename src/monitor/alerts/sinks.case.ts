/**
 * The conformance suite every alert sink runs (sinks.test.ts): a firing and a resolved
 * notification are delivered whole (each alert, by fingerprint and state), and a sink
 * that cannot deliver rejects with an Error that says why, so alerts.ts can retry it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AlertBook } from './model.js';
import type { AlertSink } from './sinks.js';

export interface SinkHarness {
  sink: AlertSink;
  /** What reached the far side: one entry per alert delivered, in order. */
  delivered(): Promise<{ fingerprint: string; state: string }[]>;
  /** The same kind of sink, unable to deliver. */
  broken: AlertSink;
  close(): Promise<void>;
}

export function sinkConformance(kind: string, make: () => Promise<SinkHarness>): void {
  describe(`alert sink conformance: ${kind}`, () => {
    test('delivers a firing notification, then its resolve, alert by alert', async () => {
      const h = await make();
      try {
        const book = new AlertBook({ forMs: () => 0, repeatMs: () => 3_600_000 });
        const labels = (alertname: string) => ({ alertname, deployment: 'd', severity: 'page' });
        const [firing] = book.update([{ labels: labels('A'), annotations: { summary: 'a' } }, { labels: labels('B'), annotations: { summary: 'b' } }], Date.UTC(2026, 0, 1));
        await h.sink.send(firing!);
        const [resolved] = book.update([{ labels: labels('A'), annotations: { summary: 'a' } }], Date.UTC(2026, 0, 1, 0, 1));
        await h.sink.send(resolved!);
        const fp = (n: typeof firing) => n!.alerts.map((a) => ({ fingerprint: a.fingerprint, state: a.state }));
        assert.deepEqual(await h.delivered(), [...fp(firing), ...fp(resolved)]);
        assert.deepEqual(fp(resolved).map((x) => x.state), ['firing', 'resolved']);
      } finally {
        await h.close();
      }
    });

    test('a sink that cannot deliver rejects with the reason', async () => {
      const h = await make();
      try {
        const book = new AlertBook({ forMs: () => 0, repeatMs: () => 1 });
        const [n] = book.update([{ labels: { alertname: 'A', deployment: 'd' }, annotations: { summary: 'a' } }], 0);
        await assert.rejects(h.broken.send(n!), (e: unknown) => e instanceof Error && e.message.length > 0);
      } finally {
        await h.close();
      }
    });
  });
}
