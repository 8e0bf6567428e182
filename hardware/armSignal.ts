/**
 * Arming a process signal from the first moments of the process, without loading rxjs or rpio
 * (the CLI imports this before anything else; see pipelines/earlySignal.ts).
 */

/** Where process signals come from (`process`, or a test's emitter). */
export interface SignalEmitter {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  removeListener(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

/** A signal listener installed early, which replays a signal received before anyone listened. */
export interface ArmedSignal extends SignalEmitter {
  /** Whether the signal has arrived since arming. */
  readonly received: boolean;
  /** Removes the early listener (node's default action for the signal applies again). */
  disarm(): void;
}

/**
 * Starts listening for `signal` now, before the session that will watch it exists: a session
 * loads its modules, takes its locks and warms up for seconds before it subscribes to its kill
 * switch, and node's default for SIGUSR2 is to terminate — a press in that window would kill the
 * process with no cancel, flatten or audit. Armed, the process never dies of the signal; the
 * first one is remembered, and a listener added later through the returned emitter (the signal
 * kill switch's) is called with it at once, so the session starts in Emergency.
 *
 * @example
 * const armed = armSignal('SIGUSR2');            // first thing the CLI does
 * const kill$ = makeSignalKillSwitchSource({ emitter: armed });
 *
 * @param signal the signal (default SIGUSR2); @param emitter default `process`.
 */
export function armSignal(signal: NodeJS.Signals = 'SIGUSR2', emitter: SignalEmitter = process): ArmedSignal {
  const listeners = new Set<(signal: NodeJS.Signals) => void>();
  let received = false;
  const onSignal = (): void => {
    received = true;
    for (const listener of [...listeners]) listener(signal);
  };
  emitter.on(signal, onSignal);
  return {
    get received() {
      return received;
    },
    on(event, listener) {
      if (event !== signal) return emitter.on(event, listener);
      listeners.add(listener);
      if (received) listener(signal);
      return this;
    },
    removeListener(event, listener) {
      if (event !== signal) return emitter.removeListener(event, listener);
      listeners.delete(listener);
      return this;
    },
    disarm() {
      listeners.clear();
      emitter.removeListener(signal, onSignal);
    },
  };
}
