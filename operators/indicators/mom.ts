import { Ring, checkField, checkOptions, periodRule } from './internal';
import type { OhlcvInput, PriceField, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['mom']);

/**
 * Momentum `x − x[period bars ago]`, as Tulip's `mom.c`. First output after `period + 1` bars.
 *
 * ```
 * close: 1  2  4  7       (period 2)
 * mom:   -  -  3  5
 * ```
 *
 * @example
 * const mom = createMom([10]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 * @param input Bar field feeding tulind's `real` input. Default `close`.
 */
export function createMom(options: readonly number[], input: PriceField = 'close'): StreamingIndicator {
  return new Mom(checkOptions('mom', options, [periodRule()]), checkField('mom', input));
}

class Mom implements StreamingIndicator {
  readonly name = 'mom';
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
    this.values[0] = x - old;
    return true;
  }
}
