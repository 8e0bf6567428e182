import { Ring, checkField, checkOptions, periodRule } from './internal';
import type { OhlcvInput, PriceField, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['roc']);

/**
 * Rate of change `(x − x₋ₚ) / x₋ₚ` (a fraction, not a percentage), as Tulip's `roc.c`. First
 * output after `period + 1` bars. Like Tulip, a zero base gives ±Infinity/NaN; prices are
 * positive, but beware feeding it `volume`.
 *
 * ```
 * close: 100  110  121     (period 1)
 * roc:     -  0.1  0.1
 * ```
 *
 * @example
 * const roc = createRoc([12]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 * @param input Bar field feeding tulind's `real` input. Default `close`.
 */
export function createRoc(options: readonly number[], input: PriceField = 'close'): StreamingIndicator {
  return new Roc(checkOptions('roc', options, [periodRule()]), checkField('roc', input));
}

class Roc implements StreamingIndicator {
  readonly name = 'roc';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(1);
  private readonly period: number;
  private readonly ring: Ring;
  private bars = 0;

  constructor(
    readonly options: readonly number[],
    private readonly field: PriceField,
  ) {
    this.period = options[0]!;
    this.ring = new Ring(this.period);
    this.warmup = this.period + 1;
  }

  update(bar: OhlcvInput): boolean {
    const x = bar[this.field];
    const old = this.ring.shift(x);
    this.bars += 1;
    if (this.bars <= this.period) return false;
    this.values[0] = (x - old) / old;
    return true;
  }
}
