import { deepStrictEqual, equal } from 'node:assert/strict';
import type * as ccxt from 'ccxt';
import { Subscription } from 'rxjs';
import { toUnits } from '../../../operators/money';
import type { Fill } from '../../../operators/types';
import { AccountLedger } from '../../../sinks/venue/account';
import { CcxtVenueError, parseCcxtVenueConfig } from '../../../sinks/venue/config';
import type { VenueReconciled } from '../../../sinks/venue/events';
import { AccountReconciler, type ReconcilerHost } from '../../../sinks/venue/reconcile';
import { BTC_USDT } from '../../support/fixtures';

/** The exchange as the reconciler reads it: trades, orders by id, open orders, balances. */
interface Book {
  trades: Partial<ccxt.Trade>[];
  orders: Record<string, Partial<ccxt.Order>>;
  open: Partial<ccxt.Order>[];
  btc: number;
  usdt?: number;
}

function harness(book: Book, session: { handled?: string[]; idle?: boolean } = {}) {
  const events: (Fill | VenueReconciled)[] = [];
  const notices: string[] = [];
  const tracked: string[] = [];
  const exchange = {
    has: { fetchMyTrades: true, fetchOpenOrders: true },
    fetchMyTrades: async () => book.trades,
    fetchOrder: async (id: string) => book.orders[id],
    fetchOpenOrders: async () => book.open,
    fetchBalance: async () => ({ total: { BTC: book.btc, ...(book.usdt !== undefined ? { USDT: book.usdt } : {}) } }),
  } as unknown as ccxt.Exchange;
  const ledger = new AccountLedger(new Map([['BTC/USDT', BTC_USDT]]));
  const host: ReconcilerHost = {
    venue: 'binance',
    settings: parseCcxtVenueConfig({ exchange: 'binance', apiKey: 'k-1234', secret: 's-1234', symbols: ['BTC/USDT'] }),
    exchange,
    instruments: new Map([['BTC/USDT', BTC_USDT]]),
    ledger,
    now: () => 1_000_000,
    startedAt: () => 1_000_000,
    absentAfterMs: () => 6_000,
    isClosed: () => false,
    retrying: (_label, fn) => fn(),
    schedule: () => new Subscription(),
    emit: (e) => events.push(e),
    notice: (_level, code, id, message) => notices.push(`${code} ${id ?? '-'} ${message}`),
    fail: (e) => {
      throw e;
    },
    describe: (e) => String(e),
    startupError: (what) => new CcxtVenueError('STARTUP_FAILED', what),
    handledBySession: (id) => (session.handled ?? []).includes(id),
    knowsOrder: (id) => (session.handled ?? []).includes(id),
    trackOpenOrder: async (_o, view) => {
      tracked.push(view.clientOrderId);
    },
    idle: () => session.idle ?? true,
  };
  return { reconciler: new AccountReconciler(host), ledger, events, notices, tracked };
}

const trade = (id: string, order: string, amount: number, fee?: number): Partial<ccxt.Trade> => ({
  id,
  order,
  amount,
  price: 50_000,
  side: 'buy',
  timestamp: 1_000_100,
  takerOrMaker: 'taker',
  ...(fee !== undefined ? { fee: { cost: fee, currency: 'BTC' } } : {}),
});

describe('AccountReconciler', () => {
  it('adopts a trade no order of the session explains as a fill (fee in base kept), once, and reports the pass', async () => {
    const book: Book = {
      trades: [trade('t1', '11', 0.001, 0.000001)],
      orders: { '11': { id: '11', clientOrderId: 'b4-late', remaining: 0 } },
      open: [],
      btc: 0.500999,
    };
    const h = harness(book);
    h.ledger.start('BTC/USDT', toUnits('0.5'), 0);
    await h.reconciler.pass('schedule');
    const fill = h.events.find((e): e is Fill => e.kind === 'fill')!;
    deepStrictEqual(
      [fill.clientOrderId, fill.side, fill.qty, fill.feeBase, fill.leavesQty],
      ['b4-late', 'buy', toUnits('0.001'), toUnits('0.000001'), 0n],
    );
    equal(h.notices.filter((n) => n.startsWith('TRADE_ADOPTED')).length, 1);
    deepStrictEqual(
      h.events.filter((e) => e.kind === 'venue-reconciled').map((e) => [e.adoptedTrades, e.drifts]),
      [[1, 0]],
    );
    deepStrictEqual([...(h.ledger.claim('b4-late')?.tradeIds ?? [])], ['t1']);
    // The next pass finds nothing new: the fill (net of its base fee) explains the balance.
    await h.reconciler.pass('schedule');
    await h.reconciler.pass('schedule');
    equal(h.events.filter((e) => e.kind === 'fill').length, 1);
    deepStrictEqual(
      h.events.filter((e) => e.kind === 'venue-reconciled').map((e) => e.differences),
      [1, 0, 0],
    );
  });

  it('leaves a trade of an order the session still handles to that order, and tracks open orders nobody placed', async () => {
    const book: Book = {
      trades: [trade('t1', '11', 0.001)],
      orders: { '11': { id: '11', clientOrderId: 'b4-mine' } },
      open: [{ id: '12', clientOrderId: 'b4-foreign', side: 'sell', amount: 0.1, filled: 0, symbol: 'BTC/USDT' }],
      btc: 0.5,
    };
    const h = harness(book, { handled: ['b4-mine'] });
    h.ledger.start('BTC/USDT', toUnits('0.5'), 0);
    await h.reconciler.pass('order-unknown');
    deepStrictEqual(
      h.events.filter((e) => e.kind === 'fill'),
      [],
    );
    deepStrictEqual(h.tracked, ['b4-foreign']);
    equal(h.notices.filter((n) => n.startsWith('ORDER_ADOPTED b4-foreign')).length, 1);
  });

  it('flags a base balance nothing explains at the second idle pass, once', async () => {
    const book: Book = { trades: [], orders: {}, open: [], btc: 0.7 };
    const h = harness(book);
    h.ledger.start('BTC/USDT', toUnits('0.5'), 0);
    for (let i = 0; i < 3; i++) await h.reconciler.pass('schedule');
    deepStrictEqual(
      h.events.filter((e) => e.kind === 'venue-reconciled').map((e) => e.drifts),
      [0, 1, 0],
    );
    equal(h.notices.filter((n) => n.startsWith('BALANCE_DRIFT')).length, 1);
  });

  it('flags a quote balance nothing explains (cash moved while the base did not) at the second idle pass, once', async () => {
    const book: Book = { trades: [], orders: {}, open: [], btc: 0.5, usdt: 9_000 };
    const h = harness(book);
    h.ledger.start('BTC/USDT', toUnits('0.5'), 0);
    h.ledger.startQuote('USDT', toUnits('10000'));
    for (let i = 0; i < 3; i++) await h.reconciler.pass('schedule');
    deepStrictEqual(
      h.events.filter((e) => e.kind === 'venue-reconciled').map((e) => e.drifts),
      [0, 1, 0],
    );
    deepStrictEqual(
      h.notices.filter((n) => n.startsWith('BALANCE_DRIFT')).map((n) => n.split(';')[0]),
      ['BALANCE_DRIFT - USDT: the exchange holds 9000 USDT, this session accounts for 10000 (difference -1000)'],
    );
  });

  it('an adopted trade explains the quote it moved: no drift', async () => {
    const book: Book = {
      trades: [trade('t1', '11', 0.001, 0.000001)],
      orders: { '11': { id: '11', clientOrderId: 'b4-late', remaining: 0 } },
      open: [],
      btc: 0.500999,
      usdt: 10_000 - 50,
    };
    const h = harness(book);
    h.ledger.start('BTC/USDT', toUnits('0.5'), 0);
    h.ledger.startQuote('USDT', toUnits('10000'));
    for (let i = 0; i < 3; i++) await h.reconciler.pass('schedule');
    deepStrictEqual(
      h.events.filter((e) => e.kind === 'venue-reconciled').map((e) => [e.adoptedTrades, e.drifts]),
      [
        [1, 0],
        [0, 0],
        [0, 0],
      ],
    );
  });
});
