/**
 * The ccxt.pro market-data sources end to end: the real ccxt.pro binance code, over real
 * WebSockets and HTTP, against the local Binance server (test/support/binanceServer.ts), driven
 * with recorded Binance payloads where they fit. Waits are polls (`eventually`), never sleeps.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { WebSocket } from 'ws';
import {
  Subject,
  Subscription,
  asyncScheduler,
  share,
  type Observable,
  type SchedulerAction,
  type SchedulerLike,
} from 'rxjs';
import { trackBreakers, type BreakerStateChanged, type ComponentOutcome } from '../../operators/circuitBreaker';
import { trackTradingMode } from '../../operators/tradingMode';
import type { ModeChanged } from '../../operators/types';
import type { Bar, BookLevel, DeadLetter, OrderBook, Ticker } from '../../operators/types';
import {
  CcxtSourceError,
  PRECISION_MODE,
  instrumentFromMarket,
  makeCcxtOhlcvSource,
  makeCcxtOrderBookSource,
  makeCcxtTickerSource,
  makeCcxtTradeSource,
  reconnectDelayMs,
  seededRandom,
  type FeedEvent,
} from '../../sources/ccxtMarketData';
import { feedOutcomeOf, gridRounder } from '../../sources/ccxtFeed';
import {
  loadRecordedBooks,
  loadRecordedKlines,
  loadRecordedTrade,
  RECORDED_BOOK_SYMBOLS,
  type RecordedBooks,
} from '../support/binanceRecordings';
import { BTCUSDT, ETHBTC, ETHUSDT, startBinanceServer, type BinanceServer, type Kline } from '../support/binanceServer';
import type { DepthSnapshot } from '../support/binanceStreams';
import { makeLocalProBinance } from '../support/ccxtLocal';
import { consistently, eventually } from '../support/eventually';
import { requireSharedData } from '../support/sharedData';

type AnyEvent = { readonly kind: string };

/** Everything a source emitted, and how it ended. */
interface Recorder<T extends AnyEvent> {
  readonly items: T[];
  readonly errors: unknown[];
  of<K extends T['kind']>(kind: K): Extract<T, { kind: K }>[];
  events(): FeedEvent[];
}

/**
 * Scheduler for the bar tests: `now()` is a virtual clock the test sets; a scheduled task runs
 * after its delay in real time, or at once when the test moves the clock past its due time. So a
 * 20 ms backoff simply passes, and "one minute after the bar closed" is one `set()` away.
 */
class TestClock implements SchedulerLike {
  readonly delays: number[] = [];
  private readonly tasks = new Set<{ due: number; fire: () => void }>();
  constructor(private t: number) {}

  now(): number {
    return this.t;
  }

  set(t: number): void {
    this.t = t;
    for (const task of [...this.tasks]) if (task.due <= t) task.fire();
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    this.delays.push(delay);
    const tasks = this.tasks;
    const task = {
      due: this.t + delay,
      fire: () => {
        tasks.delete(task);
        inner.unsubscribe();
        inner = asyncScheduler.schedule(run, 0, state as T);
      },
    };
    function run(this: SchedulerAction<T>, s?: T): void {
      tasks.delete(task);
      work.call(this, s);
    }
    let inner = asyncScheduler.schedule(run, delay, state as T);
    tasks.add(task);
    return new Subscription(() => {
      tasks.delete(task);
      inner.unsubscribe();
    });
  }
}

/** The wall clock, recording every delay asked for (to see backoff go through the injected scheduler). */
class RecordingScheduler implements SchedulerLike {
  readonly delays: number[] = [];
  now(): number {
    return asyncScheduler.now();
  }
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    this.delays.push(delay);
    return asyncScheduler.schedule(work, delay, state as T);
  }
}

const NKNUSDT = RECORDED_BOOK_SYMBOLS[0]!;

describe('ccxt.pro market data sources (real ccxt.pro binance ↔ local Binance server)', function () {
  this.timeout(30_000);
  let server: BinanceServer;
  let subscriptions = new Subscription();

  const local = (s: BinanceServer) =>
    ({ exchange: 'binance', apiUrl: s.url, wsUrl: s.url.replace(/^http/, 'ws') }) as const;

  function record<T extends AnyEvent>(source$: Observable<T>): Recorder<T> {
    const items: T[] = [];
    const errors: unknown[] = [];
    subscriptions.add(
      source$.subscribe({ next: (item) => items.push(item), error: (error: unknown) => errors.push(error) }),
    );
    return {
      items,
      errors,
      of: <K extends T['kind']>(kind: K) => items.filter((i): i is Extract<T, { kind: K }> => i.kind === kind),
      events: () => items.filter((i) => i.kind.startsWith('feed-')) as unknown as FeedEvent[],
    };
  }

  beforeEach(async () => {
    subscriptions = new Subscription();
    server = await startBinanceServer({ symbols: [BTCUSDT, ETHUSDT, ETHBTC, ...RECORDED_BOOK_SYMBOLS] });
  });

  afterEach(async () => {
    subscriptions.unsubscribe();
    await server.close();
  });

  describe('trades', () => {
    it('normalises trades of several symbols: price, quantity, aggressor side, trade id, trade time', async function () {
      const recorded = loadRecordedTrade(
        requireSharedData(this, 'messages/binance_spot_ws_trade_ETHUSDT_nautilus.json'),
      );
      const clock = new RecordingScheduler();
      const trades = record(
        makeCcxtTradeSource({ ...local(server), symbols: ['BTC/USDT', 'ETH/USDT'] }, { scheduler: clock }),
      );
      await eventually(() => {
        assert.equal(server.subscriberCount('btcusdt@trade'), 1);
        assert.equal(server.subscriberCount('ethusdt@trade'), 1);
      });
      const sent = [
        server.pushTrade('BTCUSDT', { price: '43000.10', qty: '0.01230', buyerIsMaker: true, time: 1_704_067_200_000 })
          .event,
        server.pushTrade('ETHUSDT', { price: '2281.55', qty: '1.5', buyerIsMaker: false, time: 1_704_067_200_001 })
          .event,
        server.pushTrade('BTCUSDT', { price: '43000.11', qty: '0.5', buyerIsMaker: false, time: 1_704_067_200_002 })
          .event,
      ];
      // The recorded Binance message, as received on the wire.
      server.pushStream('ethusdt@trade', recorded);
      await eventually(() => assert.equal(trades.of('trade').length, 4));

      const ticks = trades.of('trade');
      const bySymbol = (symbol: string) => ticks.filter((t) => t.symbol === symbol);
      assert.deepEqual(
        bySymbol('BTC/USDT').map(({ tsInit: _, ...t }) => t),
        [
          {
            kind: 'trade',
            venue: 'binance',
            symbol: 'BTC/USDT',
            price: 43000.1,
            qty: 0.0123,
            side: 'sell',
            tradeId: String(sent[0]!.t),
            tsEvent: 1_704_067_200_000,
          },
          {
            kind: 'trade',
            venue: 'binance',
            symbol: 'BTC/USDT',
            price: 43000.11,
            qty: 0.5,
            side: 'buy',
            tradeId: String(sent[2]!.t),
            tsEvent: 1_704_067_200_002,
          },
        ],
      );
      assert.deepEqual(
        bySymbol('ETH/USDT').map(({ tsInit: _, ...t }) => t),
        [
          {
            kind: 'trade',
            venue: 'binance',
            symbol: 'ETH/USDT',
            price: 2281.55,
            qty: 1.5,
            side: 'buy',
            tradeId: String(sent[1]!.t),
            tsEvent: 1_704_067_200_001,
          },
          // m: true — the buyer was the maker, so the aggressor sold.
          {
            kind: 'trade',
            venue: 'binance',
            symbol: 'ETH/USDT',
            price: 4149.74,
            qty: 0.4387,
            side: 'sell',
            tradeId: '705291099',
            tsEvent: 1_639_351_062_243,
          },
        ],
      );
      for (const tick of ticks)
        assert.ok(Math.abs(tick.tsInit - clock.now()) < 5_000, 'tsInit comes from the scheduler');
      const events = trades.events().map((e) => e.kind);
      assert.deepEqual(events, ['feed-markets-loaded', 'feed-connected']);
      assert.deepEqual(trades.errors, []);
    });

    it('drops a repeated trade id and dead-letters a trade it cannot read, without ending the stream', async () => {
      const trades = record(makeCcxtTradeSource({ ...local(server), symbols: ['BTC/USDT'] }));
      await eventually(() => assert.equal(server.subscriberCount('btcusdt@trade'), 1));
      server.pushTrade('BTCUSDT', { id: 7, price: '100.00', qty: '1', buyerIsMaker: false });
      await eventually(() => assert.equal(trades.of('trade').length, 1));
      // ccxt cannot parse this one: it rejects the waiting watch call but keeps the connection.
      // (A bad message that arrives in the same burst as good ones, while no call is waiting, ccxt
      // drops without a trace.)
      server.pushStream('btcusdt@trade', {
        e: 'trade',
        E: 1,
        s: 'BTCUSDT',
        t: 8,
        p: 'not-a-price',
        q: '1',
        T: 1,
        m: false,
        M: true,
      });
      await eventually(() => assert.equal(trades.of('dead-letter').length, 1));
      server.pushTrade('BTCUSDT', { id: 7, price: '100.00', qty: '1', buyerIsMaker: false });
      server.pushTrade('BTCUSDT', { id: 9, price: '100.01', qty: '2', buyerIsMaker: true });
      await eventually(() =>
        assert.deepEqual(
          trades.of('trade').map((t) => t.tradeId),
          ['7', '9'],
        ),
      );
      const dead = trades.of('dead-letter') as DeadLetter[];
      assert.equal(dead.length, 1);
      assert.match(dead[0]!.reason, /watchTrades\(BTC\/USDT\): ccxt could not read a message/);
      assert.equal(dead[0]!.stage, 'ccxt-trades');
      assert.deepEqual(
        trades.events().map((e) => e.kind),
        ['feed-markets-loaded', 'feed-connected'],
        'no reconnect',
      );
      assert.equal(server.streamConnectionLog().length, 1);
      assert.deepEqual(trades.errors, []);
    });

    it('merges several exchanges by merging several sources, each tagged with its venue', async () => {
      const other = await startBinanceServer();
      try {
        const a = record(makeCcxtTradeSource({ ...local(server), symbols: ['BTC/USDT'] }));
        const b = record(makeCcxtTradeSource({ ...local(other), exchange: 'binanceus', symbols: ['BTC/USDT'] }));
        await eventually(() => {
          assert.equal(server.subscriberCount('btcusdt@trade'), 1);
          assert.equal(other.subscriberCount('btcusdt@trade'), 1);
        });
        server.pushTrade('BTCUSDT', { price: '1.00', qty: '1', buyerIsMaker: true });
        other.pushTrade('BTCUSDT', { price: '2.00', qty: '1', buyerIsMaker: true });
        await eventually(() => {
          assert.deepEqual(
            a.of('trade').map((t) => [t.venue, t.price]),
            [['binance', 1]],
          );
          assert.deepEqual(
            b.of('trade').map((t) => [t.venue, t.price]),
            [['binanceus', 2]],
          );
        });
      } finally {
        subscriptions.unsubscribe();
        await other.close();
      }
    });
  });

  describe('reconnects', () => {
    it('reconnects after the socket drops mid-stream and keeps delivering', async () => {
      const trades = record(
        makeCcxtTradeSource(
          { ...local(server), symbols: ['BTC/USDT'], reconnect: { initialDelayMs: 20 } },
          { random: seededRandom(7) },
        ),
      );
      await eventually(() => assert.equal(server.subscriberCount('btcusdt@trade'), 1));
      server.pushTrade('BTCUSDT', { price: '100.00', qty: '1', buyerIsMaker: false });
      await eventually(() => assert.equal(trades.of('trade').length, 1));
      assert.equal(server.dropConnections(), 1);
      await eventually(() => assert.equal(server.subscriberCount('btcusdt@trade'), 1));
      server.pushTrade('BTCUSDT', { price: '100.01', qty: '1', buyerIsMaker: false });
      await eventually(() => assert.equal(trades.of('trade').length, 2));

      const kinds = trades.events().map((e) => e.kind);
      assert.deepEqual(kinds, [
        'feed-markets-loaded',
        'feed-connected',
        'feed-disconnected',
        'feed-reconnecting',
        'feed-connected',
      ]);
      const disconnected = trades.of('feed-disconnected')[0]!;
      assert.equal(disconnected.code, 'CONNECTION_LOST');
      const reconnecting = trades.of('feed-reconnecting')[0]!;
      assert.equal(reconnecting.attempt, 1);
      assert.deepEqual(
        trades.of('feed-connected').map((e) => e.session),
        [1, 2],
      );
      assert.equal(server.streamConnectionLog()[0]!.closeCode, 1006);
    });

    it('backs off exponentially with seeded jitter on the injected scheduler while connecting fails', async () => {
      const reconnect = { initialDelayMs: 20, multiplier: 2, maxDelayMs: 1_000, jitter: 0.5 } as const;
      const scheduler = new RecordingScheduler();
      server.refuseUpgrades(3);
      const trades = record(
        makeCcxtTradeSource(
          { ...local(server), symbols: ['BTC/USDT'], reconnect },
          { scheduler, random: seededRandom(42) },
        ),
      );
      await eventually(() => assert.equal(server.subscriberCount('btcusdt@trade'), 1));
      server.pushTrade('BTCUSDT', { price: '100.00', qty: '1', buyerIsMaker: false });
      await eventually(() => assert.equal(trades.of('trade').length, 1));

      const expectedRandom = seededRandom(42);
      const settings = { ...reconnect, maxAttempts: undefined };
      const expected = [1, 2, 3].map((attempt) => reconnectDelayMs(attempt, settings, expectedRandom));
      const waits = trades.of('feed-reconnecting');
      assert.deepEqual(
        waits.map((e) => [e.attempt, e.delayMs]),
        expected.map((d, i) => [i + 1, d]),
      );
      for (const d of expected)
        assert.ok(scheduler.delays.includes(d), `the ${d} ms wait ran on the injected scheduler`);
      // Jitter keeps each wait within ±50 % of 20·2^(n−1).
      expected.forEach((d, i) => assert.ok(d >= 10 * 2 ** i && d <= 30 * 2 ** i, `${d} ms for attempt ${i + 1}`));
      assert.deepEqual(
        trades.of('feed-connected').map((e) => e.session),
        [4],
      );
    });

    it('treats a silent socket as dead: closes it, reconnects, and resumes', async () => {
      const trades = record(
        makeCcxtTradeSource({
          ...local(server),
          symbols: ['BTC/USDT'],
          silenceMs: 300,
          reconnect: { initialDelayMs: 20 },
        }),
      );
      await eventually(() => assert.equal(server.subscriberCount('btcusdt@trade'), 1));
      server.pushTrade('BTCUSDT', { price: '100.00', qty: '1', buyerIsMaker: false });
      await eventually(() => assert.equal(trades.of('trade').length, 1));

      // The socket stays open but says nothing (no data, no pongs).
      assert.equal(server.silence(), 1);
      await eventually(() => assert.equal(trades.of('feed-disconnected').length, 1));
      assert.equal(trades.of('feed-disconnected')[0]!.code, 'SILENT');
      await eventually(() => {
        assert.equal(server.subscriberCount('btcusdt@trade'), 1);
        // ccxt's socket was destroyed, and the server saw it go.
        assert.notEqual(server.streamConnectionLog()[0]!.closedAt, null);
      });
      server.pushTrade('BTCUSDT', { price: '100.02', qty: '1', buyerIsMaker: false });
      await eventually(() => assert.equal(trades.of('trade').length, 2));
      assert.deepEqual(
        trades.of('trade').map((t) => t.price),
        [100, 100.02],
      );
      assert.deepEqual(trades.errors, []);
    });

    it('reports data flowing as feed-healthy beats (a breaker success), at most one per healthEveryMs', async () => {
      const clock = new TestClock(Date.now());
      const trades = record(
        makeCcxtTradeSource(
          { ...local(server), symbols: ['BTC/USDT'], silenceMs: 3_600_000, healthEveryMs: 10_000 },
          { scheduler: clock },
        ),
      );
      await eventually(() => assert.equal(server.subscriberCount('btcusdt@trade'), 1));
      const t0 = clock.now();
      for (let i = 0; i < 6; i++) {
        clock.set(t0 + i * 4_000);
        server.pushTrade('BTCUSDT', { price: '100.00', qty: '1', buyerIsMaker: false });
        await eventually(() => assert.equal(trades.of('trade').length, i + 1));
      }
      // Data at 0, 4, 8, 12, 16, 20 s: connected at 0, beats at 12 and (12 + 10 ≤) 24 → only at 12.
      assert.deepEqual(
        trades.of('feed-healthy').map((e) => e.tsInit - t0),
        [12_000],
      );
      assert.deepEqual(feedOutcomeOf(trades.of('feed-healthy')[0]!), {
        component: 'feed:trades',
        ok: true,
        tsEvent: t0 + 12_000,
      });
    });

    it('a 150 s exchange outage (virtual time): the breakers pause the mode, and once data flows again the session is Normal on its own', async () => {
      const clock = new TestClock(Date.now());
      const t0 = clock.now();
      const events = record(
        makeCcxtTradeSource(
          {
            ...local(server),
            symbols: ['BTC/USDT'],
            silenceMs: 3_600_000,
            reconnect: { initialDelayMs: 5_000, maxDelayMs: 5_000, jitter: 0 },
          },
          { scheduler: clock },
        ),
      );
      const modes: ModeChanged[] = [];
      const breakers: BreakerStateChanged[] = [];
      const outcomes$ = new Subject<ComponentOutcome>();
      const changes$ = outcomes$.pipe(trackBreakers({ scheduler: clock, globalOpenComponents: 1 }), share());
      subscriptions.add(changes$.subscribe((c) => breakers.push(c)));
      subscriptions.add(changes$.pipe(trackTradingMode()).subscribe((m) => modes.push(m)));
      let fed = 0;
      const feed = (): void => {
        for (const e of events.events().slice(fed)) {
          const outcome = feedOutcomeOf(e);
          if (outcome) outcomes$.next(outcome);
        }
        fed = events.events().length;
      };
      const trade = async (): Promise<void> => {
        const before = events.of('trade').length;
        server.pushTrade('BTCUSDT', { price: '100.00', qty: '1', buyerIsMaker: false });
        await eventually(() => assert.equal(events.of('trade').length, before + 1));
        feed();
      };
      await eventually(() => assert.equal(server.subscriberCount('btcusdt@trade'), 1));
      await trade();

      // The outage: the connection drops and every reconnect (one per 5 s) is refused, for 150 s.
      server.refuseUpgrades(30);
      server.dropConnections();
      for (let i = 1; i <= 30; i++) {
        await eventually(() => assert.equal(events.of('feed-reconnecting').length, i));
        feed();
        clock.set(t0 + i * 5_000);
      }
      await eventually(() => assert.equal(events.of('feed-disconnected').length, 31));
      feed();
      assert.ok(
        modes.some((m) => m.to === 'Paused'),
        'the outage paused the session',
      );
      // The exchange is back: the 31st attempt connects; data flows, one trade every 10 s, for up to 20 minutes.
      await eventually(() => assert.equal(server.subscriberCount('btcusdt@trade'), 1));
      const back = clock.now();
      for (let t = back; t <= back + 20 * 60_000; t += 10_000) {
        clock.set(t);
        await trade();
        const last = breakers.filter((b) => b.component === 'feed:trades').pop();
        if (modes[modes.length - 1]?.to === 'Normal' && last?.to === 'CLOSED') break;
      }
      const last = modes[modes.length - 1]!;
      assert.equal(last.to, 'Normal', `still ${last.to}: ${last.reason}`);
      assert.ok(last.tsEvent - back <= 5 * 60_000, `Normal ${last.tsEvent - back} ms after the exchange was back`);
      assert.equal(breakers.filter((b) => b.component === 'feed:trades').pop()!.to, 'CLOSED');
      assert.ok(events.of('feed-healthy').length >= 3, 'data flowing counted as success');
      assert.deepEqual(events.errors, []);
    });

    it('gives up with RECONNECTS_EXHAUSTED after reconnect.maxAttempts failures in a row', async () => {
      server.refuseUpgrades(100);
      const trades = record(
        makeCcxtTradeSource({
          ...local(server),
          symbols: ['BTC/USDT'],
          reconnect: { initialDelayMs: 5, maxAttempts: 2 },
        }),
      );
      await eventually(() => assert.equal(trades.errors.length, 1));
      const error = trades.errors[0] as CcxtSourceError;
      assert.ok(error instanceof CcxtSourceError);
      assert.equal(error.code, 'RECONNECTS_EXHAUSTED');
      assert.equal(trades.of('feed-reconnecting').length, 2);
    });
  });

  describe('bars', () => {
    it('backfills the bars missed while disconnected: no hole, no repeat, equal to the server’s klines', async function () {
      const klines = loadRecordedKlines(
        requireSharedData(this, 'messages/binance_spot_rest_klines_BTCUSDT_1m_nautilus.json'),
      );
      assert.equal(klines.length, 10);
      const minute = 60_000;
      const t0 = klines[0]!.openTime;
      const grace = 5_000;
      const forming = (k: Kline): Kline => ({
        openTime: k.openTime,
        open: k.open,
        high: k.open,
        low: k.open,
        close: k.open,
        volume: '0.00100000',
      });
      const clock = new TestClock(t0 + 1_000);
      const bars = record(
        makeCcxtOhlcvSource(
          {
            ...local(server),
            symbols: ['BTC/USDT'],
            timeframes: ['1m'],
            closeGraceMs: grace,
            // The test moves the virtual clock by minutes: silence is not what is tested here.
            silenceMs: 3_600_000,
            reconnect: { initialDelayMs: 20 },
            backfill: { initialDelayMs: 10 },
          },
          { scheduler: clock, random: seededRandom(3) },
        ),
      );
      await eventually(() => assert.equal(server.subscriberCount('btcusdt@kline_1m'), 1));

      // Live: bars 0–4 form and close on the stream (a bar closes when the next one starts).
      for (let i = 0; i <= 4; i++) {
        clock.set(t0 + i * minute + 1_000);
        server.pushKline('BTCUSDT', '1m', forming(klines[i]!));
        server.pushKline('BTCUSDT', '1m', klines[i]!, { final: i < 4 });
      }
      await eventually(() => assert.equal(bars.of('bar').length, 4));

      // The socket drops; while nobody listens, bars 4–8 close and bar 9 starts on the exchange.
      server.dropConnections();
      await eventually(() => assert.equal(bars.of('feed-disconnected').length, 1));
      for (let i = 4; i <= 8; i++) server.upsertKline('BTCUSDT', '1m', klines[i]!);
      server.upsertKline('BTCUSDT', '1m', forming(klines[9]!));
      clock.set(t0 + 9 * minute + 10_000);

      // Reconnected: the stream's first candle is bar 9, so bars 4–8 are fetched over REST.
      await eventually(() => assert.equal(server.subscriberCount('btcusdt@kline_1m'), 1));
      server.pushKline('BTCUSDT', '1m', forming(klines[9]!));
      await eventually(() => assert.equal(bars.of('feed-bars-backfilled').length, 1));
      const backfilled = bars.of('feed-bars-backfilled')[0]!;
      assert.deepEqual(
        {
          bars: backfilled.bars,
          from: backfilled.from,
          to: backfilled.to,
          missing: backfilled.missing,
          error: backfilled.error,
        },
        { bars: 5, from: t0 + 4 * minute, to: t0 + 9 * minute, missing: 0, error: null },
      );
      await eventually(() => assert.equal(bars.of('bar').length, 9));

      // A late update of a bar already emitted changes nothing.
      server.pushKline('BTCUSDT', '1m', klines[7]!, { final: true });
      server.pushKline('BTCUSDT', '1m', klines[9]!, { final: true });
      // Bar 9 is the last one: no later candle will close it. Once its interval has ended (plus
      // the grace), its final values come from REST.
      clock.set(t0 + 10 * minute + grace + 1);
      await eventually(() => assert.equal(bars.of('bar').length, 10));
      await consistently(() => assert.equal(bars.of('bar').length, 10), { durationMs: 200 });

      const emitted = bars.of('bar');
      const expected = server.klinesOf('BTCUSDT', '1m');
      assert.deepEqual(expected, klines, 'the server ended with the recorded klines');
      assert.deepEqual(
        emitted.map((b: Bar) => [b.tsOpen, b.tsEvent, b.open, b.high, b.low, b.close, b.volume]),
        expected.map((k) => [
          k.openTime,
          k.openTime + minute,
          Number(k.open),
          Number(k.high),
          Number(k.low),
          Number(k.close),
          Number(k.volume),
        ]),
      );
      for (const bar of emitted)
        assert.deepEqual([bar.venue, bar.symbol, bar.timeframe], ['binance', 'BTC/USDT', '1m']);
      assert.deepEqual(bars.errors, []);
      assert.deepEqual(bars.of('dead-letter'), []);
    });

    it('a hole whose backfill meets 503 -1008 "overloaded" is fetched again until filled, never written off as missing', async function () {
      const klines = loadRecordedKlines(
        requireSharedData(this, 'messages/binance_spot_rest_klines_BTCUSDT_1m_nautilus.json'),
      );
      const minute = 60_000;
      const t0 = klines[0]!.openTime;
      const forming = (k: Kline): Kline => ({ ...k, high: k.open, low: k.open, close: k.open, volume: '0.00100000' });
      const clock = new TestClock(t0 + 1_000);
      const bars = record(
        makeCcxtOhlcvSource(
          {
            ...local(server),
            symbols: ['BTC/USDT'],
            timeframes: ['1m'],
            closeGraceMs: 3_600_000,
            silenceMs: 3_600_000,
            reconnect: { initialDelayMs: 20 },
            // One retry per request, so the overload outlasts a whole backfill attempt several times.
            backfill: { initialDelayMs: 10, maxDelayMs: 40, maxRetries: 1 },
          },
          { scheduler: clock, random: seededRandom(3) },
        ),
      );
      await eventually(() => assert.equal(server.subscriberCount('btcusdt@kline_1m'), 1));
      for (let i = 0; i <= 2; i++) {
        clock.set(t0 + i * minute + 1_000);
        server.pushKline('BTCUSDT', '1m', klines[i]!, { final: i < 2 });
      }
      await eventually(() => assert.equal(bars.of('bar').length, 2));
      server.dropConnections();
      await eventually(() => assert.equal(bars.of('feed-disconnected').length, 1));
      for (let i = 2; i <= 5; i++) server.upsertKline('BTCUSDT', '1m', klines[i]!);
      server.upsertKline('BTCUSDT', '1m', forming(klines[6]!));
      clock.set(t0 + 6 * minute + 10_000);
      // The exchange is overloaded for the next 6 kline requests (3 backfill attempts of 2 requests).
      server.failNext('/api/v3/klines', 503, { times: 6 });
      await eventually(() => assert.equal(server.subscriberCount('btcusdt@kline_1m'), 1));
      server.pushKline('BTCUSDT', '1m', forming(klines[6]!));
      await eventually(() => assert.equal(bars.of('bar').length, 6), { timeoutMs: 10_000 });
      const reports = bars.of('feed-bars-backfilled');
      const failed = reports.filter((r) => r.error !== null);
      assert.ok(failed.length >= 3, `${failed.length} failed attempts reported`);
      for (const r of failed) {
        assert.equal(r.missing, 0, 'a transient failure writes nothing off');
        assert.ok(r.retryInMs !== null && r.retryInMs > 0);
        assert.match(r.error!, /-1008|overloaded/);
      }
      const final = reports[reports.length - 1]!;
      assert.deepEqual([final.bars, final.missing, final.error, final.retryInMs], [4, 0, null, null]);
      assert.deepEqual(
        bars.of('bar').map((b: Bar) => b.tsOpen),
        [0, 1, 2, 3, 4, 5].map((i) => t0 + i * minute),
      );
      assert.deepEqual(bars.errors, []);
    });

    it('never emits the forming candle', async () => {
      const t0 = Date.UTC(2024, 0, 1);
      const clock = new TestClock(t0 + 1_000);
      const bars = record(
        makeCcxtOhlcvSource({ ...local(server), symbols: ['ETH/USDT'], silenceMs: 3_600_000 }, { scheduler: clock }),
      );
      await eventually(() => assert.equal(server.subscriberCount('ethusdt@kline_1m'), 1));
      for (let update = 0; update < 5; update++) {
        server.pushKline('ETHUSDT', '1m', {
          openTime: t0,
          open: '1',
          high: String(1 + update),
          low: '1',
          close: '1',
          volume: String(update),
        });
      }
      await eventually(() => assert.equal(bars.of('feed-connected').length, 1));
      await consistently(() => assert.equal(bars.of('bar').length, 0), { durationMs: 200 });
    });
  });

  describe('order books', () => {
    let recordedBooks: RecordedBooks;
    before(function () {
      recordedBooks = loadRecordedBooks(
        requireSharedData(this, 'messages/binance_spot_rest_depth_snapshots_2021-10-12.jsonl'),
        requireSharedData(this, 'messages/binance_spot_ws_combined_stream_2021-10-12.jsonl'),
      );
    });

    const DEPTH = 10;
    const toLevels = (levels: DepthSnapshot['bids']): BookLevel[] => levels.map(([p, q]) => [Number(p), Number(q)]);

    it('rebuilds the books of four symbols from the recorded snapshots and diff stream, and resyncs after a sequence gap', async () => {
      const symbols = RECORDED_BOOK_SYMBOLS.map((s) => `${s.baseAsset}/${s.quoteAsset}`);
      const idOf = new Map(RECORDED_BOOK_SYMBOLS.map((s) => [`${s.baseAsset}/${s.quoteAsset}`, s.symbol]));
      /** What the server's book looked like at each update id: every emitted book must be one of these. */
      const states = new Map<string, DepthSnapshot>();
      const remember = (id: string): void => {
        const book = server.book(id, DEPTH);
        states.set(`${id} ${book.lastUpdateId}`, book);
      };
      for (const spec of RECORDED_BOOK_SYMBOLS) {
        server.setBook(spec.symbol, recordedBooks.snapshots.get(spec.symbol)!);
        remember(spec.symbol);
      }
      // As on Binance, the snapshot comes while diffs stream in: the first snapshot requests are
      // held until the whole recording has been sent, then answered with the recorded snapshots —
      // older than the diffs ccxt has buffered meanwhile, which it must sort out (drop u ≤
      // lastUpdateId, start at the diff spanning lastUpdateId + 1, continue U = previous u + 1).
      const recordedAnswers = new Map(recordedBooks.snapshots);
      server.route('GET', '/api/v3/depth', (request) => {
        const id = request.query['symbol']!;
        const limit = Number(request.query['limit'] ?? 100);
        const snapshot = recordedAnswers.get(id) ?? server.book(id);
        recordedAnswers.delete(id);
        return {
          status: 200,
          body: {
            lastUpdateId: snapshot.lastUpdateId,
            bids: snapshot.bids.slice(0, limit),
            asks: snapshot.asks.slice(0, limit),
          },
        };
      });
      server.holdNext('/api/v3/depth', { times: symbols.length });
      const books = record(makeCcxtOrderBookSource({ ...local(server), symbols, depth: DEPTH, bookLimit: 100 }));
      await eventually(() => {
        for (const spec of RECORDED_BOOK_SYMBOLS)
          assert.equal(server.subscriberCount(`${spec.symbol.toLowerCase()}@depth@100ms`), 1);
        assert.equal(server.requests('/api/v3/depth').length, symbols.length);
      });

      // The recorded stream, in recorded order. It starts before the snapshots' lastUpdateIds.
      for (const event of recordedBooks.events) {
        server.pushDepth(event.s, event);
        remember(event.s);
      }
      assert.equal(server.release(), symbols.length);
      const lastOf = (id: string) => recordedBooks.events.filter((e) => e.s === id).at(-1)!.u;
      await eventually(() => {
        for (const symbol of symbols) {
          const latest = books
            .of('book')
            .filter((b) => b.symbol === symbol)
            .at(-1);
          assert.equal(latest?.sequence, lastOf(idOf.get(symbol)!), symbol);
        }
      });

      // A diff lost on the wire: a new best bid the client never hears of, then more diffs.
      const nkn = 'NKNUSDT';
      const bestBid = Number(server.book(nkn, 1).bids[0]![0]);
      const gap = server.injectDepthGap(nkn, { b: [[(bestBid + 0.0001).toFixed(8), '1234.00000000']] });
      remember(nkn);
      for (let i = 0; i < 3; i++) {
        server.pushDepth(nkn, { a: [[(0.36 + i * 0.0001).toFixed(8), `${100 + i}.00000000`]] });
        remember(nkn);
      }
      await eventually(() => assert.equal(books.of('feed-book-resynced').length, 1));
      const [gapEvent] = books.of('feed-book-gap');
      assert.equal(gapEvent?.symbol, 'NKN/USDT');
      assert.equal(gapEvent?.lastSequence, gap.U - 1);
      assert.match(gapEvent!.reason, /ChecksumError/);
      // After the resync the emitted book is the server's, hidden update included.
      for (let i = 0; i < 2; i++) {
        server.pushDepth(nkn, { b: [[(bestBid - 0.001 - i * 0.0001).toFixed(8), '5.00000000']] });
        remember(nkn);
      }
      const serverNow = server.book(nkn, DEPTH);
      await eventually(() => {
        const latest = books
          .of('book')
          .filter((b) => b.symbol === 'NKN/USDT')
          .at(-1)!;
        assert.equal(latest.sequence, serverNow.lastUpdateId);
        assert.deepEqual(latest.bids, toLevels(serverNow.bids));
        assert.deepEqual(latest.asks, toLevels(serverNow.asks));
        assert.equal(
          latest.bids[0]![0],
          Number((bestBid + 0.0001).toFixed(8)),
          'the update lost on the wire is in the book',
        );
      });
      const resynced = books.of('feed-book-resynced')[0]!;
      assert.ok(resynced.sequence > gap.u, 'the fresh snapshot is past the gap');

      // Never a corrupt book: every book emitted equals the server's book at the same update id.
      for (const book of books.of('book') as OrderBook[]) {
        const id = idOf.get(book.symbol)!;
        const state = states.get(`${id} ${book.sequence}`);
        assert.ok(state, `${book.symbol} ${book.sequence} is an update id the server's book passed through`);
        assert.deepEqual(
          [book.bids, book.asks],
          [toLevels(state.bids), toLevels(state.asks)],
          `${book.symbol} at ${book.sequence}`,
        );
        assert.ok(book.bids.length <= DEPTH && book.asks.length <= DEPTH);
      }
      // One snapshot per symbol, plus the resync.
      assert.equal(server.requests('/api/v3/depth').length, symbols.length + 1);
      assert.ok(server.requests('/api/v3/depth').every((r) => r.query['limit'] === '100'));
      assert.deepEqual(books.errors, []);
    });

    it('resyncs when the gap falls while the snapshot is in flight (among the buffered diffs)', async () => {
      const id = NKNUSDT.symbol;
      const recorded = recordedBooks.snapshots.get(id)!;
      const events = recordedBooks.events.filter((e) => e.s === id);
      const states = new Map<number, DepthSnapshot>();
      const remember = (): void => {
        const book = server.book(id, DEPTH);
        states.set(book.lastUpdateId, book);
      };
      server.setBook(id, recorded);
      remember();
      let answeredRecorded = false;
      server.route('GET', '/api/v3/depth', (request) => {
        const limit = Number(request.query['limit'] ?? 100);
        const snapshot = answeredRecorded ? server.book(id) : recorded;
        answeredRecorded = true;
        return {
          status: 200,
          body: {
            lastUpdateId: snapshot.lastUpdateId,
            bids: snapshot.bids.slice(0, limit),
            asks: snapshot.asks.slice(0, limit),
          },
        };
      });
      server.holdNext('/api/v3/depth');
      const books = record(
        makeCcxtOrderBookSource({ ...local(server), symbols: ['NKN/USDT'], depth: DEPTH, bookLimit: 100 }),
      );
      await eventually(() => assert.equal(server.requests('/api/v3/depth').length, 1));

      // The recording, with one diff after the snapshot's lastUpdateId lost on the wire.
      const lostAt = events.findIndex((e) => e.U > recorded.lastUpdateId + 5);
      events.forEach((event, i) => {
        if (i === lostAt) server.injectDepthGap(id, event);
        else server.pushDepth(id, event);
        remember();
      });
      server.release();
      // ccxt applies the buffered diffs up to the gap and skips the rest: a consistent, older book.
      await eventually(() => assert.equal(books.of('book').at(-1)?.sequence, events[lostAt - 1]!.u));
      // The next live diff does not follow on: gap, re-subscribe, fresh snapshot.
      server.pushDepth(id, { b: [['0.30000000', '1.00000000']] });
      remember();
      await eventually(() => assert.equal(books.of('feed-book-resynced').length, 1));
      const now = server.book(id, DEPTH);
      await eventually(() => assert.equal(books.of('book').at(-1)?.sequence, now.lastUpdateId));
      assert.equal(books.of('feed-book-gap').length, 1);
      for (const book of books.of('book') as OrderBook[]) {
        const state = states.get(book.sequence);
        assert.ok(state, `${book.sequence} is an update id the server's book passed through`);
        assert.deepEqual([book.bids, book.asks], [toLevels(state.bids), toLevels(state.asks)], `at ${book.sequence}`);
      }
      assert.equal(server.requests('/api/v3/depth').length, 2);
    });
  });

  describe('tickers', () => {
    it('emits best bid, best ask and last price per symbol', async () => {
      const tickers = record(makeCcxtTickerSource({ ...local(server), symbols: ['BTC/USDT', 'ETH/BTC'] }));
      await eventually(() => {
        assert.equal(server.subscriberCount('btcusdt@ticker'), 1);
        assert.equal(server.subscriberCount('ethbtc@ticker'), 1);
      });
      server.pushTicker('BTCUSDT', { last: '43000.50', bid: '43000.49', ask: '43000.51', time: 1_704_067_200_000 });
      server.pushTicker('ETHBTC', { last: '0.05301', bid: '0.05300', ask: '0.05302', time: 1_704_067_200_001 });
      await eventually(() => assert.equal(tickers.of('ticker').length, 2));
      const bySymbol = new Map((tickers.of('ticker') as Ticker[]).map((t) => [t.symbol, t]));
      const { tsInit: _a, ...btc } = bySymbol.get('BTC/USDT')!;
      const { tsInit: _b, ...eth } = bySymbol.get('ETH/BTC')!;
      assert.deepEqual(btc, {
        kind: 'ticker',
        venue: 'binance',
        symbol: 'BTC/USDT',
        bid: 43000.49,
        ask: 43000.51,
        last: 43000.5,
        tsEvent: 1_704_067_200_000,
      });
      assert.deepEqual(eth, {
        kind: 'ticker',
        venue: 'binance',
        symbol: 'ETH/BTC',
        bid: 0.053,
        ask: 0.05302,
        last: 0.05301,
        tsEvent: 1_704_067_200_001,
      });
    });
  });

  describe('instruments', () => {
    it('reads precision, minimum quantity and minimum notional from the markets', async () => {
      const trades = record(makeCcxtTradeSource({ ...local(server), symbols: ['BTC/USDT', 'ETH/BTC'] }));
      await eventually(() => assert.equal(trades.of('feed-markets-loaded').length, 1));
      const [loaded] = trades.of('feed-markets-loaded');
      assert.deepEqual(loaded!.instruments, [
        // BTCUSDT: tick 0.01, step 0.00001, NOTIONAL min 5 USDT.
        {
          venue: 'binance',
          symbol: 'BTC/USDT',
          base: 'BTC',
          quote: 'USDT',
          qtyStep: 1_000n,
          priceTick: 0.01,
          minQty: 1_000n,
          minNotional: 500_000_000n,
        },
        // ETHBTC: tick 0.00001, step 0.0001, legacy MIN_NOTIONAL 0.0001 BTC.
        {
          venue: 'binance',
          symbol: 'ETH/BTC',
          base: 'ETH',
          quote: 'BTC',
          qtyStep: 10_000n,
          priceTick: 0.00001,
          minQty: 10_000n,
          minNotional: 10_000n,
        },
      ]);
    });

    it('converts each ccxt precision mode', async () => {
      const exchange = makeLocalProBinance(server.url);
      try {
        await exchange.loadMarkets();
        const market = exchange.market('BTC/USDT');
        assert.deepEqual(instrumentFromMarket(market, 'binance', exchange.precisionMode), {
          venue: 'binance',
          symbol: 'BTC/USDT',
          base: 'BTC',
          quote: 'USDT',
          qtyStep: 1_000n,
          priceTick: 0.01,
          minQty: 1_000n,
          minNotional: 500_000_000n,
        });
        const decimals = { ...market, precision: { price: 2, amount: 5 } };
        const fromDecimals = instrumentFromMarket(decimals, 'kraken', PRECISION_MODE.DECIMAL_PLACES);
        assert.deepEqual([fromDecimals.priceTick, fromDecimals.qtyStep], [0.01, 1_000n]);
        const significant = instrumentFromMarket(decimals, 'x', PRECISION_MODE.SIGNIFICANT_DIGITS);
        assert.deepEqual([significant.priceTick, significant.qtyStep], [0, 0n], 'no fixed grid: unknown, 0');
      } finally {
        await exchange.close();
      }
    });
  });

  describe('precision', () => {
    it('removes float noise on the instrument grid but keeps a value genuinely off it', () => {
      const cents = gridRounder(0.01);
      assert.equal(cents(0.1 + 0.2), 0.3);
      assert.equal(cents(43000.1 + 1e-9), 43000.1);
      assert.equal(cents(1.005), 1.005, 'off the grid: data, not noise');
      assert.equal(gridRounder(0.00001)(0.1 + 0.2), 0.3);
      assert.equal(gridRounder(0.5)(2.5000000000000004), 2.5);
      assert.equal(gridRounder(0)(0.1 + 0.2), 0.1 + 0.2, 'no grid, no rounding');
    });
  });

  describe('configuration and teardown', () => {
    it('rejects a broken config before anything is subscribed, naming the key', () => {
      assert.throws(
        () => makeCcxtTradeSource({ exchange: 'nope', symbols: ['BTC/USDT'] }),
        (e: CcxtSourceError) => e.code === 'INVALID_CONFIG' && /exchange/.test(e.message),
      );
      assert.throws(
        () => makeCcxtTradeSource({ exchange: 'binance', symbols: ['BTCUSDT'] }),
        (e: CcxtSourceError) => e.code === 'INVALID_CONFIG' && /symbols\.0/.test(e.message),
      );
      assert.throws(
        () => makeCcxtOrderBookSource({ exchange: 'binance', symbols: ['BTC/USDT'], depth: 50, bookLimit: 20 }),
        /bookLimit/,
      );
      assert.throws(
        () => makeCcxtOhlcvSource({ exchange: 'binance', symbols: ['BTC/USDT'], timeframes: ['2m'] }),
        /timeframes/,
      );
    });

    it('fails the stream with UNKNOWN_SYMBOL for a symbol the exchange does not list', async () => {
      const trades = record(makeCcxtTradeSource({ ...local(server), symbols: ['DOGE/USDT'] }));
      await eventually(() => assert.equal(trades.errors.length, 1));
      assert.equal((trades.errors[0] as CcxtSourceError).code, 'UNKNOWN_SYMBOL');
    });

    it('closes every socket on unsubscribe: the server sees the disconnects', async () => {
      server.setBook('BTCUSDT', { lastUpdateId: 1, bids: [['100.00', '1']], asks: [['101.00', '1']] });
      const sources = new Subscription();
      const base = { ...local(server), symbols: ['BTC/USDT'] };
      sources.add(makeCcxtTradeSource(base).subscribe());
      sources.add(makeCcxtOhlcvSource(base).subscribe());
      sources.add(makeCcxtOrderBookSource({ ...base, bookLimit: 100 }).subscribe());
      sources.add(makeCcxtTickerSource(base).subscribe());
      await eventually(() => {
        for (const stream of ['btcusdt@trade', 'btcusdt@kline_1m', 'btcusdt@depth@100ms', 'btcusdt@ticker'])
          assert.equal(server.subscriberCount(stream), 1, stream);
      });
      sources.unsubscribe();
      await eventually(() => assert.equal(server.streamConnections().length, 0));
      assert.ok(server.streamConnectionLog().every((c) => c.closedAt !== null));
    });

    it('lets the process exit after unsubscribing (no socket, keep-alive connection or timer left)', async () => {
      server.setBook('BTCUSDT', { lastUpdateId: 1, bids: [['100.00', '1']], asks: [['101.00', '1']] });
      const probe = path.join(__dirname, '..', 'support', 'ccxtExitProbe.js');
      const child = spawn(process.execPath, [probe], {
        env: { ...process.env, BINANCE_URL: server.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      let exitCode: number | null | undefined;
      void exited.then((code) => (exitCode = code));
      try {
        await eventually(
          () => {
            for (const stream of ['btcusdt@trade', 'btcusdt@kline_1m', 'btcusdt@depth@100ms', 'btcusdt@ticker'])
              assert.equal(server.subscriberCount(stream), 1, stream);
          },
          { timeoutMs: 10_000 },
        );
        server.pushTrade('BTCUSDT', { price: '100.50', qty: '1', buyerIsMaker: true });
        server.pushKline('BTCUSDT', '1m', {
          openTime: Date.UTC(2024, 0, 1),
          open: '1',
          high: '1',
          low: '1',
          close: '1',
          volume: '1',
        });
        server.pushDepth('BTCUSDT', { b: [['100.00', '2']] });
        server.pushTicker('BTCUSDT', { last: '100.50', bid: '100.00', ask: '101.00' });
        await eventually(() => assert.match(stdout, /unsubscribed/), { timeoutMs: 10_000 });
        const unsubscribedAt = performance.now();
        await eventually(() => assert.notEqual(exitCode, undefined, `child still running; stderr: ${stderr}`), {
          timeoutMs: 5_000,
        });
        assert.equal(exitCode, 0, stderr);
        assert.ok(performance.now() - unsubscribedAt < 5_000);
      } finally {
        if (exitCode === undefined) child.kill();
      }
    });
  });
});

describe('local Binance stream server (the test double itself)', () => {
  let server: BinanceServer;
  beforeEach(async () => {
    server = await startBinanceServer();
  });
  afterEach(async () => {
    await server.close();
  });

  /** A plain WebSocket client collecting every message as parsed JSON. */
  async function connect(pathAndQuery: string): Promise<{ socket: WebSocket; messages: unknown[] }> {
    const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}${pathAndQuery}`);
    const messages: unknown[] = [];
    socket.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString('utf8'))));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return { socket, messages };
  }

  it('serves combined streams wrapped as {stream, data}, and raw streams bare', async () => {
    const combined = await connect('/stream?streams=btcusdt@trade/ethusdt@trade');
    const raw = await connect('/ws/btcusdt@trade');
    try {
      server.pushTrade('BTCUSDT', { id: 1, price: '1.00', qty: '2', buyerIsMaker: true, time: 5 });
      server.pushTrade('ETHUSDT', { id: 1, price: '3.00', qty: '4', buyerIsMaker: false, time: 6 });
      await eventually(() => assert.equal(combined.messages.length, 2));
      assert.deepEqual(combined.messages, [
        {
          stream: 'btcusdt@trade',
          data: { e: 'trade', E: 5, s: 'BTCUSDT', t: 1, p: '1.00', q: '2', T: 5, m: true, M: true },
        },
        {
          stream: 'ethusdt@trade',
          data: { e: 'trade', E: 6, s: 'ETHUSDT', t: 1, p: '3.00', q: '4', T: 6, m: false, M: true },
        },
      ]);
      await eventually(() =>
        assert.deepEqual(raw.messages, [
          { e: 'trade', E: 5, s: 'BTCUSDT', t: 1, p: '1.00', q: '2', T: 5, m: true, M: true },
        ]),
      );
    } finally {
      combined.socket.terminate();
      raw.socket.terminate();
    }
  });

  it('answers SUBSCRIBE, UNSUBSCRIBE and LIST_SUBSCRIPTIONS, and rejects bad requests with Binance error codes', async () => {
    const { socket, messages } = await connect('/ws/0');
    try {
      socket.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusdt@kline_1m', 'btcusdt@depth@100ms'], id: 1 }));
      socket.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 2 }));
      socket.send(JSON.stringify({ method: 'UNSUBSCRIBE', params: ['btcusdt@kline_1m'], id: 3 }));
      socket.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusdt@nonsense'], id: 4 }));
      socket.send('not json');
      await eventually(() => assert.equal(messages.length, 5));
      assert.deepEqual(messages.slice(0, 3), [
        { result: null, id: 1 },
        { result: ['btcusdt@kline_1m', 'btcusdt@depth@100ms'], id: 2 },
        { result: null, id: 3 },
      ]);
      assert.equal((messages[3] as { error: { code: number }; id: number }).error.code, 2);
      assert.equal((messages[4] as { error: { code: number } }).error.code, 3);
      assert.equal(server.subscriberCount('btcusdt@kline_1m'), 0);
      assert.equal(server.subscriberCount('btcusdt@depth@100ms'), 1);
    } finally {
      socket.terminate();
    }
  });

  it('keeps the book: diffs carry U/u continuing the snapshot, a gap skips ids, /api/v3/depth serves the current book', async () => {
    server.setBook('BTCUSDT', {
      lastUpdateId: 10,
      bids: [
        ['100.00', '1'],
        ['99.00', '2'],
      ],
      asks: [['101.00', '1']],
    });
    const { socket, messages } = await connect('/ws/btcusdt@depth@100ms');
    try {
      server.pushDepth('BTCUSDT', {
        b: [
          ['100.00', '0'],
          ['98.00', '5'],
        ],
        E: 1,
      });
      server.injectDepthGap('BTCUSDT', { a: [['102.00', '7']] });
      server.pushDepth('BTCUSDT', { a: [['101.00', '3']], E: 2 });
      await eventually(() => assert.equal(messages.length, 2));
      assert.deepEqual(messages, [
        {
          e: 'depthUpdate',
          E: 1,
          s: 'BTCUSDT',
          U: 11,
          u: 12,
          b: [
            ['100.00', '0'],
            ['98.00', '5'],
          ],
          a: [],
        },
        { e: 'depthUpdate', E: 2, s: 'BTCUSDT', U: 14, u: 14, b: [], a: [['101.00', '3']] },
      ]);
      const response = await fetch(`${server.url}/api/v3/depth?symbol=BTCUSDT&limit=5`);
      assert.deepEqual(await response.json(), {
        lastUpdateId: 14,
        bids: [
          ['99.00', '2'],
          ['98.00', '5'],
        ],
        asks: [
          ['101.00', '3'],
          ['102.00', '7'],
        ],
      });
    } finally {
      socket.terminate();
    }
  });
});
