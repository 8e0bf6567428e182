import { checkField, checkOptions, periodRule } from './internal';
import type { OhlcvInput, PriceField, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['wilders']);

/**
 * Wilder's smoothing, as Tulip's `wilders.c`: the first output is the mean of the first `period`
 * inputs (sum / period), then `w += (x − w) · 1/period`.
 *
 * ```
 * close: 1  2  3  6        (period 3)
 * wild.: -  -  2  3.33
 * ```
 *
 * @example
 * const w = createWilders([14]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 * @param input Bar field feeding tulind's `real` input. Default `close`.
 */
export function createWilders(options: readonly number[], input: PriceField = 'close'): StreamingIndicator {
  return new Wilders(checkOptions('wilders', options, [periodRule()]), checkField('wilders', input));
}

class Wilders implements StreamingIndicator {
  readonly name = 'wilders';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(1);
  private readonly period: number;
  private readonly per: number;
  private sum = 0;
  private val = 0;
  private bars = 0;

  constructor(
    readonly options: readonly number[],
    private readonly field: PriceField,
  ) {
    this.period = options[0]!;
    this.per = 1.0 / this.period;
    this.warmup = this.period;
  }

  update(bar: OhlcvInput): boolean {
    const x = bar[this.field];
    this.bars += 1;
    if (this.bars < this.period) {
      this.sum += x;
      return false;
    }
    if (this.bars === this.period) {
      this.sum += x;
      this.val = this.sum / this.period;
    } else {
      this.val = (x - this.val) * this.per + this.val;
    }
    this.values[0] = this.val;
    return true;
  }
}
