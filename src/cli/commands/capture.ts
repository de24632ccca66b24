/**
 * `aloft capture export DEPLOYMENT [--since 24h] [--format jsonl|csv]`: a deployment's
 * captured predictions, decrypted by the server (admin only), to standard output.
 */
import { pathOf } from '../../api/routes.js';
import { fail } from '../../errors.js';
import { parseDuration } from '../../spec/units.js';
import { connect, type ClientOptions } from '../client.js';

export async function exportCapture(deployment: string, opts: ClientOptions & { since?: string; format?: string }): Promise<void> {
  const since = opts.since ?? '24h';
  if (parseDuration(since) === undefined) throw fail('ALOFT_USAGE', `--since takes a duration back from now, such as 24h, 30m or 7d; got '${since}'`);
  const format = opts.format ?? 'jsonl';
  if (format !== 'jsonl' && format !== 'csv') throw fail('ALOFT_USAGE', `--format is jsonl or csv; got '${format}'`);
  const aloft = await connect(opts);
  const r = await aloft.send('GET', `${pathOf('admin.capture.export', { name: deployment })}?${new URLSearchParams({ since, format })}`);
  if (r.status >= 400) throw aloft.failure(r);
  process.stdout.write(r.body);
}
