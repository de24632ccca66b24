import { connect, type ClientOptions } from '../client.js';
import { printJson, printTable } from '../output.js';

/** `aloft status`: deployments, versions and replicas of the running system. */
export async function status(opts: ClientOptions & { json?: boolean }): Promise<void> {
  const r = await (await connect(opts)).deployments();
  if (opts.json) return printJson(r);
  const rows: string[][] = [];
  for (const d of r.deployments) {
    for (const v of d.versions) {
      const ready = v.replicas.filter((x) => x.state === 'ready').length;
      rows.push([d.name, `v${v.version}${v.version === d.currentVersion ? '*' : ''}`, v.state, `${ready}/${v.desiredReplicas}`, String(v.queued), String(v.replicas.reduce((n, x) => n + x.restarts, 0)), v.reason ?? '']);
    }
  }
  printTable(['DEPLOYMENT', 'VERSION', 'STATE', 'READY', 'QUEUED', 'RESTARTS', 'REASON'], rows);
}
