/**
 * A local stand-in for Binance spot on loopback, REST and WebSocket streams on one port: the real
 * ccxt code talks to it exactly as it would to api.binance.com / stream.binance.com, so exchange
 * code is tested end to end with the test double only at the network edge.
 *
 * REST (public market data): `GET /api/v3/ping`, `/api/v3/time`, `/api/v3/exchangeInfo`,
 * `/api/v3/klines`, `/api/v3/depth` (snapshot with `lastUpdateId`). Responses follow Binance's
 * documented formats (string decimals, error bodies `{"code":-1121,"msg":"Invalid symbol."}`,
 * `Retry-After` on 429/418, `X-MBX-USED-WEIGHT-1M`). A test can make the next requests of a path
 * fail (status + Binance error body), wait, hang until released, or drop the connection, and can
 * assert on every request the server received.
 *
 * Streams (binanceStreams.ts): `/ws`, `/ws/<stream>`, `/stream?streams=a/b` with live
 * SUBSCRIBE/UNSUBSCRIBE. The test pushes events — {@link BinanceServer.pushTrade},
 * {@link BinanceServer.pushKline} (which also updates the klines REST serves, so stream and REST
 * agree), {@link BinanceServer.pushDepth} (applied to the server's book, which `/api/v3/depth`
 * serves), {@link BinanceServer.pushTicker}, {@link BinanceServer.pushStream} for recorded payloads —
 * and breaks the feed: {@link BinanceServer.injectDepthGap} (an update the clients never get),
 * {@link BinanceServer.dropConnections} (no close frame), {@link BinanceServer.silence} (a stalled
 * socket), {@link BinanceServer.refuseUpgrades}.
 *
 * Extending it: signed endpoints (`/api/v3/order`, `openOrders`, `account`) are new routes added
 * with {@link BinanceServer.route}.
 *
 * @example
 * const server = await startBinanceServer({ klines: { BTCUSDT: { '5m': klines } } });
 * server.failNext('/api/v3/klines', 429, { retryAfterSec: 1, skip: 1 });
 * server.pushTrade('BTCUSDT', { price: '43000.10', qty: '0.01', buyerIsMaker: true });
 * // … point ccxt at server.url …
 * await server.close();
 */
import { TIMEFRAMES, timeframeMs } from '../../operators/types';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DepthBook,
  StreamHub,
  type DepthDiff,
  type DepthSnapshot,
  type DepthUpdateEvent,
  type StreamConnectionInfo,
  type StreamRequest,
} from './binanceStreams';

export type {
  DepthDiff,
  DepthSnapshot,
  DepthUpdateEvent,
  StreamConnectionInfo,
  StreamRequest,
  WireLevel,
} from './binanceStreams';

/** One kline as Binance stores it; decimals are strings, as on the wire. */
export interface Kline {
  /** Open time, ms since the epoch (UTC). */
  readonly openTime: number;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly close: string;
  /** Base-asset volume. */
  readonly volume: string;
  /** Quote-asset volume; default "0". */
  readonly quoteVolume?: string;
  /** Number of trades; default 0. */
  readonly trades?: number;
  readonly takerBuyBaseVolume?: string;
  readonly takerBuyQuoteVolume?: string;
}

/** A 5-minute-style candle around `close` (open 5 below, high/low ±10, volume 12.5) for the session tests. */
export function klineAround(openTime: number, close: number): Kline {
  return {
    openTime,
    open: (close - 5).toFixed(2),
    high: (close + 10).toFixed(2),
    low: (close - 10).toFixed(2),
    close: close.toFixed(2),
    volume: '12.5',
  };
}

/** A spot symbol as listed by `exchangeInfo`, with the filters ccxt reads limits and precision from. */
export interface SymbolSpec {
  /** Binance id, e.g. `BTCUSDT`. */
  readonly symbol: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  /** Default `TRADING`. */
  readonly status?: 'TRADING' | 'BREAK' | 'HALT' | 'END_OF_DAY';
  /** PRICE_FILTER. */
  readonly tickSize: string;
  readonly minPrice: string;
  readonly maxPrice: string;
  /** LOT_SIZE. */
  readonly stepSize: string;
  readonly minQty: string;
  readonly maxQty: string;
  /** NOTIONAL (current spot) or MIN_NOTIONAL (legacy, still on some testnet symbols). */
  readonly minNotional: string;
  /** Which notional filter the symbol carries; default `NOTIONAL`. */
  readonly notionalFilter?: 'NOTIONAL' | 'MIN_NOTIONAL';
}

export const BTCUSDT: SymbolSpec = {
  symbol: 'BTCUSDT',
  baseAsset: 'BTC',
  quoteAsset: 'USDT',
  tickSize: '0.01000000',
  minPrice: '0.01000000',
  maxPrice: '1000000.00000000',
  stepSize: '0.00001000',
  minQty: '0.00001000',
  maxQty: '9000.00000000',
  minNotional: '5.00000000',
};

export const ETHUSDT: SymbolSpec = {
  symbol: 'ETHUSDT',
  baseAsset: 'ETH',
  quoteAsset: 'USDT',
  tickSize: '0.01000000',
  minPrice: '0.01000000',
  maxPrice: '1000000.00000000',
  stepSize: '0.00010000',
  minQty: '0.00010000',
  maxQty: '9000.00000000',
  minNotional: '5.00000000',
};

export const ETHBTC: SymbolSpec = {
  symbol: 'ETHBTC',
  baseAsset: 'ETH',
  quoteAsset: 'BTC',
  tickSize: '0.00001000',
  minPrice: '0.00001000',
  maxPrice: '922327.00000000',
  stepSize: '0.00010000',
  minQty: '0.00010000',
  maxQty: '100000.00000000',
  minNotional: '0.00010000',
  notionalFilter: 'MIN_NOTIONAL',
};

export interface BinanceServerOptions {
  /** Symbols listed by exchangeInfo. Default: BTCUSDT, ETHUSDT, ETHBTC. */
  readonly symbols?: readonly SymbolSpec[];
  /** Klines served, by Binance symbol id and interval (`1m`, `5m`…). Any order; sorted on load. */
  readonly klines?: Readonly<Record<string, Readonly<Record<string, readonly Kline[]>>>>;
  /** The server's clock (serverTime, weight windows), ms. Default: the wall clock. */
  readonly now?: () => number;
}

/** What a faulted request gets instead of the normal answer. */
export type Fault =
  /** An HTTP status with a Binance error body; `Retry-After` when given (Binance sends it on 429/418). */
  | {
      readonly kind: 'status';
      readonly status: number;
      /** Binance error code; default depends on the status (-1003 for 429/418, -1000 otherwise). */
      readonly code?: number;
      readonly msg?: string;
      /** Seconds, sent as the `Retry-After` header. */
      readonly retryAfterSec?: number;
      /** Raw body instead of the JSON error (e.g. an HTML page from a proxy). */
      readonly rawBody?: string;
    }
  /** The normal answer, `ms` later. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** No answer until {@link BinanceServer.release} (then the normal answer) or close. */
  | { readonly kind: 'hold' }
  /** The TCP connection is destroyed without a response. */
  | { readonly kind: 'close' }
  /**
   * The normal handler, but with the query and/or the answer altered: for exchange quirks other
   * venues have (repeating the previous page's last bar, unsorted rows…).
   */
  | {
      readonly kind: 'quirk';
      readonly alterQuery?: (query: Readonly<Record<string, string>>) => Record<string, string>;
      readonly alterBody?: (body: unknown) => unknown;
    };

export interface InjectOptions {
  /** How many consecutive matching requests get the fault. Default 1. */
  readonly times?: number;
  /** Matching requests to let through normally before the fault starts. Default 0. */
  readonly skip?: number;
}

export interface RecordedRequest {
  /** 1-based arrival order over all paths. */
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: http.IncomingHttpHeaders;
  /** Server clock at arrival, ms. */
  readonly receivedAt: number;
  /** The fault applied, if any. */
  readonly fault: Fault['kind'] | null;
  /** Status sent, once the response is finished; null while pending or when the socket was dropped. */
  readonly status: number | null;
}

/** A parsed request as route handlers see it. */
export interface RouteRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface RouteResponse {
  readonly status: number;
  /** Serialized as JSON unless it is a string. */
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export type RouteHandler = (request: RouteRequest) => RouteResponse;

/** A trade to send; decimals as strings, as on the wire. */
export interface PushTrade {
  readonly price: string;
  readonly qty: string;
  /** Binance's `m`: the buyer was the maker, i.e. the aggressor sold. */
  readonly buyerIsMaker: boolean;
  /** Trade id; default: the symbol's last id + 1 (ids start at 1). */
  readonly id?: number;
  /** Trade time `T`, ms; default the server clock. */
  readonly time?: number;
  /** Event time `E`, ms; default the trade time. */
  readonly eventTime?: number;
}

/** A `<symbol>@trade` event as sent. */
export interface TradeEvent {
  readonly e: 'trade';
  readonly E: number;
  readonly s: string;
  readonly t: number;
  readonly p: string;
  readonly q: string;
  readonly T: number;
  readonly m: boolean;
  readonly M: boolean;
}

/** A 24h ticker to send; unset statistics default to the last price or "0". */
export interface PushTicker {
  readonly last: string;
  readonly bid: string;
  readonly ask: string;
  readonly bidQty?: string;
  readonly askQty?: string;
  readonly lastQty?: string;
  readonly open?: string;
  readonly high?: string;
  readonly low?: string;
  readonly volume?: string;
  readonly quoteVolume?: string;
  readonly priceChange?: string;
  readonly priceChangePercent?: string;
  readonly weightedAvgPrice?: string;
  /** Event time, ms; default the server clock. */
  readonly time?: number;
}

/** Request weights as Binance documents them (spot, 2024). */
const WEIGHTS: Readonly<Record<string, number>> = {
  '/api/v3/ping': 1,
  '/api/v3/time': 1,
  '/api/v3/exchangeInfo': 20,
  '/api/v3/klines': 2,
  // 5 up to limit 100, 25 to 500, 50 to 1000, 250 to 5000: charged as the common case.
  '/api/v3/depth': 5,
};

/** Binance's kline intervals: bot4's timeframes plus the ones only Binance has. */
const INTERVAL_MS: Readonly<Record<string, number>> = {
  '1s': 1_000,
  ...Object.fromEntries(TIMEFRAMES.map((tf) => [tf, timeframeMs(tf)])),
  '3d': 259_200_000,
  '1w': 604_800_000,
};

/** Binance's documented error, as a route response. */
export function binanceError(status: number, code: number, msg: string): RouteResponse {
  return { status, body: { code, msg } };
}

function mandatory(name: string): RouteResponse {
  return binanceError(400, -1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);
}

function illegalCharacters(name: string): RouteResponse {
  return binanceError(400, -1100, `Illegal characters found in parameter '${name}'; legal range is '^[0-9]{1,20}$'.`);
}

/** Close time of a kline: the last ms of its interval (calendar months for `1M`). */
function klineCloseTime(openTime: number, interval: string): number {
  if (interval === '1M') {
    const open = new Date(openTime);
    return Date.UTC(open.getUTCFullYear(), open.getUTCMonth() + 1, 1) - 1;
  }
  const ms = INTERVAL_MS[interval];
  if (ms === undefined) throw new Error(`unknown interval ${interval}`);
  return openTime + ms - 1;
}

function isInterval(value: string): boolean {
  return value === '1M' || Object.hasOwn(INTERVAL_MS, value);
}

/** Index of the first kline with openTime >= t (klines sorted ascending). */
function lowerBound(klines: readonly Kline[], t: number): number {
  let lo = 0;
  let hi = klines.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (klines[mid]!.openTime < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function defaultFaultBody(status: number, now: number): { code: number; msg: string } {
  if (status === 429) {
    return {
      code: -1003,
      msg: 'Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.',
    };
  }
  if (status === 418) {
    return {
      code: -1003,
      msg: `Way too much request weight used; IP banned until ${now + 120_000}. Please use WebSocket Streams for live updates to avoid bans.`,
    };
  }
  if (status === 503)
    return {
      code: -1008,
      msg: 'Server is currently overloaded with other requests. Please try again in a few minutes.',
    };
  return { code: -1000, msg: 'An unknown error occurred while processing the request.' };
}

interface PendingFault {
  readonly fault: Fault;
  skip: number;
  times: number;
}

interface MutableRecord extends RecordedRequest {
  status: number | null;
}

export class BinanceServer {
  private readonly symbols: Map<string, SymbolSpec>;
  private readonly klines = new Map<string, Kline[]>();
  private readonly routes = new Map<string, RouteHandler>();
  private readonly faults = new Map<string, PendingFault[]>();
  private readonly records: MutableRecord[] = [];
  private readonly held = new Set<() => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly weightByMinute = new Map<number, number>();
  private readonly hub: StreamHub;
  private readonly books = new Map<string, DepthBook>();
  private readonly lastTradeId = new Map<string, number>();
  private closed = false;

  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  /** The server's clock, ms. */
  readonly now: () => number;

  /** @internal use {@link startBinanceServer}. */
  constructor(
    private readonly server: http.Server,
    options: BinanceServerOptions,
  ) {
    const address = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${address.port}`;
    this.now = options.now ?? (() => Date.now());
    this.symbols = new Map((options.symbols ?? [BTCUSDT, ETHUSDT, ETHBTC]).map((s) => [s.symbol, s]));
    for (const [symbol, byInterval] of Object.entries(options.klines ?? {})) {
      for (const [interval, klines] of Object.entries(byInterval)) this.setKlines(symbol, interval, klines);
    }
    this.route('GET', '/api/v3/ping', () => ({ status: 200, body: {} }));
    this.route('GET', '/api/v3/time', () => ({ status: 200, body: { serverTime: this.now() } }));
    this.route('GET', '/api/v3/exchangeInfo', (request) => this.exchangeInfo(request));
    this.route('GET', '/api/v3/klines', (request) => this.serveKlines(request));
    this.route('GET', '/api/v3/depth', (request) => this.serveDepth(request));
    server.on('request', (req, res) => this.handle(req, res));
    this.hub = new StreamHub({ now: this.now });
    this.hub.attach(server);
  }

  /** Adds or replaces an endpoint (for signed order endpoints, or a test's own). */
  route(method: string, path: string, handler: RouteHandler): void {
    this.routes.set(`${method.toUpperCase()} ${path}`, handler);
  }

  /** Replaces the klines served for a symbol and interval (copied and sorted by open time). */
  setKlines(symbol: string, interval: string, klines: readonly Kline[]): void {
    if (!isInterval(interval)) throw new Error(`setKlines: ${interval} is not a Binance interval`);
    const sorted = [...klines].sort((a, b) => a.openTime - b.openTime);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]!.openTime === sorted[i - 1]!.openTime) {
        throw new Error(`setKlines: two klines open at ${sorted[i]!.openTime} (klines are identified by open time)`);
      }
    }
    this.klines.set(`${symbol} ${interval}`, sorted);
  }

  /** Adds or replaces one kline (by open time) in what REST serves, without sending anything. */
  upsertKline(symbol: string, interval: string, kline: Kline): void {
    if (!isInterval(interval)) throw new Error(`upsertKline: ${interval} is not a Binance interval`);
    const key = `${symbol} ${interval}`;
    let all = this.klines.get(key);
    if (!all) {
      all = [];
      this.klines.set(key, all);
    }
    const i = lowerBound(all, kline.openTime);
    if (all[i]?.openTime === kline.openTime) all[i] = kline;
    else all.splice(i, 0, kline);
  }

  /** The klines REST serves for a symbol and interval, ascending. */
  klinesOf(symbol: string, interval: string): readonly Kline[] {
    return [...(this.klines.get(`${symbol} ${interval}`) ?? [])];
  }

  // ---- streams: events -------------------------------------------------------------------------

  /**
   * Sends a `<symbol>@trade` event. Trade ids count up per symbol from 1 unless given; times default
   * to the server clock. Returns the event as sent (and how many connections got it).
   */
  pushTrade(symbol: string, trade: PushTrade): { readonly event: TradeEvent; readonly delivered: number } {
    this.requireSymbol(symbol, 'pushTrade');
    const id = trade.id ?? (this.lastTradeId.get(symbol) ?? 0) + 1;
    this.lastTradeId.set(symbol, Math.max(id, this.lastTradeId.get(symbol) ?? 0));
    const time = trade.time ?? this.now();
    const event: TradeEvent = {
      e: 'trade',
      E: trade.eventTime ?? time,
      s: symbol,
      t: id,
      p: trade.price,
      q: trade.qty,
      T: time,
      m: trade.buyerIsMaker,
      M: true,
    };
    return { event, delivered: this.hub.publish(`${symbol.toLowerCase()}@trade`, event) };
  }

  /**
   * Sends a `<symbol>@kline_<interval>` event for `kline` and stores it as REST's kline of that open
   * time (replacing an earlier version), so the stream and `/api/v3/klines` always agree.
   * `final` is the event's `x` (the kline closed). With `broadcast: false` only the store changes:
   * the exchange moved on while a client was not listening.
   */
  pushKline(
    symbol: string,
    interval: string,
    kline: Kline,
    options: { final?: boolean; broadcast?: boolean; eventTime?: number } = {},
  ): number {
    this.requireSymbol(symbol, 'pushKline');
    this.upsertKline(symbol, interval, kline);
    if (options.broadcast === false) return 0;
    const trades = kline.trades ?? 0;
    const event = {
      e: 'kline',
      E: options.eventTime ?? this.now(),
      s: symbol,
      k: {
        t: kline.openTime,
        T: klineCloseTime(kline.openTime, interval),
        s: symbol,
        i: interval,
        f: trades > 0 ? 1 : -1,
        L: trades > 0 ? trades : -1,
        o: kline.open,
        c: kline.close,
        h: kline.high,
        l: kline.low,
        v: kline.volume,
        n: trades,
        x: options.final ?? false,
        q: kline.quoteVolume ?? '0',
        V: kline.takerBuyBaseVolume ?? '0',
        Q: kline.takerBuyQuoteVolume ?? '0',
        B: '0',
      },
    };
    return this.hub.publish(`${symbol.toLowerCase()}@kline_${interval}`, event);
  }

  /** Sends a `<symbol>@ticker` (24hrTicker) event. Returns how many connections got it. */
  pushTicker(symbol: string, ticker: PushTicker): number {
    this.requireSymbol(symbol, 'pushTicker');
    const time = ticker.time ?? this.now();
    const event = {
      e: '24hrTicker',
      E: time,
      s: symbol,
      p: ticker.priceChange ?? '0',
      P: ticker.priceChangePercent ?? '0',
      w: ticker.weightedAvgPrice ?? ticker.last,
      x: ticker.open ?? ticker.last,
      c: ticker.last,
      Q: ticker.lastQty ?? '0',
      b: ticker.bid,
      B: ticker.bidQty ?? '0',
      a: ticker.ask,
      A: ticker.askQty ?? '0',
      o: ticker.open ?? ticker.last,
      h: ticker.high ?? ticker.last,
      l: ticker.low ?? ticker.last,
      v: ticker.volume ?? '0',
      q: ticker.quoteVolume ?? '0',
      O: time - 86_400_000,
      C: time,
      F: 0,
      L: 0,
      n: 0,
    };
    return this.hub.publish(`${symbol.toLowerCase()}@ticker`, event);
  }

  /** Sends a `<symbol>@bookTicker` event (best bid/ask; it has no event type field, as on Binance). */
  pushBookTicker(
    symbol: string,
    quote: { bid: string; bidQty: string; ask: string; askQty: string; updateId?: number },
  ): number {
    this.requireSymbol(symbol, 'pushBookTicker');
    const event = {
      u: quote.updateId ?? this.now(),
      s: symbol,
      b: quote.bid,
      B: quote.bidQty,
      a: quote.ask,
      A: quote.askQty,
    };
    return this.hub.publish(`${symbol.toLowerCase()}@bookTicker`, event);
  }

  /** Sends a payload as is (an object or pre-serialized JSON) to the subscribers of `stream` — for recorded messages. */
  pushStream(stream: string, payload: object | string): number {
    return this.hub.publish(stream, payload);
  }

  /** Sets the server's order book of a symbol (what `/api/v3/depth` serves and diffs apply to). */
  setBook(symbol: string, snapshot: DepthSnapshot): void {
    this.requireSymbol(symbol, 'setBook');
    this.books.set(symbol, new DepthBook(snapshot));
  }

  /** The server's current book of a symbol, best `limit` levels per side. */
  book(symbol: string, limit?: number): DepthSnapshot {
    const book = this.books.get(symbol);
    if (!book) throw new Error(`book: no book for ${symbol} (setBook first)`);
    return book.snapshot(limit);
  }

  /**
   * Applies a diff to the server's book and sends it as a `depthUpdate` event on `<symbol>@depth`,
   * `@depth@100ms` and `@depth@1000ms`. Update ids continue from the book unless given (recorded
   * events carry their own; those already contained in the book change nothing but are still sent).
   */
  pushDepth(symbol: string, diff: DepthDiff): { readonly event: DepthUpdateEvent; readonly delivered: number } {
    const event = this.depthBook(symbol, 'pushDepth').apply(symbol, diff, this.now());
    const lower = symbol.toLowerCase();
    const raw = JSON.stringify(event);
    const delivered =
      this.hub.publish(`${lower}@depth`, raw) +
      this.hub.publish(`${lower}@depth@100ms`, raw) +
      this.hub.publish(`${lower}@depth@1000ms`, raw);
    return { event, delivered };
  }

  /**
   * A sequence gap on the wire: the diff changes the server's book and uses up update ids, but no
   * client is sent it. A client that keeps applying later diffs without noticing holds a corrupt book.
   */
  injectDepthGap(symbol: string, diff: DepthDiff = {}): DepthUpdateEvent {
    return this.depthBook(symbol, 'injectDepthGap').apply(symbol, diff, this.now());
  }

  // ---- streams: faults and inspection ----------------------------------------------------------

  /** Stalls the matching open stream connections: no data, replies or pongs from now on. Returns how many. */
  silence(filter?: (c: StreamConnectionInfo) => boolean): number {
    return this.hub.silence(filter);
  }

  /** Destroys the matching open stream connections without a close frame. Returns how many. */
  dropConnections(filter?: (c: StreamConnectionInfo) => boolean): number {
    return this.hub.drop(filter);
  }

  /** Closes the matching open stream connections with a close frame (`code`). Returns how many. */
  disconnectStreams(code = 1000, reason = '', filter?: (c: StreamConnectionInfo) => boolean): number {
    return this.hub.disconnect(code, reason, filter);
  }

  /** The next `count` WebSocket upgrades get an HTTP error (`status`, default 503) instead. */
  refuseUpgrades(count: number, status = 503): void {
    this.hub.refuseUpgrades(count, status);
  }

  /** Open stream connections. */
  streamConnections(): readonly StreamConnectionInfo[] {
    return this.hub.connections();
  }

  /** Every stream connection seen (recent closed ones too), by id. */
  streamConnectionLog(): readonly StreamConnectionInfo[] {
    return this.hub.connectionLog();
  }

  /** Control messages (SUBSCRIBE…) received on stream connections. */
  streamRequests(): readonly StreamRequest[] {
    return this.hub.requests();
  }

  /** Live (not silenced) connections subscribed to `stream`, e.g. `btcusdt@trade`. */
  subscriberCount(stream: string): number {
    return this.hub.subscriberCount(stream);
  }

  /** Largest amount of data queued in any open stream socket, bytes. */
  maxBufferedAmount(): number {
    return this.hub.maxBufferedAmount();
  }

  /** Applies `fault` to the next matching requests of `path` (e.g. `/api/v3/klines`). */
  inject(path: string, fault: Fault, options: InjectOptions = {}): void {
    const times = options.times ?? 1;
    const skip = options.skip ?? 0;
    if (!(times >= 1) || !(skip >= 0))
      throw new Error(`inject: times must be ≥ 1 and skip ≥ 0 (got ${times}, ${skip})`);
    const queue = this.faults.get(path) ?? [];
    queue.push({ fault, times, skip });
    this.faults.set(path, queue);
  }

  /** The next requests of `path` get `status` with a Binance error body (and `Retry-After` when given). */
  failNext(
    path: string,
    status: number,
    options: InjectOptions & { code?: number; msg?: string; retryAfterSec?: number; rawBody?: string } = {},
  ): void {
    const fault: Fault = {
      kind: 'status',
      status,
      ...(options.code !== undefined ? { code: options.code } : {}),
      ...(options.msg !== undefined ? { msg: options.msg } : {}),
      ...(options.retryAfterSec !== undefined ? { retryAfterSec: options.retryAfterSec } : {}),
      ...(options.rawBody !== undefined ? { rawBody: options.rawBody } : {}),
    };
    this.inject(path, fault, options);
  }

  /** The next requests of `path` are answered normally, `ms` later. */
  delayNext(path: string, ms: number, options: InjectOptions = {}): void {
    this.inject(path, { kind: 'delay', ms }, options);
  }

  /** The next requests of `path` are held unanswered until {@link release}. */
  holdNext(path: string, options: InjectOptions = {}): void {
    this.inject(path, { kind: 'hold' }, options);
  }

  /** The next requests of `path` lose their connection without a response. */
  closeNext(path: string, options: InjectOptions = {}): void {
    this.inject(path, { kind: 'close' }, options);
  }

  /** Answers every held request normally. Returns how many there were. */
  release(): number {
    const pending = [...this.held];
    this.held.clear();
    for (const answer of pending) answer();
    return pending.length;
  }

  /** Requests received so far, in arrival order; only those of `path` when given. */
  requests(path?: string): readonly RecordedRequest[] {
    return this.records.filter((r) => path === undefined || r.path === path).map((r) => ({ ...r }));
  }

  /** Faults injected but not yet used up, for `path` or all paths. */
  pendingFaults(path?: string): number {
    let n = 0;
    for (const [p, queue] of this.faults) {
      if (path === undefined || p === path) n += queue.reduce((sum, f) => sum + f.times, 0);
    }
    return n;
  }

  /** Stops listening and drops every connection (held and delayed requests included). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hub.close();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.held.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private requireSymbol(symbol: string, caller: string): void {
    if (!this.symbols.has(symbol))
      throw new Error(`${caller}: ${symbol} is not listed (symbols: ${[...this.symbols.keys()].join(', ')})`);
  }

  private depthBook(symbol: string, caller: string): DepthBook {
    this.requireSymbol(symbol, caller);
    const book = this.books.get(symbol);
    if (!book) throw new Error(`${caller}: no book for ${symbol} (setBook first)`);
    return book;
  }

  /** `/api/v3/depth`: the best `limit` levels (default 100, 1–5000) and the book's lastUpdateId. */
  private serveDepth(request: RouteRequest): RouteResponse {
    const { symbol } = request.query;
    if (!symbol) return mandatory('symbol');
    if (!this.symbols.has(symbol)) return binanceError(400, -1121, 'Invalid symbol.');
    const raw = request.query['limit'];
    if (raw !== undefined && !/^[0-9]{1,20}$/.test(raw)) return illegalCharacters('limit');
    const limit = raw === undefined ? 100 : Number(raw);
    if (limit < 1 || limit > 5000) return binanceError(400, -1130, "Data sent for parameter 'limit' is not valid.");
    const book = this.books.get(symbol);
    const snapshot = book ? book.snapshot(limit) : { lastUpdateId: 0, bids: [], asks: [] };
    return { status: 200, body: snapshot };
  }

  private takeFault(path: string): Fault | null {
    const queue = this.faults.get(path);
    const next = queue?.[0];
    if (!queue || !next) return null;
    if (next.skip > 0) {
      next.skip -= 1;
      return null;
    }
    next.times -= 1;
    if (next.times === 0) queue.shift();
    return next.fault;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', this.url);
      const request: RouteRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      const fault = this.takeFault(request.path);
      const record: MutableRecord = {
        seq: this.records.length + 1,
        method: request.method,
        path: request.path,
        query: request.query,
        headers: request.headers,
        receivedAt: this.now(),
        fault: fault?.kind ?? null,
        status: null,
      };
      this.records.push(record);
      res.on('finish', () => {
        record.status = res.statusCode;
      });
      this.dispatch(request, fault, req, res);
    });
  }

  private dispatch(
    request: RouteRequest,
    fault: Fault | null,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): void {
    const answer = (): void => {
      if (this.closed || res.destroyed) return;
      this.send(res, request.path, this.answer(request));
    };
    switch (fault?.kind) {
      case undefined:
        answer();
        return;
      case 'status': {
        const { code, msg } = { ...defaultFaultBody(fault.status, this.now()), ...pickDefined(fault) };
        const headers: Record<string, string> = {};
        if (fault.retryAfterSec !== undefined) headers['Retry-After'] = String(fault.retryAfterSec);
        this.send(res, request.path, { status: fault.status, body: fault.rawBody ?? { code, msg }, headers });
        return;
      }
      case 'delay': {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          answer();
        }, fault.ms);
        this.timers.add(timer);
        return;
      }
      case 'hold':
        this.held.add(answer);
        return;
      case 'close':
        req.socket.destroy();
        return;
      case 'quirk': {
        const altered = fault.alterQuery ? { ...request, query: fault.alterQuery(request.query) } : request;
        const response = this.answer(altered);
        this.send(
          res,
          request.path,
          fault.alterBody && response.status === 200 ? { ...response, body: fault.alterBody(response.body) } : response,
        );
        return;
      }
    }
  }

  private answer(request: RouteRequest): RouteResponse {
    const handler = this.routes.get(`${request.method} ${request.path}`);
    if (!handler) return { status: 404, body: '<html><body><h1>404 Not Found</h1></body></html>' };
    try {
      return handler(request);
    } catch (error) {
      // A bug in a handler must show up in the test, as Binance's generic internal error.
      return binanceError(500, -1000, `An unknown error occurred while processing the request. (${String(error)})`);
    }
  }

  private send(res: http.ServerResponse, path: string, response: RouteResponse): void {
    const minute = Math.floor(this.now() / 60_000);
    const used = (this.weightByMinute.get(minute) ?? 0) + (WEIGHTS[path] ?? 1);
    this.weightByMinute.set(minute, used);
    const text = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
    const isJson = typeof response.body !== 'string' || text.startsWith('{') || text.startsWith('[');
    res.writeHead(response.status, {
      'Content-Type': isJson ? 'application/json;charset=UTF-8' : 'text/html',
      'Content-Length': Buffer.byteLength(text),
      'X-MBX-USED-WEIGHT-1M': String(used),
      ...response.headers,
    });
    res.end(text);
  }

  private exchangeInfo(request: RouteRequest): RouteResponse {
    const wanted = request.query['symbol'] ?? request.query['symbols'];
    let specs = [...this.symbols.values()];
    if (wanted !== undefined) {
      const ids = wanted.startsWith('[') ? (JSON.parse(wanted) as string[]) : [wanted];
      const unknown = ids.find((id) => !this.symbols.has(id));
      if (unknown !== undefined) return binanceError(400, -1121, 'Invalid symbol.');
      specs = specs.filter((s) => ids.includes(s.symbol));
    }
    return {
      status: 200,
      body: {
        timezone: 'UTC',
        serverTime: this.now(),
        rateLimits: [
          { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 },
          { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 100 },
          { rateLimitType: 'ORDERS', interval: 'DAY', intervalNum: 1, limit: 200000 },
          { rateLimitType: 'RAW_REQUESTS', interval: 'MINUTE', intervalNum: 5, limit: 61000 },
        ],
        exchangeFilters: [],
        symbols: specs.map(symbolInfo),
      },
    };
  }

  /**
   * Binance's kline semantics: klines whose open time is in [startTime, endTime], ascending; with
   * only endTime (or neither) the most recent `limit` of them, otherwise the first `limit` from
   * startTime. `limit` defaults to 500, at most 1000.
   */
  private serveKlines(request: RouteRequest): RouteResponse {
    const { symbol, interval } = request.query;
    if (!symbol) return mandatory('symbol');
    if (!interval) return mandatory('interval');
    if (!this.symbols.has(symbol)) return binanceError(400, -1121, 'Invalid symbol.');
    if (!isInterval(interval)) return binanceError(400, -1120, 'Invalid interval.');
    const numbers: Record<'startTime' | 'endTime' | 'limit', number | undefined> = {
      startTime: undefined,
      endTime: undefined,
      limit: undefined,
    };
    for (const name of ['startTime', 'endTime', 'limit'] as const) {
      const raw = request.query[name];
      if (raw === undefined) continue;
      if (!/^[0-9]{1,20}$/.test(raw)) return illegalCharacters(name);
      numbers[name] = Number(raw);
    }
    const limit = numbers.limit ?? 500;
    if (limit < 1 || limit > 1000) return binanceError(400, -1130, "Data sent for parameter 'limit' is not valid.");
    const all = this.klines.get(`${symbol} ${interval}`) ?? [];
    const from = numbers.startTime === undefined ? 0 : lowerBound(all, numbers.startTime);
    const to = numbers.endTime === undefined ? all.length : lowerBound(all, numbers.endTime + 1);
    const selected =
      numbers.startTime === undefined
        ? all.slice(Math.max(from, to - limit), to)
        : all.slice(from, Math.min(to, from + limit));
    return {
      status: 200,
      body: selected.map((k) => [
        k.openTime,
        k.open,
        k.high,
        k.low,
        k.close,
        k.volume,
        klineCloseTime(k.openTime, interval),
        k.quoteVolume ?? '0',
        k.trades ?? 0,
        k.takerBuyBaseVolume ?? '0',
        k.takerBuyQuoteVolume ?? '0',
        '0',
      ]),
    };
  }
}

function pickDefined(fault: { code?: number; msg?: string }): { code?: number; msg?: string } {
  return {
    ...(fault.code !== undefined ? { code: fault.code } : {}),
    ...(fault.msg !== undefined ? { msg: fault.msg } : {}),
  };
}

function symbolInfo(spec: SymbolSpec): Record<string, unknown> {
  const notional =
    (spec.notionalFilter ?? 'NOTIONAL') === 'NOTIONAL'
      ? {
          filterType: 'NOTIONAL',
          minNotional: spec.minNotional,
          applyMinToMarket: true,
          maxNotional: '9000000.00000000',
          applyMaxToMarket: false,
          avgPriceMins: 5,
        }
      : { filterType: 'MIN_NOTIONAL', minNotional: spec.minNotional, applyToMarket: true, avgPriceMins: 5 };
  return {
    symbol: spec.symbol,
    status: spec.status ?? 'TRADING',
    baseAsset: spec.baseAsset,
    baseAssetPrecision: 8,
    quoteAsset: spec.quoteAsset,
    quotePrecision: 8,
    quoteAssetPrecision: 8,
    baseCommissionPrecision: 8,
    quoteCommissionPrecision: 8,
    orderTypes: ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS', 'STOP_LOSS_LIMIT', 'TAKE_PROFIT', 'TAKE_PROFIT_LIMIT'],
    icebergAllowed: true,
    ocoAllowed: true,
    otoAllowed: true,
    quoteOrderQtyMarketAllowed: true,
    allowTrailingStop: true,
    cancelReplaceAllowed: true,
    isSpotTradingAllowed: true,
    isMarginTradingAllowed: false,
    filters: [
      { filterType: 'PRICE_FILTER', minPrice: spec.minPrice, maxPrice: spec.maxPrice, tickSize: spec.tickSize },
      { filterType: 'LOT_SIZE', minQty: spec.minQty, maxQty: spec.maxQty, stepSize: spec.stepSize },
      { filterType: 'ICEBERG_PARTS', limit: 10 },
      { filterType: 'MARKET_LOT_SIZE', minQty: '0.00000000', maxQty: spec.maxQty, stepSize: '0.00000000' },
      {
        filterType: 'TRAILING_DELTA',
        minTrailingAboveDelta: 10,
        maxTrailingAboveDelta: 2000,
        minTrailingBelowDelta: 10,
        maxTrailingBelowDelta: 2000,
      },
      {
        filterType: 'PERCENT_PRICE_BY_SIDE',
        bidMultiplierUp: '5',
        bidMultiplierDown: '0.2',
        askMultiplierUp: '5',
        askMultiplierDown: '0.2',
        avgPriceMins: 5,
      },
      notional,
      { filterType: 'MAX_NUM_ORDERS', maxNumOrders: 200 },
      { filterType: 'MAX_NUM_ALGO_ORDERS', maxNumAlgoOrders: 5 },
    ],
    permissions: [],
    permissionSets: [['SPOT']],
    defaultSelfTradePreventionMode: 'EXPIRE_MAKER',
    allowedSelfTradePreventionModes: ['EXPIRE_TAKER', 'EXPIRE_MAKER', 'EXPIRE_BOTH'],
  };
}

/** Starts a server on 127.0.0.1 with an OS-assigned port. */
export async function startBinanceServer(options: BinanceServerOptions = {}): Promise<BinanceServer> {
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return new BinanceServer(server, options);
}
