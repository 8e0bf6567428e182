import { checkOptions, periodRule, trueRange } from './internal';
import type { OhlcvInput, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['atr']);

/**
 * Average true range with Wilder smoothing, as Tulip's `atr.c`: the first value is the mean of
 * the first `period` true ranges (the very first being `high − low`), then
 * `atr += (tr − atr) · 1/period`. First output after `period` bars.
 *
 * @example
 * const atr = createAtr([14]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 */
export function createAtr(options: readonly number[]): StreamingIndicator {
  return new Atr(checkOptions('atr', options, [periodRule()]), 'atr', OUTPUTS);
}

/**
 * The ATR state machine; `natr` reuses it and divides by the close (Tulip's `natr.c` is `atr.c`
 * with `100 · atr / close` as output).
 */
export class Atr implements StreamingIndicator {
  readonly warmup: number;
  readonly values = new Float64Array(1);
  private readonly period: number;
  private readonly per: number;
  private sum = 0;
  private val = 0;
  private prevClose = 0;
  private bars = 0;

  constructor(
    readonly options: readonly number[],
    readonly name: string,
    readonly outputs: readonly string[],
    private readonly normalized = false,
  ) {
    this.period = options[0]!;
    this.per = 1.0 / this.period;
    this.warmup = this.period;
  }

  update(bar: OhlcvInput): boolean {
    const i = this.bars;
    this.bars += 1;
    const tr = i === 0 ? bar.high - bar.low : trueRange(bar.high, bar.low, this.prevClose);
    this.prevClose = bar.close;
    if (i < this.period - 1) {
      this.sum += tr;
      return false;
    }
    if (i === this.period - 1) {
      this.sum += tr;
      this.val = this.sum / this.period;
    } else {
      this.val = (tr - this.val) * this.per + this.val;
    }
    this.values[0] = this.normalized ? (100 * this.val) / bar.close : this.val;
    return true;
  }
}
