/**
 * Imported first by the CLI, before any other module loads (ccxt, tulind and brain.js take
 * seconds on a busy machine): for the session commands SIGUSR2 is armed from the process's first
 * moments, so a kill-switch press during start-up is latched — the session then starts in
 * Emergency — instead of node's default action for the signal, which terminates the process with
 * no cancel, flatten or audit.
 */
import { armSignal, type ArmedSignal } from '../hardware/armSignal';

export const earlySignal: ArmedSignal | undefined =
  process.argv[2] === 'paper' || process.argv[2] === 'live' ? armSignal('SIGUSR2') : undefined;
