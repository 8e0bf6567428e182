import { checkField, checkOptions, periodRule } from './internal';
import type { OhlcvInput, PriceField, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['dema']);

/**
 * Double exponential moving average `2·EMA − EMA(EMA)`, as Tulip's `dema.c`. Note Tulip writes
 * this EMA as `ema·(1−α) + x·α` (not `ema.c`'s form) and applies it to the first input too; the
 * second EMA starts at bar `period − 1`. First output after `2·(period − 1) + 1` bars.
 *
 * ```
 * close: … (2·period − 1 bars) → dema
 * ```
 *
 * @example
 * const dema = createDema([20]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 * @param input Bar field feeding tulind's `real` input. Default `close`.
 */
export function createDema(options: readonly number[], input: PriceField = 'close'): StreamingIndicator {
  return new Dema(checkOptions('dema', options, [periodRule()]), checkField('dema', input));
}

class Dema implements StreamingIndicator {
  readonly name = 'dema';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(1);
  private readonly period: number;
  private readonly per: number;
  private readonly per1: number;
  private ema = 0;
  private ema2 = 0;
  private bars = 0;

  constructor(
    readonly options: readonly number[],
    private readonly field: PriceField,
  ) {
    this.period = options[0]!;
    this.per = 2 / (this.period + 1);
    this.per1 = 1.0 - this.per;
    this.warmup = (this.period - 1) * 2 + 1;
  }

  update(bar: OhlcvInput): boolean {
    const x = bar[this.field];
    const i = this.bars;
    this.bars += 1;
    if (i === 0) this.ema = x;
    this.ema = this.ema * this.per1 + x * this.per;
    const p1 = this.period - 1;
    if (i < p1) return false;
    if (i === p1) this.ema2 = this.ema;
    this.ema2 = this.ema2 * this.per1 + this.ema * this.per;
    if (i < p1 * 2) return false;
    this.values[0] = this.ema * 2 - this.ema2;
    return true;
  }
}
