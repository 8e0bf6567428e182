/**
 * The contract every streaming indicator meets. Incremental indicators reproduce Tulip
 * Indicators (tulind) exactly — same formulas, same seeding, same first output — but update in
 * O(1) per bar instead of recomputing a window.
 *
 * Exactly means bit for bit: each implementation follows the floating-point operation order of
 * Tulip's C source (the version inside tulind, 0.8.4), running sums and their drift included, and
 * the tests compare every output of every bar of four real candle files with tulind's batch call.
 *
 * One deliberate exception: where Tulip's formula has no value — it divides by exactly zero or
 * takes the square root of a rounding-negative variance, and tulind returns NaN or ±Infinity —
 * an incremental indicator returns the limit value its docs state instead (rsi/mfi 50, cci 0,
 * di/dx/adx 0, vwma the close, bbands collapsed onto the middle band), so that finite bars never
 * produce a non-finite value. tulind-backed (windowed) indicators return whatever tulind returns.
 *
 * Bars must be finite: a NaN input is not rejected on the hot path and poisons recursive state
 * (EMA, Wilder sums) from then on. Validate bars upstream (parse stage, dead-letter).
 */
import { Bot4Error } from '../errors';

/** The price fields an indicator can read. Tulip names its single series input `real`. */
export interface OhlcvInput {
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
}

/** Which bar field feeds a `real` input. */
export type PriceField = 'open' | 'high' | 'low' | 'close' | 'volume';

export interface StreamingIndicator {
  /** tulind's indicator name (`sma`, `macd`…). */
  readonly name: string;
  /** Option values in tulind's order. */
  readonly options: readonly number[];
  /** Output names in tulind's order (`macd`, `macd_signal`, `macd_histogram`). */
  readonly outputs: readonly string[];
  /**
   * Bars consumed before the first output: tulind's `start(options) + 1`. The indicator returns
   * false from `update` for the first `warmup - 1` bars.
   */
  readonly warmup: number;
  /**
   * Latest outputs, in the order of `outputs`. Overwritten by every `update` (read it before the
   * next one); only meaningful after `update` returned true.
   */
  readonly values: Float64Array;
  /**
   * Adds one closed bar. Returns true when `values` holds this bar's outputs: false during the
   * warm-up and, for tulind-backed indicators, on a bar where tulind's formula has no finite
   * value (0/0 on flat candles), so NaN never leaves an indicator as a value.
   */
  update(bar: OhlcvInput): boolean;
}

export class IndicatorError extends Bot4Error<'UNKNOWN_INDICATOR' | 'BAD_OPTIONS'> {
  constructor(code: 'UNKNOWN_INDICATOR' | 'BAD_OPTIONS', message: string) {
    super(code, 'features', message);
  }
}
