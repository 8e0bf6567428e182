/**
 * Soak test of the ccxt.pro sources: for `--minutes`, the local Binance server (same process)
 * pushes trades at `--rate` messages/s spread over `--symbols` symbols, plus a 1m kline update per
 * symbol every second (built from those trades), into {@link makeCcxtTradeSource} and
 * {@link makeCcxtOhlcvSource}. Every `--sample-seconds` it records process memory (after a full GC
 * when node runs with `--expose-gc`), and counts lost and repeated trades (trade ids are
 * consecutive per symbol) and bar holes/repeats. Prints the curve and writes it to `--out`
 * (default out/soak.json).
 *
 *   node --expose-gc dist/bench/soak.js --minutes 30 --rate 2000
 *
 * Growth is measured from the end of the warm-up (`--warmup-minutes`, default 2) to the last
 * sample, together with the least-squares slope of heap used after warm-up.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Subscription } from 'rxjs';
import type { Bar } from '../operators/types';
import { makeCcxtOhlcvSource, makeCcxtTradeSource, seededRandom, type FeedEvent } from '../sources/ccxtMarketData';
import {
  BTCUSDT,
  ETHBTC,
  ETHUSDT,
  startBinanceServer,
  type BinanceServer,
  type Kline,
  type SymbolSpec,
} from '../test/support/binanceServer';

interface Options {
  readonly minutes: number;
  readonly rate: number;
  readonly symbols: number;
  readonly sampleSeconds: number;
  readonly warmupMinutes: number;
  readonly out: string;
}

interface Sample {
  /** Minutes since the start. */
  readonly minute: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
  readonly heapTotalMb: number;
  readonly externalMb: number;
  readonly arrayBuffersMb: number;
  readonly tradesSent: number;
  readonly tradesReceived: number;
  /** Trades received per second since the previous sample. */
  readonly rate: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly bars: number;
  readonly reconnects: number;
}

function parseArgs(argv: readonly string[]): Options {
  const value = (name: string, fallback: number): number => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return fallback;
    const n = Number(argv[i + 1]);
    if (!Number.isFinite(n) || n <= 0)
      throw new Error(`--${name}: expected a positive number, found ${JSON.stringify(argv[i + 1])}`);
    return n;
  };
  const outArg = argv.indexOf('--out');
  return {
    minutes: value('minutes', 30),
    rate: value('rate', 2_000),
    symbols: Math.min(3, Math.round(value('symbols', 2))),
    sampleSeconds: value('sample-seconds', 30),
    warmupMinutes: value('warmup-minutes', 2),
    out: outArg >= 0 ? argv[outArg + 1]! : path.join(__dirname, '..', '..', 'out', 'soak.json'),
  };
}

const SPECS: readonly SymbolSpec[] = [BTCUSDT, ETHUSDT, ETHBTC];
const START_PRICE: Readonly<Record<string, number>> = { BTCUSDT: 43_000, ETHUSDT: 2_300, ETHBTC: 0.053 };

/** The exchange side: trades at a steady rate, and the 1m kline they build, per symbol. */
class Market {
  private readonly random = seededRandom(2024);
  private readonly price = new Map<string, number>();
  private readonly candle = new Map<
    string,
    { openTime: number; open: number; high: number; low: number; close: number; volume: number; trades: number }
  >();
  sent = 0;
  readonly sentBySymbol = new Map<string, number>();

  constructor(
    private readonly server: BinanceServer,
    private readonly specs: readonly SymbolSpec[],
  ) {
    for (const spec of specs) {
      this.price.set(spec.symbol, START_PRICE[spec.symbol]!);
      this.sentBySymbol.set(spec.symbol, 0);
    }
  }

  trade(now: number): void {
    const spec = this.specs[this.sent % this.specs.length]!;
    const decimals = spec.tickSize.replace(/0+$/, '').split('.')[1]?.length ?? 0;
    const last = this.price.get(spec.symbol)!;
    const price = Number(
      Math.max(Number(spec.tickSize), last * (1 + (this.random() - 0.5) * 0.0004)).toFixed(decimals),
    );
    this.price.set(spec.symbol, price);
    const qty = (0.001 + this.random() * 0.5).toFixed(4);
    this.rollCandle(spec.symbol, now);
    const c = this.candle.get(spec.symbol)!;
    c.high = Math.max(c.high, price);
    c.low = Math.min(c.low, price);
    c.close = price;
    c.volume = Number((c.volume + Number(qty)).toFixed(4));
    c.trades += 1;
    this.server.pushTrade(spec.symbol, {
      price: price.toFixed(decimals),
      qty,
      buyerIsMaker: this.random() < 0.5,
      time: now,
    });
    this.sent += 1;
    this.sentBySymbol.set(spec.symbol, this.sentBySymbol.get(spec.symbol)! + 1);
  }

  /** The kline update Binance sends every second or two. */
  klineUpdates(now: number): void {
    for (const spec of this.specs) {
      this.rollCandle(spec.symbol, now);
      this.server.pushKline(spec.symbol, '1m', this.kline(spec.symbol), { final: false });
    }
  }

  private rollCandle(symbol: string, now: number): void {
    const openTime = Math.floor(now / 60_000) * 60_000;
    const current = this.candle.get(symbol);
    if (current?.openTime === openTime) return;
    if (current) this.server.pushKline(symbol, '1m', this.kline(symbol), { final: true });
    const p = current?.close ?? this.price.get(symbol)!;
    this.candle.set(symbol, { openTime, open: p, high: p, low: p, close: p, volume: 0, trades: 0 });
  }

  private kline(symbol: string): Kline {
    const c = this.candle.get(symbol)!;
    return {
      openTime: c.openTime,
      open: String(c.open),
      high: String(c.high),
      low: String(c.low),
      close: String(c.close),
      volume: c.volume.toFixed(4),
      trades: c.trades,
    };
  }
}

function mb(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}

function slopePerHour(samples: readonly Sample[], key: 'heapUsedMb' | 'rssMb'): number {
  if (samples.length < 2) return 0;
  const xs = samples.map((s) => s.minute / 60);
  const ys = samples.map((s) => s[key]);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const specs = SPECS.slice(0, options.symbols);
  const symbols = specs.map((s) => `${s.baseAsset}/${s.quoteAsset}`);
  const gc = (globalThis as { gc?: () => void }).gc;
  process.stdout.write(
    `soak: ${options.minutes} min, ${options.rate} trades/s over ${symbols.join(', ')} + 1m klines; samples every ${options.sampleSeconds} s` +
      `${gc ? ' after a full GC' : ' (run node with --expose-gc for post-GC numbers)'}; node ${process.version}\n`,
  );
  const server = await startBinanceServer({ symbols: specs });
  const market = new Market(server, specs);
  const local = { exchange: 'binance', symbols, apiUrl: server.url, wsUrl: server.url.replace(/^http/, 'ws') };

  const received = new Map<string, { count: number; lastId: number; lost: number; duplicates: number }>(
    specs.map((s) => [`${s.baseAsset}/${s.quoteAsset}`, { count: 0, lastId: 0, lost: 0, duplicates: 0 }]),
  );
  const bars = new Map<string, Bar[]>(symbols.map((s) => [s, []]));
  let barProblems = 0;
  let barsEmitted = 0;
  const events: FeedEvent[] = [];
  const errors: unknown[] = [];
  const sources = new Subscription();
  sources.add(
    makeCcxtTradeSource({ ...local, silenceMs: 10_000 }).subscribe({
      next: (event) => {
        if (event.kind === 'trade') {
          const r = received.get(event.symbol)!;
          const id = Number(event.tradeId);
          r.count += 1;
          if (id <= r.lastId) r.duplicates += 1;
          else {
            r.lost += id - r.lastId - 1;
            r.lastId = id;
          }
        } else if (event.kind !== 'dead-letter') events.push(event);
      },
      error: (error: unknown) => errors.push(error),
    }),
  );
  sources.add(
    makeCcxtOhlcvSource({ ...local, timeframes: ['1m'], silenceMs: 10_000 }).subscribe({
      next: (event) => {
        if (event.kind === 'bar') {
          const list = bars.get(event.symbol)!;
          const previous = list.at(-1);
          if (previous && event.tsOpen !== previous.tsOpen + 60_000) barProblems += 1;
          barsEmitted += 1;
          list.push(event);
          if (list.length > 120) list.shift(); // the soak must not grow either
        } else if (event.kind !== 'dead-letter') events.push(event);
      },
      error: (error: unknown) => errors.push(error),
    }),
  );
  const deadline = Date.now() + 10_000;
  while (
    specs.some(
      (s) =>
        server.subscriberCount(`${s.symbol.toLowerCase()}@trade`) !== 1 ||
        server.subscriberCount(`${s.symbol.toLowerCase()}@kline_1m`) !== 1,
    )
  ) {
    if (Date.now() > deadline) throw new Error('the sources did not subscribe within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }

  const start = Date.now();
  const end = start + options.minutes * 60_000;
  const producer = setInterval(() => {
    const now = Date.now();
    const due = Math.min(
      Math.floor(((now - start) / 1000) * options.rate),
      Math.floor(options.minutes * 60 * options.rate),
    );
    while (market.sent < due) market.trade(now);
  }, 5);
  const klines = setInterval(() => market.klineUpdates(Date.now()), 1_000);

  const samples: Sample[] = [];
  let lastReceived = 0;
  let lastSampleAt = start;
  const sample = (): Sample => {
    gc?.();
    const m = process.memoryUsage();
    const now = Date.now();
    const totals = [...received.values()].reduce(
      (a, r) => ({ count: a.count + r.count, lost: a.lost + r.lost, duplicates: a.duplicates + r.duplicates }),
      { count: 0, lost: 0, duplicates: 0 },
    );
    const s: Sample = {
      minute: Math.round(((now - start) / 60_000) * 100) / 100,
      rssMb: mb(m.rss),
      heapUsedMb: mb(m.heapUsed),
      heapTotalMb: mb(m.heapTotal),
      externalMb: mb(m.external),
      arrayBuffersMb: mb(m.arrayBuffers),
      tradesSent: market.sent,
      tradesReceived: totals.count,
      rate: Math.round((totals.count - lastReceived) / ((now - lastSampleAt) / 1000)),
      lost: totals.lost,
      duplicates: totals.duplicates,
      bars: barsEmitted,
      reconnects: events.filter((e) => e.kind === 'feed-reconnecting').length,
    };
    lastReceived = totals.count;
    lastSampleAt = now;
    samples.push(s);
    process.stdout.write(
      `  ${s.minute.toFixed(1).padStart(5)} min  RSS ${s.rssMb.toFixed(1).padStart(6)} MB  heap ${s.heapUsedMb.toFixed(1).padStart(6)} MB  ` +
        `${s.rate.toString().padStart(5)} msg/s  received ${s.tradesReceived}  lost ${s.lost}  dup ${s.duplicates}  bars ${s.bars}  reconnects ${s.reconnects}\n`,
    );
    return s;
  };
  sample();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      sample();
      if (Date.now() >= end - 500) {
        clearInterval(timer);
        resolve();
      }
    }, options.sampleSeconds * 1000);
  });
  clearInterval(producer);
  clearInterval(klines);
  // Let the tail arrive.
  const tailDeadline = Date.now() + 5_000;
  while ([...received.values()].reduce((a, r) => a + r.count, 0) < market.sent && Date.now() < tailDeadline)
    await new Promise((resolve) => setTimeout(resolve, 20));

  // Bars: every emitted bar (the last 120 per symbol are kept) equals what the server served for that minute.
  let barMismatches = 0;
  let barsTotal = 0;
  for (const spec of specs) {
    const served = new Map(server.klinesOf(spec.symbol, '1m').map((k) => [k.openTime, k]));
    for (const bar of bars.get(`${spec.baseAsset}/${spec.quoteAsset}`)!) {
      barsTotal += 1;
      const k = served.get(bar.tsOpen);
      if (
        !k ||
        [k.open, k.high, k.low, k.close, k.volume]
          .map(Number)
          .some((v, i) => v !== [bar.open, bar.high, bar.low, bar.close, bar.volume][i])
      )
        barMismatches += 1;
    }
  }
  const final = sample();
  sources.unsubscribe();
  await server.close();

  const unique = [...received.values()].reduce((a, r) => a + r.count - r.duplicates, 0);
  const warm = samples.filter((s) => s.minute >= options.warmupMinutes);
  const base = warm[0] ?? samples[0]!;
  const summary = {
    minutes: options.minutes,
    rate: options.rate,
    symbols,
    gcBeforeSamples: gc !== undefined,
    tradesSent: market.sent,
    tradesReceived: unique,
    lost: market.sent - unique,
    duplicates: final.duplicates,
    barsEmitted,
    barsChecked: barsTotal,
    barHolesOrRepeats: barProblems,
    barMismatches,
    reconnects: final.reconnects,
    errors: errors.map(String),
    warmupEndMinute: base.minute,
    rssGrowthAfterWarmupMb: Math.round((final.rssMb - base.rssMb) * 10) / 10,
    heapGrowthAfterWarmupMb: Math.round((final.heapUsedMb - base.heapUsedMb) * 10) / 10,
    heapSlopeAfterWarmupMbPerHour: Math.round(slopePerHour(warm, 'heapUsedMb') * 100) / 100,
    rssSlopeAfterWarmupMbPerHour: Math.round(slopePerHour(warm, 'rssMb') * 100) / 100,
    maxRssMb: Math.max(...samples.map((s) => s.rssMb)),
  };
  mkdirSync(path.dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify({ node: process.version, options, summary, samples }, null, 2)}\n`);
  process.stdout.write(
    `\nsummary: sent ${summary.tradesSent}, received ${summary.tradesReceived}, lost ${summary.lost}, repeated ${summary.duplicates}; ` +
      `bars ${summary.barsEmitted} emitted (${summary.barsChecked} compared), ${summary.barHolesOrRepeats} holes/repeats, ${summary.barMismatches} differing from the server; reconnects ${summary.reconnects}\n` +
      `memory after warm-up (${summary.warmupEndMinute} min → ${final.minute} min): RSS ${summary.rssGrowthAfterWarmupMb >= 0 ? '+' : ''}${summary.rssGrowthAfterWarmupMb} MB, ` +
      `heap used ${summary.heapGrowthAfterWarmupMb >= 0 ? '+' : ''}${summary.heapGrowthAfterWarmupMb} MB (slope ${summary.heapSlopeAfterWarmupMbPerHour} MB/h); max RSS ${summary.maxRssMb} MB\n` +
      `curve: ${path.relative(process.cwd(), options.out)}\n`,
  );
  if (errors.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`soak failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
