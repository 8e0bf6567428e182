/**
 * Streaming technical indicators that reproduce Tulip Indicators (tulind): incremental O(1)
 * implementations of the common ones, and any of tulind's 104 on a rolling window.
 * Most code needs only `createIndicator` and `describeIndicator`.
 */
export { IndicatorError, type OhlcvInput, type PriceField, type StreamingIndicator } from './types';
export {
  createIndicator,
  describeIndicator,
  extraIndicatorNames,
  incrementalNames,
  indicatorNames,
  isIncremental,
  type CreateIndicatorConfig,
  type IndicatorDescription,
} from './registry';
export { createWindowedIndicator, defaultWindow, type WindowedIndicator } from './tulindWindow';
export { createAdx } from './adx';
export { createAroon } from './aroon';
export { createAtr } from './atr';
export { createBbands } from './bbands';
export { createCci } from './cci';
export { createAd, createNvi, createPvi, createWad } from './cumulative';
export { createDema } from './dema';
export { createDi } from './di';
export { createDx } from './dx';
export { createEma } from './ema';
export { createMacd, createStandardMacd } from './macd';
export { createMfi } from './mfi';
export { createMom } from './mom';
export { createNatr } from './natr';
export { createObv } from './obv';
export { createRoc } from './roc';
export { createRsi } from './rsi';
export { createSma } from './sma';
export { createStddev } from './stddev';
export { createStoch } from './stoch';
export { createTema } from './tema';
export { createTr } from './tr';
export { createVwma } from './vwma';
export { createWilders } from './wilders';
export { createWillr } from './willr';
export { createWma } from './wma';
