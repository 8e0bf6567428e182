/**
 * Signal-to-order latency of the live venue: from an Order entering `makeCcxtVenue` to the HTTP
 * request leaving, against the local Binance server (real ccxt, real HTTP on loopback).
 *
 * Three marks per order, all `performance.now()`:
 *   t0  the order is pushed into the venue's input
 *   t1  the venue calls `exchange.createOrder` (end of our code: validation, cap, queue, flow)
 *   t2  ccxt calls `exchange.fetch` with the signed request (ccxt: request building, precision,
 *       HMAC signing, its rate limiter when on)
 * and the round trip to the order's final Fill (HTTP, the server's matching, parsing, our events).
 *
 * Orders are sent one at a time (each after the previous one filled), so the numbers are per-order
 * latency, not queueing. ccxt's own rate limiter is off by default here: with it on, Binance's
 * weights make ccxt hold a burst of orders for ~10 ms each, which is policy, not code cost (pass
 * `enableRateLimit: true` to see it).
 */
import { performance } from 'node:perf_hooks';
import type * as ccxt from 'ccxt';
import { Subject } from 'rxjs';
import { toUnits } from '../operators/money';
import type { Order } from '../operators/types';
import { makeCcxtVenue, type CcxtVenueInput, type CcxtVenueOutput } from '../sinks/ccxtVenue';
import { mountBinanceOrders } from '../test/support/binanceOrders';
import { startBinanceServer } from '../test/support/binanceServer';

export interface LatencyPercentiles {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

export interface OrderLatencyResult {
  /** Orders measured (after warm-up). */
  readonly orders: number;
  /** Order in → `createOrder` called: our code's share. */
  readonly ours: LatencyPercentiles;
  /** `createOrder` called → `fetch` called with the signed request: ccxt's share. */
  readonly ccxt: LatencyPercentiles;
  /** Order in → signed request handed to HTTP: the whole signal-to-order path. */
  readonly toHttp: LatencyPercentiles;
  /** Order in → its Fill event (includes loopback HTTP and the simulated exchange). */
  readonly roundTrip: LatencyPercentiles;
  readonly enableRateLimit: boolean;
}

export interface OrderLatencyOptions {
  /** Orders measured. Default 2000. */
  readonly orders?: number;
  /** Orders sent first and not measured. Default 200. */
  readonly warmup?: number;
  /** ccxt's rate limiter. Default false (see the module comment). */
  readonly enableRateLimit?: boolean;
}

const API_KEY = 'bench-key-0123456789abcdef';
const SECRET = 'bench-secret-0123456789abcdef';

function percentiles(samplesMs: readonly number[]): LatencyPercentiles {
  const sorted = Float64Array.from(samplesMs).sort();
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 1000;
  return { p50Us: at(0.5), p99Us: at(0.99), p999Us: at(0.999), maxUs: sorted[sorted.length - 1]! * 1000 };
}

/** Measures signal-to-order latency over `orders` market orders; see the module comment. */
export async function benchSignalToOrder(options: OrderLatencyOptions = {}): Promise<OrderLatencyResult> {
  const measured = options.orders ?? 2_000;
  const warmup = options.warmup ?? 200;
  const enableRateLimit = options.enableRateLimit ?? false;
  const server = await startBinanceServer();
  mountBinanceOrders(server, {
    apiKey: API_KEY,
    secret: SECRET,
    balances: { USDT: '1000000000', BTC: '1000000' },
    prices: { BTCUSDT: '50000' },
  });
  const created = new Map<string, number>();
  const fetched = new Map<string, number>();
  const instrument = (exchange: ccxt.Exchange): void => {
    const createOrder = exchange.createOrder.bind(exchange);
    exchange.createOrder = (symbol, type, side, amount, price, params) => {
      const id = (params as Record<string, unknown> | undefined)?.['clientOrderId'];
      if (typeof id === 'string') created.set(id, performance.now());
      return createOrder(symbol, type, side, amount, price, params);
    };
    const fetch = exchange.fetch.bind(exchange);
    exchange.fetch = (url: string, method?: string, headers?: unknown, body?: unknown) => {
      if (method === 'POST' && typeof body === 'string') {
        const id = /(?:^|&)newClientOrderId=([^&]+)/.exec(body)?.[1];
        if (id !== undefined) fetched.set(decodeURIComponent(id), performance.now());
      }
      return fetch(url, method, headers as Record<string, string> | undefined, body);
    };
  };
  const input = new Subject<CcxtVenueInput>();
  let waiting: { id: string; resolve: () => void } | null = null;
  const filledAt = new Map<string, number>();
  let ready!: () => void;
  const started = new Promise<void>((resolve) => (ready = resolve));
  const failures: string[] = [];
  const subscription = input
    .pipe(
      makeCcxtVenue(
        {
          exchange: 'binance',
          apiKey: API_KEY,
          secret: SECRET,
          symbols: ['BTC/USDT'],
          apiUrl: server.url,
          ccxtOptions: { fetchCurrencies: false },
          enableRateLimit,
          maxOrdersPerSecond: 1e9,
          maxQueuedOrders: 1_000_000,
          pollIntervalMs: 600_000,
          lookupBeforeSend: 'never',
        },
        { onExchange: instrument },
      ),
    )
    .subscribe({
      next: (event: CcxtVenueOutput) => {
        if (event.kind === 'venue-account') ready();
        if (event.kind === 'order-rejected' || event.kind === 'order-unknown')
          failures.push(`${event.kind}: ${'message' in event ? event.message : event.reason}`);
        if ((event.kind === 'fill' && event.leavesQty === 0n) || event.kind === 'order-rejected') {
          filledAt.set(event.clientOrderId, performance.now());
          if (waiting && waiting.id === event.clientOrderId) {
            const w = waiting;
            waiting = null;
            w.resolve();
          }
        }
      },
      error: (error: unknown) => failures.push(String(error)),
    });
  const ours: number[] = [];
  const ccxtShare: number[] = [];
  const toHttp: number[] = [];
  const roundTrip: number[] = [];
  try {
    await started;
    const total = warmup + measured;
    for (let i = 0; i < total; i++) {
      const order: Order = {
        kind: 'order',
        clientOrderId: `bench-${i}-${process.pid}`,
        intentId: `bench:${i}`,
        signalId: `bench:${i}`,
        symbol: 'BTC/USDT',
        side: i % 2 === 0 ? 'buy' : 'sell',
        type: 'market',
        qty: toUnits('0.001'),
        refPrice: 50_000,
        reducesRisk: false,
        configHash: 'bench',
        tsEvent: Date.now(),
      };
      const done = new Promise<void>((resolve) => (waiting = { id: order.clientOrderId, resolve }));
      const t0 = performance.now();
      input.next(order);
      await done;
      if (failures.length > 0) throw new Error(`order latency bench: ${failures[0]}`);
      if (i < warmup) continue;
      const t1 = created.get(order.clientOrderId)!;
      const t2 = fetched.get(order.clientOrderId)!;
      const t3 = filledAt.get(order.clientOrderId)!;
      ours.push(t1 - t0);
      ccxtShare.push(t2 - t1);
      toHttp.push(t2 - t0);
      roundTrip.push(t3 - t0);
    }
  } finally {
    subscription.unsubscribe();
    await server.close();
  }
  return {
    orders: measured,
    ours: percentiles(ours),
    ccxt: percentiles(ccxtShare),
    toHttp: percentiles(toHttp),
    roundTrip: percentiles(roundTrip),
    enableRateLimit,
  };
}

/** Lines for a report: `label  p50 / p99 / p99.9 / max µs`. */
export function describeOrderLatency(result: OrderLatencyResult): string[] {
  const row = (label: string, p: LatencyPercentiles, target = ''): string =>
    `  ${label.padEnd(44)} ${p.p50Us.toFixed(1)} / ${p.p99Us.toFixed(1)} / ${p.p999Us.toFixed(1)} / ${p.maxUs.toFixed(1)} µs${target}`;
  return [
    `signal → order (ccxt binance → local server, ${result.orders} market orders, one at a time, ccxt rate limiter ${result.enableRateLimit ? 'on' : 'off'})`,
    `  ${'stage'.padEnd(44)} p50 / p99 / p99.9 / max`,
    row('ours: order in → createOrder called', result.ours, '   target p99 ≤ 1000 µs'),
    row('ccxt: createOrder → signed request to fetch', result.ccxt),
    row('order in → HTTP request handed off', result.toHttp),
    row('order in → Fill (loopback round trip)', result.roundTrip),
  ];
}

if (require.main === module) {
  benchSignalToOrder({
    orders: Number(process.argv[2] ?? 2_000),
    enableRateLimit: process.argv.includes('--rate-limit'),
  })
    .then((result) => process.stdout.write(`${describeOrderLatency(result).join('\n')}\n`))
    .catch((error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exitCode = 1;
    });
}
