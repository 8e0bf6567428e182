import { checkField, checkOptions, formatOptions, periodRule } from './internal';
import { IndicatorError, type OhlcvInput, type PriceField, type StreamingIndicator } from './types';

const OUTPUTS: readonly string[] = Object.freeze(['macd', 'macd_signal', 'macd_histogram']);

/**
 * Moving average convergence/divergence, as Tulip's `macd.c`, quirks included (for the weights
 * most charting packages use, see {@link createStandardMacd}, registered as `macd_std`):
 * - both EMAs are seeded with the first input (Tulip's EMA convention);
 * - for the classic (12, 26) pair Tulip uses α = 0.15 and 0.075 instead of 2/13 and 2/27;
 * - the first output is at bar `long period − 1`; the signal EMA is seeded there with the MACD
 *   value itself (so the first histogram is 0).
 *
 * ```
 * close: … (long period bars) → macd, macd_signal, macd_histogram
 * ```
 *
 * @example
 * const macd = createMacd([12, 26, 9]);
 * if (macd.update(bar)) { const [line, signal, hist] = macd.values; }
 *
 * @param options `[short period, long period, signal period]` in bars; short ≥ 1, long ≥ 2,
 *   long ≥ short, signal ≥ 1.
 * @param input Bar field feeding tulind's `real` input. Default `close`.
 */
export function createMacd(options: readonly number[], input: PriceField = 'close'): StreamingIndicator {
  return makeMacd('macd', options, input);
}

/**
 * MACD with the standard EMA weights α = 2/(n + 1) for every period pair (12/26 included), as
 * TA-Lib and most charting packages compute it; otherwise as {@link createMacd} (EMAs seeded
 * with the first input, first output at bar `long period − 1`). Registered as `macd_std`.
 *
 * @example
 * const macd = createStandardMacd([12, 26, 9]);
 */
export function createStandardMacd(options: readonly number[], input: PriceField = 'close'): StreamingIndicator {
  return makeMacd('macd_std', options, input);
}

function makeMacd(name: 'macd' | 'macd_std', options: readonly number[], input: PriceField): StreamingIndicator {
  const checked = checkOptions(name, options, [
    periodRule(1, 'short period'),
    periodRule(2, 'long period'),
    periodRule(1, 'signal period'),
  ]);
  if (checked[1]! < checked[0]!) {
    throw new IndicatorError(
      'BAD_OPTIONS',
      `${name}: option 'long period' (${checked[1]}) must be ≥ 'short period' (${checked[0]}), found ${formatOptions(checked)}`,
    );
  }
  return new Macd(name, checked, checkField(name, input));
}

class Macd implements StreamingIndicator {
  readonly outputs = OUTPUTS;
  readonly warmup: number;
  readonly values = new Float64Array(3);
  private readonly longPeriod: number;
  private readonly shortPer: number;
  private readonly longPer: number;
  private readonly signalPer: number;
  private shortEma = 0;
  private longEma = 0;
  private signalEma = 0;
  private bars = 0;

  constructor(
    readonly name: 'macd' | 'macd_std',
    readonly options: readonly number[],
    private readonly field: PriceField,
  ) {
    const [shortPeriod, longPeriod, signalPeriod] = options as [number, number, number];
    this.longPeriod = longPeriod;
    const classic = name === 'macd' && shortPeriod === 12 && longPeriod === 26;
    this.shortPer = classic ? 0.15 : 2 / (shortPeriod + 1);
    this.longPer = classic ? 0.075 : 2 / (longPeriod + 1);
    this.signalPer = 2 / (signalPeriod + 1);
    this.warmup = longPeriod;
  }

  update(bar: OhlcvInput): boolean {
    const x = bar[this.field];
    const i = this.bars;
    this.bars += 1;
    if (i === 0) {
      this.shortEma = x;
      this.longEma = x;
      return false;
    }
    this.shortEma = (x - this.shortEma) * this.shortPer + this.shortEma;
    this.longEma = (x - this.longEma) * this.longPer + this.longEma;
    const out = this.shortEma - this.longEma;
    if (i < this.longPeriod - 1) return false;
    if (i === this.longPeriod - 1) this.signalEma = out;
    this.signalEma = (out - this.signalEma) * this.signalPer + this.signalEma;
    this.values[0] = out;
    this.values[1] = this.signalEma;
    this.values[2] = out - this.signalEma;
    return true;
  }
}
