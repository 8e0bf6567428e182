/**
 * The appliance's watchdog: a hung event loop (an endless loop, a blocking call that never
 * returns) stops everything a session does — orders, the kill switch's edge handler, the LEDs —
 * without the process dying, so systemd would never restart it. The main thread feeds a beat
 * from its own event loop; a worker thread, which keeps running when the main thread is stuck,
 * aborts the process when no beat arrived for `timeoutMs`. systemd's `Restart=` then restarts the
 * session, which recovers from its journal.
 *
 * This replaces `sd_notify`'s WATCHDOG=1: node cannot send on a Unix datagram socket without a
 * native module, and spawning `systemd-notify` loses messages on systemd 252 (Debian 12, Raspberry
 * Pi OS) when the short-lived sender exits before systemd reads its cgroup.
 */
import { Worker } from 'node:worker_threads';

export interface WatchdogConfig {
  /** No beat for this long (ms) aborts the process; default 30000. */
  readonly timeoutMs?: number;
  /** How often the main thread beats (ms); default timeoutMs / 6. */
  readonly beatMs?: number;
  /** The signal sent to the process; default SIGABRT (a core dump where enabled; systemd restarts). */
  readonly signal?: NodeJS.Signals;
}

export interface Watchdog {
  /** Stops watching (a clean shutdown must not look like a hang). */
  stop(): Promise<void>;
}

// The worker's code, inline so the module needs no file of its own at run time.
const WORKER = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const beats = new Int32Array(workerData.sab);
const sleep = new Int32Array(new SharedArrayBuffer(4));
let last = Atomics.load(beats, 0);
let since = Date.now();
for (;;) {
  Atomics.wait(sleep, 0, 0, workerData.checkMs);
  if (Atomics.load(beats, 1) === 1) break; // stopped
  const now = Date.now();
  const seen = Atomics.load(beats, 0);
  if (seen !== last) { last = seen; since = now; continue; }
  if (now - since >= workerData.timeoutMs) {
    writeSync(2, 'bot4 watchdog: the event loop has not run for ' + (now - since) + ' ms (limit ' + workerData.timeoutMs + ' ms): aborting with ' + workerData.signal + ' so the service manager restarts the session\\n');
    process.kill(workerData.pid, workerData.signal);
    break;
  }
}
`;

/**
 * Starts the watchdog: beats from this thread's event loop, a worker that aborts the process
 * when they stop. Neither keeps the process alive.
 *
 * @throws RangeError for a timeout or beat that is not a positive number of ms, or a beat not
 *   shorter than the timeout.
 */
export function startWatchdog(config: WatchdogConfig = {}): Watchdog {
  const timeoutMs = config.timeoutMs ?? 30_000;
  const beatMs = config.beatMs ?? Math.max(1, Math.floor(timeoutMs / 6));
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new RangeError(`watchdog.timeoutMs: expected a positive number of ms, found ${timeoutMs}`);
  }
  if (!(Number.isFinite(beatMs) && beatMs > 0 && beatMs < timeoutMs)) {
    throw new RangeError(
      `watchdog.beatMs: expected a positive number of ms below timeoutMs (${timeoutMs}), found ${beatMs}`,
    );
  }
  const sab = new SharedArrayBuffer(8); // [0] beats, [1] stopped
  const beats = new Int32Array(sab);
  const beat = setInterval(() => Atomics.add(beats, 0, 1), beatMs);
  beat.unref();
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      sab,
      timeoutMs,
      checkMs: Math.max(1, Math.min(beatMs, 1000)),
      pid: process.pid,
      signal: config.signal ?? 'SIGABRT',
    },
  });
  worker.unref();
  return {
    stop: async () => {
      clearInterval(beat);
      Atomics.store(beats, 1, 1);
      await worker.terminate();
    },
  };
}
