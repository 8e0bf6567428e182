import { Ring, checkField, checkOptions, periodRule } from './internal';
import type { OhlcvInput, PriceField, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['sma']);

/**
 * Simple moving average, as Tulip's `sma.c`: a running sum that adds the new input and then
 * subtracts the one leaving the window, times 1/period. First output after `period` bars.
 *
 * ```
 * close: 1  2  3  4        (period 3)
 * sma:   -  -  2  3
 * ```
 *
 * @example
 * const sma = createSma([20]);
 * if (sma.update(bar)) use(sma.values[0]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 * @param input Bar field feeding tulind's `real` input. Default `close`.
 */
export function createSma(options: readonly number[], input: PriceField = 'close'): StreamingIndicator {
  return new Sma(checkOptions('sma', options, [periodRule()]), checkField('sma', input));
}

class Sma implements StreamingIndicator {
  readonly name = 'sma';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(1);
  private readonly period: number;
  private readonly scale: number;
  private readonly ring: Ring;
  private sum = 0;
  private bars = 0;

  constructor(
    readonly options: readonly number[],
    private readonly field: PriceField,
  ) {
    this.period = options[0]!;
    this.scale = 1.0 / this.period;
    this.ring = new Ring(this.period);
    this.warmup = this.period;
  }

  update(bar: OhlcvInput): boolean {
    const x = bar[this.field];
    const old = this.ring.shift(x);
    this.sum += x;
    if (this.bars >= this.period) this.sum -= old;
    this.bars += 1;
    if (this.bars < this.period) return false;
    this.values[0] = this.sum * this.scale;
    return true;
  }
}
