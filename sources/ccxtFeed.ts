/**
 * The connection supervisor shared by the ccxt.pro market-data sources (ccxtMarketData.ts): one
 * ccxt.pro exchange instance per subscription, run as a sequence of *sessions*.
 *
 * ```
 * subscribe ─ loadMarkets ─ session₁ ──✕ (socket closed / silent) ─ wait d₁ ─ session₂ ──✕ ─ wait d₂ ─ session₃ … ─ unsubscribe → close
 *             markets-loaded  connected   disconnected  reconnecting(1,d₁)  connected  …
 * ```
 *
 * A session runs the watch loops of a driver (trades, bars, book, ticker). It ends when a watch
 * call fails with a transient ccxt error (the socket closed, a timeout…) or when nothing was heard
 * from the exchange for `silenceMs` — a socket can stay open and say nothing, which ccxt does not
 * notice for minutes. Ending a session forcibly closes ccxt's sockets, so the next session dials
 * fresh connections and re-subscribes. The wait before it grows exponentially with the number of
 * failed attempts, with jitter from an injected seeded RNG, on the injected scheduler; it starts
 * over once a session has delivered data. ccxt's own reconnect backoff is switched off so that
 * this is the only one.
 *
 * Errors that no reconnect can fix (unknown symbol, unsupported method, rejected request) fail the
 * stream with a {@link CcxtSourceError}; so does running out of `reconnect.maxAttempts`.
 */
import { Bot4Error } from '../operators/errors';
import { backoffDelayMs } from '../operators/backoff';
import type { ComponentOutcome } from '../operators/circuitBreaker';
import { mulberry32 } from '../operators/random';
import * as ccxt from 'ccxt';
import { Observable, Subscription, asyncScheduler, type SchedulerAction, type SchedulerLike } from 'rxjs';
import { z } from 'zod';
import { toUnits, type Units } from '../operators/money';
import type { DeadLetter, Instrument, Symbol, Timeframe, Timestamp, VenueId } from '../operators/types';
import { redirectRestApi } from './ohlcvHistory';

export const STAGE = 'ccxt-source';

/** Exchange ids that ccxt.pro implements (WebSocket streams). */
export const PRO_EXCHANGE_IDS: readonly string[] = Object.freeze(
  ((ids: unknown): string[] => (Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : []))(
    (ccxt.pro as unknown as { exchanges?: unknown }).exchanges,
  ),
);

export type CcxtSourceErrorCode =
  | 'INVALID_CONFIG'
  | 'UNKNOWN_SYMBOL'
  | 'NOT_SUPPORTED'
  | 'EXCHANGE_REJECTED'
  | 'RECONNECTS_EXHAUSTED';

export class CcxtSourceError extends Bot4Error<CcxtSourceErrorCode> {
  constructor(code: CcxtSourceErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(code, STAGE, message, options);
  }
}

// ---- config ---------------------------------------------------------------------------------------

export const ReconnectSchema = z.strictObject({
  /** Wait before the first reconnect attempt, ms. Default 500. */
  initialDelayMs: z.number().int().min(0).default(500),
  /** Longest wait, ms (after jitter). Default 30000. */
  maxDelayMs: z.number().int().min(0).default(30_000),
  /** Growth of the wait per failed attempt. Default 2. */
  multiplier: z.number().min(1).max(10).default(2),
  /** Spread of the wait: ±this fraction, uniformly from the RNG. Default 0.2. */
  jitter: z.number().min(0).max(1).default(0.2),
  /** Failed attempts in a row after which the stream fails. Default: never give up. */
  maxAttempts: z.number().int().min(1).optional(),
});

const originUrl = (schemes: string, example: string) =>
  z
    .string()
    .regex(new RegExp(`^(${schemes}):\\/\\/[^/\\s]+(\\/\\S*)?$`), {
      message: `a ${schemes.split('|').join('/')} URL, e.g. ${example}`,
    })
    .transform((url) => url.replace(/\/+$/, ''));

/** Fields every ccxt market-data source takes. */
export const FeedConfigShape = {
  /** A ccxt.pro exchange id (`binance`, `kraken`, `okx`…), one of `ccxt.pro.exchanges`. */
  exchange: z
    .string()
    .refine((id) => PRO_EXCHANGE_IDS.includes(id), { message: 'a ccxt.pro exchange id (see ccxt.pro.exchanges)' }),
  /** Unified symbols (`BTC/USDT`, or `BTC/USDT:USDT` for a swap), at least one, no repeats. */
  symbols: z
    .array(z.string().regex(/^[^/\s]+\/[^/\s]+$/, { message: 'a unified symbol such as BTC/USDT' }))
    .min(1)
    .refine((list) => new Set(list).size === list.length, { message: 'symbols without repeats' }),
  /**
   * Origin replacing the exchange's REST host(s), paths kept (`https://api.binance.com/api/v3` →
   * `<apiUrl>/api/v3`): a testnet, a proxy, a local server. Also used by the bar backfill.
   */
  apiUrl: originUrl('https?', 'https://testnet.binance.vision').optional(),
  /** Origin replacing the exchange's WebSocket host(s), paths kept (`wss://stream.binance.com:9443/ws` → `<wsUrl>/ws`). */
  wsUrl: originUrl('wss?', 'wss://stream.testnet.binance.vision').optional(),
  /** Nothing heard from the exchange for this long, ms, and the connection counts as dead. Default 30000. */
  silenceMs: z.number().int().min(10).default(30_000),
  /** REST request timeout (markets, snapshots, backfill), ms. Default 10000. */
  timeoutMs: z.number().int().min(1).default(10_000),
  /**
   * While data flows, one {@link FeedHealthy} at most this often, ms: the success a circuit breaker
   * needs to close after an outage (a connect alone is one success, far fewer than a breaker asks
   * for). Default 10000.
   */
  healthEveryMs: z.number().int().min(10).default(10_000),
  reconnect: ReconnectSchema.prefault({}),
  /** Extra ccxt `options`, deep-merged over the source's (e.g. `{ watchTrades: { name: 'aggTrade' } }`). */
  ccxtOptions: z.record(z.string(), z.unknown()).optional(),
};

const FeedConfigSchema = z.strictObject(FeedConfigShape);

export type ReconnectSettings = Readonly<z.output<typeof ReconnectSchema>>;

/** The validated fields every source has. */
export type FeedSettings = Readonly<Omit<z.output<typeof FeedConfigSchema>, 'reconnect' | 'symbols'>> & {
  readonly symbols: readonly Symbol[];
  readonly reconnect: ReconnectSettings;
};

/**
 * Validates a config with `schema`, applying defaults; throws {@link CcxtSourceError}
 * `INVALID_CONFIG` naming the source, the key, what was expected and what was found.
 */
export function parseFeedConfig<S extends z.ZodObject>(schema: S, config: unknown, source: string): z.output<S> {
  const parsed = schema.safeParse(config);
  if (!parsed.success) {
    const message = parsed.error.issues
      .map((issue) => {
        const key = issue.path.length === 0 ? '(root)' : issue.path.join('.');
        if (issue.code === 'unrecognized_keys')
          return `${source}: ${key}: ${issue.message} (allowed: ${Object.keys(schema.shape).join(', ')})`;
        const found = issue.path.reduce<unknown>(
          (value, k) => (isRecord(value) ? value[String(k)] : undefined),
          config,
        );
        const expected = issue.code === 'invalid_type' ? issue.expected : issue.message;
        return `${source}: ${key}: expected ${expected}, found ${found === undefined ? 'nothing' : JSON.stringify(found)}`;
      })
      .join('; ');
    throw new CcxtSourceError('INVALID_CONFIG', message);
  }
  return deepFreeze(parsed.data);
}

// ---- events ----------------------------------------------------------------------------------------

export type FeedStream = 'trades' | 'ohlcv' | 'book' | 'ticker';

interface FeedEventBase {
  readonly venue: VenueId;
  readonly stream: FeedStream;
  /** Scheduler time of the event. */
  readonly tsInit: Timestamp;
}

/** Markets loaded: the instruments of the source's symbols, with precision and limits. Once per subscription. */
export interface FeedMarketsLoaded extends FeedEventBase {
  readonly kind: 'feed-markets-loaded';
  readonly instruments: readonly Instrument[];
}

/** A session delivered its first data: the feed is live. */
export interface FeedConnected extends FeedEventBase {
  readonly kind: 'feed-connected';
  /** 1 for the first session, +1 per reconnect. */
  readonly session: number;
  readonly symbols: readonly Symbol[];
}

export type FeedDisconnectCode =
  /** A watch call failed with a network error (socket closed or reset, timeout, refused). */
  | 'CONNECTION_LOST'
  /** Nothing was heard for `silenceMs`. */
  | 'SILENT'
  /** The exchange answered with an error a reconnect may cure (unavailable, rate limit…). */
  | 'EXCHANGE_ERROR';

/** Data is flowing on a live session (at most one per `healthEveryMs`): a success for the feed's breaker. */
export interface FeedHealthy extends FeedEventBase {
  readonly kind: 'feed-healthy';
  readonly session: number;
  /** Scheduler time of the last data heard. */
  readonly lastHeard: Timestamp;
}

/** A session ended; a reconnect follows unless the error was fatal (then the stream errors instead). */
export interface FeedDisconnected extends FeedEventBase {
  readonly kind: 'feed-disconnected';
  readonly session: number;
  readonly code: FeedDisconnectCode;
  /** `ErrorClass: message`. */
  readonly reason: string;
}

/** A reconnect is scheduled. */
export interface FeedReconnecting extends FeedEventBase {
  readonly kind: 'feed-reconnecting';
  /** Failed attempts in a row, 1 for the first reconnect after a live session. */
  readonly attempt: number;
  /** Wait before the attempt, ms (jitter included). */
  readonly delayMs: number;
  readonly reason: string;
}

/** Missing closed bars were fetched over REST (after a reconnect, a hole, or a bar the stream never closed). */
export interface FeedBarsBackfilled extends FeedEventBase {
  readonly kind: 'feed-bars-backfilled';
  readonly symbol: Symbol;
  readonly timeframe: Timeframe;
  /** Bars emitted from REST. */
  readonly bars: number;
  /** Open time of the first bar asked for. */
  readonly from: Timestamp;
  /** Open time of the next bar expected after the backfill. */
  readonly to: Timestamp;
  /** Bars still missing (REST had no such bar, or failed): emitted bars skip over them. */
  readonly missing: number;
  /** Why the backfill failed, or null. */
  readonly error: string | null;
  /**
   * After a transient failure (the exchange overloaded or unreachable): the hole is fetched again
   * after this wait, ms, and the bars after it are held meanwhile — nothing is missing yet. Null when
   * this report is final.
   */
  readonly retryInMs: number | null;
}

/** The book of a symbol lost its sequence (an update id gap); it is invalid until {@link FeedBookResynced}. */
export interface FeedBookGap extends FeedEventBase {
  readonly kind: 'feed-book-gap';
  readonly symbol: Symbol;
  /** Sequence of the last consistent book emitted, or null. */
  readonly lastSequence: number | null;
  readonly reason: string;
}

/** A fresh snapshot was applied after a gap: books emitted from now on are consistent again. */
export interface FeedBookResynced extends FeedEventBase {
  readonly kind: 'feed-book-resynced';
  readonly symbol: Symbol;
  readonly sequence: number;
  /** Gaps in a row that this resync ends (usually 1). */
  readonly gaps: number;
}

/** Health of a feed, for logs and circuit breakers. */
export type FeedEvent =
  | FeedMarketsLoaded
  | FeedConnected
  | FeedHealthy
  | FeedDisconnected
  | FeedReconnecting
  | FeedBarsBackfilled
  | FeedBookGap
  | FeedBookResynced;

const FEED_EVENT_KINDS: ReadonlySet<string> = new Set([
  'feed-markets-loaded',
  'feed-connected',
  'feed-healthy',
  'feed-disconnected',
  'feed-reconnecting',
  'feed-bars-backfilled',
  'feed-book-gap',
  'feed-book-resynced',
]);

export function isFeedEvent(value: { readonly kind: string }): value is FeedEvent {
  return FEED_EVENT_KINDS.has(value.kind);
}

/**
 * A feed event as the outcome of its component (`feed:<stream>`) for the circuit breakers, or
 * undefined when it says nothing about health. Data flowing (`feed-healthy`) and a (re)connect or a
 * resynced book are successes; a disconnect or a book gap is a failure.
 */
export function feedOutcomeOf(event: FeedEvent): ComponentOutcome | undefined {
  switch (event.kind) {
    case 'feed-disconnected':
    case 'feed-book-gap':
      return { component: `feed:${event.stream}`, ok: false, tsEvent: event.tsInit };
    case 'feed-connected':
    case 'feed-healthy':
    case 'feed-book-resynced':
      return { component: `feed:${event.stream}`, ok: true, tsEvent: event.tsInit };
    default:
      return undefined;
  }
}

// ---- environment ---------------------------------------------------------------------------------

export interface FeedEnv {
  /** Clock (`tsInit`, silence, bar closing) and timers (reconnect waits). Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Uniform [0, 1) numbers for the reconnect jitter. Default: {@link seededRandom} seeded per process. */
  readonly random?: () => number;
}

/** A small, fast seeded PRNG (mulberry32): the same seed gives the same sequence. */
export const seededRandom: (seed: number) => () => number = mulberry32;

/**
 * The wait before reconnect attempt `attempt` (1-based): `initialDelayMs × multiplier^(attempt−1)`,
 * capped at `maxDelayMs`, spread by ±`jitter` with one draw of `random`, capped again.
 */
export function reconnectDelayMs(attempt: number, settings: ReconnectSettings, random: () => number): number {
  return backoffDelayMs(attempt, settings, random);
}

// ---- instruments ---------------------------------------------------------------------------------

/** ccxt's precision modes (`exchange.precisionMode`); exported at run time but missing from ccxt's typings. */
export const PRECISION_MODE = Object.freeze({ DECIMAL_PLACES: 2, SIGNIFICANT_DIGITS: 3, TICK_SIZE: 4 });

/**
 * A ccxt market as bot4's {@link Instrument}: tick and lot step from `precision` (read according
 * to the exchange's `precisionMode`: tick sizes, or decimal places), minimum quantity from
 * `limits.amount.min`, minimum notional from `limits.cost.min` (Binance's NOTIONAL/MIN_NOTIONAL
 * filter). Unknown values are 0. Under SIGNIFICANT_DIGITS precision there is no fixed tick: 0.
 * Steps finer than 1e-8 cannot be represented in Units and become 1e-8.
 *
 * @param venue the ccxt exchange id the market belongs to.
 * @param precisionMode `exchange.precisionMode` ({@link PRECISION_MODE}). Default TICK_SIZE.
 */
export function instrumentFromMarket(
  market: ccxt.MarketInterface,
  venue: VenueId,
  precisionMode: number = PRECISION_MODE.TICK_SIZE,
): Instrument {
  const step = (value: unknown): number => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return 0;
    if (precisionMode === PRECISION_MODE.DECIMAL_PLACES) return Number(`1e-${Math.round(value)}`);
    if (precisionMode === PRECISION_MODE.SIGNIFICANT_DIGITS) return 0;
    return value;
  };
  const units = (value: unknown, atLeastOne: boolean): Units => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return 0n;
    const u = toUnits(value);
    return atLeastOne && u === 0n ? 1n : u;
  };
  return Object.freeze({
    venue,
    symbol: market.symbol,
    base: market.base,
    quote: market.quote,
    qtyStep: units(step(market.precision?.amount), true),
    priceTick: step(market.precision?.price),
    minQty: units(market.limits?.amount?.min, true),
    minNotional: units(market.limits?.cost?.min, true),
  });
}

/**
 * A function that removes float noise from values on a step grid: rounds to the step's decimal
 * places when that changes the value by no more than noise; a value genuinely off the grid is kept.
 */
export function gridRounder(step: number): (value: number) => number {
  if (!(step > 0)) return (value) => value;
  const text = step.toExponential();
  const [mantissa, exponent] = text.split('e') as [string, string];
  const decimals = Math.max(0, (mantissa.split('.')[1]?.length ?? 0) - Number(exponent));
  if (decimals > 15) return (value) => value;
  const factor = 10 ** decimals;
  return (value) => {
    const scaled = value * factor;
    if (!(Math.abs(scaled) < 2 ** 52)) return value;
    const rounded = Math.round(scaled) / factor;
    return Math.abs(rounded - value) <= 1e-9 * Math.max(1, Math.abs(value)) ? rounded : value;
  };
}

// ---- the exchange --------------------------------------------------------------------------------

type ExchangeConstructor = new (config: Record<string, unknown>) => ccxt.Exchange;

/**
 * A ccxt.pro instance for a source: REST/WS origins redirected when configured, ccxt's own
 * reconnect backoff off, `extraOptions` (caches, limits) and then the user's `ccxtOptions` merged in.
 */
export function createProExchange(settings: FeedSettings, extraOptions: Record<string, unknown>): ccxt.Exchange {
  const Ctor = (ccxt.pro as unknown as Record<string, unknown>)[settings.exchange];
  if (typeof Ctor !== 'function')
    throw new CcxtSourceError('INVALID_CONFIG', `no ccxt.pro class for exchange ${JSON.stringify(settings.exchange)}`);
  const options = deepMerge(
    {
      // Public market data only; currency lists need keys on some venues.
      fetchCurrencies: false,
      // Our reconnect schedule is the only one (see the module comment).
      ws: { backoff: { base: 0, max: 0 } },
      ...extraOptions,
    },
    settings.ccxtOptions ?? {},
  );
  const exchange = new (Ctor as ExchangeConstructor)({ enableRateLimit: true, timeout: settings.timeoutMs, options });
  const api = exchange.urls['api'];
  if (settings.apiUrl !== undefined) redirectRestApi(api, settings.apiUrl);
  if (settings.wsUrl !== undefined && isRecord(api)) redirectWs(api['ws'], settings.wsUrl);
  if (settings.symbols.every((s) => !s.includes(':'))) narrowToSpot(exchange);
  return exchange;
}

/** Rewrites every `ws(s)://host` prefix in ccxt's `urls.api.ws` (nested too) to `origin`, keeping paths. */
function redirectWs(ws: unknown, origin: string): void {
  if (!isRecord(ws)) return;
  for (const [key, value] of Object.entries(ws)) {
    if (typeof value === 'string') {
      const match = /^wss?:\/\/[^/]+/.exec(value);
      if (match) ws[key] = origin + value.slice(match[0].length);
    } else {
      redirectWs(value, origin);
    }
  }
}

/** Spot symbols only: load only spot markets where the exchange lets ccxt choose (fewer requests, one host). */
function narrowToSpot(exchange: ccxt.Exchange): void {
  const options = exchange.options as Record<string, unknown>;
  const fetchMarkets = options['fetchMarkets'];
  if (isRecord(fetchMarkets) && Array.isArray(fetchMarkets['types']) && fetchMarkets['types'].includes('spot')) {
    options['fetchMarkets'] = { ...fetchMarkets, types: ['spot'] };
  }
  options['defaultType'] = 'spot';
}

interface WsClientLike {
  readonly url: string;
  connection?: { terminate?: () => void; close?: () => void };
  onError(error: Error): void;
  close(): unknown;
}

function wsClients(exchange: ccxt.Exchange): WsClientLike[] {
  const clients: unknown = (exchange as unknown as { clients?: unknown }).clients;
  return isRecord(clients) ? (Object.values(clients) as WsClientLike[]) : [];
}

function terminate(client: WsClientLike): void {
  const connection = client.connection;
  if (connection && typeof connection.terminate === 'function') connection.terminate();
  else if (connection && typeof connection.close === 'function') connection.close();
}

/**
 * Ends every socket of the instance now, for a reconnect. `onError` is ccxt's own path for a broken
 * connection: it rejects the pending watch futures and removes the client, so the next watch call
 * dials anew and re-subscribes; `terminate` destroys the socket without waiting for a close
 * handshake a dead peer would never answer.
 */
export function dropConnections(exchange: ccxt.Exchange, reason: string): void {
  for (const client of wsClients(exchange)) {
    try {
      client.onError(new ccxt.NetworkError(`${reason} (closed by bot4 to reconnect)`));
    } finally {
      terminate(client);
    }
  }
}

/**
 * Releases the instance: WebSocket clients (`close`, with a close frame; a socket whose peer does
 * not complete the handshake within a second is destroyed, so a process can exit) and the
 * keep-alive sockets of ccxt's HTTP dispatcher.
 */
export function disposeExchange(exchange: ccxt.Exchange): void {
  const clients = wsClients(exchange);
  exchange.close().catch(() => undefined);
  if (clients.length > 0) {
    const timer = setTimeout(() => clients.forEach(terminate), 1_000);
    timer.unref();
  }
  const dispatcher: unknown = exchange.fetchDispatcher;
  if (isRecord(dispatcher) && typeof dispatcher['close'] === 'function') {
    (dispatcher['close'] as () => Promise<void>).call(dispatcher).catch(() => undefined);
  }
}

// ---- watch loops ---------------------------------------------------------------------------------

/** A watch call failed: the ccxt error is the cause. Anything else reaching the supervisor is a bug. */
export class WatchFailed extends Error {
  constructor(
    readonly method: string,
    readonly symbol: Symbol,
    cause: unknown,
  ) {
    super(`${method}(${symbol}): ${describeError(cause)}`, { cause });
    this.name = 'WatchFailed';
  }
}

class FeedSilent extends Error {
  constructor(silenceMs: number) {
    super(`nothing heard for ${silenceMs} ms`);
    this.name = 'FeedSilent';
  }
}

/** Unreadable messages in a row (each rejects a watch call) before the connection is replaced. */
const MAX_MESSAGE_ERRORS_IN_A_ROW = 10;

export interface WatchLoopOptions<T> {
  /**
   * A failure the driver handles itself (e.g. a book gap): return true to call again. Gets `emit`
   * for events that go with it.
   */
  readonly onError?: (error: unknown, emit: (value: T) => void) => boolean;
  /** Turns a message ccxt could not read into an item (a dead letter). */
  readonly deadLetter: (reason: string) => T;
}

/**
 * Calls a ccxt `watch*` method again and again, handing every result to `onResult` (which emits
 * through `emit`). After unsubscribe, a result or failure still in flight is ignored.
 *
 * Failures: when ccxt cannot parse a message it rejects the pending watch calls with that error
 * but keeps the connection; such a failure becomes a dead letter and the loop goes on (up to
 * {@link MAX_MESSAGE_ERRORS_IN_A_ROW} in a row). Network errors, and errors no retry can fix, end
 * the loop with {@link WatchFailed} for the supervisor to act on.
 */
export function watchLoop<R, T>(
  method: string,
  symbol: Symbol,
  call: () => Promise<R>,
  onResult: (result: R, emit: (value: T) => void) => void,
  options: WatchLoopOptions<T>,
): Observable<T> {
  return new Observable<T>((subscriber) => {
    let active = true;
    let messageErrors = 0;
    const emit = (value: T): void => subscriber.next(value);
    const step = (): void => {
      let promise: Promise<R>;
      try {
        promise = call();
      } catch (error) {
        subscriber.error(new WatchFailed(method, symbol, error));
        return;
      }
      promise.then(
        (result) => {
          if (!active) return;
          messageErrors = 0;
          try {
            onResult(result, emit);
          } catch (error) {
            // A bug in a driver, not an exchange problem: the supervisor fails the stream.
            subscriber.error(error);
            return;
          }
          if (active) step();
        },
        (error: unknown) => {
          if (!active) return;
          let handled: boolean;
          try {
            handled = options.onError?.(error, emit) ?? false;
          } catch (bug) {
            subscriber.error(bug);
            return;
          }
          if (handled) {
            if (active) step();
            return;
          }
          if (isMessageError(error) && messageErrors < MAX_MESSAGE_ERRORS_IN_A_ROW) {
            messageErrors += 1;
            emit(options.deadLetter(`${method}(${symbol}): ccxt could not read a message: ${describeError(error)}`));
            if (active) step();
            return;
          }
          subscriber.error(new WatchFailed(method, symbol, error));
        },
      );
    };
    step();
    return () => {
      active = false;
    };
  });
}

/** A failure that concerns one message, not the connection or the request (ccxt's parse errors). */
function isMessageError(error: unknown): boolean {
  if (error instanceof ccxt.NetworkError || error instanceof ccxt.ExchangeClosedByUser) return false;
  if (error instanceof ccxt.BaseError) return !isFatalCcxtError(error);
  return error instanceof Error;
}

function isFatalCcxtError(error: unknown): boolean {
  return (
    error instanceof ccxt.BadSymbol ||
    error instanceof ccxt.NotSupported ||
    error instanceof ccxt.AuthenticationError ||
    error instanceof ccxt.PermissionDenied ||
    error instanceof ccxt.ArgumentsRequired ||
    error instanceof ccxt.BadRequest
  );
}

// ---- the supervisor ------------------------------------------------------------------------------

export interface FeedSessionContext {
  readonly exchange: ccxt.Exchange;
  readonly scheduler: SchedulerLike;
  /** 1-based session number. */
  readonly session: number;
  /** To be called on every message from the exchange: keeps the session alive, marks it live. */
  heard(): void;
}

/** What a source plugs into {@link runFeed}. Created once per subscription, after markets are loaded. */
export interface FeedDriver<Out> {
  /** The watch loops of one session. An error ends the session; it never completes on its own. */
  session(context: FeedSessionContext): Observable<Out>;
  /** Called when a session has ended, before the reconnect wait. */
  sessionEnded?(): void;
  /** Called on unsubscribe. */
  dispose?(): void;
}

export interface FeedSpec<Out> {
  readonly stream: FeedStream;
  readonly settings: FeedSettings;
  /** ccxt options for the caches and limits of this kind of feed. */
  readonly exchangeOptions: Record<string, unknown>;
  /** The `has` entries the exchange must support (e.g. `watchTrades`). */
  readonly requires: readonly string[];
  /** Checks the config against the exchange's ccxt description (no network); throws CcxtSourceError. */
  readonly check?: (exchange: ccxt.Exchange) => void;
  readonly env: FeedEnv;
  readonly makeDriver: (context: FeedDriverContext<Out>) => FeedDriver<Out>;
}

/** What a driver gets once per subscription. */
export interface FeedDriverContext<Out> {
  readonly exchange: ccxt.Exchange;
  readonly instruments: ReadonlyMap<Symbol, Instrument>;
  readonly scheduler: SchedulerLike;
  /** Emits a status event on the feed (not tied to a session). */
  readonly emitEvent: (event: FeedEvent) => void;
  /** Emits data on the feed outside a session's loops (e.g. bars from a backfill that outlives a session). */
  readonly emitData: (value: Out) => void;
}

/**
 * Runs a driver's sessions with reconnects, silence detection and status events, as one cold
 * observable: each subscription has its own exchange instance and state; unsubscribe closes it.
 */
export function runFeed<Out>(spec: FeedSpec<Out>): Observable<Out | FeedEvent> {
  const { settings, env, stream } = spec;
  const probe = createProExchange(settings, spec.exchangeOptions);
  const missing = spec.requires.filter((method) => !probe.has[method]);
  if (missing.length > 0) {
    throw new CcxtSourceError(
      'NOT_SUPPORTED',
      `${settings.exchange} does not support ${missing.join(', ')} in ccxt.pro ${ccxt.version}`,
    );
  }
  spec.check?.(probe);
  return new Observable<Out | FeedEvent>((subscriber) => {
    const scheduler = env.scheduler ?? asyncScheduler;
    const random = env.random ?? seededRandom((Date.now() ^ (process.pid << 16)) >>> 0);
    const exchange = createProExchange(settings, spec.exchangeOptions);
    const venue = settings.exchange;
    const checkEveryMs = Math.max(5, Math.floor(settings.silenceMs / 4));
    let driver: FeedDriver<Out> | null = null;
    let sessionNo = 0;
    let attempt = 0;
    let current: Subscription | null = null;
    let waiting: Subscription | null = null;
    let closed = false;

    const emitEvent = (event: FeedEvent): void => {
      if (!closed) subscriber.next(event);
    };

    const prepare = async (): Promise<FeedDriver<Out>> => {
      try {
        await exchange.loadMarkets();
      } catch (error) {
        throw new WatchFailed('loadMarkets', settings.symbols.join(','), error);
      }
      if (settings.wsUrl?.startsWith('ws://')) await exchange.loadHttpProxyAgent(); // ccxt refuses plain ws:// without it
      // Checked after the last await: a session that ended during loadMarkets may have a successor preparing too.
      if (driver) return driver;
      const instruments = new Map<Symbol, Instrument>();
      for (const symbol of settings.symbols) {
        const market = exchange.markets?.[symbol];
        if (!market)
          throw new CcxtSourceError(
            'UNKNOWN_SYMBOL',
            `${venue} has no market ${symbol} (markets loaded: ${Object.keys(exchange.markets ?? {}).length})`,
          );
        instruments.set(symbol, instrumentFromMarket(market, venue, exchange.precisionMode));
      }
      emitEvent({
        kind: 'feed-markets-loaded',
        venue,
        stream,
        instruments: [...instruments.values()],
        tsInit: scheduler.now(),
      });
      driver = spec.makeDriver({
        exchange,
        instruments,
        scheduler,
        emitEvent,
        emitData: (value) => {
          if (!closed) subscriber.next(value);
        },
      });
      return driver;
    };

    const start = (): void => {
      sessionNo += 1;
      const session = sessionNo;
      const sessionSub = new Subscription();
      current = sessionSub;
      let lastHeard = scheduler.now();
      let lastHealthy = lastHeard;
      let live = false;
      const context: FeedSessionContext = {
        exchange,
        scheduler,
        session,
        heard: () => {
          lastHeard = scheduler.now();
          if (live) {
            if (lastHeard - lastHealthy < settings.healthEveryMs) return;
            lastHealthy = lastHeard;
            emitEvent({ kind: 'feed-healthy', venue, stream, session, lastHeard, tsInit: lastHeard });
            return;
          }
          live = true;
          attempt = 0;
          lastHealthy = lastHeard;
          emitEvent({ kind: 'feed-connected', venue, stream, session, symbols: settings.symbols, tsInit: lastHeard });
        },
      };
      sessionSub.add(
        scheduler.schedule(function (this: SchedulerAction<undefined>) {
          if (scheduler.now() - lastHeard >= settings.silenceMs) end(session, new FeedSilent(settings.silenceMs));
          else this.schedule(undefined, checkEveryMs);
        }, checkEveryMs),
      );
      const session$ = new Observable<Out>((inner) => {
        let innerSub: Subscription | null = null;
        let stopped = false;
        prepare().then(
          (d) => {
            if (!stopped) innerSub = d.session(context).subscribe(inner);
          },
          (error: unknown) => {
            if (!stopped) inner.error(error);
          },
        );
        return () => {
          stopped = true;
          innerSub?.unsubscribe();
        };
      });
      sessionSub.add(
        session$.subscribe({
          next: (value) => {
            if (!closed) subscriber.next(value);
          },
          error: (error: unknown) => end(session, error),
          complete: () => end(session, new Error('the session completed, which a watch loop never does')),
        }),
      );
    };

    const end = (session: number, error: unknown): void => {
      if (closed || session !== sessionNo || current === null) return;
      current.unsubscribe();
      current = null;
      const reason = describeError(error instanceof WatchFailed ? error.cause : error);
      dropConnections(exchange, reason);
      driver?.sessionEnded?.();
      const fatal = fatalError(error, venue);
      if (fatal) {
        closed = true;
        subscriber.error(fatal);
        return;
      }
      emitEvent({
        kind: 'feed-disconnected',
        venue,
        stream,
        session,
        code: disconnectCode(error),
        reason,
        tsInit: scheduler.now(),
      });
      attempt += 1;
      const { maxAttempts } = settings.reconnect;
      if (maxAttempts !== undefined && attempt > maxAttempts) {
        closed = true;
        subscriber.error(
          new CcxtSourceError(
            'RECONNECTS_EXHAUSTED',
            `${venue} ${stream}: still failing after ${maxAttempts} reconnect attempts (last: ${reason})`,
            {
              cause: error,
            },
          ),
        );
        return;
      }
      const delayMs = reconnectDelayMs(attempt, settings.reconnect, random);
      emitEvent({ kind: 'feed-reconnecting', venue, stream, attempt, delayMs, reason, tsInit: scheduler.now() });
      waiting = scheduler.schedule(() => {
        waiting = null;
        if (!closed) start();
      }, delayMs);
    };

    start();
    return () => {
      closed = true;
      current?.unsubscribe();
      current = null;
      waiting?.unsubscribe();
      driver?.dispose?.();
      disposeExchange(exchange);
    };
  });
}

/** The error that fails the stream, or null when a reconnect may help. */
function fatalError(error: unknown, venue: VenueId): CcxtSourceError | null {
  if (error instanceof FeedSilent) return null;
  if (!(error instanceof WatchFailed)) {
    // Not from ccxt: a bug in a driver. Reconnecting would hide it.
    return error instanceof CcxtSourceError
      ? error
      : new CcxtSourceError('EXCHANGE_REJECTED', `${venue}: ${describeError(error)}`, { cause: error });
  }
  const cause = error.cause;
  if (cause instanceof ccxt.BadSymbol)
    return new CcxtSourceError('UNKNOWN_SYMBOL', `${venue}: ${error.message}`, { cause });
  if (cause instanceof ccxt.NotSupported)
    return new CcxtSourceError('NOT_SUPPORTED', `${venue}: ${error.message}`, { cause });
  if (isFatalCcxtError(cause)) return new CcxtSourceError('EXCHANGE_REJECTED', `${venue}: ${error.message}`, { cause });
  return null;
}

function disconnectCode(error: unknown): FeedDisconnectCode {
  if (error instanceof FeedSilent) return 'SILENT';
  const cause = error instanceof WatchFailed ? error.cause : error;
  if (cause instanceof ccxt.NetworkError || cause instanceof ccxt.ExchangeClosedByUser) return 'CONNECTION_LOST';
  return 'EXCHANGE_ERROR';
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Input a source could not use, as a dead letter. */
export function deadLetter(stage: string, reason: string, raw: unknown, tsInit: Timestamp): DeadLetter {
  return { kind: 'dead-letter', stage, reason, raw, tsInit };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: Record<string, unknown>, over: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const existing = out[key];
    out[key] = isRecord(existing) && isRecord(value) ? deepMerge(existing, value) : value;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
