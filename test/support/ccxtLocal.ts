/**
 * Real ccxt Binance clients pointed at a local {@link BinanceServer}: the exchange code under test is
 * ccxt's own, only the host differs.
 *
 * Every `https://…binance…` REST URL in `exchange.urls.api` gets the local origin instead (paths
 * kept, so `/api/v3/klines` stays `/api/v3/klines`), and market loading is kept to what the server
 * serves: `fetchCurrencies: false`, `fetchMarkets: { types: ['spot'] }` (then `loadMarkets` asks only
 * `GET /api/v3/exchangeInfo`). For the streams to come, `urls.api.ws.spot` points at
 * `ws://127.0.0.1:<port>/ws`; call `await exchange.loadHttpProxyAgent()` once before the first
 * `watch*` (ccxt refuses a plain ws:// socket without it).
 */
import * as ccxt from 'ccxt';
import { redirectRestApi } from '../../sources/ohlcvHistory';

export interface LocalBinanceOptions {
  /** Extra ccxt `options`, merged over the defaults above. */
  readonly options?: Record<string, unknown>;
  /** ccxt's client-side rate limiting. Default true, as in production. */
  readonly enableRateLimit?: boolean;
  /** Request timeout, ms. Default 10000. */
  readonly timeoutMs?: number;
  readonly apiKey?: string;
  readonly secret?: string;
}

const BINANCE_HOST = /(^|\.)binance\.(com|vision)(:\d+)?$/;

/** Rewrites a ccxt Binance instance's REST (and spot ws) URLs to `baseUrl` (`http://127.0.0.1:<port>`). */
export function pointAtLocal<E extends ccxt.Exchange>(exchange: E, baseUrl: string): E {
  const api = exchange.urls['api'] as Record<string, unknown>;
  redirectRestApi(api, baseUrl, (host) => BINANCE_HOST.test(host));
  const ws = api['ws'];
  if (typeof ws === 'object' && ws !== null) {
    (ws as Record<string, unknown>)['spot'] = `${baseUrl.replace(/^http/, 'ws')}/ws`;
  }
  return exchange;
}

function settings(options: LocalBinanceOptions): Record<string, unknown> {
  return {
    enableRateLimit: options.enableRateLimit ?? true,
    timeout: options.timeoutMs ?? 10_000,
    ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
    ...(options.secret !== undefined ? { secret: options.secret } : {}),
    options: { fetchCurrencies: false, fetchMarkets: { types: ['spot'] }, ...options.options },
  };
}

/** A `ccxt.pro.binance` (REST and, later, streams) talking to the local server. */
export function makeLocalProBinance(
  baseUrl: string,
  options: LocalBinanceOptions = {},
): InstanceType<typeof ccxt.pro.binance> {
  return pointAtLocal(new ccxt.pro.binance(settings(options)), baseUrl);
}

/** A REST-only `ccxt.binance` talking to the local server. */
export function makeLocalBinance(baseUrl: string, options: LocalBinanceOptions = {}): ccxt.binance {
  return pointAtLocal(new ccxt.binance(settings(options)), baseUrl);
}
