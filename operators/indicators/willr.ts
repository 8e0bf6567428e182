import { MonotonicDeque, checkOptions, periodRule } from './internal';
import type { OhlcvInput, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['willr']);

/**
 * Williams %R `−100 · (HH − close) / (HH − LL)` over the last `period` bars (0 when HH = LL), as
 * Tulip's `willr.c`. Extremes from monotonic deques (O(1) amortised), equal to Tulip's rescans.
 *
 * @example
 * const willr = createWillr([14]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 */
export function createWillr(options: readonly number[]): StreamingIndicator {
  return new Willr(checkOptions('willr', options, [periodRule()]));
}

class Willr implements StreamingIndicator {
  readonly name = 'willr';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(1);
  private readonly period: number;
  private readonly highs: MonotonicDeque;
  private readonly lows: MonotonicDeque;
  private bars = 0;

  constructor(readonly options: readonly number[]) {
    this.period = options[0]!;
    this.highs = new MonotonicDeque(this.period, true);
    this.lows = new MonotonicDeque(this.period, false);
    this.warmup = this.period;
  }

  update(bar: OhlcvInput): boolean {
    const i = this.bars;
    this.bars += 1;
    const oldest = i - this.period + 1;
    this.highs.push(bar.high, i, oldest);
    this.lows.push(bar.low, i, oldest);
    if (i < this.period - 1) return false;
    const max = this.highs.value();
    const highlow = max - this.lows.value();
    this.values[0] = highlow === 0.0 ? 0.0 : -100 * ((max - bar.close) / highlow);
    return true;
  }
}
