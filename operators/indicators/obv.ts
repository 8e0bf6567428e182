import { checkOptions } from './internal';
import type { OhlcvInput, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['obv']);

/**
 * On-balance volume, as Tulip's `obv.c`: starts at 0 on the first bar, then adds the volume of
 * bars that close higher and subtracts that of bars that close lower.
 *
 * ```
 * close:  1   2   2   1
 * volume: 5   3   4   2
 * obv:    0   3   3   1
 * ```
 *
 * @example
 * const obv = createObv([]);
 *
 * @param options `[]` (obv takes no options).
 */
export function createObv(options: readonly number[] = []): StreamingIndicator {
  return new Obv(checkOptions('obv', options, []));
}

class Obv implements StreamingIndicator {
  readonly name = 'obv';
  readonly outputs = OUTPUTS;
  readonly warmup = 1;
  readonly values = new Float64Array(1);
  private sum = 0;
  private prev = 0;
  private started = false;

  constructor(readonly options: readonly number[]) {}

  update(bar: OhlcvInput): boolean {
    const close = bar.close;
    if (this.started) {
      if (close > this.prev) this.sum += bar.volume;
      else if (close < this.prev) this.sum -= bar.volume;
    }
    this.started = true;
    this.prev = close;
    this.values[0] = this.sum;
    return true;
  }
}
