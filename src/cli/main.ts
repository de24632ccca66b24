/**
 * The `aloft` command: a thin shell over the programmatic API and the admin API.
 * Startup and command errors are caught here, printed as one clear line, and set the
 * exit code.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { isAloftError } from '../errors.js';
import { VERSION } from '../version.js';
import { init } from './commands/init.js';
import * as models from './commands/models.js';
import { predict } from './commands/predict.js';
import { status } from './commands/status.js';
import { up } from './commands/up.js';
import { validate } from './commands/validate.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number 0-65535');
  return n;
}

const urlOption = () => new Option('--url <url>', 'base URL of a running Aloft (env ALOFT_URL; default: the spec\'s server address, else http://127.0.0.1:8080)');
const fileOption = () => new Option('-f, --file <file>', 'spec file').default('aloft.yaml');

export function buildProgram(): Command {
  const program = new Command('aloft')
    .description('Serve ONNX models in production from one YAML file: batched, balanced, versioned inference behind the Open Inference Protocol.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false });

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
  m.command('push')
    .description('register a new version of a model from an ONNX file')
    .argument('<file>', 'the .onnx file')
    .option('-n, --name <name>', 'model name (default: the file name)')
    .option('-d, --description <text>', 'description of the model')
    .addOption(urlOption())
    .option('--json', 'machine-readable output')
    .action((file: string, o: Parameters<typeof models.push>[1]) => models.push(file, o));
  m.command('list')
    .description('list registered models')
    .addOption(urlOption())
    .option('--json', 'machine-readable output')
    .action((o: Parameters<typeof models.list>[0]) => models.list(o));
  m.command('show')
    .description('versions, hashes, aliases and the signature of one model')
    .argument('<name>', 'model name')
    .addOption(urlOption())
    .option('--json', 'machine-readable output')
    .action((name: string, o: Parameters<typeof models.show>[1]) => models.show(name, o));
  m.command('alias')
    .description('point an alias (e.g. production) at a version')
    .argument('<name>', 'model name')
    .argument('<alias>', 'alias name')
    .argument('<version>', 'version number')
    .addOption(urlOption())
    .option('--json', 'machine-readable output')
    .action((name: string, a: string, v: string, o: Parameters<typeof models.alias>[3]) => models.alias(name, a, v, o));

  program.command('predict')
    .description('send an inference request to a deployment')
    .argument('<deployment>', 'deployment name')
    .requiredOption('--data <json|@file>', 'an OIP request {"inputs": [...]}, rows [[...], ...] for a single-input model, @file.json, or @- for stdin')
    .option('--version <n>', 'a specific model version')
    .addOption(urlOption())
    .addOption(fileOption().default(undefined))
    .option('--json', 'print the raw OIP response')
    .action((dep: string, o: Parameters<typeof predict>[1]) => predict(dep, o));

  program.command('status')
    .description('deployments, versions and replicas of a running Aloft')
    .addOption(urlOption())
    .option('--json', 'machine-readable output')
    .action((o: Parameters<typeof status>[0]) => status(o));

  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (isAloftError(err)) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exitCode = err.code === 'ALOFT_USAGE' ? 2 : 1;
    } else {
      process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  }
}
