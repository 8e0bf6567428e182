/**
 * Benches of the multi-symbol pipeline: the whole pipeline (per-symbol features, TA, fuse, size;
 * one market-statistics fold, one portfolio, one risk gate; the paper exchange) over 1, 2, 4 and 7
 * symbols of real 5m bars, and the risk gate's latency with seven positions held.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import { gateRisk, type RiskInput } from '../operators/gateRisk';
import { floorToStep, notionalOf, toUnits } from '../operators/money';
import { trackMarketStats, type MarketStats } from '../operators/trackMarketStats';
import { applyFill, initialPortfolio } from '../operators/trackPortfolio';
import type { Bar, OrderIntent } from '../operators/types';
import { mergeByEventTime } from '../pipelines/backtest';
import { parseConfig, type PipelineConfig } from '../pipelines/config';
import { paperExchangeFor } from '../pipelines/paperVenue';
import { tradingPipeline } from '../pipelines/tradingPipeline';
import { readBarsCsv, makeBarReplaySource } from '../sources/csvBars';
import { randomWalkBars } from '../test/support/fixtures';
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
    // CPU time of this process, not wall time: on a shared machine the wall clock also counts
    // other processes' turns.
    const run = (): { seconds: number; wall: number; events: number } => {
      const scheduler = new VirtualTimeScheduler();
      const pipeline = tradingPipeline(config, { venue: paperExchangeFor(config, scheduler), scheduler });
      let events = 0;
      const start = process.hrtime.bigint();
      const cpu = process.cpuUsage();
      pipeline({ bars$: makeBarReplaySource({ bars, scheduler }) }).subscribe(() => events++);
      scheduler.flush();
      const used = process.cpuUsage(cpu);
      return {
        seconds: (used.user + used.system) / 1e6,
        wall: Number(process.hrtime.bigint() - start) / 1e9,
        events,
      };
    };
    const runs = [run(), run()].sort((a, b) => a.seconds - b.seconds);
    const best = runs[0]!;
    const us = (best.seconds * 1e6) / bars.length;
    if (n === 1) perOne = us;
    line(
      `${n} symbol${n === 1 ? '' : 's'}: ${bars.length.toLocaleString('en')} bar-symbols`,
      `${best.seconds.toFixed(2)} s CPU (${best.wall.toFixed(2)} s wall), ${us.toFixed(1)} µs per bar-symbol (${(us / perOne).toFixed(2)}× one symbol's)   target ≤ 1.2×`,
    );
    result[`symbols${n}CpuSeconds`] = best.seconds;
    result[`symbols${n}WallSeconds`] = best.wall;
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
  // Market statistics as the pipeline has them: trackMarketStats over 7 correlated-looking
  // random walks (the gate reads volatility, ADV and correlations from its snapshot).
  const walks = symbols.map((symbol, i) =>
    randomWalkBars(2000, { seed: 100 + i }).map((b) => {
      const f = prices[i]! / 20_000;
      return {
        ...b,
        symbol,
        open: b.open * f,
        high: b.high * f,
        low: b.low * f,
        close: b.close * f,
        volume: b.volume / f,
      };
    }),
  );
  let stats: MarketStats | undefined;
  const bars$ = new Subject<Bar>();
  bars$.pipe(trackMarketStats({ minReturns: 288, lambda: 0.995 })).subscribe((s) => (stats = s));
  for (const b of mergeByEventTime(walks)) bars$.next(b);
  const var99 = new Map(symbols.map((s) => [s, 0.08]));
  const { marketStats: _stats, garch: _garch, ...limits } = config.risk ?? {};
  const input$ = new Subject<RiskInput>();
  let approved = 0;
  const codes = new Map<string, number>();
  input$
    .pipe(
      gateRisk({
        instruments: config.instruments,
        ...limits,
        maxCorrelation: 0.99,
        maxOrdersPerMinute: 1e9,
        strategyId: config.name,
        configHash: config.hash,
      }),
    )
    .subscribe((d) => {
      if (d.kind === 'approved') approved++;
      else {
        codes.set(d.code, (codes.get(d.code) ?? 0) + 1);
      }
    });
  const n = 200_000;
  const latencies = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % 7;
    const qty = floorToStep(
      toUnits(((100_000 * (0.004 + (i % 5) * 0.002)) / prices[k]!).toFixed(8)),
      config.instruments[k]!.qtyStep,
    );
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
    input$.next({ intent, portfolio, mode: 'Normal', market: { stats: stats!, var99 } });
    latencies[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  const warm = latencies.slice(10_000).sort();
  line(
    'decisions',
    `${n.toLocaleString('en')} (${approved} approved; denied ${[...codes].map(([c, k]) => `${c}×${k}`).join(', ') || 'none'})`,
  );
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
