import { Ring, checkField, checkOptions, periodRule } from './internal';
import type { OhlcvInput, PriceField, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['stddev']);

/**
 * Population standard deviation over `period` bars, as Tulip's `stddev.c`: running sums of x and
 * x² (add new, then subtract old), `sqrt(Σx²/n − (Σx/n)²)`.
 *
 * Tulip's quirk is kept: when rounding leaves the variance at or below 0 (a flat window) it is
 * returned as is, unrooted — a tiny, possibly negative number, never NaN.
 *
 * ```
 * close: 1  2  3          (period 3)
 * sd:    -  -  0.816
 * ```
 *
 * @example
 * const sd = createStddev([20]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 * @param input Bar field feeding tulind's `real` input. Default `close`.
 */
export function createStddev(options: readonly number[], input: PriceField = 'close'): StreamingIndicator {
  return new Stddev(checkOptions('stddev', options, [periodRule()]), checkField('stddev', input));
}

class Stddev implements StreamingIndicator {
  readonly name = 'stddev';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(1);
  private readonly period: number;
  private readonly scale: number;
  private readonly ring: Ring;
  private sum = 0;
  private sum2 = 0;
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
    this.sum2 += x * x;
    if (this.bars >= this.period) {
      this.sum -= old;
      this.sum2 -= old * old;
    }
    this.bars += 1;
    if (this.bars < this.period) return false;
    const scale = this.scale;
    const s2s2 = this.sum2 * scale - this.sum * scale * (this.sum * scale);
    this.values[0] = s2s2 > 0.0 ? Math.sqrt(s2s2) : s2s2;
    return true;
  }
}
