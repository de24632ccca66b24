import { replicaEntry } from '../../runtime/entry.js';
import { LocalOrchestrator } from './local.js';
import { exampleModelTemplates, httpProbe, runOrchestratorSuite } from './orchestrator.case.js';

runOrchestratorSuite('local', {
  ...exampleModelTemplates(),
  make: () => new LocalOrchestrator({ entry: replicaEntry(), backoff: { baseMs: 20, maxMs: 200, resetAfterMs: 60_000 }, stopGraceMs: 5000 }),
  kill(_o, status) {
    process.kill(status.pid!, 'SIGKILL');
  },
  probe: (_o, status) => httpProbe(status),
  handle: (_o, status) => status.pid,
  isGone(pid) {
    try {
      process.kill(pid as number, 0);
      return false;
    } catch {
      return true;
    }
  },
});
