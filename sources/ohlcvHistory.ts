/**
 * Historical OHLCV bars from any ccxt exchange, as an observable of pages.
 *
 * ```
 * subscribe ──loadMarkets──fetchOHLCV(since)──fetchOHLCV(last+tf)── … ──|
 *                          page₁               page₂                    (no newer closed bar, or `until`)
 * ```
 *
 * Pages come in time order and never repeat a bar, whatever the exchange does at page edges (some
 * repeat the last bar, some ignore `since`). Only closed bars are emitted: a bar is known at its
 * close (`tsEvent`), so the bar still forming at the scheduler's `now` is left for a later run.
 * Transient failures (ccxt's `OperationFailed` family: NetworkError, RequestTimeout, DDoSProtection,
 * RateLimitExceeded, ExchangeNotAvailable…) are retried with bounded exponential backoff, honouring
 * `Retry-After`; anything else fails the stream with an {@link OhlcvHistoryError} naming exchange,
 * symbol and the page. The clock and the backoff timers come from the given scheduler.
 *
 * @example
 * makeOhlcvHistorySource({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m', since: Date.UTC(2024, 0, 1) })
 *   .subscribe((page) => console.log(page.bars.length, page.progress.fraction));
 */
import { backoffDelayMs, isOverloadAnswer } from '../operators/backoff';
import { Bot4Error } from '../operators/errors';
import * as ccxt from 'ccxt';
import {
  EMPTY,
  Observable,
  asyncScheduler,
  catchError,
  defer,
  expand,
  filter,
  map,
  mergeMap,
  retry,
  throwError,
  timer,
  type SchedulerLike,
} from 'rxjs';
import { z } from 'zod';
import {
  TIMEFRAMES,
  isTimeframe,
  timeframeMs,
  type Bar,
  type Timeframe,
  type Timestamp,
  type VenueId,
} from '../operators/types';

const STAGE = 'ohlcv-history';

/**
 * Exchange ids ccxt implements. At run time `ccxt.exchanges` is an array of ids, but ccxt 4.5's
 * typings declare it as the map of classes, so read it either way.
 */
export const EXCHANGE_IDS: readonly string[] = Object.freeze(
  ((ids: unknown): string[] =>
    Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : Object.keys(ids as object))(
    ccxt.exchanges,
  ),
);

export type OhlcvHistoryErrorCode =
  | 'INVALID_CONFIG'
  | 'UNKNOWN_SYMBOL'
  | 'EXCHANGE_REJECTED'
  | 'RETRIES_EXHAUSTED'
  | 'RETRY_AFTER_TOO_LONG';

export class OhlcvHistoryError extends Bot4Error<OhlcvHistoryErrorCode> {
  constructor(code: OhlcvHistoryErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(code, STAGE, message, options);
  }
}

const RetrySchema = z.strictObject({
  /** Retries per request after the first attempt. Default 5. */
  maxRetries: z.number().int().min(0).max(100).default(5),
  /** Wait before the first retry, ms; doubles on each further retry. Default 1000. */
  initialDelayMs: z.number().int().min(0).default(1_000),
  /**
   * Longest wait, ms. Backoff is capped at it; a `Retry-After` longer than it fails the stream
   * instead of waiting (or hammering an exchange that banned us). Default 120000.
   */
  maxDelayMs: z.number().int().min(0).default(120_000),
});

export const OhlcvHistoryConfigSchema = z.strictObject({
  /** A ccxt exchange id (`binance`, `kraken`…), one of `ccxt.exchanges`. */
  exchange: z
    .string()
    .refine((id) => EXCHANGE_IDS.includes(id), { message: 'a ccxt exchange id (see ccxt.exchanges)' }),
  /** Unified symbol, `BASE/QUOTE` for spot (`BTC/USDT`), `BASE/QUOTE:SETTLE` for swaps. */
  symbol: z.string().regex(/^[^/\s]+\/[^/\s]+$/, { message: 'a unified symbol such as BTC/USDT' }),
  timeframe: z.string().refine(isTimeframe, { message: `one of ${TIMEFRAMES.join(', ')}` }),
  /** Open time of the first bar wanted, ms since the epoch (inclusive). */
  since: z.number().int().min(0),
  /** Bars opening at or after this time are not wanted, ms since the epoch (exclusive). Default: no end. */
  until: z.number().int().min(0).optional(),
  /** Bars per request. Default: the exchange's documented maximum (ccxt `features`), else its own default. */
  limit: z.number().int().min(1).max(10_000).optional(),
  /**
   * Base URL replacing the exchange's REST host(s), e.g. `https://testnet.binance.vision`, a proxy
   * (`https://proxy.example/binance`) or a local server; the exchange's paths are appended
   * (`https://api.binance.com/api/v3` → `<apiUrl>/api/v3`).
   */
  apiUrl: z
    .string()
    .regex(/^https?:\/\/[^/\s]+(\/\S*)?$/, { message: 'an http(s) URL, e.g. https://testnet.binance.vision' })
    .transform((url) => url.replace(/\/+$/, ''))
    .optional(),
  /** Per-request timeout, ms (ccxt `timeout`). Default 10000. */
  timeoutMs: z.number().int().min(1).default(10_000),
  retry: RetrySchema.prefault({}),
});

/** Config as written by a user; defaults applied by {@link parseOhlcvHistoryConfig}. */
export type OhlcvHistoryConfig = z.input<typeof OhlcvHistoryConfigSchema>;

/** Validated, frozen config. */
export type OhlcvHistorySettings = Readonly<Omit<z.output<typeof OhlcvHistoryConfigSchema>, 'timeframe' | 'retry'>> & {
  readonly timeframe: Timeframe;
  readonly retry: Readonly<z.output<typeof RetrySchema>>;
};

export interface OhlcvRetry {
  readonly kind: 'ohlcv-retry';
  /** `loadMarkets`, or the `since` of the page being fetched. */
  readonly request: 'markets' | Timestamp;
  /** 1 for the first retry of this request. */
  readonly attempt: number;
  readonly delayMs: number;
  /** `Retry-After` the exchange sent, ms, when it sent one. */
  readonly retryAfterMs: number | null;
  /** `ErrorClass: message` of the failure being retried. */
  readonly reason: string;
  readonly tsInit: Timestamp;
}

export interface OhlcvHistoryEnv {
  /** Clock (`now`) and timers of the backoff waits. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Told before each backoff wait (for logs). A throw fails the stream. */
  readonly onRetry?: (retry: OhlcvRetry) => void;
}

export interface OhlcvProgress {
  /** Pages emitted so far, this one included. */
  readonly pages: number;
  /** Bars emitted so far, this page included. */
  readonly barsFetched: number;
  /** `tsEvent` (close) of the last bar emitted: history is complete up to here. */
  readonly reached: Timestamp;
  /** Share of [since, until) covered, 0..1; null without `until`. */
  readonly fraction: number | null;
  /** fetchOHLCV/loadMarkets requests sent so far, retries included. */
  readonly requests: number;
  readonly retries: number;
  /** Bars dropped because they were not after the last emitted bar (page-edge repeats). */
  readonly duplicates: number;
  /** Rows dropped because a value was missing or not a number. */
  readonly malformed: number;
}

export interface OhlcvPage {
  readonly kind: 'ohlcv-page';
  readonly venue: VenueId;
  readonly symbol: string;
  readonly timeframe: Timeframe;
  /** `since` asked for this page. */
  readonly requestedSince: Timestamp;
  /** Closed bars, ascending, each later than every bar of earlier pages. Never empty. */
  readonly bars: readonly Bar[];
  readonly progress: OhlcvProgress;
  /** Scheduler time when the page was emitted. */
  readonly tsInit: Timestamp;
}

/**
 * Validates a config, applying defaults; throws {@link OhlcvHistoryError} `INVALID_CONFIG` naming the
 * key, what was expected and what was found. Checks against the exchange's ccxt description too
 * (fetchOHLCV support, timeframes) without any network access.
 */
export function parseOhlcvHistoryConfig(
  config: OhlcvHistoryConfig,
  source = 'ohlcvHistory config',
): OhlcvHistorySettings {
  const parsed = OhlcvHistoryConfigSchema.safeParse(config);
  if (!parsed.success) {
    throw new OhlcvHistoryError('INVALID_CONFIG', describeIssues(source, config, parsed.error.issues));
  }
  const value = parsed.data;
  const invalid = (key: string, expected: string, found: unknown): OhlcvHistoryError =>
    new OhlcvHistoryError('INVALID_CONFIG', `${source}: ${key}: expected ${expected}, found ${JSON.stringify(found)}`);
  if (value.until !== undefined && value.until <= value.since) {
    throw invalid('until', `a time after since (${new Date(value.since).toISOString()})`, value.until);
  }
  const probe = createExchange(value.exchange, value.timeoutMs);
  if (!probe.has['fetchOHLCV']) throw invalid('exchange', 'an exchange with fetchOHLCV', value.exchange);
  const offered = Object.keys(probe.timeframes ?? {});
  if (!offered.includes(value.timeframe)) {
    throw invalid('timeframe', `one of ${value.exchange}'s timeframes (${offered.join(', ')})`, value.timeframe);
  }
  return deepFreeze({ ...value, timeframe: value.timeframe as Timeframe });
}

/**
 * Pages of closed bars of one symbol and timeframe from `since` until `until` (or until the exchange
 * has no newer closed bar). See the module comment for the guarantees.
 *
 * @param config validated before anything is subscribed; a broken config throws here.
 * @param env scheduler (clock and backoff timers; default `asyncScheduler`) and an optional retry hook.
 */
export function makeOhlcvHistorySource(config: OhlcvHistoryConfig, env: OhlcvHistoryEnv = {}): Observable<OhlcvPage> {
  const settings = parseOhlcvHistoryConfig(config);
  const scheduler = env.scheduler ?? asyncScheduler;
  return new Observable<OhlcvPage>((subscriber) => {
    const exchange = createExchange(settings.exchange, settings.timeoutMs);
    if (settings.apiUrl !== undefined) redirectRestApi(exchange.urls['api'], settings.apiUrl);
    narrowMarketTypes(exchange, settings.symbol);
    const subscription = pages$(exchange, settings, scheduler, env.onRetry).subscribe(subscriber);
    return () => {
      subscription.unsubscribe();
      disposeExchange(exchange);
    };
  });
}

interface PageResult {
  readonly requestedSince: Timestamp;
  readonly bars: readonly Bar[];
  /** `since` of the next page, or null when paging is over. */
  readonly next: Timestamp | null;
}

/** The paging loop. Everything mutable here belongs to one subscription. */
function pages$(
  exchange: ccxt.Exchange,
  settings: OhlcvHistorySettings,
  scheduler: SchedulerLike,
  onRetry: ((retry: OhlcvRetry) => void) | undefined,
): Observable<OhlcvPage> {
  const { symbol, timeframe, since, until } = settings;
  const step = timeframeMs(timeframe);
  const limit = settings.limit ?? defaultPageLimit(exchange, symbol);
  const label = `${settings.exchange} ${symbol} ${timeframe}`;
  let lastTsOpen = -Infinity;
  let pages = 0;
  let barsFetched = 0;
  let requests = 0;
  let retries = 0;
  let duplicates = 0;
  let malformed = 0;

  const withRetries = <T>(request: 'markets' | Timestamp, call: () => Promise<T>): Observable<T> =>
    defer(() => {
      requests += 1;
      // Retry-After is read from the last response's headers: clear them so a stale one is never used.
      exchange.last_response_headers = undefined;
      return call();
    }).pipe(
      retry({
        count: settings.retry.maxRetries,
        delay: (error: unknown, attempt: number) => {
          if (!isTransient(error)) return throwError(() => error);
          const retryAfterMs = retryAfterOf(exchange, error, scheduler.now());
          if (retryAfterMs !== null && retryAfterMs > settings.retry.maxDelayMs) {
            return throwError(
              () =>
                new OhlcvHistoryError(
                  'RETRY_AFTER_TOO_LONG',
                  `${label}: ${describeRequest(request)}: the exchange asks to wait ${retryAfterMs} ms (Retry-After), ` +
                    `more than retry.maxDelayMs=${settings.retry.maxDelayMs}; try again later (${errorText(error)})`,
                  { cause: error },
                ),
            );
          }
          const backoff = backoffDelayMs(attempt, settings.retry);
          const delayMs = Math.max(backoff, retryAfterMs ?? 0);
          retries += 1;
          onRetry?.({
            kind: 'ohlcv-retry',
            request,
            attempt,
            delayMs,
            retryAfterMs,
            reason: errorText(error),
            tsInit: scheduler.now(),
          });
          return timer(delayMs, scheduler);
        },
      }),
      catchError((error: unknown) =>
        throwError(() => explain(error, label, symbol, request, settings.retry.maxRetries)),
      ),
    );

  const digest = (requestedSince: Timestamp, rows: readonly (readonly unknown[])[]): PageResult => {
    const now = scheduler.now();
    const bars: Bar[] = [];
    let finished = false;
    const sorted = [...rows].sort((a, b) => (Number(a[0]) || 0) - (Number(b[0]) || 0));
    for (const row of sorted) {
      const values = row.slice(0, 6);
      if (values.length < 6 || !values.every((v) => typeof v === 'number' && Number.isFinite(v))) {
        malformed += 1;
        continue;
      }
      const [tsOpen, open, high, low, close, volume] = values as number[] as [
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      if (tsOpen <= lastTsOpen || tsOpen < requestedSince) {
        duplicates += 1;
        continue;
      }
      if ((until !== undefined && tsOpen >= until) || tsOpen + step > now) {
        // Past the range, or still forming: nothing after it is wanted now.
        finished = true;
        break;
      }
      bars.push(
        Object.freeze({
          kind: 'bar',
          venue: settings.exchange,
          symbol,
          timeframe,
          tsOpen,
          tsEvent: tsOpen + step,
          open,
          high,
          low,
          close,
          volume,
          // ccxt's unified OHLCV carries no trade count.
          trades: 0,
        }),
      );
      lastTsOpen = tsOpen;
    }
    const nextSince = lastTsOpen + step;
    const over = finished || bars.length === 0 || (until !== undefined && nextSince >= until);
    return { requestedSince, bars, next: over ? null : nextSince };
  };

  const fetchPage = (pageSince: Timestamp): Observable<PageResult> =>
    withRetries(pageSince, () => exchange.fetchOHLCV(symbol, timeframe, pageSince, limit)).pipe(
      map((rows) => digest(pageSince, rows)),
    );

  const toPage = (result: PageResult): OhlcvPage => {
    pages += 1;
    barsFetched += result.bars.length;
    const reached = result.bars[result.bars.length - 1]!.tsEvent;
    return Object.freeze({
      kind: 'ohlcv-page',
      venue: settings.exchange,
      symbol,
      timeframe,
      requestedSince: result.requestedSince,
      bars: Object.freeze(result.bars),
      progress: Object.freeze({
        pages,
        barsFetched,
        reached,
        fraction: until === undefined ? null : Math.min(1, Math.max(0, (reached - since) / (until - since))),
        requests,
        retries,
        duplicates,
        malformed,
      }),
      tsInit: scheduler.now(),
    });
  };

  return withRetries('markets', () => exchange.loadMarkets()).pipe(
    mergeMap(() => fetchPage(since)),
    expand((result) => (result.next === null ? EMPTY : fetchPage(result.next))),
    filter((result) => result.bars.length > 0),
    map(toPage),
  );
}

/**
 * ccxt's retryable family (OperationFailed covers NetworkError and its subclasses, and Binance's
 * -1000/-1001 "unknown/internal error"), and an "overloaded" answer (Binance 503 -1008), which ccxt
 * reports as a plain ExchangeError.
 */
function isTransient(error: unknown): boolean {
  return error instanceof ccxt.OperationFailed || isOverloadAnswer(error);
}

/** `Retry-After` of the failed response, ms, when the failure was a rate limit/ban answer that carried one. */
function retryAfterOf(exchange: ccxt.Exchange, error: unknown, now: number): number | null {
  if (!(error instanceof ccxt.DDoSProtection) && !(error instanceof ccxt.RateLimitExceeded)) return null;
  const value = exchange.last_response_headers?.['Retry-After'];
  if (value === undefined || value === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

function describeRequest(request: 'markets' | Timestamp): string {
  return request === 'markets' ? 'loading markets' : `page since ${new Date(request).toISOString()}`;
}

function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Turns whatever ended a request into an error that says which exchange, symbol and page. */
function explain(
  error: unknown,
  label: string,
  symbol: string,
  request: 'markets' | Timestamp,
  maxRetries: number,
): Error {
  if (error instanceof OhlcvHistoryError) return error;
  const where = `${label}: ${describeRequest(request)}`;
  if (error instanceof ccxt.BadSymbol) {
    return new OhlcvHistoryError('UNKNOWN_SYMBOL', `${where}: unknown symbol ${symbol} (${errorText(error)})`, {
      cause: error,
    });
  }
  if (isTransient(error)) {
    return new OhlcvHistoryError(
      'RETRIES_EXHAUSTED',
      `${where}: still failing after ${maxRetries} retries (${errorText(error)})`,
      {
        cause: error,
      },
    );
  }
  return new OhlcvHistoryError('EXCHANGE_REJECTED', `${where}: failed (${errorText(error)})`, { cause: error });
}

type ExchangeConstructor = new (config: Record<string, unknown>) => ccxt.Exchange;

function createExchange(id: string, timeoutMs: number): ccxt.Exchange {
  const Ctor = (ccxt as unknown as Record<string, unknown>)[id];
  if (typeof Ctor !== 'function')
    throw new OhlcvHistoryError('INVALID_CONFIG', `no ccxt class for exchange ${JSON.stringify(id)}`);
  return new (Ctor as ExchangeConstructor)({
    enableRateLimit: true,
    timeout: timeoutMs,
    // Only public market data is needed: no currency list (on Binance it needs an API key anyway).
    options: { fetchCurrencies: false },
  });
}

/**
 * For a spot symbol, limits market loading to spot markets where the exchange lets ccxt choose
 * (`options.fetchMarkets.types`, as on binance, bybit, okx, kucoin): fewer requests, and a single
 * redirected host (testnet, local server) only has to serve the spot exchangeInfo.
 */
function narrowMarketTypes(exchange: ccxt.Exchange, symbol: string): void {
  if (symbol.includes(':')) return;
  const options = exchange.options as Record<string, unknown>;
  const fetchMarkets = options['fetchMarkets'];
  if (isRecord(fetchMarkets) && Array.isArray(fetchMarkets['types']) && fetchMarkets['types'].includes('spot')) {
    options['fetchMarkets'] = { ...fetchMarkets, types: ['spot'] };
  }
  options['defaultType'] = 'spot';
}

/** The exchange's documented maximum bars per OHLCV request, from ccxt's `features`. */
function defaultPageLimit(exchange: ccxt.Exchange, symbol: string): number | undefined {
  const features: unknown = exchange.features;
  if (!isRecord(features)) return undefined;
  const candidates: unknown[] = symbol.includes(':')
    ? [
        pick(features, 'swap', 'linear', 'fetchOHLCV', 'limit'),
        pick(features, 'swap', 'inverse', 'fetchOHLCV', 'limit'),
      ]
    : [pick(features, 'spot', 'fetchOHLCV', 'limit')];
  const limit = candidates.find((c): c is number => typeof c === 'number' && Number.isInteger(c) && c > 0);
  return limit;
}

function pick(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Points an exchange's REST API at another origin, in place: every string of `api` (ccxt's
 * `exchange.urls.api`, nested objects included) that starts with an `https://host` accepted by
 * `accept` gets that prefix replaced by `baseUrl`, keeping the path. WebSocket URLs are left alone.
 *
 * @param baseUrl origin without trailing slash, e.g. `http://127.0.0.1:4321`.
 * @param accept which hosts to redirect (default: all).
 */
export function redirectRestApi(api: unknown, baseUrl: string, accept: (host: string) => boolean = () => true): void {
  if (!isRecord(api)) return;
  for (const [key, value] of Object.entries(api)) {
    if (typeof value === 'string') {
      const match = /^https:\/\/([^/]+)/.exec(value);
      if (match && accept(match[1]!)) api[key] = baseUrl + value.slice(match[0].length);
    } else {
      redirectRestApi(value, baseUrl, accept);
    }
  }
}

/**
 * Releases what the instance may hold: WebSocket clients (`close`), and the keep-alive sockets of
 * ccxt's undici dispatcher, which would otherwise keep a CLI process alive for a minute. Both wait
 * for a request still in flight; its result is ignored, the subscriber is gone.
 */
function disposeExchange(exchange: ccxt.Exchange): void {
  exchange.close().catch(() => undefined);
  const dispatcher: unknown = exchange.fetchDispatcher;
  if (isRecord(dispatcher) && typeof dispatcher['close'] === 'function') {
    (dispatcher['close'] as () => Promise<void>).call(dispatcher).catch(() => undefined);
  }
}

function describeIssues(source: string, input: unknown, issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const key = issue.path.length === 0 ? '(root)' : issue.path.join('.');
      if (issue.code === 'unrecognized_keys')
        return `${source}: ${key}: ${issue.message} (allowed: ${Object.keys(OhlcvHistoryConfigSchema.shape).join(', ')})`;
      const found = issue.path.reduce<unknown>((value, k) => (isRecord(value) ? value[String(k)] : undefined), input);
      const expected = issue.code === 'invalid_type' ? issue.expected : issue.message;
      return `${source}: ${key}: expected ${expected}, found ${found === undefined ? 'nothing' : JSON.stringify(found)}`;
    })
    .join('; ');
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
