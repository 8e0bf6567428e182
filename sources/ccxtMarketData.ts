/**
 * Live market data from any exchange ccxt.pro supports, as observables of bot4's domain types:
 * {@link makeCcxtTradeSource} (TradeTick), {@link makeCcxtOhlcvSource} (closed Bars),
 * {@link makeCcxtOrderBookSource} (L2 OrderBook, bounded depth), {@link makeCcxtTickerSource}
 * (Ticker). One source watches several symbols of one exchange; several exchanges are several
 * sources, merged.
 *
 * ```
 * makeCcxtTradeSource({ exchange: 'binance', symbols: ['BTC/USDT', 'ETH/USDT'] })
 *   M──C──t──t──t──t──D──R────────C──t──t──   M markets-loaded (instruments) · C connected
 *                                              D disconnected · R reconnecting(attempt, delay) · t TradeTick
 * ```
 *
 * Each stream interleaves data with {@link FeedEvent}s (kinds `feed-…`: markets loaded with the
 * instruments' precision and limits, connected, disconnected, reconnecting, bars backfilled, book
 * gap / resynced) and {@link DeadLetter}s for unusable items; filter with {@link isFeedEvent} or on
 * `kind`. Every subscription has its own ccxt instance; unsubscribing closes its sockets and HTTP
 * keep-alive connections.
 *
 * What ccxt.pro does itself and what is added here (see ccxtFeed.ts for the supervisor):
 * - ccxt rejects pending watch calls when a socket closes and dials again on the next call, but
 *   never notices a socket that stays open and silent, and has no notion of missed data. Here: a
 *   session supervisor with silence detection, jittered exponential backoff on the injected
 *   scheduler, status events.
 * - Binance's diff-depth book: ccxt buffers diffs, fetches the REST snapshot, drops diffs with
 *   `u ≤ lastUpdateId` and checks each next diff's `U` against the previous `u`; on a gap it throws
 *   `ChecksumError`, deletes the book and the subscription. Here: that error becomes a
 *   `feed-book-gap` event and a re-watch, which re-subscribes and fetches a fresh snapshot;
 *   `feed-book-resynced` follows with the first consistent book. No book is emitted in between.
 *   (A gap among the diffs buffered while the snapshot is in flight: ccxt applies them up to the
 *   gap and hands out that older but consistent book; the next live diff raises the gap.)
 * - Bars: ccxt's `watchOHLCV` returns the forming candle; ccxtBars.ts decides when a bar is closed
 *   and backfills holes over REST.
 * - Memory: ccxt's caches are capped (`tradesLimit`, `OHLCVLimit`, the book's `limit`); the
 *   sources keep per symbol only a bounded ring of recent trade ids, one forming candle and a
 *   bounded set of bars waiting for a backfill.
 */
import type * as ccxt from 'ccxt';
import { InvalidNonce } from 'ccxt';
import { merge, type Observable } from 'rxjs';
import { z } from 'zod';
import { backoffDelayMs } from '../operators/backoff';
import type { Bar, BookLevel, DeadLetter, OrderBook, Symbol, Ticker, Timeframe, TradeTick } from '../operators/types';
import { TIMEFRAMES, isTimeframe } from '../operators/types';
import { BarSeries } from './ccxtBars';
import {
  CcxtSourceError,
  FeedConfigShape,
  deadLetter,
  describeError,
  gridRounder,
  parseFeedConfig,
  runFeed,
  watchLoop,
  type FeedEnv,
  type FeedEvent,
} from './ccxtFeed';
import { makeOhlcvHistorySource, OhlcvHistoryError } from './ohlcvHistory';

export {
  CcxtSourceError,
  PRECISION_MODE,
  instrumentFromMarket,
  isFeedEvent,
  reconnectDelayMs,
  seededRandom,
  type CcxtSourceErrorCode,
  type FeedBarsBackfilled,
  type FeedBookGap,
  type FeedBookResynced,
  type FeedConnected,
  type FeedDisconnectCode,
  type FeedDisconnected,
  type FeedEnv,
  type FeedEvent,
  type FeedMarketsLoaded,
  type FeedReconnecting,
  type FeedStream,
} from './ccxtFeed';

// ---- trades --------------------------------------------------------------------------------------

export const CcxtTradeSourceConfigSchema = z.strictObject({
  ...FeedConfigShape,
  /**
   * ccxt's per-symbol trade cache (`tradesLimit`). Trades that arrive between two reads beyond it
   * would be lost, so it must exceed the largest burst ccxt delivers at once (its socket reader
   * buffers up to 1024 messages). Default 2000.
   */
  tradesLimit: z.number().int().min(10).max(100_000).default(2_000),
  /** Recent trade ids remembered per symbol to drop repeats (some venues replay on re-subscribe). 0 disables. Default 1000. */
  dedupWindow: z.number().int().min(0).max(100_000).default(1_000),
});

export type CcxtTradeSourceConfig = z.input<typeof CcxtTradeSourceConfigSchema>;
export type CcxtTradeEvent = TradeTick | FeedEvent | DeadLetter;

/**
 * Trades of several symbols of one exchange, normalised: price and quantity on the instrument's
 * grid, side of the aggressor, the venue's trade id, `tsEvent` = trade time, `tsInit` from the
 * scheduler. A trade id seen within the last `dedupWindow` trades of the symbol is dropped.
 *
 * @example
 * makeCcxtTradeSource({ exchange: 'binance', symbols: ['BTC/USDT', 'ETH/USDT'] })
 *   .pipe(filter((e): e is TradeTick => e.kind === 'trade'))
 */
export function makeCcxtTradeSource(config: CcxtTradeSourceConfig, env: FeedEnv = {}): Observable<CcxtTradeEvent> {
  const settings = parseFeedConfig(CcxtTradeSourceConfigSchema, config, 'ccxt trade source config');
  return runFeed<TradeTick | DeadLetter>({
    stream: 'trades',
    settings,
    env,
    requires: ['watchTrades'],
    exchangeOptions: { tradesLimit: settings.tradesLimit },
    makeDriver: ({ exchange, instruments }) => {
      const state = new Map(
        settings.symbols.map((symbol) => {
          const instrument = instruments.get(symbol)!;
          return [
            symbol,
            {
              recent: new RecentIds(settings.dedupWindow),
              price: gridRounder(instrument.priceTick),
              qty: gridRounder(unitsStep(instrument.qtyStep)),
            },
          ];
        }),
      );
      return {
        session: (context) =>
          merge(
            ...settings.symbols.map((symbol) => {
              const s = state.get(symbol)!;
              return watchLoop<ccxt.Trade[], TradeTick | DeadLetter>(
                'watchTrades',
                symbol,
                () => exchange.watchTrades(symbol),
                (trades, emit) => {
                  context.heard();
                  const tsInit = context.scheduler.now();
                  for (let i = 0; i < trades.length; i++) {
                    const tick = normaliseTrade(trades[i]!, settings.exchange, symbol, s.price, s.qty, tsInit);
                    if (tick.kind === 'trade' && s.recent.seen(tick.tradeId)) continue;
                    emit(tick);
                  }
                },
                { deadLetter: (reason) => deadLetter('ccxt-trades', reason, null, context.scheduler.now()) },
              );
            }),
          ),
      };
    },
  });
}

function normaliseTrade(
  trade: ccxt.Trade,
  venue: string,
  symbol: Symbol,
  roundPrice: (v: number) => number,
  roundQty: (v: number) => number,
  tsInit: number,
): TradeTick | DeadLetter {
  const { price, amount, side, timestamp } = trade;
  if (typeof price !== 'number' || !(price > 0) || !Number.isFinite(price))
    return deadLetter('ccxt-trades', `price: expected a positive number, found ${String(price)}`, trade.info, tsInit);
  if (typeof amount !== 'number' || !(amount > 0) || !Number.isFinite(amount))
    return deadLetter('ccxt-trades', `amount: expected a positive number, found ${String(amount)}`, trade.info, tsInit);
  if (side !== 'buy' && side !== 'sell')
    return deadLetter('ccxt-trades', `side: expected buy or sell, found ${String(side)}`, trade.info, tsInit);
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp))
    return deadLetter('ccxt-trades', `timestamp: expected ms, found ${String(timestamp)}`, trade.info, tsInit);
  return {
    kind: 'trade',
    venue,
    symbol,
    price: roundPrice(price),
    qty: roundQty(amount),
    side,
    // A venue without trade ids still needs a stable key for de-duplication.
    tradeId: trade.id ?? `${timestamp}:${price}:${amount}:${side}`,
    tsEvent: timestamp,
    tsInit,
  };
}

/** The last `size` ids, for de-duplication in O(1) per trade and bounded memory. */
class RecentIds {
  private readonly ring: (string | undefined)[];
  private readonly set = new Set<string>();
  private next = 0;
  constructor(private readonly size: number) {
    this.ring = new Array<string | undefined>(size);
  }

  /** True when `id` is among the recent ids; otherwise remembers it. */
  seen(id: string): boolean {
    if (this.size === 0) return false;
    if (this.set.has(id)) return true;
    const evicted = this.ring[this.next];
    if (evicted !== undefined) this.set.delete(evicted);
    this.ring[this.next] = id;
    this.set.add(id);
    this.next = (this.next + 1) % this.size;
    return false;
  }
}

// ---- bars ----------------------------------------------------------------------------------------

const BackfillSchema = z.strictObject({
  /** Retries per REST request after the first attempt. Default 5. */
  maxRetries: z.number().int().min(0).max(100).default(5),
  /** Wait before the first retry, ms; doubles per retry. Default 1000. */
  initialDelayMs: z.number().int().min(0).default(1_000),
  /** Longest retry wait, ms. Default 60000. */
  maxDelayMs: z.number().int().min(0).default(60_000),
});

export const CcxtOhlcvSourceConfigSchema = z.strictObject({
  ...FeedConfigShape,
  /** Timeframes to watch for every symbol. Default `['1m']`. */
  timeframes: z
    .array(z.string().refine(isTimeframe, { message: `one of ${TIMEFRAMES.join(', ')}` }))
    .min(1)
    .refine((list) => new Set(list).size === list.length, { message: 'timeframes without repeats' })
    .default(['1m']),
  /** ccxt's candle cache per symbol and timeframe (`OHLCVLimit`). Default 10. */
  ohlcvLimit: z.number().int().min(2).max(10_000).default(10),
  /**
   * After a bar's interval ended and the stream has not moved on for this long, ms, the bar is
   * fetched over REST (quiet markets, stalled streams). Default 10000.
   */
  closeGraceMs: z.number().int().min(0).default(10_000),
  /** Retries of the REST backfill (fetchOHLCV, paged by makeOhlcvHistorySource). */
  backfill: BackfillSchema.prefault({}),
});

export type CcxtOhlcvSourceConfig = z.input<typeof CcxtOhlcvSourceConfigSchema>;
export type CcxtOhlcvEvent = Bar | FeedEvent | DeadLetter;

/**
 * Closed bars of several symbols × timeframes of one exchange, each series in order, without holes
 * or repeats across reconnects (holes are backfilled over REST; see ccxtBars.ts for when a bar is
 * closed). `tsEvent` is the bar's close, `trades` 0 (ccxt's OHLCV has no trade count).
 *
 * @example
 * makeCcxtOhlcvSource({ exchange: 'binance', symbols: ['BTC/USDT'], timeframes: ['1m', '5m'] })
 */
export function makeCcxtOhlcvSource(config: CcxtOhlcvSourceConfig, env: FeedEnv = {}): Observable<CcxtOhlcvEvent> {
  const settings = parseFeedConfig(CcxtOhlcvSourceConfigSchema, config, 'ccxt OHLCV source config');
  const timeframes = settings.timeframes as readonly Timeframe[];
  return runFeed<Bar | DeadLetter>({
    stream: 'ohlcv',
    settings,
    env,
    requires: ['watchOHLCV', 'fetchOHLCV'],
    exchangeOptions: { OHLCVLimit: settings.ohlcvLimit },
    check: (exchange) => {
      const offered = Object.keys(exchange.timeframes ?? {});
      const unknown = timeframes.find((tf) => !offered.includes(tf));
      if (unknown !== undefined) {
        throw new CcxtSourceError(
          'INVALID_CONFIG',
          `ccxt OHLCV source config: timeframes: expected ${settings.exchange}'s timeframes (${offered.join(', ')}), found ${JSON.stringify(unknown)}`,
        );
      }
    },
    makeDriver: ({ exchange, instruments, scheduler, emitEvent, emitData }) => {
      const series: { symbol: Symbol; timeframe: Timeframe; bars: BarSeries }[] = [];
      for (const symbol of settings.symbols) {
        const instrument = instruments.get(symbol)!;
        for (const timeframe of timeframes) {
          const bars = new BarSeries({
            venue: settings.exchange,
            symbol,
            timeframe,
            scheduler,
            closeGraceMs: settings.closeGraceMs,
            roundPrice: gridRounder(instrument.priceTick),
            roundQty: gridRounder(unitsStep(instrument.qtyStep)),
            // Not through a session: a backfill may deliver while the connection is being replaced.
            emitBar: emitData,
            emitEvent,
            // A request that exhausted its retries on a transient failure is tried again later: a
            // hole is never final while the exchange says it is overloaded or cannot be reached.
            isTransient: (error) => error instanceof OhlcvHistoryError && error.code === 'RETRIES_EXHAUSTED',
            retryDelayMs: (failures) => backoffDelayMs(failures, settings.backfill),
            fetchClosedBars: (since, handlers) =>
              makeOhlcvHistorySource(
                {
                  exchange: settings.exchange,
                  symbol,
                  timeframe,
                  since,
                  timeoutMs: settings.timeoutMs,
                  retry: settings.backfill,
                  ...(settings.apiUrl !== undefined ? { apiUrl: settings.apiUrl } : {}),
                },
                { scheduler },
              ).subscribe({
                next: (page) => handlers.next(page.bars),
                complete: handlers.done,
                error: handlers.failed,
              }),
          });
          series.push({ symbol, timeframe, bars });
        }
      }
      return {
        session: (context) =>
          merge(
            ...series.map(({ symbol, timeframe, bars }) =>
              watchLoop<ccxt.OHLCV[], Bar | DeadLetter>(
                'watchOHLCV',
                symbol,
                () => exchange.watchOHLCV(symbol, timeframe),
                (candles, emit) => {
                  context.heard();
                  const invalid = bars.onCandles(candles);
                  for (const row of invalid) {
                    emit(
                      deadLetter(
                        'ccxt-ohlcv',
                        `${symbol} ${timeframe}: not a candle [time on the ${timeframe} grid, o, h, l, c, v]`,
                        row,
                        context.scheduler.now(),
                      ),
                    );
                  }
                },
                { deadLetter: (reason) => deadLetter('ccxt-ohlcv', reason, null, context.scheduler.now()) },
              ),
            ),
          ),
        sessionEnded: () => series.forEach((s) => s.bars.onSessionEnded()),
        dispose: () => series.forEach((s) => s.bars.dispose()),
      };
    },
  });
}

// ---- order books ---------------------------------------------------------------------------------

export const CcxtOrderBookSourceConfigSchema = z.strictObject({
  ...FeedConfigShape,
  /** Levels per side in each emitted book. Default 20. */
  depth: z.number().int().min(1).max(5_000).default(20),
  /**
   * Levels per side ccxt keeps and asks of the REST snapshot (the `limit` of watchOrderBook, e.g.
   * 5, 10, 20, 50, 100, 500, 1000, 5000 on Binance). Keep it well above `depth`: levels deeper
   * than it are cut off, and the emitted top levels must survive removals above them. Default 1000.
   */
  bookLimit: z.number().int().min(1).max(5_000).default(1_000),
  /**
   * Gaps in a row (each followed by a re-subscribe and a fresh snapshot) without one consistent book
   * in between, after which the connection itself is replaced. Default 3.
   */
  maxGapsInARow: z.number().int().min(1).max(100).default(3),
});

export type CcxtOrderBookSourceConfig = z.input<typeof CcxtOrderBookSourceConfigSchema>;
export type CcxtOrderBookEvent = OrderBook | FeedEvent | DeadLetter;

/**
 * L2 books of several symbols of one exchange: the best `depth` levels per side after every
 * update, `sequence` = the venue's update id (Binance: the snapshot's lastUpdateId, then each
 * diff's `u`). A sequence gap is never papered over: `feed-book-gap`, a fresh snapshot, then
 * `feed-book-resynced` and consistent books again.
 *
 * @example
 * makeCcxtOrderBookSource({ exchange: 'binance', symbols: ['BTC/USDT'], depth: 10 })
 */
export function makeCcxtOrderBookSource(
  config: CcxtOrderBookSourceConfig,
  env: FeedEnv = {},
): Observable<CcxtOrderBookEvent> {
  const settings = parseFeedConfig(CcxtOrderBookSourceConfigSchema, config, 'ccxt order book source config');
  if (settings.bookLimit < settings.depth) {
    throw new CcxtSourceError(
      'INVALID_CONFIG',
      `ccxt order book source config: bookLimit: expected at least depth (${settings.depth}), found ${settings.bookLimit}`,
    );
  }
  return runFeed<OrderBook | DeadLetter>({
    stream: 'book',
    settings,
    env,
    requires: ['watchOrderBook'],
    exchangeOptions: {
      watchOrderBookLimit: settings.bookLimit,
      // A gap must raise, never be muted (ccxt's default, made explicit).
      watchOrderBook: { checksum: true },
    },
    makeDriver: ({ exchange, instruments, emitEvent }) => {
      const state = new Map(
        settings.symbols.map((symbol) => {
          const instrument = instruments.get(symbol)!;
          return [
            symbol,
            {
              gaps: 0,
              lastSequence: null as number | null,
              price: gridRounder(instrument.priceTick),
              qty: gridRounder(unitsStep(instrument.qtyStep)),
            },
          ];
        }),
      );
      return {
        session: (context) =>
          merge(
            ...settings.symbols.map((symbol) => {
              const s = state.get(symbol)!;
              return watchLoop<ccxt.OrderBook, OrderBook | DeadLetter>(
                'watchOrderBook',
                symbol,
                () => exchange.watchOrderBook(symbol, settings.bookLimit),
                (book, emit) => {
                  context.heard();
                  const tsInit = context.scheduler.now();
                  const sequence = typeof book.nonce === 'number' ? book.nonce : -1;
                  if (s.gaps > 0) {
                    emitEvent({
                      kind: 'feed-book-resynced',
                      venue: settings.exchange,
                      stream: 'book',
                      symbol,
                      sequence,
                      gaps: s.gaps,
                      tsInit,
                    });
                    s.gaps = 0;
                  }
                  s.lastSequence = sequence;
                  emit({
                    kind: 'book',
                    venue: settings.exchange,
                    symbol,
                    bids: topLevels(book.bids, settings.depth, s.price, s.qty),
                    asks: topLevels(book.asks, settings.depth, s.price, s.qty),
                    sequence,
                    tsEvent: typeof book.timestamp === 'number' ? book.timestamp : tsInit,
                    tsInit,
                  });
                },
                {
                  deadLetter: (reason) => deadLetter('ccxt-book', reason, null, context.scheduler.now()),
                  onError: (error) => {
                    // ccxt found a gap (ChecksumError ⊂ InvalidNonce) and dropped book and subscription:
                    // calling again re-subscribes and rebuilds from a fresh snapshot.
                    if (!(error instanceof InvalidNonce) || s.gaps >= settings.maxGapsInARow) return false;
                    context.heard();
                    s.gaps += 1;
                    emitEvent({
                      kind: 'feed-book-gap',
                      venue: settings.exchange,
                      stream: 'book',
                      symbol,
                      lastSequence: s.lastSequence,
                      reason: describeError(error),
                      tsInit: context.scheduler.now(),
                    });
                    return true;
                  },
                },
              );
            }),
          ),
        sessionEnded: () => {
          // Diffs reaching the old book before the new subscription's snapshot would only raise
          // a spurious gap: ccxt drops diffs of symbols it holds no book for.
          const books = exchange.orderbooks as Record<string, unknown>;
          for (const symbol of settings.symbols) delete books[symbol];
        },
      };
    },
  });
}

/** The best `n` levels of a ccxt book side, copied (ccxt updates its rows in place). */
function topLevels(
  side: readonly (readonly [unknown, unknown])[],
  n: number,
  price: (v: number) => number,
  qty: (v: number) => number,
): BookLevel[] {
  const count = Math.min(n, side.length);
  const out = new Array<BookLevel>(count);
  for (let i = 0; i < count; i++) {
    const row = side[i]!;
    out[i] = [price(row[0] as number), qty(row[1] as number)];
  }
  return out;
}

// ---- tickers -------------------------------------------------------------------------------------

/** `watchTicker` params for exchanges whose default ticker stream lacks best bid/ask. */
const TICKER_PARAMS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  // Binance's watchTicker defaults to the miniTicker stream, which has no bid/ask.
  binance: { name: 'ticker' },
  binanceus: { name: 'ticker' },
  binanceusdm: { name: 'ticker' },
  binancecoinm: { name: 'ticker' },
};

export const CcxtTickerSourceConfigSchema = z.strictObject({
  ...FeedConfigShape,
  /** Params for ccxt's `watchTicker`. Default: what the exchange needs for bid/ask (Binance: `{ name: 'ticker' }`), else none. */
  watchParams: z.record(z.string(), z.unknown()).optional(),
});

export type CcxtTickerSourceConfig = z.input<typeof CcxtTickerSourceConfigSchema>;
export type CcxtTickerEvent = Ticker | FeedEvent | DeadLetter;

/**
 * Tickers (best bid, best ask, last price) of several symbols of one exchange. A ticker without
 * those three is a dead letter.
 *
 * @example
 * makeCcxtTickerSource({ exchange: 'binance', symbols: ['BTC/USDT', 'ETH/USDT'] })
 */
export function makeCcxtTickerSource(config: CcxtTickerSourceConfig, env: FeedEnv = {}): Observable<CcxtTickerEvent> {
  const settings = parseFeedConfig(CcxtTickerSourceConfigSchema, config, 'ccxt ticker source config');
  const params = settings.watchParams ?? TICKER_PARAMS[settings.exchange] ?? {};
  return runFeed<Ticker | DeadLetter>({
    stream: 'ticker',
    settings,
    env,
    requires: ['watchTicker'],
    exchangeOptions: {},
    makeDriver: ({ exchange, instruments }) => ({
      session: (context) =>
        merge(
          ...settings.symbols.map((symbol) => {
            const price = gridRounder(instruments.get(symbol)!.priceTick);
            return watchLoop<ccxt.Ticker, Ticker | DeadLetter>(
              'watchTicker',
              symbol,
              () => exchange.watchTicker(symbol, { ...params }),
              (ticker, emit) => {
                context.heard();
                const tsInit = context.scheduler.now();
                const { bid, ask, last } = ticker;
                if (!isPrice(bid) || !isPrice(ask) || !isPrice(last)) {
                  emit(
                    deadLetter(
                      'ccxt-ticker',
                      `${symbol}: ticker without bid/ask/last (bid=${String(bid)}, ask=${String(ask)}, last=${String(last)})`,
                      ticker.info,
                      tsInit,
                    ),
                  );
                  return;
                }
                emit({
                  kind: 'ticker',
                  venue: settings.exchange,
                  symbol,
                  bid: price(bid),
                  ask: price(ask),
                  last: price(last),
                  tsEvent: typeof ticker.timestamp === 'number' ? ticker.timestamp : tsInit,
                  tsInit,
                });
              },
              { deadLetter: (reason) => deadLetter('ccxt-ticker', reason, null, context.scheduler.now()) },
            );
          }),
        ),
    }),
  });
}

// ---- helpers -------------------------------------------------------------------------------------

function isPrice(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/** A Units step as a number of whole assets (for rounding floats). */
function unitsStep(units: bigint): number {
  return Number(units) / 1e8;
}
