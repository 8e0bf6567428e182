/**
 * Bootstrap of trades: confidence intervals for the compounded return and the maximum drawdown
 * of a trade sequence, by resampling the trades with replacement (seeded, reproducible). It
 * answers "how much of this result is the luck of the order and draw of these trades".
 */
import { mulberry32 } from '../random';
import { checkSeries, StatsError } from './errors';

export interface BootstrapConfig {
  /** Resamples. Default 2 000. */
  readonly samples?: number;
  /** Two-sided confidence level. Default 0.95. */
  readonly confidence?: number;
  /** Generator seed. Default 1. */
  readonly seed?: number;
}

export interface Interval {
  readonly low: number;
  readonly median: number;
  readonly high: number;
}

export interface TradeBootstrap {
  readonly trades: number;
  readonly samples: number;
  readonly confidence: number;
  /** Compounded return Π(1 + r) − 1 of the actual trades, and its interval. */
  readonly totalReturn: number;
  readonly totalReturnInterval: Interval;
  /** Maximum drawdown (0..1) of the actual sequence, and its interval. */
  readonly maxDrawdown: number;
  readonly maxDrawdownInterval: Interval;
  /** Share of resamples that lost money. */
  readonly probabilityOfLoss: number;
}

function path(returns: ArrayLike<number>, index: (i: number) => number): { total: number; drawdown: number } {
  let equity = 1;
  let peak = 1;
  let drawdown = 0;
  for (let i = 0; i < returns.length; i++) {
    equity *= 1 + (returns[index(i)] as number);
    if (equity > peak) peak = equity;
    drawdown = Math.max(drawdown, 1 - equity / peak);
  }
  return { total: equity - 1, drawdown };
}

/** Linear-interpolated quantile of sorted values (numpy's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

/** `tradeReturns`: each round trip's return on the equity it risked, net of fees (e.g. 0.012 = +1.2 %). */
export function bootstrapTrades(tradeReturns: ArrayLike<number>, config: BootstrapConfig = {}): TradeBootstrap {
  checkSeries(tradeReturns, 2, 'trade bootstrap');
  for (let i = 0; i < tradeReturns.length; i++)
    if ((tradeReturns[i] as number) <= -1)
      throw new StatsError('STATS_BAD_INPUT', `trade bootstrap: trade ${i} loses 100 % or more (${tradeReturns[i]})`);
  const samples = config.samples ?? 2000;
  const confidence = config.confidence ?? 0.95;
  if (!Number.isInteger(samples) || samples < 10)
    throw new StatsError('STATS_BAD_INPUT', `trade bootstrap: samples must be an integer ≥ 10, found ${samples}`);
  if (!(confidence > 0 && confidence < 1))
    throw new StatsError('STATS_BAD_INPUT', `trade bootstrap: confidence must be in (0, 1), found ${confidence}`);
  const rand = mulberry32(config.seed ?? 1);
  const n = tradeReturns.length;
  const totals = new Float64Array(samples);
  const drawdowns = new Float64Array(samples);
  const picks = new Uint32Array(n);
  let losses = 0;
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < n; i++) picks[i] = Math.floor(rand() * n);
    const p = path(tradeReturns, (i) => picks[i] as number);
    totals[s] = p.total;
    drawdowns[s] = p.drawdown;
    if (p.total < 0) losses++;
  }
  totals.sort();
  drawdowns.sort();
  const a = (1 - confidence) / 2;
  const interval = (v: Float64Array): Interval => ({
    low: quantileSorted(v, a),
    median: quantileSorted(v, 0.5),
    high: quantileSorted(v, 1 - a),
  });
  const actual = path(tradeReturns, (i) => i);
  return {
    trades: n,
    samples,
    confidence,
    totalReturn: actual.total,
    totalReturnInterval: interval(totals),
    maxDrawdown: actual.drawdown,
    maxDrawdownInterval: interval(drawdowns),
    probabilityOfLoss: losses / samples,
  };
}
