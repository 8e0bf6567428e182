import { checkField, checkOptions, periodRule } from './internal';
import type { OhlcvInput, PriceField, StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['tema']);

/**
 * Triple exponential moving average `3·EMA − 3·EMA² + EMA³`, as Tulip's `tema.c` (each EMA
 * written `ema·(1−α) + x·α`, the second seeded at bar `period − 1`, the third at
 * `2·(period − 1)`). First output after `3·(period − 1) + 1` bars.
 *
 * ```
 * close: … (3·period − 2 bars) → tema
 * ```
 *
 * @example
 * const tema = createTema([20]);
 *
 * @param options `[period]`, period in bars ≥ 1.
 * @param input Bar field feeding tulind's `real` input. Default `close`.
 */
export function createTema(options: readonly number[], input: PriceField = 'close'): StreamingIndicator {
  return new Tema(checkOptions('tema', options, [periodRule()]), checkField('tema', input));
}

class Tema implements StreamingIndicator {
  readonly name = 'tema';
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(1);
  private readonly period: number;
  private readonly per: number;
  private readonly per1: number;
  private ema = 0;
  private ema2 = 0;
  private ema3 = 0;
  private bars = 0;

  constructor(
    readonly options: readonly number[],
    private readonly field: PriceField,
  ) {
    this.period = options[0]!;
    this.per = 2 / (this.period + 1);
    this.per1 = 1.0 - this.per;
    this.warmup = (this.period - 1) * 3 + 1;
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
    if (i === p1 * 2) this.ema3 = this.ema2;
    this.ema3 = this.ema3 * this.per1 + this.ema2 * this.per;
    if (i < p1 * 3) return false;
    this.values[0] = 3 * this.ema - 3 * this.ema2 + this.ema3;
    return true;
  }
}
