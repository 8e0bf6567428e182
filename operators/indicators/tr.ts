import { checkOptions, trueRange } from './internal';
import type { OhlcvInput, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['tr']);

/**
 * True range, as Tulip's `tr.c`: `high − low` on the first bar, then
 * max(high − low, |high − prev close|, |low − prev close|).
 *
 * @example
 * const tr = createTr([]);
 *
 * @param options `[]` (tr takes no options).
 */
export function createTr(options: readonly number[] = []): StreamingIndicator {
  return new Tr(checkOptions('tr', options, []));
}

class Tr implements StreamingIndicator {
  readonly name = 'tr';
  readonly outputs = OUTPUTS;
  readonly warmup = 1;
  readonly values = new Float64Array(1);
  private prevClose = 0;
  private started = false;

  constructor(readonly options: readonly number[]) {}

  update(bar: OhlcvInput): boolean {
    this.values[0] = this.started ? trueRange(bar.high, bar.low, this.prevClose) : bar.high - bar.low;
    this.started = true;
    this.prevClose = bar.close;
    return true;
  }
}
