/**
 * `feed.bars: trades`: a paper session builds its bars from the trade stream (ccxt.pro watchTrades
 * → aggregateBars) instead of the kline stream, which it keeps as a cross-check. Real Binance
 * BTC/USDT 1m candles (2023-04) are replayed through the local Binance server as trades — each
 * candle as four trades at its open, low/high, high/low and close, their quantities summing to its
 * volume — and as klines. The bars the session decides on must be the exchange's candles: the same
 * signals as a backtest over those candles, the partial first bar never decided on, the hole it
 * leaves filled over REST, and the cross-check counting one disagreement where the kline stream
 * was made to differ.
 */
import { deepStrictEqual, equal, match, ok } from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import { formatUnits, toUnits } from '../../operators/money';
import type { Bar } from '../../operators/types';
import { loadConfig } from '../../pipelines/config';
import { paperExchangeFor } from '../../pipelines/paperVenue';
import { runSession, type SessionSummary } from '../../pipelines/session';
import { tradingPipeline, type PipelineEvent } from '../../pipelines/tradingPipeline';
import { makeBarReplaySource, readBarsCsv } from '../../sources/csvBars';
import { startBinanceServer, type BinanceServer, type Kline } from '../support/binanceServer';
import { eventually } from '../support/eventually';
import { requireSharedData } from '../support/sharedData';
import { tempDir } from '../support/tmp';

const MINUTE = 60_000;
const WARMUP = 60;
const LIVE = 20;
/** The live bar whose kline the exchange's stream reports with another close. */
const ALTERED = WARMUP + 10;

const CONFIG = `
name: session-trade-bars
tier: growth
# A coarser lot than the exchange's (0.00001): the session must trade on the exchange's grid.
instrument: { venue: binance, symbol: BTC/USDT, qtyStep: "0.001", priceTick: 0.01, minQty: "0.001", minNotional: "5" }
timeframe: 1m
capital: { initial: "10000" }
features:
  - { id: ema3, indicator: ema, options: [3] }
  - { id: ema8, indicator: ema, options: [8] }
  - { id: atr5, indicator: atr, options: [5] }
  - { id: roc1, indicator: roc, options: [1] }
signals:
  ta:
    threshold: 0.5
    rules:
      - { kind: cross, group: trend, fast: ema3, slow: ema8 }
      - { kind: sign, group: momentum, feature: roc1 }
  fuse: { weights: { ta: 1 }, minScore: 0.5, minConfidence: 0.5 }
sizing: { kellyFraction: 0.5, misspecificationBuffer: 0, maxPositionPct: 0.1, onFlat: close }
risk: { maxPositionPct: 0.2, maxHeat: null, maxCorrelation: null, volTarget: null, maxVar: null, marketStats: { minReturns: 20 } }
execution: { venue: paper, takerFeeBps: 10, slippageBps: 2 }
journal: { level: all }
feed: { bars: trades }
`;

function kline(bar: Bar, close = bar.close): Kline {
  return {
    openTime: bar.tsOpen,
    open: String(bar.open),
    high: String(Math.max(bar.high, close)),
    low: String(Math.min(bar.low, close)),
    close: String(close),
    volume: String(bar.volume),
  };
}

/** A candle as four trades (open, then the extreme nearer the open, the other, close) summing to its volume. */
function trades(bar: Bar): { price: string; qty: string; time: number }[] {
  const volume = toUnits(String(bar.volume));
  const step = toUnits('0.00001');
  const quarter = (volume / 4n / step) * step;
  const qtys = [quarter, quarter, quarter, volume - 3n * quarter];
  const path =
    bar.close >= bar.open ? [bar.open, bar.low, bar.high, bar.close] : [bar.open, bar.high, bar.low, bar.close];
  return path.map((price, i) => ({ price: String(price), qty: formatUnits(qtys[i]!), time: bar.tsOpen + i * 15_000 }));
}

interface Journaled {
  readonly kind: string;
  readonly [key: string]: unknown;
}

describe('a paper session building its bars from the trade stream (local Binance server, real 1m candles)', function () {
  this.timeout(180_000);
  let server: BinanceServer;
  const tmp = tempDir();
  const configFile = path.join(tmp.dir, 'trade-bars.yaml');
  let bars: Bar[];
  let bucket = 0;
  let summary: SessionSummary;
  let logText = '';
  let journal: Journaled[];

  before(async function () {
    const file = requireSharedData(this, 'candles/binance_spot_BTCUSDT_1m_2023-04.csv');
    writeFileSync(configFile, CONFIG);
    await eventually(() => ok(Date.now() % MINUTE < MINUTE - 15_000, 'too close to a minute boundary'), {
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    bucket = Math.floor(Date.now() / MINUTE) * MINUTE;
    const all = readBarsCsv(file, { venue: 'binance', symbol: 'BTC/USDT', timeframe: '1m' });
    const shift = bucket - WARMUP * MINUTE - all[1000]!.tsOpen;
    bars = all
      .slice(1000, 1000 + WARMUP + LIVE + 1)
      .map((b) => ({ ...b, tsOpen: b.tsOpen + shift, tsEvent: b.tsEvent + shift }));
    for (let i = 1; i < bars.length; i++) equal(bars[i]!.tsOpen - bars[i - 1]!.tsOpen, MINUTE, 'a hole in the candles');
    server = await startBinanceServer({});
    server.setKlines(
      'BTCUSDT',
      '1m',
      bars.slice(0, WARMUP).map((b) => kline(b)),
    );

    const log = new PassThrough();
    log.on('data', (chunk: Buffer) => (logText += chunk.toString()));
    const stop$ = new Subject<void>();
    const outDir = path.join(tmp.dir, 'paper');
    const journalFile = path.join(outDir, 'journal.jsonl');
    const running = runSession({
      mode: 'paper',
      configFile,
      outDir,
      apiUrl: server.url,
      wsUrl: server.url.replace(/^http/, 'ws'),
      warmupBars: WARMUP,
      killSwitch: 'none',
      log,
      stop$,
    });
    try {
      await eventually(() => ok(/warm-up done/.test(logText), logText), { timeoutMs: 60_000 });
      await eventually(
        () => ok(server.subscriberCount('btcusdt@trade') > 0 && server.subscriberCount('btcusdt@kline_1m') > 0),
        { timeoutMs: 30_000 },
      );
      for (let i = WARMUP; i < WARMUP + LIVE + 1; i++) {
        const bar = bars[i]!;
        for (const t of trades(bar))
          server.pushTrade('BTCUSDT', { price: t.price, qty: t.qty, buyerIsMaker: false, time: t.time });
        // The exchange's kline of the bar before, closed (the cross-check's side).
        if (i > WARMUP) {
          const before = bars[i - 1]!;
          server.pushKline('BTCUSDT', '1m', kline(before, i - 1 === ALTERED ? before.close + 1 : before.close), {
            final: true,
          });
          server.pushKline('BTCUSDT', '1m', kline(bar), { final: false });
        } else server.pushKline('BTCUSDT', '1m', kline(bar), { final: false });
        // A trade-built bar closes with the first trade of the next one: bar i−1 is decided now.
        if (i > WARMUP + 1) {
          const close = bars[i - 1]!.tsOpen;
          await eventually(
            () => ok(readFileSync(journalFile, 'utf8').includes(`"id":"BTC/USDT:1m:${close}:fused"`), `bar ${close}`),
            { timeoutMs: 20_000 },
          );
        }
      }
    } finally {
      stop$.next();
    }
    summary = await running;
    journal = readFileSync(summary.journal, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Journaled);
  });

  after(async () => {
    await server?.close();
    tmp.cleanup();
  });

  it('decides on every live bar, the first (partial, joined mid-way) one taken from REST instead of the trades', () => {
    const live = journal.filter((e) => e.kind === 'signal' && (e['tsEvent'] as number) > bucket);
    deepStrictEqual(
      live.map((e) => e['tsEvent']),
      bars.slice(WARMUP, WARMUP + LIVE).map((b) => b.tsEvent),
    );
  });

  it('the bars built from trades are the exchange’s candles: the same signals as a backtest over them', () => {
    const config = loadConfig(configFile);
    const scheduler = new VirtualTimeScheduler();
    const events: PipelineEvent[] = [];
    tradingPipeline(config, { venue: paperExchangeFor(config, scheduler), scheduler })({
      bars$: makeBarReplaySource({ bars: bars.slice(0, WARMUP + LIVE), scheduler }),
      tradeFrom: bucket + 1,
    }).subscribe((e) => events.push(e));
    scheduler.flush();
    const signals = (all: readonly { kind: string }[]) =>
      all
        .filter((e) => e.kind === 'signal' && (e as unknown as { tsEvent: number }).tsEvent > bucket)
        .map((e) => {
          const s = e as unknown as { id: string; direction: number; strength: number; price: number };
          return `${s.id} ${s.direction} ${s.strength.toFixed(12)} ${s.price}`;
        });
    const session = signals(journal);
    equal(session.length, LIVE);
    ok(
      session.some((s) => !s.includes(' 0 ')),
      'no live bar gave a signal with a direction: the comparison shows little',
    );
    deepStrictEqual(session, signals(events));
  });

  it('sizes orders on the exchange’s lot grid, not the config’s: precision and minimums come from the exchange’s markets', () => {
    match(
      logText,
      /markets: BTC\/USDT from the exchange: qtyStep 0\.00001 \(config 0\.001\), minQty 0\.00001 \(config 0\.001\)/,
    );
    const qtys = journal.filter((e) => e.kind === 'intent' || e.kind === 'fill').map((e) => String(e['qty']));
    ok(qtys.length > 0, 'no order');
    ok(
      qtys.some((q) => !/^\d+\.?\d{0,3}$/.test(q)),
      `every quantity on the config's 0.001 grid: ${qtys.join(', ')}`,
    );
    for (const q of qtys) match(q, /^\d+(\.\d{1,5})?$/, `off the exchange's 0.00001 grid: ${q}`);
  });

  it('keeps the kline stream as a cross-check: every compared bar agrees but the one the exchange reported otherwise', () => {
    ok(summary.barCrossCheck, 'no cross-check in the summary');
    ok(summary.barCrossCheck.compared >= LIVE - 3, `only ${summary.barCrossCheck.compared} bars compared`);
    equal(summary.barCrossCheck.mismatches, 1);
    match(logText, new RegExp(`bar cross-check: BTC/USDT 1m ${new Date(bars[ALTERED]!.tsOpen).toISOString()}: close`));
  });
});
