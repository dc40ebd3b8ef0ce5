/**
 * Faults injected into a gateway process from outside, for the chaos run and the scenario tests
 * (never loaded by the product). Preload it with
 *   NODE_OPTIONS="--import=<abs path>/chaos/faults/process-faults.mjs" GATEHOUSE_FAULT_FILE=<file>
 * and write JSON to the file at any time; it is re-read every 100 ms:
 *   { "skewMs": -60000 }                       the process's wall clock (Date) runs this far off
 *   { "loopStallMs": 3000, "loopRunMs": 50 }   the main event loop is blocked loopStallMs, runs
 *                                              loopRunMs, blocked again... (a starved node: its
 *                                              event loop lags by seconds; worker threads run on)
 * Both can be combined; {} or a missing file means no fault. The skew applies to every thread
 * (a host whose clock is off), the stall only to the main thread (an overloaded event loop).
 * This stands in for libfaketime (the same effect on Date.now / new Date(), without a native
 * preload) and for a CPU quota (Atomics.wait blocks the loop without burning the other core).
 */
import { readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const file = process.env.GATEHOUSE_FAULT_FILE;
if (file) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  let fault = {};
  let skewMs = 0;

  class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(realNow() + skewMs);
      else super(...args);
    }
    static now() {
      return realNow() + skewMs;
    }
  }
  globalThis.Date = SkewedDate;

  const read = () => {
    try {
      fault = JSON.parse(readFileSync(file, 'utf8') || '{}');
    } catch {
      fault = {};
    }
    skewMs = Number(fault.skewMs) || 0;
  };
  read();
  setInterval(read, 100).unref();

  if (isMainThread) {
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const stallLoop = () => {
      const stall = Number(fault.loopStallMs) || 0;
      if (stall > 0) Atomics.wait(sleeper, 0, 0, stall);
      setTimeout(stallLoop, stall > 0 ? Number(fault.loopRunMs) || 0 : 100).unref();
    };
    setTimeout(stallLoop, 100).unref();
  }
}
