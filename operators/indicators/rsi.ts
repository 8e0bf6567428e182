import { checkField, checkOptions, periodRule } from './internal';
import type { OhlcvInput, PriceField, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['rsi']);

/**
 * Relative strength index with Wilder smoothing, as Tulip's `rsi.c`: the first `period` up and
 * down moves are averaged (sum / period), then each is smoothed as `s += (move − s) / period`
 * (Tulip multiplies by a precomputed 1/period). First output after `period + 1` bars.
 *
 * Where Tulip divides 0 by 0 (no move at all since the start) it returns NaN; we return 50, the
 * neutral value. Every other output is Tulip's, bit for bit.
 *
 * ```
 * close: a b c … (period+1 bars) → rsi
 * ```
 *
 * @example
 * const rsi = createRsi([14]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 * @param input Bar field feeding tulind's `real` input. Default `close`.
 */
export function createRsi(options: readonly number[], input: PriceField = 'close'): StreamingIndicator {
  return new Rsi(checkOptions('rsi', options, [periodRule()]), checkField('rsi', input));
}

class Rsi implements StreamingIndicator {
  readonly name = 'rsi';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(1);
  private readonly period: number;
  private readonly per: number;
  private smoothUp = 0;
  private smoothDown = 0;
  private prev = 0;
  private bars = 0;

  constructor(
    readonly options: readonly number[],
    private readonly field: PriceField,
  ) {
    this.period = options[0]!;
    this.per = 1.0 / this.period;
    this.warmup = this.period + 1;
  }

  update(bar: OhlcvInput): boolean {
    const x = bar[this.field];
    const i = this.bars;
    this.bars += 1;
    const prev = this.prev;
    this.prev = x;
    if (i === 0) return false;
    const upward = x > prev ? x - prev : 0;
    const downward = x < prev ? prev - x : 0;
    if (i < this.period) {
      this.smoothUp += upward;
      this.smoothDown += downward;
      return false;
    }
    if (i === this.period) {
      this.smoothUp += upward;
      this.smoothDown += downward;
      this.smoothUp /= this.period;
      this.smoothDown /= this.period;
    } else {
      this.smoothUp = (upward - this.smoothUp) * this.per + this.smoothUp;
      this.smoothDown = (downward - this.smoothDown) * this.per + this.smoothDown;
    }
    const total = this.smoothUp + this.smoothDown;
    this.values[0] = total === 0 ? 50 : 100.0 * (this.smoothUp / total);
    return true;
  }
}
