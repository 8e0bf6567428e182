/** Statistical tests and overfitting controls (pure functions; no I/O, no clock). */
export { adfTest, mackinnonPValue, type AdfConfig, type AdfResult } from './adf';
export { chiSquareSf, normalCdf, normalQuantile } from './distributions';
export { checkSeries, StatsError, type StatsErrorCode } from './errors';
export { expectedRescaledRange, hurstExponent, logMidWindows, type HurstConfig, type HurstResult } from './hurst';
export { jarqueBeraTest, type JarqueBeraResult } from './jarqueBera';
export { kpssTest, type KpssConfig, type KpssResult } from './kpss';
export { leastSquares, type QrFit } from './leastSquares';
export { ljungBoxTest, type LjungBoxRow } from './ljungBox';
export { autocorrelations, moments, type Moments } from './moments';
export { adjacentLogReturns, logLevels } from './series';
export { bootstrapTrades, quantileSorted, type BootstrapConfig, type Interval, type TradeBootstrap } from './bootstrap';
export { probabilityOfBacktestOverfitting, type PboConfig, type PboResult } from './pbo';
export {
  deflatedSharpe,
  estimateSharpe,
  expectedMaxSharpe,
  probabilisticSharpe,
  type DeflatedSharpe,
  type SharpeEstimate,
} from './sharpe';
export {
  equityReturns,
  rebuildEquity,
  type EquityBar,
  type EquityCurve,
  type EquityFill,
  type RoundTrip,
} from './equity';
export { proposeTpe, type TpeConfig, type TpeTrial } from './tpe';
export { purgedKFold, type PurgedFold, type PurgedKFoldConfig } from './purgedKFold';
export { makePageHinkley, type PageHinkley, type PageHinkleyConfig, type PageHinkleyState } from './pageHinkley';
