import { relative } from 'node:path';
import { startAloft, type ProgressEvent } from '../../aloft.js';
import { createLogger, humanLogStream } from '../../log.js';
import { shortHash } from '../output.js';
import { planSummary } from '../plan-render.js';

export interface UpOptions {
  file: string;
  port?: number;
  host?: string;
  readyTimeout: number;
  insecure?: boolean;
}

/** `aloft up`: serve in the foreground until SIGINT/SIGTERM, then drain and stop. */
export async function up(opts: UpOptions): Promise<void> {
  // Logs go to standard error: JSON lines for a collector, or read as text on a terminal (ALOFT_LOG_FORMAT=json|text overrides).
  const format = process.env.ALOFT_LOG_FORMAT ?? (process.stderr.isTTY ? 'text' : 'json');
  const logger = createLogger({ level: process.env.ALOFT_LOG_LEVEL ?? 'warn', ...(format === 'text' ? { destination: humanLogStream(process.stderr) } : {}) });
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const lastReady = new Map<string, number>();
  const onProgress = (e: ProgressEvent) => {
    switch (e.kind) {
      case 'registered':
        out(`${e.created ? 'registered' : 'using     '} ${e.model} v${e.version}  sha256:${shortHash(e.sha256)}  from ${e.source}`);
        break;
      case 'replicas': {
        const key = `${e.deployment}@${e.version}`;
        if (lastReady.get(key) !== e.ready) {
          lastReady.set(key, e.ready);
          out(`replicas   ${e.deployment} v${e.version}  ${e.ready}/${e.desired} ready`);
        }
        break;
      }
      case 'replica-failed':
        out(`failed     ${e.id}: ${e.error}`);
        break;
      case 'listening':
        out(`listening  ${e.url}  (not ready until replicas are)`);
        if (e.adminUrl !== e.url) out(`admin API  ${e.adminUrl}/api/v1`);
        break;
      case 'admin-key':
        if (e.created) out(`admin key  written to ${relative(process.cwd(), e.file) || e.file} (mode 0600); the CLI reads it from there`);
        else out(`admin key  ${relative(process.cwd(), e.file) || e.file}`);
        break;
      case 'warning':
        process.stderr.write(`${e.message}\n`);
        break;
      case 'revision':
        // A start that replaces the revision that ran says so: the file won over what was applied since.
        if (e.recorded) out(`revision   ${e.revision} recorded${e.plan.current === null ? '' : `: this file differs from revision ${e.plan.current}, which ran before (${planSummary(e.plan)}); 'aloft revisions show ${e.revision}' has the diff`}`);
        else if (e.held) out(`revision   ${e.revision} runs; this file was not applied (below)`);
        else if (!e.joined && e.plan.changes) out(`revision   ${e.revision} runs first; this file's new version is rolled out as declared once it has converged`);
        else if (!e.joined) out(`revision   ${e.revision} (this file, as it ran before)`);
        break;
    }
  };
  out(`loading    ${opts.file}`);
  const aloft = await startAloft({
    spec: opts.file, logger, onProgress, insecure: opts.insecure === true,
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.host !== undefined ? { host: opts.host } : {}),
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      out(`${signal} again: exiting without draining`);
      process.exit(130);
    }
    stopping = true;
    out(`${signal}: draining in-flight requests, then stopping replicas`);
    void aloft.close().then(() => {
      out('stopped');
      process.exit(0);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => {
    aloft.reloadTls().then(
      () => out('SIGHUP: TLS certificate reloaded'),
      (err: Error) => process.stderr.write(`SIGHUP: TLS reload failed, keeping the old certificate: ${err.message}\n`),
    );
  });
  try {
    await aloft.waitReady(opts.readyTimeout);
  } catch (err) {
    await aloft.close();
    throw err;
  }
  const first = aloft.deployments[0];
  // The counts that run: a range the autoscaler moved (restored after a restart) is not at its initial count.
  const running = new Map((await aloft.control.status()).deployments.map((d) => [d.name, d.desired]));
  out(`ready      serving ${aloft.deployments.map((d) => {
    const n = running.get(d.name) ?? d.spec.replicas.initial;
    return `${d.name} (v${d.version}, ${n} replica${n === 1 ? '' : 's'})`;
  }).join(', ')} on ${aloft.url}`);
  if (first) {
    const spec = relative(process.cwd(), aloft.spec.file) || aloft.spec.file;
    const key = aloft.adminKey.file ? `$(cat ${relative(process.cwd(), aloft.adminKey.file) || aloft.adminKey.file})` : '$ALOFT_ADMIN_KEY';
    // An admin key that exists in the database already (another gateway on it made it, or an earlier state folder) was not written here.
    if (!aloft.adminKey.file && aloft.adminKey.source === 'existing') out(`keys       the state database has its admin key already (not written to this state folder): use it, or a key from 'aloft keys create' through any gateway, as --key or ALOFT_KEY`);
    out(`try        curl -s -H "Authorization: Bearer ${key}" ${aloft.url}/v2/models/${first.name}`);
    // The rows shorthand is for a model with one input; with several, the hint is a full request naming each.
    const inputs = first.signature.inputs;
    const data = inputs.length === 1 ? '[[...]]'
      : `{"inputs": [${inputs.map((i) => `{"name": "${i.name}", "datatype": "${i.datatype}", "shape": [1, ...], "data": [...]}`).join(', ')}]}`;
    out(`           aloft predict ${first.name} -f ${spec} --data '${data}'`);
    out(`           aloft keys create --name app --role predictor -f ${spec}   (a key for your application)`);
  }
  out('stop       Ctrl-C');
  await new Promise<never>(() => undefined);
}
