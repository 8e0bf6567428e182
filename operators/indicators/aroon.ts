import { MonotonicDeque, checkOptions, periodRule } from './internal';
import type { OhlcvInput, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['aroon_down', 'aroon_up']);

/**
 * Aroon down/up, as Tulip's `aroon.c`: over the last `period + 1` bars,
 * `(period − bars since the lowest low) · 100/period` and the same for the highest high; on ties
 * the most recent bar counts. First output after `period + 1` bars. Extremes and their positions
 * come from monotonic deques (O(1) amortised), equal to Tulip's rescans.
 *
 * @example
 * const aroon = createAroon([25]);
 * if (aroon.update(bar)) { const [down, up] = aroon.values; }
 *
 * @param options `[period]`, period in bars ≥ 1.
 */
export function createAroon(options: readonly number[]): StreamingIndicator {
  return new Aroon(checkOptions('aroon', options, [periodRule()]));
}

class Aroon implements StreamingIndicator {
  readonly name = 'aroon';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(2);
  private readonly period: number;
  private readonly scale: number;
  private readonly highs: MonotonicDeque;
  private readonly lows: MonotonicDeque;
  private bars = 0;

  constructor(readonly options: readonly number[]) {
    this.period = options[0]!;
    this.scale = 100.0 / this.period;
    this.highs = new MonotonicDeque(this.period + 1, true);
    this.lows = new MonotonicDeque(this.period + 1, false);
    this.warmup = this.period + 1;
  }

  update(bar: OhlcvInput): boolean {
    const i = this.bars;
    this.bars += 1;
    const oldest = i - this.period;
    this.highs.push(bar.high, i, oldest);
    this.lows.push(bar.low, i, oldest);
    if (i < this.period) return false;
    this.values[0] = (this.period - (i - this.lows.index())) * this.scale;
    this.values[1] = (this.period - (i - this.highs.index())) * this.scale;
    return true;
  }
}
