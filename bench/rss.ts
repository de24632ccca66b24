/**
 * Memory and CPU of benchmarked processes, from /proc (Linux). Peak RSS is `VmHWM` (the high-water
 * mark of resident memory); writing `5` to `/proc/<pid>/clear_refs` resets it to the
 * current RSS, so a cell's peak can be measured on a server that outlives the cell.
 * Elsewhere (no /proc) every function answers `undefined` or `[]`.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Peak resident memory of a process in KiB (VmHWM), or undefined when unknown. */
export function peakRssKiB(pid: number): number | undefined {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readProc(pid, 'status') ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Reset a process's peak RSS to its current RSS. Returns false when the kernel refused. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** The command line of a process, arguments joined by spaces ('' when gone). */
export function commandLine(pid: number): string {
  return (readProc(pid, 'cmdline') ?? '').split('\0').join(' ').trim();
}

/** Direct children of a process: /proc/<pid>/task/<tid>/children, else a scan of /proc/<n>/stat. */
export function childPids(pid: number): number[] {
  const found = new Set<number>();
  let viaTasks = false;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readProc(pid, `task/${tid}/children`);
      if (text === undefined) continue;
      viaTasks = true;
      for (const s of text.trim().split(/\s+/)) if (s) found.add(Number(s));
    }
  } catch { /* no such process or no /proc */ }
  if (viaTasks) return [...found];
  let entries: string[];
  try { entries = readdirSync('/proc'); } catch { return []; }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProc(Number(name), 'stat');
    if (stat === undefined) continue;
    // pid (comm) state ppid ...; comm may hold spaces and parentheses
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[1]) === pid) found.add(Number(name));
  }
  return [...found];
}

/** Whether a process exists (and is not a zombie). */
export function isAlive(pid: number): boolean {
  const stat = readProc(pid, 'stat');
  if (stat === undefined) return false;
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/** CPU time (user + system) a process has used, in ms; undefined when unknown. Assumes USER_HZ = 100. */
export function cpuMs(pid: number): number | undefined {
  const stat = readProc(pid, 'stat');
  if (stat === undefined) return undefined;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // after "(comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  return (Number(f[11]) + Number(f[12])) * 10;
}

/**
 * CPU time (user + system) one thread of a process has used, in ms (USER_HZ = 100). The
 * main thread's id is the process id: for a Node server, its event loop.
 */
export function threadCpuMs(pid: number, tid: number): number | undefined {
  const stat = readProc(pid, `task/${tid}/stat`);
  if (stat === undefined) return undefined;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Aggregate CPU counters from /proc/stat (the steal share during a run, the machine's busy share during a cell). */
export function cpuCounters(): { total: number; steal: number; idle: number } | undefined {
  let text: string;
  try { text = readFileSync('/proc/stat', 'utf8'); } catch { return undefined; }
  const m = /^cpu\s+(.*)$/m.exec(text);
  if (!m) return undefined;
  const v = m[1]!.trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { total, steal: v[7] ?? 0, idle: (v[3] ?? 0) + (v[4] ?? 0) };
}
