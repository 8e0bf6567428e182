/**
 * A paper session on a universe: one session, three symbols (real Binance 5m bars of BTC, SOL and
 * LTC, moved to the present), one portfolio and one risk gate — and the same orders and fills as a
 * backtest over the same bars. The session gets its bars the way it does from an exchange: the
 * warm-up over REST and the live bars as kline streams of the local Binance server, one symbol's
 * stream after another's, and fills them through the paper exchange; the backtest replays the
 * same bars in virtual time through the same simulator.
 */
import { deepStrictEqual, equal, ok } from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import type { Bar } from '../../operators/types';
import { mergeByEventTime } from '../../pipelines/backtest';
import { loadConfig } from '../../pipelines/config';
import { paperExchangeFor } from '../../pipelines/paperVenue';
import { runSession } from '../../pipelines/session';
import { tradingPipeline, type PipelineEvent } from '../../pipelines/tradingPipeline';
import { serializeEvent } from '../../sinks/journal';
import { makeBarReplaySource, readBarsCsv } from '../../sources/csvBars';
import { BTCUSDT, startBinanceServer, type BinanceServer, type Kline, type SymbolSpec } from '../support/binanceServer';
import { eventually } from '../support/eventually';
import { requireSharedData } from '../support/sharedData';
import { tempDir } from '../support/tmp';

const FIVE_MINUTES = 300_000;
const WARMUP = 100;
const LIVE = 36;
const BASES = ['BTC', 'SOL', 'LTC'] as const;
/** 2021-01-14 00:00 UTC: a trending week with crosses in every symbol. */
const FROM = Date.UTC(2021, 0, 14);

const spec = (base: string, tickSize: string, stepSize: string): SymbolSpec => ({
  ...BTCUSDT,
  symbol: `${base}USDT`,
  baseAsset: base,
  tickSize,
  minPrice: tickSize,
  stepSize,
  minQty: stepSize,
});

/** Readily trading (short EMAs, TA only), the portfolio limits on: concentration, venue, heat. */
const CONFIG = `
name: session-universe
tier: growth
universe:
  instruments:
    - { venue: binance, symbol: BTC/USDT, qtyStep: "0.00001", priceTick: 0.01, minQty: "0.00001", minNotional: "5", sector: store-of-value }
    - { venue: binance, symbol: SOL/USDT, qtyStep: "0.01", priceTick: 0.0001, minQty: "0.01", minNotional: "5", sector: smart-contract-l1 }
    - { venue: binance, symbol: LTC/USDT, qtyStep: "0.001", priceTick: 0.01, minQty: "0.001", minNotional: "5", sector: payments }
timeframe: 5m
capital: { initial: "10000" }
features:
  - { id: ema3, indicator: ema, options: [3] }
  - { id: ema8, indicator: ema, options: [8] }
  - { id: roc1, indicator: roc, options: [1] }
signals:
  ta:
    threshold: 0.5
    rules:
      - { kind: cross, group: trend, fast: ema3, slow: ema8 }
      - { kind: sign, group: momentum, feature: roc1 }
  fuse: { weights: { ta: 1 }, minScore: 0.5, minConfidence: 0.5 }
sizing: { kellyFraction: 0.5, misspecificationBuffer: 0, maxPositionPct: 0.2, onFlat: close }
risk:
  maxPositionPct: 0.25
  maxVenuePct: 0.5
  maxStrategyPct: 0.5
  maxSectorPct: 0.3
  maxHeat: null
  maxCorrelation: null
  volTarget: null
  maxVar: null
  marketStats: { minReturns: 20 }
execution: { venue: paper, takerFeeBps: 10, slippageBps: 2 }
journal: { level: all }
`;

interface Journaled {
  readonly kind: string;
  readonly [key: string]: unknown;
}

function kline(bar: Bar): Kline {
  return {
    openTime: bar.tsOpen,
    open: String(bar.open),
    high: String(bar.high),
    low: String(bar.low),
    close: String(bar.close),
    volume: String(bar.volume),
  };
}

/** What an order or fill amounts to, in the journal's form: ids, side, quantities, prices, fees. */
function trade(e: Journaled): string {
  const { kind, clientOrderId, signalId, symbol, side, qty, price, fee, liquidity } = e;
  return JSON.stringify({ kind, clientOrderId, signalId, symbol, side, qty, price, fee, liquidity });
}

describe('a paper session on a universe (local Binance server, real 5m bars of three symbols)', function () {
  this.timeout(180_000);
  let server: BinanceServer;
  const tmp = tempDir();
  const configFile = path.join(tmp.dir, 'universe.yaml');
  /** Per symbol: the warm-up bars then the live ones, moved so that the warm-up ends now. */
  let series: Bar[][];
  let bucket = 0;
  let sessionJournal: Journaled[];
  let backtest: Journaled[];

  before(async function () {
    const files = BASES.map((b) => requireSharedData(this, `candles/binance_spot_${b}USDT_5m_nfi.csv`));
    writeFileSync(configFile, CONFIG);
    await eventually(() => ok(Date.now() % FIVE_MINUTES < FIVE_MINUTES - 20_000, 'too close to a 5-minute boundary'), {
      timeoutMs: 25_000,
      intervalMs: 500,
    });
    bucket = Math.floor(Date.now() / FIVE_MINUTES) * FIVE_MINUTES;
    const shift = bucket - WARMUP * FIVE_MINUTES - FROM;
    series = BASES.map((base, i) =>
      readBarsCsv(files[i]!, { venue: 'binance', symbol: `${base}/USDT`, timeframe: '5m' })
        .filter((b) => b.tsOpen >= FROM && b.tsOpen < FROM + (WARMUP + LIVE) * FIVE_MINUTES)
        .map((b) => ({ ...b, tsOpen: b.tsOpen + shift, tsEvent: b.tsEvent + shift })),
    );
    for (const s of series) equal(s.length, WARMUP + LIVE, `${s[0]?.symbol}: bars missing in the period`);
    server = await startBinanceServer({
      symbols: [BTCUSDT, spec('SOL', '0.00010000', '0.01000000'), spec('LTC', '0.01000000', '0.00100000')],
    });
    BASES.forEach((base, i) => server.setKlines(`${base}USDT`, '5m', series[i]!.slice(0, WARMUP).map(kline)));

    // The paper session: warm-up over REST, then the live bars pushed as an exchange streams them.
    const log = new PassThrough();
    let text = '';
    log.on('data', (chunk: Buffer) => (text += chunk.toString()));
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
      await eventually(() => ok(/warm-up done/.test(text), text), { timeoutMs: 60_000 });
      await eventually(() => ok(BASES.every((b) => server.subscriberCount(`${b.toLowerCase()}usdt@kline_5m`) > 0)), {
        timeoutMs: 30_000,
      });
      for (let i = WARMUP; i < WARMUP + LIVE; i++) {
        // Symbols in an order other than the config's, as separate streams interleave.
        for (const s of [2, 0, 1]) {
          const bars = series[s]!;
          const id = `${BASES[s]}USDT`;
          server.pushKline(id, '5m', kline(bars[i]!), { final: true });
          const next = bars[i + 1] ?? { ...bars[i]!, tsOpen: bars[i]!.tsOpen + FIVE_MINUTES };
          server.pushKline(id, '5m', kline(next), { final: false });
        }
        const close = series[0]![i]!.tsEvent;
        await eventually(
          () => {
            const written = readFileSync(journalFile, 'utf8');
            for (const base of BASES)
              ok(
                written.includes(`"id":"${base}/USDT:5m:${close}:fused"`),
                `no ${base} decision on the bar closing ${close}`,
              );
          },
          { timeoutMs: 20_000 },
        );
      }
    } finally {
      stop$.next();
    }
    const summary = await running;
    equal(summary.liveBars, BASES.length * LIVE);
    sessionJournal = readFileSync(summary.journal, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Journaled);

    // The backtest: the same bars, replayed in event time; the warm-up is not traded either.
    const config = loadConfig(configFile);
    const scheduler = new VirtualTimeScheduler();
    const pipeline = tradingPipeline(config, { venue: paperExchangeFor(config, scheduler), scheduler });
    const events: PipelineEvent[] = [];
    pipeline({
      bars$: makeBarReplaySource({ bars: mergeByEventTime(series), scheduler }),
      tradeFrom: bucket + 1,
    }).subscribe((e) => events.push(e));
    scheduler.flush();
    backtest = events.map((e) => JSON.parse(serializeEvent(e)) as Journaled);
  });

  after(async () => {
    await server?.close();
    tmp.cleanup();
  });

  it('trades every symbol of the universe from one portfolio', () => {
    const fills = sessionJournal.filter((e) => e.kind === 'fill');
    const traded = new Set(fills.map((f) => f['symbol']));
    ok(traded.size >= 2, `fills in ${[...traded].join(', ')} only`);
    const header = sessionJournal[0]!;
    deepStrictEqual(header['symbols'], ['BTC/USDT', 'SOL/USDT', 'LTC/USDT']);
  });

  it('decides on the same signals as the backtest, bar by bar and symbol by symbol, in the same order', () => {
    const live = (e: Journaled): boolean => e.kind === 'signal' && (e['tsEvent'] as number) > bucket;
    const ids = (events: readonly Journaled[]) => events.filter(live).map((e) => `${e['id']} ${e['direction']}`);
    const session = ids(sessionJournal);
    equal(session.length, BASES.length * LIVE);
    deepStrictEqual(session, ids(backtest));
  });

  it('sends the same orders and gets the same fills as the backtest: ids, sides, quantities, prices, fees', () => {
    // Each list in its own order. Where a venue's acknowledgement falls between the bars of one
    // close time (the backtest releases an order between two symbols' bars, the session after
    // the bars of that close time) is not compared: it changes no price, fill or decision.
    const of = (events: readonly Journaled[], kind: string) => events.filter((e) => e.kind === kind).map(trade);
    const fills = of(sessionJournal, 'fill');
    ok(fills.length >= 3, `only ${fills.length} fills`);
    deepStrictEqual(of(sessionJournal, 'order-accepted'), of(backtest, 'order-accepted'));
    deepStrictEqual(fills, of(backtest, 'fill'));
    deepStrictEqual(of(sessionJournal, 'order-canceled'), of(backtest, 'order-canceled'));
  });

  it('the one risk gate sees the whole book: the same approvals and denials, with the same codes, as the backtest', () => {
    const decisions = (events: readonly Journaled[]) =>
      events
        .filter((e) => e.kind === 'approved' || e.kind === 'denied')
        .map(
          (e) =>
            `${e.kind} ${String((e['order'] as Journaled | undefined)?.['clientOrderId'] ?? e['signalId'])} ${String(e['code'] ?? '')}`,
        );
    const session = decisions(sessionJournal);
    // A limit on the whole book binds: a third long position would take the venue past 50 %.
    ok(
      session.some((d) => d.startsWith('denied') && /VENUE|STRATEGY|SECTOR/.test(d)),
      `no denial by a portfolio limit: ${session.filter((d) => d.startsWith('denied')).join('; ')}`,
    );
    deepStrictEqual(session, decisions(backtest));
  });
});
