import { TiBuffer, checkOptions, periodRule } from './internal';
import type { OhlcvInput, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['cci']);

/**
 * Commodity channel index `(tp − SMA(tp)) / (0.015 · mean deviation)` with typical price
 * tp = (high + low + close) / 3, as Tulip's `cci.c`. First output after `2·(period − 1) + 1`
 * bars (Tulip's start, although the formula needs only `period`).
 *
 * O(period) per bar, unlike the other indicators: the mean absolute deviation is taken around
 * the *current* mean, and |x − mean| has its kink at a point that moves every bar, so no running
 * sum updates it exactly. An O(log period) order-statistics structure could, but it would sum in
 * a different order than Tulip — which loops over its ring buffer in storage order, as we do —
 * and lose bit-for-bit agreement. Periods are small (≤ 100), so one pass is cheap.
 *
 * Where the mean deviation is exactly 0 (a flat window) Tulip divides by zero (NaN/±Infinity); we
 * return 0.
 *
 * @example
 * const cci = createCci([20]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 */
export function createCci(options: readonly number[]): StreamingIndicator {
  return new Cci(checkOptions('cci', options, [periodRule()]));
}

class Cci implements StreamingIndicator {
  readonly name = 'cci';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(1);
  private readonly period: number;
  private readonly scale: number;
  private readonly sum: TiBuffer;
  private bars = 0;

  constructor(readonly options: readonly number[]) {
    this.period = options[0]!;
    this.scale = 1.0 / this.period;
    this.sum = new TiBuffer(this.period);
    this.warmup = (this.period - 1) * 2 + 1;
  }

  update(bar: OhlcvInput): boolean {
    const i = this.bars;
    this.bars += 1;
    const today = (bar.high + bar.low + bar.close) * (1.0 / 3.0);
    const buffer = this.sum;
    buffer.push(today);
    if (i < this.warmup - 1) return false;
    const avg = buffer.sum * this.scale;
    const vals = buffer.vals;
    let acc = 0;
    for (let j = 0; j < this.period; j++) acc += Math.abs(avg - vals[j]!);
    let cci = acc * this.scale;
    cci *= 0.015;
    this.values[0] = cci === 0 ? 0 : (today - avg) / cci;
    return true;
  }
}
