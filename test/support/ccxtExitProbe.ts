/**
 * Child process of the "a process can exit after unsubscribing" test: subscribes to all four ccxt
 * sources of the local Binance server at `BINANCE_URL`, and once each has delivered data,
 * unsubscribes and prints `unsubscribed`. It never calls process.exit: if anything (a socket, a
 * keep-alive connection, a timer) outlives the subscriptions, the process hangs and the test fails.
 */
import { Subscription } from 'rxjs';
import {
  makeCcxtOhlcvSource,
  makeCcxtOrderBookSource,
  makeCcxtTickerSource,
  makeCcxtTradeSource,
} from '../../sources/ccxtMarketData';

const url = process.env['BINANCE_URL'];
if (!url) throw new Error('BINANCE_URL is not set');
const base = { exchange: 'binance', symbols: ['BTC/USDT'], apiUrl: url, wsUrl: url.replace(/^http/, 'ws') } as const;
const wanted = new Set(['trade', 'bar-or-candle', 'book', 'ticker']);
const all = new Subscription();

const seen = (kind: string): void => {
  if (!wanted.delete(kind)) return;
  if (wanted.size === 0) {
    all.unsubscribe();
    process.stdout.write('unsubscribed\n');
  }
};
const fail = (error: unknown): void => {
  process.stderr.write(`source failed: ${String(error)}\n`);
  process.exitCode = 2;
  all.unsubscribe();
};

all.add(
  makeCcxtTradeSource({ ...base, symbols: [...base.symbols] }).subscribe({
    next: (e) => e.kind === 'trade' && seen('trade'),
    error: fail,
  }),
);
// A forming candle emits no bar; being connected (a kline arrived) is what counts here.
all.add(
  makeCcxtOhlcvSource({ ...base, symbols: [...base.symbols] }).subscribe({
    next: (e) => e.kind === 'feed-connected' && seen('bar-or-candle'),
    error: fail,
  }),
);
all.add(
  makeCcxtOrderBookSource({ ...base, symbols: [...base.symbols], depth: 5, bookLimit: 100 }).subscribe({
    next: (e) => e.kind === 'book' && seen('book'),
    error: fail,
  }),
);
all.add(
  makeCcxtTickerSource({ ...base, symbols: [...base.symbols] }).subscribe({
    next: (e) => e.kind === 'ticker' && seen('ticker'),
    error: fail,
  }),
);
process.stdout.write('subscribed\n');
