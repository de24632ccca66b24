/**
 * How to start the replica program, from source (tests, `tsx`) or from the compiled
 * package: the orchestrator spawns `command` with `args` followed by the replica's flags
 * (see replica-main.ts).
 */
import { fileURLToPath } from 'node:url';

/**
 * @example
 *   const { command, args } = replicaEntry();
 *   spawn(command, [...args, '--model', path, '--name', 'm', '--version', '1'], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
 */
export function replicaEntry(): { command: string; args: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const main = fileURLToPath(new URL(fromSource ? './replica-main.ts' : './replica-main.js', import.meta.url));
  if (!fromSource) return { command: process.execPath, args: [main] };
  // Resolve tsx from this package (not the child's working directory).
  return { command: process.execPath, args: ['--import', import.meta.resolve('tsx'), main] };
}
