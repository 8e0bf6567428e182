/**
 * The paper exchange's classic fill (no book, no latency, no impact — what backtests use by
 * default; these tests were executeOrders', the simulator it replaced): market orders fill at the next market price after their decision
 * (next bar's open or next trade) moved against them by the slippage, pay the taker fee in exact
 * units, and are rejected — as values with a code and the numbers — when the venue could not do
 * them. Orders placed while the venue is emitting are queued behind the current event.
 */
import { Subject, merge, map, tap } from 'rxjs';
import { toUnits, type Units } from '../../operators/money';
import { makePaperExchange } from '../../sinks/paperExchange';
import type {
  Bar,
  Fill,
  Instrument,
  Order,
  OrderAccepted,
  OrderRejectCode,
  OrderRejected,
  PaperVenueConfig,
  Side,
  TradeTick,
  VenueInput,
  VenueOutput,
} from '../../operators/types';
import { BTC_USDT, bar, tick } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';

const M = 60_000;
const u = toUnits;

const ETH_USDT: Instrument = {
  ...BTC_USDT,
  symbol: 'ETH/USDT',
  base: 'ETH',
  minQty: u('0.0001'),
  qtyStep: u('0.0001'),
};

const CONFIG: PaperVenueConfig = {
  instruments: [BTC_USDT, ETH_USDT],
  initialCash: u('10000'),
  quote: 'USDT',
  takerFeeBps: 10,
  slippageBps: 2,
};

function order(id: string, side: Side, qty: string, tsEvent: number, symbol = 'BTC/USDT'): Order {
  return {
    kind: 'order',
    clientOrderId: id,
    intentId: `intent-${id}`,
    signalId: `signal-${id}`,
    symbol,
    side,
    type: 'market',
    qty: u(qty),
    refPrice: 0,
    reducesRisk: side === 'sell',
    configHash: 'cfg',
    tsEvent,
  };
}

function accepted(o: Order): OrderAccepted {
  return { kind: 'order-accepted', clientOrderId: o.clientOrderId, signalId: o.signalId, tsEvent: o.tsEvent };
}

/** The fill the venue must produce (a market order fills completely); price, notional and fee in exact units. */
function filled(o: Order, price: Units, notional: Units, fee: Units, tsEvent: number): Fill {
  return {
    kind: 'fill',
    clientOrderId: o.clientOrderId,
    signalId: o.signalId,
    symbol: o.symbol,
    side: o.side,
    qty: o.qty,
    price,
    notional,
    fee,
    liquidity: 'taker',
    leavesQty: 0n,
    tsEvent,
  };
}

/** A rejection as compared after {@link messages}: the message replaced by the pattern it must match. */
function rejected(o: Order, code: OrderRejectCode, message: RegExp, tsEvent: number): OrderRejected {
  return {
    kind: 'order-rejected',
    clientOrderId: o.clientOrderId,
    signalId: o.signalId,
    code,
    message: message.source,
    tsEvent,
  };
}

/** Replaces a rejection's message by the pattern for its code when it matches (a mismatch shows the real message). */
function messages(patterns: Partial<Record<OrderRejectCode, RegExp>>) {
  return map((event: VenueOutput): VenueOutput => {
    if (event.kind !== 'order-rejected') return event;
    const pattern = patterns[event.code];
    return pattern?.test(event.message) ? { ...event, message: pattern.source } : event;
  });
}

/** The bar whose close made the decision ([0, 1m), known at 60000) and the next one, opening at 20000. */
const DECISION_BAR = bar(0, { o: 19_900, c: 19_950 });
const NEXT_BAR = bar(M, { o: 20_000, h: 20_100, l: 19_800, c: 20_050 });

describe('paper exchange: the classic fill at the next price', () => {
  describe('cancels', () => {
    it('cancels a waiting order: reported canceled, never filled', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const o = order('c1', 'buy', '0.1', M);
        const cancel = { kind: 'cancel' as const, clientOrderId: 'c1', symbol: 'BTC/USDT', reason: 'stop', tsEvent: M };
        const source = hot<VenueInput>('-o-x-n-|', { o, x: cancel, n: NEXT_BAR });
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe('-a-c-n-|', {
          a: accepted(o),
          c: { kind: 'order-canceled', clientOrderId: 'c1', signalId: 'signal-c1', reason: 'stop', tsEvent: M },
          n: NEXT_BAR,
        });
      });
    });

    it('cancels every waiting order of a symbol on cancel-all, leaving other symbols, and rejects a cancel of an unknown id', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const btc = order('c1', 'buy', '0.1', M);
        const eth = order('c2', 'buy', '1', M, 'ETH/USDT');
        const all = { kind: 'cancel-all' as const, symbol: 'BTC/USDT', reason: 'emergency', tsEvent: M };
        const unknown = { kind: 'cancel' as const, clientOrderId: 'nope', symbol: 'BTC/USDT', reason: 'x', tsEvent: M };
        const source = hot<VenueInput>('-b-e-x-u-|', { b: btc, e: eth, x: all, u: unknown });
        expectObservable(
          source.pipe(
            makePaperExchange(CONFIG),
            messages({ UNKNOWN_ORDER: /cancel of nope on BTC\/USDT: order never seen/ }),
          ),
        ).toBe('-b-e-c-r-(z|)', {
          b: accepted(btc),
          e: accepted(eth),
          c: { kind: 'order-canceled', clientOrderId: 'c1', signalId: 'signal-c1', reason: 'emergency', tsEvent: M },
          r: {
            kind: 'order-rejected',
            clientOrderId: 'nope',
            signalId: '',
            code: 'UNKNOWN_ORDER',
            message: 'cancel of nope on BTC\\/USDT: order never seen',
            tsEvent: M,
          },
          z: {
            kind: 'order-canceled',
            clientOrderId: 'c2',
            signalId: 'signal-c2',
            reason: `EXPIRED: market data ended before a price after ${M} arrived`,
            tsEvent: M,
          },
        });
      });
    });
  });

  describe('fills', () => {
    it('fills a buy at the next bar’s open plus slippage, charges the taker fee in exact units, then passes that bar through', () => {
      makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const o = order('b1', 'buy', '0.1', M);
        const source = hot<VenueInput>('-d-o-n---|', { d: DECISION_BAR, o, n: NEXT_BAR });
        const expected = '              -d-a-(fn)|';
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe(expected, {
          d: DECISION_BAR,
          a: accepted(o),
          // 20000 × 1.0002 = 20004; 0.1 × 20004 = 2000.4; fee 0.1 % = 2.0004
          f: filled(o, 2_000_400_000_000n, 200_040_000_000n, 200_040_000n, M),
          n: NEXT_BAR,
        });
        expectSubscriptions(source.subscriptions).toBe('^--------!');
      });
    });

    it('fills a sell at the next bar’s open minus slippage', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const buy = order('b1', 'buy', '0.1', M);
        const sell = order('s1', 'sell', '0.1', 2 * M);
        const later = bar(2 * M, { o: 21_000 });
        const source = hot<VenueInput>('-o-n---s-l---|', { o: buy, n: NEXT_BAR, s: sell, l: later });
        const expected = '              -a-(fn)s-(gl)|';
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe(expected, {
          a: accepted(buy),
          f: filled(buy, 2_000_400_000_000n, 200_040_000_000n, 200_040_000n, M),
          n: NEXT_BAR,
          s: accepted(sell),
          // 21000 × 0.9998 = 20995.8; 0.1 × 20995.8 = 2099.58; fee 2.09958
          g: filled(sell, 2_099_580_000_000n, 209_958_000_000n, 209_958_000n, 2 * M),
          l: later,
        });
      });
    });

    it('rounds the taker fee up to the next unit (never undercharges)', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const o = order('b1', 'buy', '0.00033', M);
        const next = bar(M, { o: 20_000.01 });
        const source = hot<VenueInput>('o-n---|', { o, n: next });
        // 20000.01 × 1.0002 = 20004.010002; × 0.00033 = 6.60132330066 → 6.60132330; fee 0.0066013233 → 0.00660133
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe('a-(fn)|', {
          a: accepted(o),
          f: filled(o, 2_000_401_000_200n, 660_132_330n, 660_133n, M),
          n: next,
        });
      });
    });

    it('fills at the next trade’s price plus slippage, timestamped at that trade', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const o = order('e1', 'buy', '0.01', 1_000, 'ETH/USDT');
        const trade = tick(1_500, 3_000, 0.2, 't1', 'ETH/USDT');
        const source = hot<VenueInput>('o-t---|', { o, t: trade });
        // 3000 × 1.0002 = 3000.6; 0.01 × 3000.6 = 30.006; fee 0.030006
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe('a-(ft)|', {
          a: accepted(o),
          f: filled(o, 300_060_000_000n, 3_000_600_000n, 3_000_600n, 1_500),
          t: trade,
        });
      });
    });

    it('never fills at a price from before the decision: an older bar and an older trade pass through, the next later bar fills', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const o = order('b1', 'buy', '0.1', 2 * M);
        const stale = NEXT_BAR; // opened at 1m, before the decision at 2m (e.g. delivered late)
        const oldTrade = tick(2 * M - 1, 1, 1);
        const next = bar(2 * M, { o: 20_000 });
        const source = hot<VenueInput>('o-s-t-n---|', { o, s: stale, t: oldTrade, n: next });
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe('a-s-t-(fn)|', {
          a: accepted(o),
          s: stale,
          t: oldTrade,
          f: filled(o, 2_000_400_000_000n, 200_040_000_000n, 200_040_000n, 2 * M),
          n: next,
        });
      });
    });

    it('does not fill at a trade in the same millisecond as the decision (a price at the decision is not after it)', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const o = order('e1', 'buy', '0.01', 1_000, 'ETH/USDT');
        const same = tick(1_000, 2_000, 1, 't1', 'ETH/USDT');
        const after = tick(1_001, 3_000, 1, 't2', 'ETH/USDT');
        const source = hot<VenueInput>('o-s-t---|', { o, s: same, t: after });
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe('a-s-(ft)|', {
          a: accepted(o),
          s: same,
          f: filled(o, 300_060_000_000n, 3_000_600_000n, 3_000_600n, 1_001),
          t: after,
        });
      });
    });

    it('lets an order for another symbol wait for that symbol’s data while other symbols’ bars pass', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const o = order('e1', 'sell', '1', M, 'ETH/USDT');
        const btc = NEXT_BAR;
        const eth = bar(M, { o: 3_000 }, '1m', 'ETH/USDT');
        const source = hot<VenueInput>('o-b-e---|', { o, b: btc, e: eth });
        // 3000 × 0.9998 = 2999.4; fee 2.9994
        expectObservable(source.pipe(makePaperExchange({ ...CONFIG, allowShort: true }))).toBe('a-b-(fe)|', {
          a: accepted(o),
          b: btc,
          f: filled(o, 299_940_000_000n, 299_940_000_000n, 299_940_000n, M),
          e: eth,
        });
      });
    });

    it('with allowShort fills a sell of more than is held', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const o = order('s1', 'sell', '0.1', M);
        const source = hot<VenueInput>('o-n---|', { o, n: NEXT_BAR });
        expectObservable(source.pipe(makePaperExchange({ ...CONFIG, allowShort: true }))).toBe('a-(fn)|', {
          a: accepted(o),
          // 20000 × 0.9998 = 19996; 0.1 × 19996 = 1999.6; fee 1.9996
          f: filled(o, 1_999_600_000_000n, 199_960_000_000n, 199_960_000n, M),
          n: NEXT_BAR,
        });
      });
    });
  });

  describe('idempotency and rejections', () => {
    it('rejects a reused client order id, before and after the fill, and executes the order once', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const o = order('b1', 'buy', '0.1', M);
        const retry = { ...o, tsEvent: M + 1 };
        const later = bar(2 * M, { o: 20_500 });
        const source = hot<VenueInput>('o-r-n---x-l-|', { o, r: o, n: NEXT_BAR, x: retry, l: later });
        const DUP = /b1.*already used/;
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages({ DUPLICATE_CLIENT_ORDER_ID: DUP }))).toBe(
          'a-d-(fn)y-l-|',
          {
            a: accepted(o),
            d: rejected(o, 'DUPLICATE_CLIENT_ORDER_ID', DUP, M),
            f: filled(o, 2_000_400_000_000n, 200_040_000_000n, 200_040_000n, M),
            n: NEXT_BAR,
            y: rejected(retry, 'DUPLICATE_CLIENT_ORDER_ID', DUP, M + 1),
            l: later,
          },
        );
      });
    });

    it('rejects a buy the free balance cannot pay (notional + fee), counting what earlier fills on the same bar spent', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const first = order('b1', 'buy', '0.3', M); // 6001.2 + 6.0012 = 6007.2012 of 10000
        const second = order('b2', 'buy', '0.3', M); // needs 6007.2012, 3992.7988 left
        const source = hot<VenueInput>('fs-n----|', { f: first, s: second, n: NEXT_BAR });
        const NO_CASH = /needs 6007\.2012 USDT, free 3992\.7988/;
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages({ INSUFFICIENT_BALANCE: NO_CASH }))).toBe(
          'ab-(frn)|',
          {
            a: accepted(first),
            b: accepted(second),
            f: filled(first, 2_000_400_000_000n, 600_120_000_000n, 600_120_000n, M),
            r: rejected(second, 'INSUFFICIENT_BALANCE', NO_CASH, M),
            n: NEXT_BAR,
          },
        );
      });
    });

    it('rejects a sell of more than the position held (spot) when it is placed, with both quantities in the message', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const buy = order('b1', 'buy', '0.05', M);
        const sell = order('s1', 'sell', '0.1', M);
        const source = hot<VenueInput>('bs-n----|', { b: buy, s: sell, n: NEXT_BAR });
        // Like an exchange, the base balance is checked at placement: the buy has not filled yet.
        const SHORT = /sells 0\.1 BTC, holds 0\b/;
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages({ INSUFFICIENT_POSITION: SHORT }))).toBe(
          'ab-(fn)-|',
          {
            a: accepted(buy),
            b: rejected(sell, 'INSUFFICIENT_POSITION', SHORT, M),
            f: filled(buy, 2_000_400_000_000n, 100_020_000_000n, 100_020_000n, M),
            n: NEXT_BAR,
          },
        );
      });
    });

    it('rejects an order whose notional at the fill price is below the instrument minimum', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const o = order('b1', 'buy', '0.0002', M);
        const source = hot<VenueInput>('o-n---|', { o, n: NEXT_BAR });
        const SMALL = /notional 4\.0008 below minimum 5\b/;
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages({ BELOW_MIN_NOTIONAL: SMALL }))).toBe(
          'a-(rn)|',
          {
            a: accepted(o),
            r: rejected(o, 'BELOW_MIN_NOTIONAL', SMALL, M),
            n: NEXT_BAR,
          },
        );
      });
    });

    it('rejects at once, without accepting, a quantity below the minimum and a symbol the venue does not trade', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const tiny = order('b1', 'buy', '0.000001', M);
        const doge = order('d1', 'buy', '100', M, 'DOGE/USDT');
        const source = hot<VenueInput>('t-d-n-|', { t: tiny, d: doge, n: NEXT_BAR });
        const TINY = /qty 0\.000001 below minimum 0\.00001\b/;
        const UNKNOWN = /DOGE\/USDT/;
        expectObservable(
          source.pipe(makePaperExchange(CONFIG), messages({ BELOW_MIN_QTY: TINY, UNKNOWN_SYMBOL: UNKNOWN })),
        ).toBe('x-y-n-|', {
          x: rejected(tiny, 'BELOW_MIN_QTY', TINY, M),
          y: rejected(doge, 'UNKNOWN_SYMBOL', UNKNOWN, M),
          n: NEXT_BAR,
        });
      });
    });
  });

  describe('ordering', () => {
    it('queues an order placed re-entrantly while a bar is passing through: bar, then accepted; on the next bar fill, then bar', () => {
      makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const market = hot<VenueInput>('-x-------y---|', { x: DECISION_BAR, y: NEXT_BAR });
        const orders = new Subject<Order>();
        const o = order('b1', 'buy', '0.1', DECISION_BAR.tsEvent);
        let decided = false;
        // a strategy downstream of the venue deciding on the bar it has just been shown
        const output$ = merge(market.pipe(tap({ complete: () => orders.complete() })), orders).pipe(
          makePaperExchange(CONFIG),
          tap((event) => {
            if (event.kind === 'bar' && !decided) {
              decided = true;
              orders.next(o);
            }
          }),
        );
        const expected = '             -(xa)----(fy)|';
        expectObservable(output$).toBe(expected, {
          x: DECISION_BAR,
          a: accepted(o),
          f: filled(o, 2_000_400_000_000n, 200_040_000_000n, 200_040_000n, M),
          y: NEXT_BAR,
        });
        expectSubscriptions(market.subscriptions).toBe('^------------!');
      });
    });
  });

  describe('stream lifecycle', () => {
    it('passes a source error through', () => {
      makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const o = order('b1', 'buy', '0.1', M);
        const source = hot<VenueInput>('-o-#', { o }, new Error('venue down'));
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe(
          '-a-#',
          { a: accepted(o) },
          new Error('venue down'),
        );
        expectSubscriptions(source.subscriptions).toBe('^--!');
      });
    });

    it('completes without output on an empty source', () => {
      makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<VenueInput>('--|');
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe('--|');
        expectSubscriptions(source.subscriptions).toBe('^-!');
      });
    });

    it('stops and unsubscribes from the source when unsubscribed early: a pending order is never filled', () => {
      makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const o = order('b1', 'buy', '0.1', M);
        const source = hot<VenueInput>('-o---n--|', { o, n: NEXT_BAR });
        const unsub = '                 ^---!';
        expectObservable(source.pipe(makePaperExchange(CONFIG)), unsub).toBe('-a--', { a: accepted(o) });
        expectSubscriptions(source.subscriptions).toBe('^---!');
      });
    });

    it('gives every subscription its own ledger and client order ids', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const o = order('b1', 'buy', '0.1', M);
        const venue$ = cold<VenueInput>('o-n---|', { o, n: NEXT_BAR }).pipe(makePaperExchange(CONFIG));
        const values = {
          a: accepted(o),
          f: filled(o, 2_000_400_000_000n, 200_040_000_000n, 200_040_000n, M),
          n: NEXT_BAR as Bar | TradeTick,
        };
        expectObservable(venue$).toBe('a-(fn)|', values);
        expectObservable(venue$).toBe('a-(fn)|', values);
      });
    });
  });
});
