/**
 * The `aloft` command: a thin shell over the programmatic API and the admin API.
 * Startup and command errors are caught here, printed as one clear line, and set the
 * exit code.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isAloftError } from '../errors.js';
import { VERSION } from '../version.js';
import { parseDuration } from '../spec/units.js';
import type * as InitModule from './commands/init.js';
import type * as AuditModule from './commands/audit.js';
import type * as ControlModule from './commands/control.js';
import type * as RolloutModule from './commands/rollout.js';
import type * as CaptureModule from './commands/capture.js';
import type * as MonitorModule from './commands/monitor.js';
import type * as AlertsModule from './commands/alerts.js';
import type * as SilenceModule from './commands/silence.js';
import type * as CostModule from './commands/cost.js';
import type * as RecommendModule from './commands/recommend.js';
import type * as KeysModule from './commands/keys.js';
import type * as ModelsModule from './commands/models.js';
import type * as PredictModule from './commands/predict.js';
import type * as StatusModule from './commands/status.js';
import type * as UpModule from './commands/up.js';
import type * as ValidateModule from './commands/validate.js';

/** A command module's functions, each loading the module on its first call. */
type Lazy<M> = { [K in keyof M]: M[K] extends (...a: infer A) => infer R ? (...a: A) => Promise<Awaited<R>> : never };

/**
 * A command's module, loaded when the command runs: `aloft status` or `aloft --help` does
 * not load what `aloft up` needs (the server, its HTTP framework, metrics, ONNX Runtime's
 * bindings), so each command starts in a fraction of the time.
 */
function lazy<M extends object>(load: () => Promise<M>): Lazy<M> {
  let loaded: Promise<M> | undefined;
  return new Proxy({} as Lazy<M>, {
    get: (_target, name) => async (...args: unknown[]) => {
      const m = (await (loaded ??= load())) as unknown as Record<string | symbol, (...a: unknown[]) => unknown>;
      return m[name]!(...args);
    },
  });
}

const { init } = lazy<typeof InitModule>(() => import('./commands/init.js'));
const audit = lazy<typeof AuditModule>(() => import('./commands/audit.js'));
const control = lazy<typeof ControlModule>(() => import('./commands/control.js'));
const rollout = lazy<typeof RolloutModule>(() => import('./commands/rollout.js'));
const { exportCapture } = lazy<typeof CaptureModule>(() => import('./commands/capture.js'));
const { monitor } = lazy<typeof MonitorModule>(() => import('./commands/monitor.js'));
const { alerts } = lazy<typeof AlertsModule>(() => import('./commands/alerts.js'));
const silence = lazy<typeof SilenceModule>(() => import('./commands/silence.js'));
const { cost } = lazy<typeof CostModule>(() => import('./commands/cost.js'));
const { recommend } = lazy<typeof RecommendModule>(() => import('./commands/recommend.js'));
const keys = lazy<typeof KeysModule>(() => import('./commands/keys.js'));
const models = lazy<typeof ModelsModule>(() => import('./commands/models.js'));
const { predict } = lazy<typeof PredictModule>(() => import('./commands/predict.js'));
const { status } = lazy<typeof StatusModule>(() => import('./commands/status.js'));
const { up } = lazy<typeof UpModule>(() => import('./commands/up.js'));
const { validate } = lazy<typeof ValidateModule>(() => import('./commands/validate.js'));

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number 0-65535');
  return n;
}

/** A number above 0, checked as commander parses it (a usage error, exit 2); kept as written. */
function positive(value: string): string {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`must be a number above 0, got '${value}'`);
  return value;
}

/** recommend's --duration: 100 ms to 30 s ('1500', '1.5s', '500ms'; a bare number is milliseconds), as a number of ms. */
function durationMs(value: string): string {
  const ms = /^\d+(\.\d+)?$/.test(value) ? Number(value) : parseDuration(value);
  if (ms === undefined || !(ms > 0)) throw new InvalidArgumentError(`must be a duration above 0 (e.g. 1500, 1.5s, 500ms), got '${value}'`);
  // The planner measures each candidate for 100 ms to 30 s (the server says the same; here it is a usage error, exit 2).
  if (ms < 100 || ms > 30_000) throw new InvalidArgumentError(`must be from 100ms to 30s per configuration, got '${value}'`);
  return String(ms);
}

const urlOption = () => new Option('--url <url>', 'base URL of a running Aloft (env ALOFT_URL; default: the spec\'s server address, else http://127.0.0.1:8080)');
const fileOption = () => new Option('-f, --file <file>', 'spec file').default('aloft.yaml');
const keyOption = () => new Option('--key <key>', 'API key or JWT (env ALOFT_KEY; default: the admin key file in the spec\'s state folder)');

/** A command that talks to a running Aloft: --url, --key, -f (for defaults) and --json. */
function client(cmd: Command): Command {
  return cmd.addOption(urlOption()).addOption(keyOption()).addOption(new Option('-f, --file <file>', 'spec file, for the default URL and the admin key file').default(undefined)).option('--json', 'machine-readable output');
}
const collect = (v: string, prev: string[] = []) => [...prev, v];

export function buildProgram(opts: { json?: boolean } = {}): Command {
  const program = new Command('aloft')
    .description('Serve ONNX models in production from one YAML file: batched, balanced, versioned inference behind the Open Inference Protocol.')
    .version(VERSION)
    // The program's own options (--version, --help) come before the command, so a command's
    // option of the same name (`predict --version 2`) is the command's, not the program's.
    .enablePositionalOptions()
    // With --json, a usage error is the same {"error", "code"} object as every other error (and no help text).
    .configureOutput(opts.json ? { outputError: (str, write) => write(`${JSON.stringify({ error: str.replace(/^error: /, '').trim(), code: 'ALOFT_USAGE' })}\n`) } : {})
    .showHelpAfterError(opts.json ? false : '(run with --help for usage)')
    .configureHelp({ sortSubcommands: false })
    // Usage errors (an unknown option, a missing argument) exit 2 like ALOFT_USAGE, not commander's 1.
    .exitOverride();

  program.command('init')
    .description('create a starter project (aloft.yaml, a credit-risk model, a sample request) that runs as is')
    .argument('[dir]', 'folder to create it in', '.')
    .option('--force', 'overwrite an existing aloft.yaml')
    .action((dir: string, o: { force?: boolean }) => init({ dir, ...o }));

  program.command('validate')
    .description('check a spec file and report every problem with file:line:col')
    .addOption(fileOption())
    .option('--json', 'machine-readable output')
    .action(async (o: { file: string; json?: boolean }) => { process.exitCode = await validate(o); });

  program.command('up')
    .description('register the spec\'s models, start replicas and serve in the foreground (Ctrl-C drains, then stops)')
    .addOption(fileOption())
    .option('-p, --port <port>', 'port to serve on (default: server.port from the spec, 8080)', port)
    .option('--host <host>', 'address to bind (default: server.host from the spec, 127.0.0.1)')
    .option('--ready-timeout <ms>', 'give up if replicas are not ready within this many ms', (v) => Number(v), 120_000)
    .option('--insecure', 'allow authentication off, or a non-loopback address without TLS (prints a warning)')
    .action((o: { file: string; port?: number; host?: string; readyTimeout: number; insecure?: boolean }) => up(o));

  const m = program.command('models').description('the model registry: versions, hashes, signatures, aliases');
  client(m.command('delete').description('delete a model version (refused while the running revision uses it or an alias points at it)').argument('<name@version>', 'e.g. credit-risk@2'))
    .action((ref: string, o: Parameters<typeof models.remove>[1]) => models.remove(ref, o));
  m.command('push')
    .description('register a new version of a model from an ONNX file')
    .argument('<file>', 'the .onnx file')
    .option('-n, --name <name>', 'model name (default: the file name)')
    .option('-d, --description <text>', 'description of the model');
  client(m.commands[m.commands.length - 1]!)
    .action((file: string, o: Parameters<typeof models.push>[1]) => models.push(file, o));
  client(m.command('list').description('list registered models'))
    .action((o: Parameters<typeof models.list>[0]) => models.list(o));
  client(m.command('show').description('versions, hashes, aliases and the signature of one model').argument('<name>', 'model name'))
    .action((name: string, o: Parameters<typeof models.show>[1]) => models.show(name, o));
  m.command('alias')
    .description('point an alias (e.g. production) at a version')
    .argument('<name>', 'model name')
    .argument('<alias>', 'alias name')
    .argument('<version>', 'version number');
  client(m.commands[m.commands.length - 1]!)
    .action((name: string, a: string, v: string, o: Parameters<typeof models.alias>[3]) => models.alias(name, a, v, o));
  client(m.command('unalias').description('delete an alias (the version it pointed at stays)').argument('<name>', 'model name').argument('<alias>', 'alias name'))
    .action((name: string, a: string, o: Parameters<typeof models.unalias>[2]) => models.unalias(name, a, o));

  program.command('predict')
    .description('send an inference request to a deployment')
    .argument('<deployment>', 'deployment name')
    .requiredOption('--data <json|@file>', 'an OIP request {"inputs": [...]}, rows [[...], ...] for a single-input model, @file.json, or @- for stdin')
    .option('--version <n>', 'a specific model version');
  client(program.commands[program.commands.length - 1]!)
    .action((dep: string, o: Parameters<typeof predict>[1]) => predict(dep, o));

  const specFile = () => new Option('-f, --file <file>', 'the spec file to plan or apply').default('aloft.yaml');
  /** Like client(), but -f is the spec to send (and also gives the default URL and key file). */
  const specClient = (cmd: Command) => cmd.addOption(urlOption()).addOption(keyOption()).addOption(specFile()).option('--json', 'machine-readable output');
  specClient(program.command('plan')
    .description('show what apply would do to the running system (models to register, deployments to add, change or remove, replicas, route switches, warnings); changes nothing')
    .option('--detailed-exitcode', 'exit 2 when there are changes, 0 when there are none, 1 on error (a plan apply would refuse exits 1 with or without it)')
    .option('--format <format>', "'markdown': a reviewable document with a Mermaid diagram of the result"))
    .action(async (o: ControlModule.PlanOptions) => { process.exitCode = await control.plan(o); });
  specClient(program.command('apply')
    .description('apply a spec to the running system as a new revision, without downtime; follows it until converged (exit 1 if it fails: the previous revision keeps serving)')
    .option('-m, --message <text>', 'why: recorded with the revision and in the audit trail')
    .option('-y, --yes', 'do not ask for confirmation'))
    .action(async (o: ControlModule.ApplyOptions) => { process.exitCode = await control.apply(o); });
  client(program.command('rollback')
    .description('restore an earlier revision exactly (by model hash, not the files on disk now), as a new revision; instant: each deployment switches back once its replicas are warm, with no rollout phase')
    .option('--to <n>', 'the revision to restore (default: the applied one before the current)')
    .option('-m, --message <text>', 'why: recorded with the revision')
    .option('--dry-run', 'show which revision it would restore and its plan; change nothing')
    .option('-y, --yes', 'do not ask for confirmation'))
    .action(async (o: Parameters<typeof control.rollback>[0]) => { process.exitCode = await control.rollback(o); });
  const rv = program.command('revisions').description('the history of applied specs: who changed what, when, why, and how it ended');
  client(rv.command('list').description('revisions, newest first').option('--limit <n>', 'most revisions (default 100)'))
    .action((o: Parameters<typeof control.revisionsList>[0]) => control.revisionsList(o));
  client(rv.command('show').description('one revision: versions, diff, outcome and spec').argument('<n>', 'revision number'))
    .action((n: string, o: Parameters<typeof control.revisionsShow>[1]) => control.revisionsShow(n, o));

  client(program.command('monitor').description('a deployment\'s capture and feedback counts, its quality per version over the last 1h, 24h and 7d from the labels sent so far, drift per feature (checked now), each SLO\'s budget left and burn rates, and its open alerts').argument('<deployment>', 'deployment name'))
    .action((d: string, o: Parameters<typeof monitor>[1]) => monitor(d, o));
  client(program.command('alerts').description('pending and firing alerts (drift, SLO burn, replica crash loops, capture drops) and the delivery of their notifications')
    .option('--deployment <name>', 'only this deployment\'s')
    .option('--all', 'also recently resolved alerts and every delivery'))
    .action((o: Parameters<typeof alerts>[0]) => alerts(o));
  const si = program.command('silence').description('hold alerts back from notifications for a while (a planned retraining, maintenance): add, list, expire (admin or operator)');
  client(si.command('add').description('silence the alerts whose labels have every --match, for --for or until --until; they still show in aloft alerts, marked silenced')
    .option('--match <label=value>', 'a label the alerts must have, e.g. deployment=credit-risk, alertname=DataDrift (repeatable; at least one)', collect)
    .option('--for <duration>', 'how long, e.g. 2h, 90m, 3d (at most 30d)')
    .option('--until <time>', 'or until this ISO time')
    .option('--from <time>', 'start at this ISO time instead of now (a maintenance window later today)')
    .option('--comment <text>', 'why (required; shown with the silence)'))
    .action((o: Parameters<typeof silence.add>[0]) => silence.add(o));
  client(si.command('list').description('silences in force, pending and ended in the last week'))
    .action((o: Parameters<typeof silence.list>[0]) => silence.list(o));
  client(si.command('expire').description('end a silence now').argument('<id>', 'the silence\'s id (aloft silence list), or a unique start of it (at least 4 characters)'))
    .action((id: string, o: Parameters<typeof silence.expire>[1]) => silence.expire(id, o));
  client(program.command('cost').description('what serving costs: spend, cost per 1,000 predictions, efficiency (used ÷ reserved) and idle findings, from the meters (cost.prices or cost.instance price them)')
    .option('--by <group>', 'deployment, version or label', 'deployment')
    .option('--since <duration>', 'how far back, e.g. 30d, 24h', '30d'))
    .action((o: Parameters<typeof cost>[0]) => cost(o));
  client(program.command('recommend').description('measure a deployment\'s model on temporary replicas across configurations (isolation, threads, batch size) and price each at a target rate: the cheapest meeting the p99 target, with its spec fragment; exits 1 when none meets it, showing the closest (admin or operator)').argument('<deployment>', 'deployment name')
    .option('--rps <n>', 'target requests per second', positive, '100')
    .option('--p99 <ms>', 'target p99 latency in ms', positive, '100')
    .option('--duration <duration>', 'measurement per configuration, e.g. 1.5s, 800ms (a bare number is ms)', durationMs, '1500'))
    .action((d: string, o: Parameters<typeof recommend>[1]) => recommend(d, o));
  const cap = program.command('capture').description('captured predictions (deployments.<name>.capture)');
  client(cap.command('export').description('write a deployment\'s captured predictions, decrypted (admin only), to standard output, each with the label feedback gave it (a label field; a label column in CSV); redacted features stay absent, hashed ones hashed').argument('<deployment>', 'deployment name')
    .option('--since <duration>', 'how far back, e.g. 24h, 30m, 7d', '24h')
    .option('--format <format>', 'jsonl (one record per line) or csv (one line per input row)', 'jsonl'))
    .action((d: string, o: Parameters<typeof exportCapture>[1]) => exportCapture(d, o));

  const ro = program.command('rollout').description('rollouts (canary, blueGreen, abTest, shadow): status, and promote, abort, pause or resume one that runs (operator or admin)');
  client(ro.command('status').description('strategy, step, weight, each check\'s verdict and numbers; exit 1 if it was rolled back').argument('<deployment>', 'deployment name')
    .option('--watch', 'follow it until it is promoted or rolled back'))
    .action(async (d: string, o: Parameters<typeof rollout.status>[1]) => { process.exitCode = await rollout.status(d, o); });
  for (const [name, what] of [['promote', 'send all traffic to the new version now'], ['abort', 'roll back now; the apply ends rolled back'], ['pause', 'hold at the current weight'], ['resume', 'go on with a paused rollout']] as const) {
    client(ro.command(name).description(what).argument('<deployment>', 'deployment name'))
      .action((d: string, o: Parameters<typeof rollout.command>[2]) => rollout.command(name, d, o));
  }

  client(program.command('gc').description('delete stored model files that no version references').option('--dry-run', 'only list what would be removed'))
    .action((o: Parameters<typeof models.gc>[0]) => models.gc(o));

  client(program.command('status').description('the current revision, whether the system has converged, and deployments, versions and replicas'))
    .action((o: Parameters<typeof status>[0]) => status(o));

  const k = program.command('keys').description('API keys: create (shown once), list, revoke (admin role)');
  client(k.command('create').description('create an API key; it is printed once and stored only as a hash')
    .requiredOption('--name <name>', 'a unique name for the key')
    .requiredOption('--role <role>', 'admin, operator, predictor or viewer')
    .option('--scope <glob>', 'deployment or model names the key may use (repeatable; default all)', collect)
    .option('--expires <duration>', 'lifetime, e.g. 30d, 12h (default: never)')
    .option('--rate <n>', "the key's own rate limit in requests per second, instead of limits.perKey (default: limits.perKey)")
    .option('--burst <n>', 'requests allowed at once above --rate (default: --rate rounded up)')
    .option('--daily <n>', 'most requests per UTC day (default: no quota)')
    .option('--priority <low|normal>', "'low': the key's requests are shed first when a model is overloaded (default normal)"))
    .action((o: Parameters<typeof keys.create>[0]) => keys.create(o));
  client(k.command('list').description('list keys (never their secrets)').option('--all', 'include revoked and expired keys'))
    .action((o: Parameters<typeof keys.list>[0]) => keys.list(o));
  client(k.command('revoke').description('revoke a key by name; it stops working at once').argument('<name>', 'key name'))
    .action((name: string, o: Parameters<typeof keys.revoke>[1]) => keys.revoke(name, o));

  const a = program.command('audit').description('the tamper-evident audit trail of admin actions (admin role)');
  client(a.command('list').description('list audit entries, newest last')
    .option('--action <action>', "filter by action, e.g. key.created or 'key.*'")
    .option('--actor <name>', 'filter by actor name or id')
    .option('--target <target>', 'filter by target')
    .option('--since <time>', 'ISO time or a duration back from now (24h)')
    .option('--until <time>', 'ISO time or a duration back from now')
    .option('--limit <n>', 'most entries (default 100)')
    .option('--after <seq>', 'entries after this sequence number'))
    .action((o: Parameters<typeof audit.list>[0]) => audit.list(o));
  client(a.command('verify').description('check the hash chain; exit 1 and name the entry if anything was edited, deleted or reordered'))
    .action(async (o: Parameters<typeof audit.verify>[0]) => { process.exitCode = await audit.verify(o); });

  return program;
}

/** Details fit for --json (plain data: spec issues, settings that need a restart); never a cause. */
function jsonDetails(details: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!details) return {};
  try { return JSON.parse(JSON.stringify(details)) as Record<string, unknown>; } catch { return {}; }
}

export async function main(argv: string[] = process.argv): Promise<void> {
  // `plan --detailed-exitcode` keeps 2 for "there are changes": every error is 1 there (as terraform does).
  const usageExit = argv.includes('--detailed-exitcode') ? 1 : 2;
  // A reader that closes the pipe early (`aloft status | head -1`) ends the command quietly, as it does any Unix tool.
  for (const out of [process.stdout, process.stderr]) {
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      process.exit(process.exitCode ?? 0);
    });
  }
  try {
    await buildProgram({ json: argv.includes('--json') }).parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander printed the message; help and --version are not errors.
      process.exitCode = err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : usageExit;
    } else if (isAloftError(err)) {
      // With --json a script gets the error as the API gives it: {"error", "code"} on one line.
      process.stderr.write(argv.includes('--json') ? `${JSON.stringify({ error: err.message, code: err.code, ...jsonDetails(err.details) })}\n` : `error: ${err.message}\n`);
      process.exitCode = err.code === 'ALOFT_USAGE' ? usageExit : 1;
    } else {
      process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  }
}
