import { DirectionalState, checkOptions, periodRule } from './internal';
import type { OhlcvInput, StreamingIndicator } from './types';

/** tulind 0.8.4 names adx's output `dx` (newer Tulip calls it `adx`); we keep tulind's name. */
const OUTPUTS: readonly string[] = Object.freeze(['dx']);

/**
 * Average directional movement index, as Tulip's `adx.c`: DX from Wilder-smoothed sums, then the
 * first ADX is the plain mean of the first `period` DX values and later ones are
 * `adx = adx·(period−1)/period + dx` (reported as `adx / period`). First output after
 * `2·(period − 1) + 1` bars. Where Tulip's DX is 0/0 (no movement) we use 0 instead of NaN.
 *
 * @example
 * const adx = createAdx([14]);
 *
 * @param options `[period]`, period in bars ≥ 2.
 */
export function createAdx(options: readonly number[]): StreamingIndicator {
  return new Adx(checkOptions('adx', options, [periodRule(2)]));
}

class Adx implements StreamingIndicator {
  readonly name = 'adx';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(1);
  private readonly period: number;
  private readonly per: number;
  private readonly invper: number;
  private readonly state: DirectionalState;
  private adx = 0;

  constructor(readonly options: readonly number[]) {
    this.period = options[0]!;
    this.per = (this.period - 1) / this.period;
    this.invper = 1.0 / this.period;
    this.state = new DirectionalState(this.period);
    this.warmup = (this.period - 1) * 2 + 1;
  }

  update(bar: OhlcvInput): boolean {
    const i = this.state.update(bar.high, bar.low, bar.close);
    const p = this.period;
    if (i < p - 1) return false;
    const dx = this.state.dx();
    if (i === p - 1) {
      this.adx = 0.0 + dx;
      return false;
    }
    if (i - p < p - 2) {
      this.adx += dx;
      return false;
    }
    if (i - p === p - 2) this.adx += dx;
    else this.adx = this.adx * this.per + dx;
    this.values[0] = this.adx * this.invper;
    return true;
  }
}
