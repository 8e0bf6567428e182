import { Ring, checkField, checkOptions, periodRule } from './internal';
import type { OhlcvInput, PriceField, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['bbands_lower', 'bbands_middle', 'bbands_upper']);

/**
 * Bollinger bands, as Tulip's `bbands.c`: middle = SMA, bands = middle ∓ k · σ with the
 * *population* standard deviation, from running sums of x and x² (add new, then subtract old).
 *
 * On a window of identical prices the running sums can leave a variance of −1e-12 or so; Tulip
 * takes its square root and returns NaN bands. We treat a negative variance as 0 (bands = middle),
 * which is the exact answer for a flat window; every other output is Tulip's, bit for bit.
 *
 * ```
 * close: … (period bars) → lower, middle, upper
 * ```
 *
 * @example
 * const bb = createBbands([20, 2]);
 *
 * @param options `[period, stddev]`: period in bars ≥ 1; stddev = band width in standard
 *   deviations (any finite number, as Tulip).
 * @param input Bar field feeding tulind's `real` input. Default `close`.
 */
export function createBbands(options: readonly number[], input: PriceField = 'close'): StreamingIndicator {
  const checked = checkOptions('bbands', options, [periodRule(), { name: 'stddev', integer: false }]);
  return new Bbands(checked, checkField('bbands', input));
}

class Bbands implements StreamingIndicator {
  readonly name = 'bbands';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(3);
  private readonly period: number;
  private readonly k: number;
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
    this.k = options[1]!;
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
    const variance = this.sum2 * scale - this.sum * scale * (this.sum * scale);
    const sd = variance > 0 ? Math.sqrt(variance) : 0;
    const middle = this.sum * scale;
    this.values[0] = middle - this.k * sd;
    this.values[1] = middle;
    this.values[2] = middle + this.k * sd;
    return true;
  }
}
