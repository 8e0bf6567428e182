/**
 * `npm run bench`: measures, on this machine, the numbers the issues set targets for. Nothing
 * here asserts; it prints and writes out/bench.json. Run on a quiet machine and compare runs.
 *
 *   node dist/bench/index.js [--only parse,decision,backtest,indicators]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Subject, asapScheduler, filter, from, map, tap, zip } from 'rxjs';
import { makePaperExchange } from '../sinks/paperExchange';
import type { RiskInput } from '../operators/gateRisk';
import { notionalOf, toUnits } from '../operators/money';
import { acceptingBooks, tradingPipeline } from '../pipelines/tradingPipeline';
import { benchCcxtIngest, tradeEvents } from './ccxtIngest';
import { benchGarch } from './garch';
import { benchPortfolio, benchPortfolioGate } from './portfolio';
import { benchObservability } from './observability';
import { benchKafka } from './kafka';
import { benchResearch } from './research';
import { benchSignalToOrder, describeOrderLatency } from './orderLatency';
import { aggregateBars } from '../operators/aggregateBars';
import { computeFeatures } from '../operators/computeFeatures';
import { fuseSignals } from '../operators/fuseSignals';
import { gateRisk } from '../operators/gateRisk';
import { createIndicator } from '../operators/indicators/registry';
import { createWindowedIndicator } from '../operators/indicators/tulindWindow';
import { mlSignal } from '../operators/mlSignal';
import { parseTrades } from '../operators/parseTrades';
import { detectCandlePatterns } from '../operators/candlePatterns';
import { confirmTimeframes } from '../operators/confirmTimeframes';
import { makeCostModel } from '../operators/costModel';
import { decideTrade } from '../operators/decideTrade';
import { forecastReturn } from '../operators/forecastReturn';
import { taSignal } from '../operators/taSignal';
import { trackMarketStats, type MarketStats } from '../operators/trackMarketStats';
import { applyFill, initialPortfolio } from '../operators/trackPortfolio';
import type { Bar, Features, Order, OrderIntent, Portfolio, TradeTick } from '../operators/types';
import type { BracketConfig } from '../operators/brackets';
import { loadConfig } from '../pipelines/config';
import { loadModelFor } from '../pipelines/model';
import { readBarsCsv } from '../sources/csvBars';
import { randomWalkBars } from '../test/support/fixtures';
import { sharedDataPath, repoRoot } from '../test/support/sharedData';

type Result = Record<string, number | string>;
const results: Record<string, Result> = {};

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function line(label: string, value: string): void {
  process.stdout.write(`  ${label.padEnd(44)} ${value}\n`);
}

function benchParse(): void {
  process.stdout.write('parse + aggregate (parseTrades → aggregateBars 1m+5m, one core)\n');
  const messages = tradeEvents(2_000_000, 3_000_000_000);
  let runs: number[] = [];
  let bars = 0;
  let bad = 0;
  for (let round = 0; round < 4; round++) {
    bars = 0;
    bad = 0;
    const start = process.hrtime.bigint();
    from(messages)
      .pipe(
        parseTrades({ venue: 'binance' }),
        filter((e): e is TradeTick => {
          if (e.kind === 'trade') return true;
          bad++;
          return false;
        }),
        aggregateBars({ timeframes: ['1m', '5m'] }),
      )
      .subscribe(() => bars++);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (round > 0) runs.push(messages.length / seconds); // round 0 warms the JIT
  }
  runs = runs.sort((a, b) => a - b);
  const median = runs[Math.floor(runs.length / 2)]!;
  line('messages', `${messages.length.toLocaleString('en')} (${bars} bars out, ${bad} rejected)`);
  line(
    'throughput (median of 3)',
    `${Math.round(median).toLocaleString('en')} msg/s  (${(1e6 / median).toFixed(3)} µs/msg)   target ≥ 1,000,000`,
  );
  results['parse'] = {
    messages: messages.length,
    msgPerSecond: Math.round(median),
    usPerMessage: 1e6 / median,
    runs: runs.map(Math.round).join(','),
  };
}

function loadBars(): { bars: Bar[]; source: string } {
  const file = sharedDataPath('candles/binance_spot_BTCUSDT_5m_nfi.csv');
  if (file) return { bars: readBarsCsv(file, { venue: 'binance', symbol: 'BTC/USDT', timeframe: '5m' }), source: file };
  return { bars: randomWalkBars(65_741), source: 'generated random walk (../shared/data not found)' };
}

function benchDecision(): void {
  process.stdout.write(
    'per-bar decision: 12 indicators + 1h/4h MTF + candlestick patterns → TA + ML → fuse → forecast → cost model, edge, bracket → risk (Growth config)\n',
  );
  const config = loadConfig(path.join(repoRoot, 'config', 'growth.yaml'));
  const model = loadModelFor(config);
  const { bars, source } = loadBars();
  const portfolio = initialPortfolio({ initialCash: config.initialCash, quote: 'USDT' });
  const bars$ = new Subject<Bar>();
  let decisions = 0;
  let stats: MarketStats | undefined;
  const { marketStats, ...limits } = config.risk ?? {};
  const { edge, brackets, ...sizing } = config.sizing ?? {};
  const cost = makeCostModel({
    takerFeeBps: config.execution.takerFeeBps ?? 10,
    slippageBps: config.execution.slippageBps ?? 2,
  });
  // As in the pipeline: statistics first, then the decision chain, on the same bar.
  bars$.pipe(trackMarketStats(marketStats ?? {})).subscribe((s) => (stats = s));
  // Every bar goes through the edge test, the cost model and (holding or not) the bracket: the
  // position is whatever the previous decisions asked for, as if filled at once; the bracket's
  // legs rest as the pipeline hands them back, and trigger when a bar's range crosses them.
  let held = 0n;
  let exits: Order[] = [];
  let lastBar: Bar | undefined;
  const holding = (): Portfolio =>
    held === 0n
      ? portfolio
      : {
          ...portfolio,
          positions: {
            [config.instrument.symbol]: {
              symbol: config.instrument.symbol,
              qty: held,
              costBasis: 0n,
              markPrice: lastBar?.close ?? 0,
            },
          },
        };
  bars$.subscribe((bar) => {
    lastBar = bar;
    // The venue's side, roughly: a resting leg whose trigger the bar's range reached has filled.
    for (const o of exits) {
      if (o.stopPrice === undefined) continue;
      const stop = o.type === 'stop-market' || o.type === 'stop-limit';
      if (stop ? bar.low <= o.stopPrice : bar.high >= o.stopPrice) {
        held -= o.qty;
        exits = exits.filter((x) => x !== o && (o.ocoGroup === undefined || x.ocoGroup !== o.ocoGroup));
        break;
      }
    }
    if (held < 0n) held = 0n;
  });
  const features$ = new Subject<Features>();
  // Multi-timeframe confirmation (1h and 4h) and candlestick patterns on top of the config's
  // features, so the measurement covers every decision stage there is.
  bars$
    .pipe(
      computeFeatures({ features: config.features }),
      confirmTimeframes({
        base: config.timeframe,
        timeframes: (['1h', '4h'] as const).map((timeframe) => ({
          timeframe,
          features: [{ id: 'ema24', indicator: 'ema', options: [24] }],
          trend: { fast: 'close', slow: 'ema24' },
        })),
      }),
      detectCandlePatterns(),
    )
    .subscribe(features$);
  const fused$ = zip(
    features$.pipe(taSignal(config.signals.ta!)),
    features$.pipe(mlSignal({ model, allowInSample: true })),
  ).pipe(fuseSignals(config.signals.fuse), forecastReturn(config.signals.forecast!));
  const { atr: _atr, support: _support, resistance: _resistance, ...bracketConfig } = brackets ?? { atr: '' };
  zip(fused$, features$)
    .pipe(
      map(([signal, f]) => {
        const atr = brackets ? f.values[brackets.atr] : undefined;
        return {
          signal,
          portfolio: holding(),
          ...(exits.length > 0 ? { exits } : {}),
          ...(stats?.volatility.has(signal.symbol) ? { volatility: stats.volatility.get(signal.symbol)! } : {}),
          ...(atr !== undefined && atr !== null ? { atr } : {}),
        };
      }),
      decideTrade({
        instrument: config.instrument,
        cost,
        costMargin: edge?.costMargin ?? 1.5,
        exitBps: edge?.exitBps ?? 0,
        minHoldBars: edge?.minHoldBars ?? 0,
        noTradeBand: edge?.noTradeBand ?? 0.5,
        kellyFraction: sizing.kellyFraction ?? 0.25,
        maxPositionPct: sizing.maxPositionPct ?? 0.25,
        ...(brackets ? { brackets: withoutUndefined(bracketConfig as BracketConfig) } : {}),
      }),
      filter((d): d is OrderIntent => {
        if (d.kind === 'cancel-all') exits = [];
        return d.kind === 'intent';
      }),
      map((intent) => ({ intent, portfolio: holding(), mode: 'Normal' as const, market: stats ? { stats } : {} })),
      gateRisk({ instruments: [config.instrument], ...limits, strategyId: config.name, configHash: config.hash }),
    )
    .subscribe((decision) => {
      decisions++;
      if (decision.kind !== 'approved') return;
      if (decision.order.type === 'market')
        held = decision.order.side === 'buy' ? held + decision.order.qty : held - decision.order.qty;
      else exits.push(decision.order);
    });
  // Wall time per bar, and the process's CPU time per bar (user + system, µs resolution): on a
  // shared machine a bar during which the process was descheduled shows in the wall time only.
  const latencies = new Float64Array(bars.length);
  const cpu = new Float64Array(bars.length);
  for (let i = 0; i < bars.length; i++) {
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    bars$.next(bars[i]!);
    latencies[i] = Number(process.hrtime.bigint() - start) / 1000;
    const used = process.cpuUsage(cpuStart);
    cpu[i] = used.user + used.system;
  }
  const warm = latencies.slice(1000).sort();
  const warmCpu = cpu.slice(1000).sort();
  line('bars', `${bars.length.toLocaleString('en')} from ${path.basename(source)} (${decisions} risk decisions)`);
  line(
    'wall p50 / p99 / p99.9 / max',
    `${percentile(warm, 0.5).toFixed(2)} / ${percentile(warm, 0.99).toFixed(2)} / ${percentile(warm, 0.999).toFixed(2)} / ${warm[warm.length - 1]!.toFixed(2)} µs   target p99 ≤ 50 µs`,
  );
  line(
    'CPU p50 / p99 / p99.9 / max',
    `${percentile(warmCpu, 0.5).toFixed(2)} / ${percentile(warmCpu, 0.99).toFixed(2)} / ${percentile(warmCpu, 0.999).toFixed(2)} / ${warmCpu[warmCpu.length - 1]!.toFixed(2)} µs   (load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores)`,
  );
  results['decision'] = {
    bars: bars.length,
    p50us: percentile(warm, 0.5),
    p99us: percentile(warm, 0.99),
    p999us: percentile(warm, 0.999),
    maxUs: warm[warm.length - 1]!,
    cpuP50us: percentile(warmCpu, 0.5),
    cpuP99us: percentile(warmCpu, 0.99),
    cpuP999us: percentile(warmCpu, 0.999),
    loadAverage: os.loadavg()[0]!,
  };
}

function benchIndicators(): void {
  process.stdout.write('indicator update: incremental vs tulind on a 300-bar window (per bar)\n');
  const { bars } = loadBars();
  const sample = bars.slice(0, 20_000);
  const specs: [string, number[]][] = [
    ['sma', [20]],
    ['ema', [20]],
    ['rsi', [14]],
    ['macd', [12, 26, 9]],
    ['bbands', [20, 2]],
    ['atr', [14]],
    ['adx', [14]],
    ['stoch', [14, 3, 3]],
    ['cci', [20]],
  ];
  const row: Result = {};
  for (const [name, options] of specs) {
    const incremental = createIndicator(name, options);
    let start = process.hrtime.bigint();
    for (const bar of sample) incremental.update(bar);
    const inc = Number(process.hrtime.bigint() - start) / sample.length;
    const windowed = createWindowedIndicator(name, options, 300);
    start = process.hrtime.bigint();
    for (const bar of sample) windowed.update(bar);
    const win = Number(process.hrtime.bigint() - start) / sample.length;
    line(
      `${name}(${options.join(',')})`,
      `${inc.toFixed(0).padStart(5)} ns incremental   ${(win / 1000).toFixed(1).padStart(6)} µs tulind window`,
    );
    row[`${name}Ns`] = Math.round(inc);
    row[`${name}TulindNs`] = Math.round(win);
  }
  results['indicators'] = row;
}

function benchBacktest(): void {
  const file = sharedDataPath('candles/binance_spot_BTCUSDT_5m_nfi.csv');
  process.stdout.write('backtest, whole process: run-pipeline backtest config/growth.yaml over the 5m nfi file\n');
  if (!file) {
    line('skipped', '../shared/data/candles/binance_spot_BTCUSDT_5m_nfi.csv not found');
    return;
  }
  const cli = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');
  const out = path.join(repoRoot, 'out', 'bench-backtest');
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = process.hrtime.bigint();
    const result = spawnSync(
      process.execPath,
      [
        cli,
        'backtest',
        '--config',
        path.join(repoRoot, 'config', 'growth.yaml'),
        '--data',
        file,
        '--out',
        out,
        '--quiet',
      ],
      { encoding: 'utf8' },
    );
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (result.status !== 0) throw new Error(`backtest failed: ${result.stderr}`);
    times.push(seconds);
  }
  times.sort((a, b) => a - b);
  line('bars', '65,741 (5m, Dec 2020 → Jul 2021)');
  line(
    'wall time, process start included',
    `${times.map((t) => t.toFixed(2)).join(' / ')} s (median ${times[1]!.toFixed(2)} s)   target ≤ 3 s`,
  );
  results['backtest'] = { bars: 65_741, medianSeconds: times[1]!, runs: times.map((t) => t.toFixed(3)).join(',') };
}

function benchRiskGate(): void {
  process.stdout.write('risk gate: one intent through every check (3 positions, 4 symbols with stats)\n');
  const config = loadConfig(path.join(repoRoot, 'config', 'growth.yaml'));
  const symbols = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'BNB/USDT'];
  const instruments = symbols.map((symbol, i) => ({
    ...config.instrument,
    symbol,
    base: symbol.split('/')[0]!,
    sector: i < 2 ? 'L1' : 'other',
  }));
  const prices = [30_000, 2_000, 50, 300];
  let portfolio = initialPortfolio({ initialCash: toUnits('100000'), quote: 'USDT' });
  for (let i = 1; i < 4; i++) {
    const qty = toUnits(((100_000 * 0.03) / prices[i]!).toFixed(4));
    const price = toUnits(prices[i]!);
    const notional = notionalOf(qty, price);
    portfolio = applyFill(portfolio, {
      kind: 'fill',
      clientOrderId: `x${i}`,
      signalId: 's',
      symbol: symbols[i]!,
      side: 'buy',
      qty,
      price,
      notional,
      fee: 0n,
      liquidity: 'taker',
      leavesQty: 0n,
      tsEvent: 0,
    });
  }
  const correlation = new Map<string, number>();
  for (const a of symbols) for (const b of symbols) correlation.set(`${a}|${b}`, a === b ? 1 : 0.3);
  const stats: MarketStats = {
    kind: 'market-stats',
    tsEvent: 0,
    volatility: new Map(symbols.map((s, i) => [s, 0.5 + i * 0.1])),
    adv: new Map(symbols.map((s) => [s, 1e9])),
    price: new Map(symbols.map((s, i) => [s, prices[i]!])),
    correlation: (a, b) => correlation.get(`${a}|${b}`),
  };
  const { marketStats: _ignored, ...limits } = config.risk ?? {};
  const input$ = new Subject<RiskInput>();
  let approved = 0;
  input$
    .pipe(
      gateRisk({
        instruments,
        ...limits,
        maxPositionPct: 0.05,
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
    const qty = toUnits((0.01 + (i % 7) * 0.005).toFixed(5));
    const intent: OrderIntent = {
      kind: 'intent',
      id: `i${i}`,
      signalId: `s${i}`,
      symbol: 'BTC/USDT',
      side: 'buy',
      qty,
      refPrice: 30_000,
      targetQty: qty,
      reducesRisk: false,
      tsEvent: i * 1000,
      reason: 'bench',
    };
    const start = process.hrtime.bigint();
    input$.next({ intent, portfolio, mode: 'Normal', market: { stats } });
    latencies[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  const warm = latencies.slice(10_000).sort();
  line('decisions', `${n.toLocaleString('en')} (${approved} approved)`);
  line(
    'p50 / p99 / p99.9',
    `${percentile(warm, 0.5).toFixed(2)} / ${percentile(warm, 0.99).toFixed(2)} / ${percentile(warm, 0.999).toFixed(2)} µs   target p99 ≤ 10 µs`,
  );
  results['riskGate'] = {
    decisions: n,
    p50us: percentile(warm, 0.5),
    p99us: percentile(warm, 0.99),
    p999us: percentile(warm, 0.999),
  };
}

async function benchKillSwitch(): Promise<void> {
  process.stdout.write(
    'kill switch: press → Emergency → every flattening order handed to the paper venue (asap scheduler)\n',
  );
  const config = loadConfig(path.join(repoRoot, 'config', 'growth.yaml'));
  const model = loadModelFor(config);
  const { bars } = loadBars();
  const times: number[] = [];
  for (let trial = 0; trial < 30; trial++) {
    const bars$ = new Subject<Bar>();
    const kill$ = new Subject<{ reason: string }>();
    let resolveFlat: (() => void) | undefined;
    let long = false;
    const paper = makePaperExchange({
      instruments: [config.instrument],
      initialCash: config.initialCash,
      quote: 'USDT',
      allowShort: false,
    });
    const venue = acceptingBooks((input$) =>
      input$.pipe(
        tap((input) => {
          if (input.kind === 'order' && input.signalId.startsWith('emergency:')) resolveFlat?.();
        }),
        paper,
      ),
    );
    const pipeline = tradingPipeline(
      { ...config, signals: { ...config.signals, ml: { ...config.signals.ml!, allowInSample: true } } },
      { venue, model, scheduler: asapScheduler },
    );
    const subscription = pipeline({ bars$, kill$ }).subscribe((e) => {
      if (e.kind === 'portfolio') long = Object.keys(e.positions).length > 0;
    });
    // Trade until a position is open, then press. Bars arrive one by one with the pending
    // microtasks (order releases) run in between, as on a live feed.
    const start = 3000 + trial * 1500;
    for (let i = start; i < bars.length && i < start + 5000 && !long; i++) {
      bars$.next(bars[i]!);
      await Promise.resolve();
    }
    await new Promise((r) => setImmediate(r));
    if (!long) {
      subscription.unsubscribe();
      continue;
    }
    const flattened = new Promise<void>((r) => (resolveFlat = r));
    const t0 = process.hrtime.bigint();
    kill$.next({ reason: 'bench press' });
    await flattened;
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    subscription.unsubscribe();
  }
  times.sort((a, b) => a - b);
  if (times.length === 0) {
    line('press → flatten', 'no trial had an open position to flatten');
    return;
  }
  const p = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  line('trials with an open position', String(times.length));
  line(
    'press → flattening order at the venue',
    `median ${p(0.5).toFixed(3)} ms, max ${times[times.length - 1]!.toFixed(3)} ms   target ≤ 5 ms`,
  );
  results['killSwitch'] = { trials: times.length, medianMs: p(0.5), maxMs: times[times.length - 1]! };
}

function benchGarchRefit(): void {
  process.stdout.write('GARCH(1,1)-t refit (fit + 1-day 99 % VaR/CVaR), 2,000 hourly returns\n');
  const { refitMs, returns } = benchGarch();
  line('one refit (median of 15)', `${refitMs.toFixed(1)} ms on ${returns} returns`);
  results['garch'] = { refitMs, returns };
}

async function benchCcxt(): Promise<void> {
  results['ccxtIngest'] = await benchCcxtIngest(200_000);
  process.stdout.write(
    'signal to order: an approved order entering the live venue → request handed to ccxt (local server)\n',
  );
  const latency = await benchSignalToOrder({ orders: 2000 });
  for (const text of describeOrderLatency(latency)) process.stdout.write(`  ${text}\n`);
  results['orderLatency'] = {
    oursP50us: latency.ours.p50Us,
    oursP99us: latency.ours.p99Us,
    toHttpP50us: latency.toHttp.p50Us,
    toHttpP99us: latency.toHttp.p99Us,
  };
}

async function benchResearchRuns(): Promise<void> {
  process.stdout.write('research: walk-forward over the 5m files, optimize trials per minute\n');
  results['research'] = await benchResearch(line);
}

const BENCHES: Record<string, () => void | Promise<void>> = {
  garch: benchGarchRefit,
  ccxt: benchCcxt,
  parse: benchParse,
  decision: benchDecision,
  riskGate: benchRiskGate,
  killSwitch: benchKillSwitch,
  indicators: benchIndicators,
  backtest: benchBacktest,
  portfolio: () => {
    const row = benchPortfolio(line);
    if (row) results['portfolio'] = row;
  },
  portfolioGate: () => {
    results['portfolioGate'] = benchPortfolioGate(line);
  },
  observability: async () => {
    results['observability'] = await benchObservability();
  },
  research: benchResearchRuns,
  kafka: async () => {
    const row = await benchKafka();
    if (row) results['kafka'] = row;
  },
};

async function main(): Promise<void> {
  const onlyArg = process.argv.indexOf('--only');
  const only = onlyArg >= 0 ? (process.argv[onlyArg + 1] ?? '').split(',') : Object.keys(BENCHES);
  process.stdout.write(
    `bot4 bench — node ${process.version}, ${require('node:os').cpus().length} cpus (${require('node:os').cpus()[0]?.model ?? '?'})\n`,
  );
  for (const name of only) {
    const bench = BENCHES[name];
    if (!bench) throw new Error(`unknown bench "${name}"; choose from ${Object.keys(BENCHES).join(', ')}`);
    await bench();
  }
  mkdirSync(path.join(repoRoot, 'out'), { recursive: true });
  writeFileSync(
    path.join(repoRoot, 'out', 'bench.json'),
    `${JSON.stringify({ node: process.version, ...results }, null, 2)}\n`,
  );
  process.stdout.write(`results: out/bench.json\n`);
}

void main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});

/** The object without its undefined fields (a config section spread into exact optional types). */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
