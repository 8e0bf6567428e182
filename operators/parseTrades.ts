import { Observable, asyncScheduler, type OperatorFunction, type SchedulerLike } from 'rxjs';
import {
  isTimeframe,
  type Bar,
  type DeadLetter,
  type Side,
  type Timeframe,
  type TradeTick,
  timeframeMs,
} from './types';
import { routeThrows } from './routeThrows';

/** What a market-data socket or a ccxt `watchTrades` call hands us. */
export type RawMarketMessage = string | Uint8Array | object;

/**
 * A well-formed message of a kind this parser knows but does not turn into an event (order-book
 * depth, book tickers, 24h tickers, mark prices, subscription answers…). Counted apart from dead
 * letters, so that normal traffic on a shared socket does not bury malformed messages.
 */
export interface UnusedMessage {
  readonly kind: 'unused-message';
  readonly stage: 'parseTrades';
  /** What it is: the Binance event type (`depthUpdate`, `bookTicker`…), `kline-forming`, `depth`, `response`. */
  readonly type: string;
  readonly tsInit: number;
}

export type ParsedMessage = TradeTick | Bar | DeadLetter | UnusedMessage;

/**
 * Binance event types (`"e"`) of spot and USD-M futures streams that carry no trade or closed bar.
 * Anything else with an `"e"` is unknown and a dead letter.
 */
export const UNUSED_EVENT_TYPES: ReadonlySet<string> = new Set([
  'depthUpdate',
  'bookTicker',
  '24hrTicker',
  '24hrMiniTicker',
  '1hTicker',
  '4hTicker',
  '1dTicker',
  'avgPrice',
  'markPriceUpdate',
  'forceOrder',
  'continuous_kline',
  'indexPriceUpdate',
  'compositeIndex',
  'contractInfo',
  'assetIndexUpdate',
  'outboundAccountPosition',
  'balanceUpdate',
  'executionReport',
  'listStatus',
  'listenKeyExpired',
  'ACCOUNT_UPDATE',
  'ORDER_TRADE_UPDATE',
  'ACCOUNT_CONFIG_UPDATE',
  'MARGIN_CALL',
]);

export interface ParseTradesConfig {
  /** Venue the messages come from; stamped on every tick. Default `binance`. */
  readonly venue?: string;
  /**
   * Exchange symbol → unified symbol (`BTCUSDT` → `BTC/USDT`). Symbols not listed are split at a
   * known quote currency suffix (USDT, USDC, BTC, ETH…); failing that the exchange id is kept.
   */
  readonly symbols?: Readonly<Record<string, string>>;
  /** Clock for `tsInit`. Default `asyncScheduler` (wall clock); backtests pass a virtual one. */
  readonly scheduler?: SchedulerLike;
  /**
   * Market the stream belongs to. `spot` (default): `BTCUSDT` → `BTC/USDT`. `swap` (a linear,
   * USD-M perpetual stream such as fstream.binance.com): `BTCUSDT` → `BTC/USDT:USDT`, ccxt's
   * symbol for the perpetual settled in the quote, so futures ticks never pass for spot ones.
   */
  readonly market?: 'spot' | 'swap';
}

const KNOWN_QUOTES = [
  'USDT',
  'FDUSD',
  'USDC',
  'BUSD',
  'TUSD',
  'DAI',
  'BTC',
  'ETH',
  'BNB',
  'EUR',
  'TRY',
  'BRL',
  'GBP',
  'JPY',
  'USD',
];

/**
 * Turns raw exchange messages into typed market events.
 *
 * Understands Binance's `trade`, `aggTrade` and `kline` stream payloads (bare or inside a
 * combined-stream envelope `{"stream":…,"data":…}`), as text, bytes or parsed objects, and ccxt's
 * unified trade objects. Only closed klines (`x: true`) become bars. Known message types that carry
 * neither (depth, book tickers…) become an {@link UnusedMessage}, counted apart; anything else
 * becomes a {@link DeadLetter} naming what was wrong — the stream never errors on bad input.
 *
 * ```
 * raw:    --t--x--k--|
 * parse:  --T--D--B--|     T TradeTick · B Bar · D DeadLetter
 * ```
 *
 * @example
 * socketMessages$.pipe(parseTrades({ venue: 'binance' }))
 */
export function parseTrades(config: ParseTradesConfig = {}): OperatorFunction<RawMarketMessage, ParsedMessage> {
  return (source) =>
    new Observable<ParsedMessage>((subscriber) => {
      const parser = new MessageParser(config);
      return source.subscribe({
        next: routeThrows(subscriber, (message) => subscriber.next(parser.parse(message))),
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}

/** The parsing state of one subscription: the symbol cache and the clock. */
class MessageParser {
  private readonly venue: string;
  private readonly scheduler: SchedulerLike;
  private readonly symbolCache = new Map<string, string>();
  private readonly decoder = new TextDecoder();
  /** The last exchange symbol seen on the fast path, and its unified form. */
  private lastRawSymbol: string | undefined;
  private readonly scan = new Scanner();
  private lastUnifiedSymbol = '';
  private readonly swap: boolean;

  constructor(config: ParseTradesConfig) {
    this.venue = config.venue ?? 'binance';
    this.scheduler = config.scheduler ?? asyncScheduler;
    const market = config.market ?? 'spot';
    if (market !== 'spot' && market !== 'swap')
      throw new RangeError(`parseTrades: config.market must be "spot" or "swap", found ${JSON.stringify(market)}`);
    this.swap = market === 'swap';
    for (const [id, unified] of Object.entries(config.symbols ?? {})) this.symbolCache.set(id, unified);
  }

  parse(message: RawMarketMessage): ParsedMessage {
    if (typeof message === 'string') return this.parseText(message);
    if (message instanceof Uint8Array) return this.parseText(this.decoder.decode(message));
    if (message !== null && typeof message === 'object')
      return this.parseObject(message as Record<string, unknown>, message);
    return this.dead(`expected a string, bytes or an object, found ${describe(message)}`, message);
  }

  private parseText(text: string): ParsedMessage {
    const fast = this.parseTradeFast(text);
    if (fast !== undefined) return fast;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return this.dead(`not JSON: ${(err as Error).message}`, text);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return this.dead(`expected a JSON object, found ${describe(value)}`, text);
    }
    return this.parseObject(value as Record<string, unknown>, text);
  }

  /**
   * Fast path for compact Binance `trade`/`aggTrade` payloads, the bulk of a market-data feed.
   * A strict left-to-right match of Binance's exact layout — every key in order, every separator,
   * nothing else — reading numbers in place instead of building a JSON object. Anything that
   * deviates (whitespace, another key order, a duplicate key, an exponent, broken JSON) returns
   * undefined and the general path (JSON.parse) decides, so both paths agree on every input.
   *
   *   trade:    {"e":"trade","E":int,"s":"SYM","t":int,"p":"dec","q":"dec"[,"b":int,"a":int],"T":int,"m":bool[,"M":bool]}
   *   aggTrade: {"e":"aggTrade","E":int,"s":"SYM","a":int,"p":"dec","q":"dec","f":int,"l":int,"T":int,"m":bool[,"M":bool]}
   */
  private parseTradeFast(text: string): TradeTick | undefined {
    const scan = this.scan;
    let aggregate: boolean;
    if (text.startsWith('{"e":"trade","E":')) {
      scan.pos = 17;
      aggregate = false;
    } else if (text.startsWith('{"e":"aggTrade","E":')) {
      scan.pos = 20;
      aggregate = true;
    } else return undefined;
    if (scan.integer(text) < 0 || !scan.literal(text, ',"s":"')) return undefined;

    const symbolStart = scan.pos;
    const symbolEnd = text.indexOf('"', symbolStart);
    if (symbolEnd <= symbolStart) return undefined;
    let symbol: string;
    const last = this.lastRawSymbol;
    if (last !== undefined && symbolEnd - symbolStart === last.length && text.startsWith(last, symbolStart)) {
      symbol = this.lastUnifiedSymbol;
    } else {
      const raw = text.slice(symbolStart, symbolEnd);
      if (!/^[A-Za-z0-9_-]+$/.test(raw)) return undefined;
      symbol = this.unify(raw);
      this.lastRawSymbol = raw;
      this.lastUnifiedSymbol = symbol;
    }
    scan.pos = symbolEnd;

    if (!scan.literal(text, aggregate ? '","a":' : '","t":')) return undefined;
    const idStart = scan.pos;
    if (scan.integer(text) < 0) return undefined;
    const tradeId = text.slice(idStart, scan.pos);

    if (!scan.literal(text, ',"p":"')) return undefined;
    const price = scan.decimal(text);
    if (!(price > 0) || !scan.literal(text, '","q":"')) return undefined;
    const qty = scan.decimal(text);
    if (!(qty > 0) || !scan.literal(text, '",')) return undefined;

    if (aggregate) {
      if (
        !scan.literal(text, '"f":') ||
        scan.integer(text) < 0 ||
        !scan.literal(text, ',"l":') ||
        scan.integer(text) < 0 ||
        !scan.literal(text, ',')
      )
        return undefined;
    } else if (text.startsWith('"b":', scan.pos)) {
      scan.pos += 4;
      if (scan.integer(text) < 0 || !scan.literal(text, ',"a":') || scan.integer(text) < 0 || !scan.literal(text, ','))
        return undefined;
    }

    if (!scan.literal(text, '"T":')) return undefined;
    const tsEvent = scan.integer(text);
    if (tsEvent < 0 || !scan.literal(text, ',"m":')) return undefined;
    const maker = scan.boolean(text);
    if (maker === undefined) return undefined;
    if (scan.literal(text, ',"M":') && scan.boolean(text) === undefined) return undefined;
    if (!scan.literal(text, '}') || scan.pos !== text.length) return undefined;

    return {
      kind: 'trade',
      venue: this.venue,
      symbol,
      price,
      qty,
      side: maker ? 'sell' : 'buy',
      tradeId,
      tsEvent,
      tsInit: this.scheduler.now(),
    };
  }

  private parseObject(value: Record<string, unknown>, raw: unknown): ParsedMessage {
    if ('stream' in value && 'data' in value) {
      const data = value['data'];
      if (data === null || typeof data !== 'object' || Array.isArray(data)) {
        return this.dead(`combined stream "data" must be an object, found ${describe(data)}`, raw);
      }
      return this.parseObject(data as Record<string, unknown>, raw);
    }
    const event = value['e'];
    if (event === 'trade' || event === 'aggTrade') return this.parseBinanceTrade(value, event, raw);
    if (event === 'kline') return this.parseBinanceKline(value, raw);
    if (typeof event === 'string') {
      if (UNUSED_EVENT_TYPES.has(event)) return this.unused(event);
      return this.dead(`unsupported event type "${event}"`, raw);
    }
    // Known payloads without an "e": spot bookTicker, partial depth snapshots, subscription answers.
    if ('u' in value && 's' in value && 'b' in value && 'a' in value && 'B' in value && 'A' in value)
      return this.unused('bookTicker');
    if ('lastUpdateId' in value && Array.isArray(value['bids']) && Array.isArray(value['asks']))
      return this.unused('depth');
    if ('id' in value && ('result' in value || 'error' in value) && Object.keys(value).length <= 3)
      return this.unused('response');
    if ('price' in value && 'amount' in value && 'timestamp' in value) return this.parseCcxtTrade(value, raw);
    return this.dead('unrecognised message: no Binance event type "e" and not a ccxt trade', raw);
  }

  private parseBinanceTrade(value: Record<string, unknown>, event: 'trade' | 'aggTrade', raw: unknown): ParsedMessage {
    const idKey = event === 'trade' ? 't' : 'a';
    const symbol = value['s'];
    if (typeof symbol !== 'string' || symbol === '')
      return this.dead(`${event}: field "s" (symbol) must be a non-empty string, found ${describe(symbol)}`, raw);
    const price = positiveDecimal(value['p']);
    if (price === undefined)
      return this.dead(
        `${event} ${symbol}: field "p" (price) must be a positive decimal, found ${describe(value['p'])}`,
        raw,
      );
    const qty = positiveDecimal(value['q']);
    if (qty === undefined)
      return this.dead(
        `${event} ${symbol}: field "q" (quantity) must be a positive decimal, found ${describe(value['q'])}`,
        raw,
      );
    const tsEvent = value['T'];
    if (!isTimestamp(tsEvent))
      return this.dead(
        `${event} ${symbol}: field "T" (trade time, ms) must be an integer, found ${describe(tsEvent)}`,
        raw,
      );
    const id = value[idKey];
    if (typeof id !== 'number' && typeof id !== 'string')
      return this.dead(`${event} ${symbol}: field "${idKey}" (trade id) is missing`, raw);
    const maker = value['m'];
    if (typeof maker !== 'boolean')
      return this.dead(
        `${event} ${symbol}: field "m" (buyer is maker) must be a boolean, found ${describe(maker)}`,
        raw,
      );
    return {
      kind: 'trade',
      venue: this.venue,
      symbol: this.unify(symbol),
      price,
      qty,
      side: maker ? 'sell' : 'buy',
      tradeId: String(id),
      tsEvent,
      tsInit: this.scheduler.now(),
    };
  }

  private parseBinanceKline(value: Record<string, unknown>, raw: unknown): ParsedMessage | Bar {
    const k = value['k'];
    if (k === null || typeof k !== 'object')
      return this.dead(`kline: field "k" must be an object, found ${describe(k)}`, raw);
    const kline = k as Record<string, unknown>;
    const symbol = kline['s'] ?? value['s'];
    if (typeof symbol !== 'string' || symbol === '')
      return this.dead(`kline: field "s" (symbol) must be a non-empty string, found ${describe(symbol)}`, raw);
    const interval = kline['i'];
    if (typeof interval !== 'string' || !isTimeframe(interval))
      return this.dead(
        `kline ${symbol}: field "i" (interval) must be a supported timeframe, found ${describe(interval)}`,
        raw,
      );
    const tsOpen = kline['t'];
    if (!isTimestamp(tsOpen))
      return this.dead(`kline ${symbol}: field "t" (open time) must be an integer, found ${describe(tsOpen)}`, raw);
    // A kline still forming is normal traffic (every ~2 s), not a malformed message.
    if (kline['x'] === false) return this.unused('kline-forming');
    if (kline['x'] !== true) {
      return this.dead(
        `kline ${symbol} ${interval} at ${tsOpen}: field "x" (closed) must be true or false, found ${describe(kline['x'])}; only closed klines become bars`,
        raw,
      );
    }
    const fields = ['o', 'h', 'l', 'c', 'v'] as const;
    const numbers: number[] = [];
    for (const f of fields) {
      const n = decimal(kline[f]);
      if (n === undefined || n < 0)
        return this.dead(
          `kline ${symbol}: field "${f}" must be a non-negative decimal, found ${describe(kline[f])}`,
          raw,
        );
      numbers.push(n);
    }
    const [open, high, low, close, volume] = numbers as [number, number, number, number, number];
    if (high < low || high < Math.max(open, close) || low > Math.min(open, close)) {
      return this.dead(`kline ${symbol}: inconsistent prices o=${open} h=${high} l=${low} c=${close}`, raw);
    }
    const trades = kline['n'];
    return {
      kind: 'bar',
      venue: this.venue,
      symbol: this.unify(symbol),
      timeframe: interval as Timeframe,
      tsOpen,
      tsEvent: tsOpen + timeframeMs(interval as Timeframe),
      open,
      high,
      low,
      close,
      volume,
      trades: typeof trades === 'number' && Number.isInteger(trades) ? trades : 0,
    };
  }

  private parseCcxtTrade(value: Record<string, unknown>, raw: unknown): ParsedMessage {
    const symbol = value['symbol'];
    if (typeof symbol !== 'string' || symbol === '')
      return this.dead(`ccxt trade: "symbol" must be a non-empty string, found ${describe(symbol)}`, raw);
    const price = value['price'];
    if (typeof price !== 'number' || !(price > 0) || !Number.isFinite(price))
      return this.dead(`ccxt trade ${symbol}: "price" must be a positive number, found ${describe(price)}`, raw);
    const qty = value['amount'];
    if (typeof qty !== 'number' || !(qty > 0) || !Number.isFinite(qty))
      return this.dead(`ccxt trade ${symbol}: "amount" must be a positive number, found ${describe(qty)}`, raw);
    const tsEvent = value['timestamp'];
    if (!isTimestamp(tsEvent))
      return this.dead(`ccxt trade ${symbol}: "timestamp" must be an integer (ms), found ${describe(tsEvent)}`, raw);
    const side = value['side'];
    if (side !== 'buy' && side !== 'sell')
      return this.dead(`ccxt trade ${symbol}: "side" must be "buy" or "sell", found ${describe(side)}`, raw);
    const id = value['id'];
    return {
      kind: 'trade',
      venue: this.venue,
      symbol,
      price,
      qty,
      side: side as Side,
      tradeId: typeof id === 'string' || typeof id === 'number' ? String(id) : `${tsEvent}`,
      tsEvent,
      tsInit: this.scheduler.now(),
    };
  }

  private unify(exchangeSymbol: string): string {
    const cached = this.symbolCache.get(exchangeSymbol);
    if (cached !== undefined) return cached;
    let unified = exchangeSymbol;
    if (!exchangeSymbol.includes('/')) {
      const upper = exchangeSymbol.toUpperCase();
      const quote = KNOWN_QUOTES.find((q) => upper.length > q.length && upper.endsWith(q));
      if (quote) unified = `${upper.slice(0, upper.length - quote.length)}/${quote}${this.swap ? `:${quote}` : ''}`;
    }
    this.symbolCache.set(exchangeSymbol, unified);
    return unified;
  }

  private unused(type: string): UnusedMessage {
    return { kind: 'unused-message', stage: 'parseTrades', type, tsInit: this.scheduler.now() };
  }

  private dead(reason: string, raw: unknown): DeadLetter {
    return { kind: 'dead-letter', stage: 'parseTrades', reason, raw, tsInit: this.scheduler.now() };
  }
}

/** A cursor over one message for the fast path: reads JSON tokens in place, advancing `pos`. */
class Scanner {
  pos = 0;

  /** Consumes `token` at the cursor; false (cursor unchanged) when it is not there. */
  literal(text: string, token: string): boolean {
    if (!text.startsWith(token, this.pos)) return false;
    this.pos += token.length;
    return true;
  }

  /** A JSON boolean at the cursor, or undefined. */
  boolean(text: string): boolean | undefined {
    if (this.literal(text, 'true')) return true;
    if (this.literal(text, 'false')) return false;
    return undefined;
  }

  /**
   * A non-negative JSON integer at the cursor (no leading zero, at most 15 digits), or -1.
   */
  integer(text: string): number {
    const start = this.pos;
    let value = 0;
    let i = start;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      value = value * 10 + c;
    }
    const digits = i - start;
    if (digits === 0 || digits > 15 || (digits > 1 && text.charCodeAt(start) === 48)) return -1;
    this.pos = i;
    return value;
  }

  /**
   * A plain decimal (`123`, `0.00120000`) at the cursor, or NaN. The digits are read as one
   * integer m with k decimals and the value computed as m / 10^k: both are exact doubles
   * (m < 2^53, k ≤ 22) and IEEE division rounds correctly, so the result equals `Number(text)`
   * bit for bit. Longer numbers fall back to `Number`.
   */
  decimal(text: string): number {
    const start = this.pos;
    let mantissa = 0;
    let digits = 0;
    let decimals = -1;
    let i = start;
    for (; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code === 46 /* . */) {
        if (decimals >= 0 || digits === 0) return NaN;
        decimals = 0;
        continue;
      }
      const c = code - 48;
      if (c < 0 || c > 9) break;
      mantissa = mantissa * 10 + c;
      digits++;
      if (decimals >= 0) decimals++;
    }
    if (digits === 0 || decimals === 0) return NaN;
    this.pos = i;
    if (digits > 15 || decimals > 22) return Number(text.slice(start, i));
    return decimals > 0 ? mantissa / POWERS_OF_TEN[decimals]! : mantissa;
  }
}

/** 10^0 … 10^22, built by exact multiplication (every one is an exact double). */
const POWERS_OF_TEN: readonly number[] = Array.from({ length: 23 }).reduce<number[]>(
  (acc, _, k) => acc.concat(k === 0 ? 1 : acc[k - 1]! * 10),
  [],
);

const DECIMAL = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;

function decimal(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && DECIMAL.test(value) ? +value : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function positiveDecimal(value: unknown): number | undefined {
  const n = decimal(value);
  return n !== undefined && n > 0 ? n : undefined;
}

function isTimestamp(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
