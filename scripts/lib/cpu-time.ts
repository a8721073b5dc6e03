import { readFileSync } from 'node:fs';

/**
 * CPU seconds (user + system) a process, or one of its threads, has used so far, from /proc (Linux).
 * A thread's figure counts only that thread: in bench:gateway the servers' event loop, not the load
 * generator's worker thread. CPU time, unlike throughput, hardly moves with what else the machine runs.
 */
export function cpuSeconds(pid: number, tid?: number): number {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
}
