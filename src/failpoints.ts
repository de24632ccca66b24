/**
 * Failpoints for crash tests, in the manner of etcd's gofail and TiKV's fail-rs: named
 * places in the control path where a test can make the process die at once (SIGKILL, no
 * cleanup), to show that what a crash leaves behind converges on the next start. Off
 * unless ALOFT_FAILPOINTS names them (comma-separated); nothing else reads it.
 *
 * | name               | where                                                           |
 * | ---                | ---                                                             |
 * | apply.recorded     | a revision is recorded as applying, before anything starts     |
 * | apply.starting     | a new replica group is starting beside the serving one         |
 * | apply.switched     | a deployment's route has just switched to its new group        |
 * | apply.draining     | an old group is draining after the switch, not yet stopped     |
 */
const armed = new Set((process.env.ALOFT_FAILPOINTS ?? '').split(',').map((s) => s.trim()).filter(Boolean));

export type Failpoint = 'apply.recorded' | 'apply.starting' | 'apply.switched' | 'apply.draining';

/** Die here if the failpoint is armed. */
export function failpoint(name: Failpoint): void {
  if (armed.size > 0 && armed.has(name)) {
    process.stderr.write(`failpoint ${name}: killing the process\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
