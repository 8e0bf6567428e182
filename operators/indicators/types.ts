/**
 * The contract every streaming indicator meets. Incremental indicators reproduce Tulip
 * Indicators (tulind) exactly — same formulas, same seeding, same first output — but update in
 * O(1) per bar instead of recomputing a window.
 */

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
  /** Adds one closed bar. Returns true when `values` holds this bar's outputs. */
  update(bar: OhlcvInput): boolean;
}

export class IndicatorError extends Error {
  readonly code: 'UNKNOWN_INDICATOR' | 'BAD_OPTIONS';
  readonly stage = 'features';
  constructor(code: 'UNKNOWN_INDICATOR' | 'BAD_OPTIONS', message: string) {
    super(message);
    this.name = 'IndicatorError';
    this.code = code;
  }
}
