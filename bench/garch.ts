/**
 * Cost of one market-risk refit: `fitGarchT` + the 1-day 99 % VaR/CVaR, on the window
 * `estimateMarketRisk` uses by default (2 000 returns) — real 1h BTC/USDT returns when the shared
 * data is on this machine, otherwise seeded random-walk bars of the same size. Median of 15 runs
 * after 3 warm-up runs (JIT). Called from bench/index.ts.
 */
import { fitGarchT, varCvarT } from '../operators/garch';
import type { Bar } from '../operators/types';
import { readBarsCsv } from '../sources/csvBars';
import { randomWalkBars } from '../test/support/fixtures';
import { sharedDataPath } from '../test/support/sharedData';

const WINDOW = 2000;

function windowReturns(): Float64Array {
  const file = sharedDataPath('candles/binance_spot_BTCUSDT_1h_nfi.csv');
  const bars: Bar[] = file
    ? readBarsCsv(file, { venue: 'binance', symbol: 'BTC/USDT', timeframe: '1h' })
    : randomWalkBars(WINDOW + 50, { timeframe: '1h', seed: 7 });
  const returns: number[] = [];
  for (let i = 1; i < bars.length; i++)
    if (bars[i]!.tsOpen === bars[i - 1]!.tsEvent) returns.push(Math.log(bars[i]!.close / bars[i - 1]!.close));
  return Float64Array.from(returns.slice(-WINDOW));
}

/** Milliseconds for one refit (fit + 24-step VaR/CVaR), and the number of returns fitted. */
export function benchGarch(): { refitMs: number; returns: number } {
  const returns = windowReturns();
  const refit = (): number => varCvarT(fitGarchT(returns), 0.99, 24).var;
  for (let i = 0; i < 3; i++) refit();
  const times: number[] = [];
  let sink = 0;
  for (let i = 0; i < 15; i++) {
    const start = process.hrtime.bigint();
    sink += refit();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  if (!Number.isFinite(sink)) throw new Error('benchGarch: non-finite VaR');
  times.sort((a, b) => a - b);
  return { refitMs: times[Math.floor(times.length / 2)]!, returns: returns.length };
}
