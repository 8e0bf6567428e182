import { Atr } from './atr';
import { checkOptions, periodRule } from './internal';
import type { StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['natr']);

/**
 * Normalized average true range `100 · ATR / close` (percent of price), as Tulip's `natr.c`:
 * ATR with Wilder smoothing, first output after `period` bars.
 *
 * @example
 * const natr = createNatr([14]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 */
export function createNatr(options: readonly number[]): StreamingIndicator {
  return new Atr(checkOptions('natr', options, [periodRule()]), 'natr', OUTPUTS, true);
}
