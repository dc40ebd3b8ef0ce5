/**
 * How much of the machine other work took while a measurement ran: the busy time of every core
 * (/proc/stat) minus the CPU of the processes of the measurement, in cores. Everything here
 * shares two cores with whatever else runs on the machine; a measurement taken while others
 * used a good part of them measures them too.
 */
import { coreBusy, processCpuUs, readCoreTimes } from '../lib/proc.ts';
import { round } from '../scenarios/context.ts';

/** Above this many cores of other work a round's verdicts are not given (n/a). */
export const OTHER_WORK_LIMIT = 0.3;

export interface OtherWork {
  /** Cores busy on average (all processes). */
  busyCores: number;
  /** ... of which not the measurement's processes. */
  otherCores: number;
}

/** Starts measuring; `pids` are the measurement's processes (this one is always counted). */
export function otherWorkMeter(pids: readonly number[]): { stop(): OtherWork } {
  const mine = [process.pid, ...pids.filter((pid) => pid > 0 && pid !== process.pid)];
  const ours = () => mine.reduce((sum, pid) => sum + (processCpuUs(pid) ?? 0), 0);
  const cores0 = readCoreTimes();
  const ours0 = ours();
  const t0 = performance.now();
  return {
    stop() {
      const wallUs = (performance.now() - t0) * 1000;
      const busyCores = coreBusy(cores0, readCoreTimes()).reduce((sum, b) => sum + b, 0);
      const oursCores = wallUs > 0 ? (ours() - ours0) / wallUs : 0;
      return { busyCores: round(busyCores, 2) ?? 0, otherCores: round(Math.max(0, busyCores - oursCores), 2) ?? 0 };
    },
  };
}
