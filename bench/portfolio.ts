/**
 * Benches of the multi-symbol pipeline: the whole pipeline (per-symbol features, TA, fuse, size;
 * one market-statistics fold, one portfolio, one risk gate; the paper exchange) over 1, 2, 4 and 7
 * symbols of real 5m bars, and the risk gate's latency with seven positions held.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import { gateRisk, type RiskInput } from '../operators/gateRisk';
import { notionalOf, toUnits } from '../operators/money';
import type { MarketStats } from '../operators/trackMarketStats';
import { applyFill, initialPortfolio } from '../operators/trackPortfolio';
import type { OrderIntent } from '../operators/types';
import { mergeByEventTime } from '../pipelines/backtest';
import { parseConfig, type PipelineConfig } from '../pipelines/config';
import { paperExchangeFor } from '../pipelines/paperVenue';
import { tradingPipeline } from '../pipelines/tradingPipeline';
import { readBarsCsv, makeBarReplaySource } from '../sources/csvBars';
import { repoRoot, sharedDataPath } from '../test/support/sharedData';

type Line = (label: string, value: string) => void;
type Result = Record<string, number | string>;

const CONFIG_FILE = path.join(repoRoot, 'config', 'portfolio-7.yaml');
const BASES = ['BTC', 'LTC', 'XRP', 'SOL', 'ADA', 'DOT', 'LINK'];

/** portfolio-7.yaml on 5m bars with its first `n` instruments. */
function universeConfig(n: number): PipelineConfig {
  const lines = readFileSync(CONFIG_FILE, 'utf8').split('\n');
  let kept = 0;
  const text = lines
    .filter((l) => !l.startsWith('    - { venue:') || kept++ < n)
    .join('\n')
    .replace(/^timeframe: 1h$/m, 'timeframe: 5m')
    .replace(/^(\s+lambda:)\s*[\d.]+/m, '$1 0.995')
    .replace(/^(\s+minReturns:)\s*\d+/m, '$1 288');
  return parseConfig(text, CONFIG_FILE);
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** The whole pipeline over 1, 2, 4 and 7 symbols × every 5m bar: µs per bar-symbol and its growth. */
export function benchPortfolio(line: Line): Result | undefined {
  process.stdout.write(
    'portfolio pipeline: 1, 2, 4, 7 symbols of 5m bars through the whole pipeline (paper exchange)\n',
  );
  const files = BASES.map((b) => sharedDataPath(`candles/binance_spot_${b}USDT_5m_nfi.csv`));
  if (files.some((f) => !f)) {
    line('skipped', 'the 5m nfi files of ../shared/data/candles are not all there');
    return undefined;
  }
  const series = BASES.map((base, i) =>
    readBarsCsv(files[i]!, { venue: 'binance', symbol: `${base}/USDT`, timeframe: '5m' }),
  );
  const result: Result = {};
  let perOne = 0;
  for (const n of [1, 2, 4, 7]) {
    const config = universeConfig(n);
    const bars = mergeByEventTime(series.slice(0, n));
    const run = (): { seconds: number; events: number } => {
      const scheduler = new VirtualTimeScheduler();
      const pipeline = tradingPipeline(config, { venue: paperExchangeFor(config, scheduler), scheduler });
      let events = 0;
      const start = process.hrtime.bigint();
      pipeline({ bars$: makeBarReplaySource({ bars, scheduler }) }).subscribe(() => events++);
      scheduler.flush();
      return { seconds: Number(process.hrtime.bigint() - start) / 1e9, events };
    };
    const runs = [run(), run()].sort((a, b) => a.seconds - b.seconds);
    const best = runs[0]!;
    const us = (best.seconds * 1e6) / bars.length;
    if (n === 1) perOne = us;
    line(
      `${n} symbol${n === 1 ? '' : 's'}: ${bars.length.toLocaleString('en')} bar-symbols`,
      `${best.seconds.toFixed(2)} s, ${us.toFixed(1)} µs per bar-symbol (${(us / perOne).toFixed(2)}× one symbol's)   target ≤ 1.2×`,
    );
    result[`symbols${n}Seconds`] = best.seconds;
    result[`symbols${n}UsPerBarSymbol`] = us;
    result[`symbols${n}Ratio`] = us / perOne;
  }
  return result;
}

/** The risk gate with seven positions held, every portfolio and market-risk limit on. */
export function benchPortfolioGate(line: Line): Result {
  process.stdout.write('risk gate: one intent through every check, 7 positions held (portfolio-7 limits)\n');
  const config = universeConfig(7);
  const symbols = config.instruments.map((i) => i.symbol);
  const prices = [30_000, 150, 0.5, 30, 1.2, 20, 25];
  let portfolio = initialPortfolio({ initialCash: toUnits('100000'), quote: 'USDT' });
  symbols.forEach((symbol, i) => {
    const qty = toUnits(((100_000 * 0.02) / prices[i]!).toFixed(2));
    const price = toUnits(prices[i]!);
    portfolio = applyFill(portfolio, {
      kind: 'fill',
      clientOrderId: `x${i}`,
      signalId: 's',
      symbol,
      side: 'buy',
      qty,
      price,
      notional: notionalOf(qty, price),
      fee: 0n,
      liquidity: 'taker',
      leavesQty: 0n,
      tsEvent: 0,
    });
  });
  const correlation = new Map<string, number>();
  for (const a of symbols) for (const b of symbols) correlation.set(`${a}|${b}`, a === b ? 1 : 0.5);
  const stats: MarketStats = {
    kind: 'market-stats',
    tsEvent: 0,
    volatility: new Map(symbols.map((s, i) => [s, 0.5 + i * 0.1])),
    adv: new Map(symbols.map((s) => [s, 1e9])),
    price: new Map(symbols.map((s, i) => [s, prices[i]!])),
    correlation: (a, b) => correlation.get(`${a}|${b}`),
  };
  const var99 = new Map(symbols.map((s) => [s, 0.08]));
  const { marketStats: _stats, garch: _garch, ...limits } = config.risk ?? {};
  const input$ = new Subject<RiskInput>();
  let approved = 0;
  input$
    .pipe(
      gateRisk({
        instruments: config.instruments,
        ...limits,
        maxCorrelation: 0.9,
        maxOrdersPerMinute: 1e9,
        strategyId: config.name,
        configHash: config.hash,
      }),
    )
    .subscribe((d) => {
      if (d.kind === 'approved') approved++;
    });
  const n = 200_000;
  const latencies = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % 7;
    const qty = toUnits(((100_000 * (0.005 + (i % 5) * 0.005)) / prices[k]!).toFixed(2));
    const intent: OrderIntent = {
      kind: 'intent',
      id: `i${i}`,
      signalId: `s${i}`,
      symbol: symbols[k]!,
      side: 'buy',
      qty,
      refPrice: prices[k]!,
      targetQty: qty,
      reducesRisk: false,
      tsEvent: i * 1000,
      reason: 'bench',
    };
    const start = process.hrtime.bigint();
    input$.next({ intent, portfolio, mode: 'Normal', market: { stats, var99 } });
    latencies[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  const warm = latencies.slice(10_000).sort();
  line('decisions', `${n.toLocaleString('en')} (${approved} approved)`);
  line(
    'p50 / p99 / p99.9',
    `${percentile(warm, 0.5).toFixed(2)} / ${percentile(warm, 0.99).toFixed(2)} / ${percentile(warm, 0.999).toFixed(2)} µs   target p99 ≤ 10 µs`,
  );
  return {
    decisions: n,
    approved,
    p50us: percentile(warm, 0.5),
    p99us: percentile(warm, 0.99),
    p999us: percentile(warm, 0.999),
  };
}
