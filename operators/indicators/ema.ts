import { checkField, checkOptions, periodRule } from './internal';
import type { OhlcvInput, PriceField, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['ema']);

/**
 * Exponential moving average, as Tulip's `ema.c`: seeded with the first input (not with an SMA
 * as TA-Lib does), then `ema += (x − ema) · 2/(period+1)`. Outputs from the first bar.
 *
 * ```
 * close: 10  13  16       (period 2, α = 2/3)
 * ema:   10  12  14.67
 * ```
 *
 * @example
 * const ema = createEma([21]);
 * ema.update(bar); // true from the first bar
 *
 * @param options `[period]`, period in bars ≥ 1.
 * @param input Bar field feeding tulind's `real` input. Default `close`.
 */
export function createEma(options: readonly number[], input: PriceField = 'close'): StreamingIndicator {
  return new Ema(checkOptions('ema', options, [periodRule()]), checkField('ema', input));
}

class Ema implements StreamingIndicator {
  readonly name = 'ema';
  readonly outputs = OUTPUTS;
  readonly warmup = 1;
  readonly values = new Float64Array(1);
  private readonly per: number;
  private val = 0;
  private started = false;

  constructor(
    readonly options: readonly number[],
    private readonly field: PriceField,
  ) {
    this.per = 2 / (options[0]! + 1);
  }

  update(bar: OhlcvInput): boolean {
    const x = bar[this.field];
    if (this.started) {
      this.val = (x - this.val) * this.per + this.val;
    } else {
      this.val = x;
      this.started = true;
    }
    this.values[0] = this.val;
    return true;
  }
}
