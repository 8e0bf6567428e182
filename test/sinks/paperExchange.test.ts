/**
 * The paper exchange behaves like an exchange: market orders walk the L2 book (IOC), limit orders
 * take what is marketable then rest and fill as maker when the market goes through them, stops,
 * take-profits and trailing stops trigger on the last price, OCO legs cancel each other, fees
 * follow 30-day volume tiers, taker prices carry square-root impact, orders reach the engine after
 * a log-normal latency, and everything an exchange refuses is an `OrderRejected` with a code and the
 * numbers. It is also a drop-in for `executeOrders` on bars.
 *
 * Marble diagrams here put one event per 10-frame slot (see {@link line}) so that a source and the
 * expected output line up however many events a slot holds.
 */
import { deepStrictEqual, ok, strictEqual, throws } from 'node:assert/strict';
import fc from 'fast-check';
import { Subject, from, interval, map, merge, take, tap, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  executeOrders,
  type PaperVenueConfig,
  type Venue,
  type VenueInput,
  type VenueOutput,
} from '../../operators/executeOrders';
import { feeOf, notionalOf, toUnits, unitsToNumber, type Units } from '../../operators/money';
import { accountingResidual, applyFill, initialPortfolio } from '../../operators/trackPortfolio';
import type {
  CancelAllOrders,
  CancelOrder,
  Fill,
  Instrument,
  Order,
  OrderAccepted,
  OrderBook,
  OrderCanceled,
  OrderRejectCode,
  OrderRejected,
  Portfolio,
  Side,
  Ticker,
  TradeTick,
} from '../../operators/types';
import {
  BINANCE_SPOT_FEE_TIERS,
  PaperExchangeConfigError,
  logNormalParams,
  makePaperExchange,
  squareRootImpact,
  type PaperExchangeConfig,
  type PaperExchangeInput,
  type PaperExchangeOutput,
} from '../../sinks/paperExchange';
import { BTC_USDT, bar, randomWalkBars, tick } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';

const M = 60_000;
const DAY = 86_400_000;
const u = toUnits;

const ETH_USDT: Instrument = {
  ...BTC_USDT,
  symbol: 'ETH/USDT',
  base: 'ETH',
  minQty: u('0.0001'),
  qtyStep: u('0.0001'),
};

/** Flat fees: maker 2 bps, taker 10 bps; 2 bps slippage where there is no book; 10 000 USDT. */
const CONFIG: PaperExchangeConfig = {
  instruments: [BTC_USDT, ETH_USDT],
  initialCash: u('10000'),
  quote: 'USDT',
  takerFeeBps: 10,
  makerFeeBps: 2,
  slippageBps: 2,
};
const SHORTABLE: PaperExchangeConfig = { ...CONFIG, allowShort: true };

// ----- builders -------------------------------------------------------------------------------

function order(id: string, side: Side, qty: string, tsEvent: number, extra: Partial<Order> = {}): Order {
  return {
    kind: 'order',
    clientOrderId: id,
    intentId: `intent-${id}`,
    signalId: `signal-${id}`,
    symbol: 'BTC/USDT',
    side,
    type: 'market',
    qty: u(qty),
    refPrice: 0,
    reducesRisk: side === 'sell',
    configHash: 'cfg',
    tsEvent,
    ...extra,
  };
}

function limit(
  id: string,
  side: Side,
  qty: string,
  limitPrice: number,
  tsEvent: number,
  extra: Partial<Order> = {},
): Order {
  return order(id, side, qty, tsEvent, { type: 'limit', limitPrice, ...extra });
}

function book(tsEvent: number, bids: [number, number][], asks: [number, number][], symbol = 'BTC/USDT'): OrderBook {
  return { kind: 'book', venue: 'binance', symbol, bids, asks, sequence: tsEvent, tsEvent, tsInit: tsEvent };
}

function ticker(tsEvent: number, bid: number, ask: number, last = (bid + ask) / 2): Ticker {
  return { kind: 'ticker', venue: 'binance', symbol: 'BTC/USDT', bid, ask, last, tsEvent, tsInit: tsEvent };
}

function cancel(id: string, tsEvent: number, reason = 'user cancel', symbol = 'BTC/USDT'): CancelOrder {
  return { kind: 'cancel', clientOrderId: id, symbol, reason, tsEvent };
}

function accepted(o: Order, tsEvent = o.tsEvent): OrderAccepted {
  return { kind: 'order-accepted', clientOrderId: o.clientOrderId, signalId: o.signalId, tsEvent };
}

interface FillSpec {
  readonly qty: string;
  readonly price: Units;
  readonly notional: Units;
  readonly fee: Units;
  readonly leaves?: string;
  readonly ts: number;
  readonly maker?: boolean;
}

function filled(o: Order, f: FillSpec): Fill {
  return {
    kind: 'fill',
    clientOrderId: o.clientOrderId,
    signalId: o.signalId,
    symbol: o.symbol,
    side: o.side,
    qty: u(f.qty),
    price: f.price,
    notional: f.notional,
    fee: f.fee,
    liquidity: f.maker ? 'maker' : 'taker',
    leavesQty: u(f.leaves ?? '0'),
    tsEvent: f.ts,
  };
}

/** A rejection as compared after {@link messages}: the message replaced by the pattern it must match. */
function rejected(
  o: Pick<Order, 'clientOrderId' | 'signalId'>,
  code: OrderRejectCode,
  message: RegExp,
  tsEvent: number,
): OrderRejected {
  return {
    kind: 'order-rejected',
    clientOrderId: o.clientOrderId,
    signalId: o.signalId,
    code,
    message: message.source,
    tsEvent,
  };
}

/** A cancel as compared after {@link messages}: the reason replaced by the pattern it must match. */
function canceled(o: Order, reason: RegExp, tsEvent: number): OrderCanceled {
  return {
    kind: 'order-canceled',
    clientOrderId: o.clientOrderId,
    signalId: o.signalId,
    reason: reason.source,
    tsEvent,
  };
}

/** Replaces rejection messages and cancel reasons by the first pattern they match (a mismatch shows the real text). */
function messages(...patterns: RegExp[]) {
  const normal = (text: string): string => patterns.find((p) => p.test(text))?.source ?? text;
  return map((event: PaperExchangeOutput): PaperExchangeOutput => {
    if (event.kind === 'order-rejected') return { ...event, message: normal(event.message) };
    if (event.kind === 'order-canceled') return { ...event, reason: normal(event.reason) };
    return event;
  });
}

/**
 * A marble line with one 10-frame slot per cell: '' nothing, 'a' one event, 'abc' a group, '|'
 * completion, '#' error, 'ab|' a group ending in completion. A source and its expected output
 * written with it line up by construction.
 */
function line(...cells: string[]): string {
  return cells
    .map((cell) => {
      const text = cell.length > 1 ? `(${cell})` : cell;
      return cell.endsWith('|') || cell.endsWith('#') ? text : text.padEnd(10, '-');
    })
    .join('');
}

/** Orders still open when the market data ends are reported canceled, `EXPIRED`. */
const EXPIRED = /EXPIRED: market data ended/;

/** Runs inputs through a venue synchronously and returns everything it emitted. */
function runAll(
  venue: (source: Observable<PaperExchangeInput>) => Observable<PaperExchangeOutput>,
  inputs: readonly PaperExchangeInput[],
): PaperExchangeOutput[] {
  const out: PaperExchangeOutput[] = [];
  from(inputs)
    .pipe(venue)
    .subscribe({ next: (e) => out.push(e) });
  return out;
}

const DECISION_BAR = bar(0, { o: 19_900, c: 19_950 });
const NEXT_BAR = bar(M, { o: 20_000, h: 20_100, l: 19_800, c: 20_050 });

describe('makePaperExchange', () => {
  describe('drop-in for executeOrders', () => {
    const DROP_IN: PaperVenueConfig = {
      instruments: [BTC_USDT, ETH_USDT],
      initialCash: u('10000'),
      quote: 'USDT',
      takerFeeBps: 10,
      slippageBps: 2,
    };

    it('is a Venue: with executeOrders’ config it fills a buy at the next bar’s open plus slippage and the taker fee, then passes that bar', () => {
      makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const venue: Venue = makePaperExchange(DROP_IN);
        const o = order('b1', 'buy', '0.1', M);
        const source = hot<VenueInput>('-d-o-n---|', { d: DECISION_BAR, o, n: NEXT_BAR });
        const expected = '              -d-a-(fn)|';
        expectObservable(source.pipe(venue)).toBe(expected, {
          d: DECISION_BAR,
          a: accepted(o),
          // 20000 × 1.0002 = 20004; 0.1 × 20004 = 2000.4; fee 0.1 % = 2.0004
          f: filled(o, { qty: '0.1', price: 2_000_400_000_000n, notional: 200_040_000_000n, fee: 200_040_000n, ts: M }),
          n: NEXT_BAR,
        });
        expectSubscriptions(source.subscriptions).toBe('^--------!');
      });
    });

    it('produces exactly the events executeOrders produces for a strategy deciding on each of 600 random-walk bars (fills, min notional, balance, duplicates, unknown symbol)', () => {
      const bars = randomWalkBars(600, { seed: 11, timeframe: '1m' });
      const run = (venue: Venue): VenueOutput[] => {
        const orders = new Subject<Order>();
        const out: VenueOutput[] = [];
        let n = 0;
        let lastId = '';
        // orders first: `from` emits synchronously while merge subscribes
        merge(orders, from(bars).pipe(tap({ complete: () => orders.complete() })))
          .pipe(venue)
          .subscribe((event) => {
            out.push(event);
            if (event.kind !== 'bar') return;
            const i = n++;
            const ts = event.tsEvent;
            const step = i % 6;
            let next: Order;
            if (step === 0) next = order(`b${i}`, 'buy', '0.01', ts);
            else if (step === 1) next = order(`s${i}`, 'sell', '0.01', ts);
            else if (step === 2)
              next = order(`tiny${i}`, 'buy', '0.0002', ts); // notional < 5 at the fill
            else if (step === 3)
              next = { ...order(lastId, 'buy', '0.01', ts) }; // a resend
            else if (step === 4) next = order(`d${i}`, 'buy', '1', ts, { symbol: 'DOGE/USDT' });
            else next = order(`big${i}`, 'buy', '1', ts); // ~20000 USDT: more than the cash
            lastId = next.clientOrderId;
            orders.next(next);
          });
        return out;
      };
      const reference = run(executeOrders(DROP_IN));
      const paper = run(makePaperExchange(DROP_IN));
      ok(reference.filter((e) => e.kind === 'fill').length >= 190);
      for (const code of [
        'BELOW_MIN_NOTIONAL',
        'INSUFFICIENT_BALANCE',
        'DUPLICATE_CLIENT_ORDER_ID',
        'UNKNOWN_SYMBOL',
      ]) {
        ok(
          reference.some((e) => e.kind === 'order-rejected' && e.code === code),
          code,
        );
      }
      deepStrictEqual(paper, reference);
    });
  });

  describe('market orders', () => {
    it('walk the L2 book level by level: one fill per level with decreasing leavesQty and the exact taker fee', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const B = book(
          0,
          [[19_999, 1]],
          [
            [20_000, 0.1],
            [20_001, 0.2],
            [20_005, 1],
          ],
        );
        const o = order('m1', 'buy', '0.25', 10);
        const source = hot<PaperExchangeInput>(line('B', 'o', '|'), { B, o });
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe(line('B', 'aFG', '|'), {
          B,
          a: accepted(o),
          F: filled(o, {
            qty: '0.1',
            price: 2_000_000_000_000n,
            notional: 200_000_000_000n,
            fee: 200_000_000n,
            leaves: '0.15',
            ts: 10,
          }),
          // 0.15 × 20001 = 3000.15; fee 3.00015
          G: filled(o, {
            qty: '0.15',
            price: 2_000_100_000_000n,
            notional: 300_015_000_000n,
            fee: 300_015_000n,
            leaves: '0',
            ts: 10,
          }),
        });
      });
    });

    it('are immediate-or-cancel: what the book cannot fill is canceled, taken liquidity stays taken until the next snapshot', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const B = book(
          0,
          [[19_999, 1]],
          [
            [20_000, 0.1],
            [20_001, 0.2],
          ],
        );
        const C = book(30, [[19_999, 1]], [[20_010, 1]]);
        const o = order('m1', 'buy', '0.5', 10);
        const p = order('m2', 'buy', '0.1', 20);
        const q = order('m3', 'buy', '0.1', 40);
        const IOC_O = /IOC: book depth exhausted; filled 0\.3 of 0\.5, 0\.2 canceled/;
        const IOC_P = /IOC: book depth exhausted; filled 0 of 0\.1, 0\.1 canceled/;
        const source = hot<PaperExchangeInput>(line('B', 'o', 'p', 'C', 'q', '|'), { B, o, p, C, q });
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages(IOC_O, IOC_P))).toBe(
          line('B', 'aFGx', 'by', 'C', 'cH', '|'),
          {
            B,
            C,
            a: accepted(o),
            F: filled(o, {
              qty: '0.1',
              price: 2_000_000_000_000n,
              notional: 200_000_000_000n,
              fee: 200_000_000n,
              leaves: '0.4',
              ts: 10,
            }),
            // 0.2 × 20001 = 4000.2
            G: filled(o, {
              qty: '0.2',
              price: 2_000_100_000_000n,
              notional: 400_020_000_000n,
              fee: 400_020_000n,
              leaves: '0.2',
              ts: 10,
            }),
            x: canceled(o, IOC_O, 10),
            b: accepted(p),
            y: canceled(p, IOC_P, 20),
            c: accepted(q),
            H: filled(q, {
              qty: '0.1',
              price: 2_001_000_000_000n,
              notional: 200_100_000_000n,
              fee: 200_100_000n,
              ts: 40,
            }),
          },
        );
      });
    });

    it('fill at a ticker’s top plus slippage when there is no L2 book', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const T = ticker(0, 19_990, 20_010);
        const o = order('m1', 'buy', '0.1', 10);
        const source = hot<PaperExchangeInput>(line('T', 'o', '|'), { T, o });
        // 20010 × 1.0002 = 20014.002; × 0.1 = 2001.4002; fee 2.0014002
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe(line('T', 'aF', '|'), {
          T,
          a: accepted(o),
          F: filled(o, {
            qty: '0.1',
            price: 2_001_400_200_000n,
            notional: 200_140_020_000n,
            fee: 200_140_020n,
            ts: 10,
          }),
        });
      });
    });

    it('without a book fill at the next trade after the order, never at a trade in the same millisecond', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const o = order('e1', 'buy', '0.01', 1_000, { symbol: 'ETH/USDT' });
        const same = tick(1_000, 2_000, 1, 't1', 'ETH/USDT');
        const after = tick(1_001, 3_000, 1, 't2', 'ETH/USDT');
        const source = hot<PaperExchangeInput>(line('o', 's', 't', '|'), { o, s: same, t: after });
        // 3000 × 1.0002 = 3000.6; × 0.01 = 30.006; fee 0.030006
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe(line('a', 's', 'Ft', '|'), {
          a: accepted(o),
          s: same,
          F: filled(o, { qty: '0.01', price: 300_060_000_000n, notional: 3_000_600_000n, fee: 3_000_600n, ts: 1_001 }),
          t: after,
        });
      });
    });
  });

  describe('limit orders', () => {
    it('take the marketable part as taker, rest the remainder, do not fill at the touch, fill as maker when the book goes through', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const B = book(
          0,
          [[19_990, 1]],
          [
            [20_000, 0.1],
            [20_001, 0.1],
            [20_002, 1],
          ],
        );
        const o = limit('l1', 'buy', '0.25', 20_001, 10);
        const T = book(20, [[19_990, 1]], [[20_001, 1]]); // at the touch: queue position unknown
        const C = book(
          30,
          [[19_990, 1]],
          [
            [20_000.5, 0.02],
            [20_000.8, 1],
          ],
        );
        const source = hot<PaperExchangeInput>(line('B', 'o', 'T', 'C', '|'), { B, o, T, C });
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe(line('B', 'aFG', 'T', 'HIC', '|'), {
          B,
          T,
          C,
          a: accepted(o),
          F: filled(o, {
            qty: '0.1',
            price: 2_000_000_000_000n,
            notional: 200_000_000_000n,
            fee: 200_000_000n,
            leaves: '0.15',
            ts: 10,
          }),
          G: filled(o, {
            qty: '0.1',
            price: 2_000_100_000_000n,
            notional: 200_010_000_000n,
            fee: 200_010_000n,
            leaves: '0.05',
            ts: 10,
          }),
          // maker at the limit 20001, 2 bps: 0.02 × 20001 = 400.02, fee 0.080004; 0.03 × 20001 = 600.03, fee 0.120006
          H: filled(o, {
            qty: '0.02',
            price: 2_000_100_000_000n,
            notional: 40_002_000_000n,
            fee: 8_000_400n,
            leaves: '0.03',
            ts: 30,
            maker: true,
          }),
          I: filled(o, {
            qty: '0.03',
            price: 2_000_100_000_000n,
            notional: 60_003_000_000n,
            fee: 12_000_600n,
            leaves: '0',
            ts: 30,
            maker: true,
          }),
        });
      });
    });

    it('resting without a book, fill as maker on trades strictly through the limit, up to each trade’s quantity', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const o = limit('l1', 'buy', '0.3', 19_990, 0);
        const a = tick(10, 20_000, 1, 'a');
        const b = tick(20, 19_990, 1, 'b'); // the touch
        const c = tick(30, 19_989, 0.1, 'c');
        const d = tick(40, 19_980, 5, 'd');
        const source = hot<PaperExchangeInput>(line('o', 'a', 'b', 'c', 'd', '|'), { o, a, b, c, d });
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe(line('A', 'a', 'b', 'Fc', 'Gd', '|'), {
          A: accepted(o),
          a,
          b,
          c,
          d,
          // 0.1 × 19990 = 1999, maker 2 bps = 0.3998; 0.2 × 19990 = 3998, 0.7996
          F: filled(o, {
            qty: '0.1',
            price: 1_999_000_000_000n,
            notional: 199_900_000_000n,
            fee: 39_980_000n,
            leaves: '0.2',
            ts: 30,
            maker: true,
          }),
          G: filled(o, {
            qty: '0.2',
            price: 1_999_000_000_000n,
            notional: 399_800_000_000n,
            fee: 79_960_000n,
            leaves: '0',
            ts: 40,
            maker: true,
          }),
        });
      });
    });

    it('on bars: marketable at the open take the open plus slippage capped at the limit; others rest and fill at the limit when the bar’s path crosses it', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const rest = limit('r', 'buy', '0.1', 19_850, M);
        const take = limit('t', 'buy', '0.1', 20_010, M);
        const capped = limit('c', 'buy', '0.1', 20_002, M);
        const source = hot<PaperExchangeInput>(line('d', 'rtc', 'n', '|'), {
          d: DECISION_BAR,
          r: rest,
          t: take,
          c: capped,
          n: NEXT_BAR,
        });
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe(line('d', 'RTC', 'FGHn', '|'), {
          d: DECISION_BAR,
          n: NEXT_BAR,
          R: accepted(rest),
          T: accepted(take),
          C: accepted(capped),
          // 20000 × 1.0002 = 20004 ≤ 20010, at the open (tsOpen)
          F: filled(take, {
            qty: '0.1',
            price: 2_000_400_000_000n,
            notional: 200_040_000_000n,
            fee: 200_040_000n,
            ts: M,
          }),
          // 20004 capped at 20002
          G: filled(capped, {
            qty: '0.1',
            price: 2_000_200_000_000n,
            notional: 200_020_000_000n,
            fee: 200_020_000n,
            ts: M,
          }),
          // path 20000 → 20100 → 19800 → 20050 goes through 19850: maker at the limit, known at the bar's close
          H: filled(rest, {
            qty: '0.1',
            price: 1_985_000_000_000n,
            notional: 198_500_000_000n,
            fee: 39_700_000n,
            ts: 2 * M,
            maker: true,
          }),
        });
      });
    });

    it('IOC fills what is marketable and cancels the rest; FOK fills completely or not at all', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const B = book(
          0,
          [[19_990, 1]],
          [
            [20_000, 0.1],
            [20_001, 0.1],
          ],
        );
        const fok = limit('f1', 'buy', '0.3', 20_001, 10, { timeInForce: 'FOK' });
        const ioc = limit('i1', 'buy', '0.3', 20_000, 20, { timeInForce: 'IOC' });
        const fok2 = limit('f2', 'buy', '0.1', 20_001, 30, { timeInForce: 'FOK' });
        const FOK = /FOK: only 0\.2 of 0\.3 available at 20001; nothing executed/;
        const IOC = /IOC: not marketable; filled 0\.1 of 0\.3, 0\.2 canceled/;
        const source = hot<PaperExchangeInput>(line('B', 'f', 'i', 'g', '|'), { B, f: fok, i: ioc, g: fok2 });
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages(FOK, IOC))).toBe(
          line('B', 'ax', 'bFy', 'cG', '|'),
          {
            B,
            a: accepted(fok),
            x: canceled(fok, FOK, 10),
            b: accepted(ioc),
            F: filled(ioc, {
              qty: '0.1',
              price: 2_000_000_000_000n,
              notional: 200_000_000_000n,
              fee: 200_000_000n,
              leaves: '0.2',
              ts: 20,
            }),
            y: canceled(ioc, IOC, 20),
            c: accepted(fok2),
            G: filled(fok2, {
              qty: '0.1',
              price: 2_000_100_000_000n,
              notional: 200_010_000_000n,
              fee: 200_010_000n,
              ts: 30,
            }),
          },
        );
      });
    });
  });

  describe('stops, take-profits and trailing stops', () => {
    it('a stop-market sell triggers when a trade crosses stopPrice and fills at that trade minus slippage', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const buy = order('b', 'buy', '0.1', 0);
        const t1 = tick(10, 20_000, 1, 't1');
        const stop = order('s', 'sell', '0.1', 20, { type: 'stop-market', stopPrice: 19_900 });
        const t2 = tick(30, 19_950, 1, 't2');
        const t3 = tick(40, 19_880, 1, 't3');
        const source = hot<PaperExchangeInput>(line('b', '1', 's', '2', '3', '|'), {
          b: buy,
          1: t1,
          s: stop,
          2: t2,
          3: t3,
        });
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe(line('A', 'F1', 'S', '2', 'G3', '|'), {
          A: accepted(buy),
          F: filled(buy, {
            qty: '0.1',
            price: 2_000_400_000_000n,
            notional: 200_040_000_000n,
            fee: 200_040_000n,
            ts: 10,
          }),
          1: t1,
          S: accepted(stop),
          2: t2,
          // 19880 × 0.9998 = 19876.024; × 0.1 = 1987.6024; fee 1.9876024
          G: filled(stop, {
            qty: '0.1',
            price: 1_987_602_400_000n,
            notional: 198_760_240_000n,
            fee: 198_760_240n,
            ts: 40,
          }),
          3: t3,
        });
      });
    });

    it('a stop-limit inside a bar triggers at its stop level (the price passes it continuously) and executes as a limit there', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const stop = order('s', 'sell', '0.1', M, { type: 'stop-limit', stopPrice: 19_900, limitPrice: 19_850 });
        const source = hot<PaperExchangeInput>(line('d', 's', 'n', '|'), { d: DECISION_BAR, s: stop, n: NEXT_BAR });
        // path 20000 → 20100 → 19800: triggered at 19900; 19900 × 0.9998 = 19896.02 ≥ limit 19850
        expectObservable(source.pipe(makePaperExchange(SHORTABLE))).toBe(line('d', 'S', 'Fn', '|'), {
          d: DECISION_BAR,
          n: NEXT_BAR,
          S: accepted(stop),
          F: filled(stop, {
            qty: '0.1',
            price: 1_989_602_000_000n,
            notional: 198_960_200_000n,
            fee: 198_960_200n,
            ts: 2 * M,
          }),
        });
      });
    });

    it('a stop that the next bar gaps through triggers at the open and fills there', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const stop = order('s', 'sell', '0.1', M, { type: 'stop-market', stopPrice: 19_900 });
        const gap = bar(M, { o: 19_700, c: 19_750 });
        const source = hot<PaperExchangeInput>(line('d', 's', 'g', '|'), { d: DECISION_BAR, s: stop, g: gap });
        // 19700 × 0.9998 = 19696.06, at the open
        expectObservable(source.pipe(makePaperExchange(SHORTABLE))).toBe(line('d', 'S', 'Fg', '|'), {
          d: DECISION_BAR,
          g: gap,
          S: accepted(stop),
          F: filled(stop, {
            qty: '0.1',
            price: 1_969_606_000_000n,
            notional: 196_960_600_000n,
            fee: 196_960_600n,
            ts: M,
          }),
        });
      });
    });

    it('take-profits trigger in the profitable direction: a sell when the price rises to stopPrice, a buy-limit when it falls to it', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const t0 = tick(0, 20_000, 1, 't0');
        const tpSell = order('tps', 'sell', '0.1', 1, { type: 'take-profit-market', stopPrice: 20_100 });
        const t1 = tick(10, 20_050, 1, 't1');
        const t2 = tick(20, 20_100, 1, 't2');
        const tpBuy = order('tpb', 'buy', '0.1', 25, {
          type: 'take-profit-limit',
          stopPrice: 19_900,
          limitPrice: 19_905,
        });
        const t3 = tick(30, 19_890, 1, 't3');
        const source = hot<PaperExchangeInput>(line('0', 's', '1', '2', 'b', '3', '|'), {
          0: t0,
          s: tpSell,
          1: t1,
          2: t2,
          b: tpBuy,
          3: t3,
        });
        expectObservable(source.pipe(makePaperExchange(SHORTABLE))).toBe(line('0', 'S', '1', 'F2', 'B', 'G3', '|'), {
          0: t0,
          1: t1,
          2: t2,
          3: t3,
          S: accepted(tpSell),
          // 20100 × 0.9998 = 20095.98
          F: filled(tpSell, {
            qty: '0.1',
            price: 2_009_598_000_000n,
            notional: 200_959_800_000n,
            fee: 200_959_800n,
            ts: 20,
          }),
          B: accepted(tpBuy),
          // 19890 × 1.0002 = 19893.978 ≤ limit 19905
          G: filled(tpBuy, {
            qty: '0.1',
            price: 1_989_397_800_000n,
            notional: 198_939_780_000n,
            fee: 198_939_780n,
            ts: 30,
          }),
        });
      });
    });

    it('a trailing stop follows the highest price since placement and triggers when the price retraces trailingBps from it', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const t0 = tick(0, 20_000, 1, 't0');
        const trail = order('tr', 'sell', '0.1', 1, { type: 'trailing-stop', trailingBps: 200 });
        const prices = [20_500, 20_200, 21_000, 20_600, 20_570]; // levels: 20090 (20200 holds), 20580 (20600 holds, 20570 triggers)
        const trades = prices.map((price, i) => tick(10 * (i + 1), price, 1, `t${i + 1}`));
        const values: Record<string, PaperExchangeInput> = { 0: t0, s: trail };
        trades.forEach((t, i) => (values[String(i + 1)] = t));
        const source = hot<PaperExchangeInput>(line('0', 's', '1', '2', '3', '4', '5', '|'), values);
        const expectedValues: Record<string, PaperExchangeOutput> = {
          S: accepted(trail),
          // 20570 × 0.9998 = 20565.886
          F: filled(trail, {
            qty: '0.1',
            price: 2_056_588_600_000n,
            notional: 205_658_860_000n,
            fee: 205_658_860n,
            ts: 50,
          }),
          0: t0,
        };
        trades.forEach((t, i) => (expectedValues[String(i + 1)] = t));
        expectObservable(source.pipe(makePaperExchange(SHORTABLE))).toBe(
          line('0', 'S', '1', '2', '3', '4', 'F5', '|'),
          expectedValues,
        );
      });
    });

    it('a stop that would trigger at once is rejected like Binance does (EXCHANGE_ERROR, would trigger immediately)', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const t0 = tick(0, 20_000, 1, 't0');
        const stop = order('s', 'sell', '0.1', 1, { type: 'stop-market', stopPrice: 20_100 });
        const NOW = /WOULD_TRIGGER_IMMEDIATELY: stop-market sell stopPrice 20100 vs last 20000/;
        const source = hot<PaperExchangeInput>(line('0', 's', '|'), { 0: t0, s: stop });
        expectObservable(source.pipe(makePaperExchange(SHORTABLE), messages(NOW))).toBe(line('0', 'x', '|'), {
          0: t0,
          x: rejected(stop, 'EXCHANGE_ERROR', NOW, 1),
        });
      });
    });
  });

  describe('OCO groups', () => {
    const buy = order('b', 'buy', '0.1', 0);
    const t1 = tick(10, 20_000, 1, 't1');
    const tp = limit('tp', 'sell', '0.1', 20_500, 20, { ocoGroup: 'g' });
    const sl = order('sl', 'sell', '0.1', 21, { type: 'stop-market', stopPrice: 19_500, ocoGroup: 'g' });
    const BOUGHT = filled(buy, {
      qty: '0.1',
      price: 2_000_400_000_000n,
      notional: 200_040_000_000n,
      fee: 200_040_000n,
      ts: 10,
    });

    it('a triggered stop leg cancels the take-profit leg; the group reserves the position once, so another sell is refused', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const other = limit('x', 'sell', '0.05', 21_000, 22);
        const t2 = tick(30, 19_400, 1, 't2');
        const HELD = /sells 0\.05 BTC, holds 0\.1, 0\.1 reserved by open orders/;
        const OCO = /OCO: sibling sl triggered at 19400/;
        const source = hot<PaperExchangeInput>(line('b', '1', 'tsx', '2', '|'), {
          b: buy,
          1: t1,
          t: tp,
          s: sl,
          x: other,
          2: t2,
        });
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages(HELD, OCO))).toBe(
          line('A', 'F1', 'TSX', 'cG2', '|'),
          {
            A: accepted(buy),
            F: BOUGHT,
            1: t1,
            T: accepted(tp),
            S: accepted(sl),
            X: rejected(other, 'INSUFFICIENT_POSITION', HELD, 22),
            c: canceled(tp, OCO, 30),
            // 19400 × 0.9998 = 19396.12
            G: filled(sl, {
              qty: '0.1',
              price: 1_939_612_000_000n,
              notional: 193_961_200_000n,
              fee: 193_961_200n,
              ts: 30,
            }),
            2: t2,
          },
        );
      });
    });

    it('a partial fill of one leg cancels the others; the partially filled leg stays open until filled', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const t2 = tick(30, 20_000, 1, 't2'); // the take-profit's first look: not marketable, it rests
        const t3 = tick(40, 20_600, 0.04, 't3');
        const t4 = tick(50, 20_700, 1, 't4');
        const OCO = /OCO: sibling tp filled/;
        const source = hot<PaperExchangeInput>(line('b', '1', 'ts', '2', '3', '4', '|'), {
          b: buy,
          1: t1,
          t: tp,
          s: sl,
          2: t2,
          3: t3,
          4: t4,
        });
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages(OCO))).toBe(
          line('A', 'F1', 'TS', '2', 'Gc3', 'H4', '|'),
          {
            A: accepted(buy),
            F: BOUGHT,
            1: t1,
            2: t2,
            3: t3,
            4: t4,
            T: accepted(tp),
            S: accepted(sl),
            // maker at 20500: 0.04 × 20500 = 820, fee 0.164; 0.06 × 20500 = 1230, fee 0.246
            G: filled(tp, {
              qty: '0.04',
              price: 2_050_000_000_000n,
              notional: 82_000_000_000n,
              fee: 16_400_000n,
              leaves: '0.06',
              ts: 40,
              maker: true,
            }),
            c: canceled(sl, OCO, 40),
            H: filled(tp, {
              qty: '0.06',
              price: 2_050_000_000_000n,
              notional: 123_000_000_000n,
              fee: 24_600_000n,
              leaves: '0',
              ts: 50,
              maker: true,
            }),
          },
        );
      });
    });

    it('canceling one leg cancels the group', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const c = cancel('tp', 30);
        const USER = /user cancel/;
        const OCO = /OCO: sibling tp canceled/;
        const source = hot<PaperExchangeInput>(line('b', '1', 'ts', 'c', '|'), { b: buy, 1: t1, t: tp, s: sl, c });
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages(USER, OCO))).toBe(
          line('A', 'F1', 'TS', 'xy', '|'),
          {
            A: accepted(buy),
            F: BOUGHT,
            1: t1,
            T: accepted(tp),
            S: accepted(sl),
            x: canceled(tp, USER, 30),
            y: canceled(sl, OCO, 30),
          },
        );
      });
    });
  });

  describe('costs', () => {
    it('charges maker and taker fees by 30-day volume tier, fixed per UTC day from the 30 days before it', () => {
      const tiers = [
        { name: 'base', minVolume30d: 0n, makerBps: 10, takerBps: 10 },
        { name: 'pro', minVolume30d: u('1000'), makerBps: 5, takerBps: 8 },
      ];
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const o1 = order('o1', 'buy', '0.1', 1_000);
        const o2 = order('o2', 'buy', '0.01', 3_000);
        const o3 = limit('o3', 'sell', '0.01', 20_100, DAY + 1_000);
        const o4 = order('o4', 'sell', '0.01', DAY + 4_000);
        const o5 = order('o5', 'sell', '0.01', 30 * DAY + 1_000);
        const o6 = order('o6', 'sell', '0.01', 31 * DAY + 1_000);
        const t = (ts: number, price = 20_000): TradeTick => tick(ts, price, 1, `t${ts}`);
        const inputs = {
          1: o1,
          a: t(2_000),
          2: o2,
          b: t(4_000),
          3: o3,
          c: t(DAY + 2_000),
          d: t(DAY + 3_000, 20_200),
          4: o4,
          e: t(DAY + 5_000),
          5: o5,
          f: t(30 * DAY + 2_000),
          6: o6,
          g: t(31 * DAY + 2_000),
        };
        const source = hot<PaperExchangeInput>(
          line('1', 'a', '2', 'b', '3', 'c', 'd', '4', 'e', '5', 'f', '6', 'g', '|'),
          inputs,
        );
        const venue = makePaperExchange({ ...CONFIG, feeTiers: tiers, slippageBps: 0 });
        expectObservable(source.pipe(venue)).toBe(
          line('A', 'Fa', 'B', 'Gb', 'C', 'c', 'Hd', 'D', 'Ie', 'E', 'Jf', 'X', 'Kg', '|'),
          {
            ...inputs,
            A: accepted(o1),
            B: accepted(o2),
            C: accepted(o3),
            D: accepted(o4),
            E: accepted(o5),
            X: accepted(o6),
            // day 0, base tier: 2000 × 10 bps = 2; 200 × 10 bps = 0.2 (day 0 volume 2200)
            F: filled(o1, {
              qty: '0.1',
              price: 2_000_000_000_000n,
              notional: 200_000_000_000n,
              fee: 200_000_000n,
              ts: 2_000,
            }),
            G: filled(o2, {
              qty: '0.01',
              price: 2_000_000_000_000n,
              notional: 20_000_000_000n,
              fee: 20_000_000n,
              ts: 4_000,
            }),
            // day 1, pro tier: maker 201 × 5 bps = 0.1005; taker 200 × 8 bps = 0.16
            H: filled(o3, {
              qty: '0.01',
              price: 2_010_000_000_000n,
              notional: 20_100_000_000n,
              fee: 10_050_000n,
              ts: DAY + 3_000,
              maker: true,
            }),
            I: filled(o4, {
              qty: '0.01',
              price: 2_000_000_000_000n,
              notional: 20_000_000_000n,
              fee: 16_000_000n,
              ts: DAY + 5_000,
            }),
            // day 30: days 0–29 hold 2601 → pro; day 31: days 1–30 hold 601 → base again
            J: filled(o5, {
              qty: '0.01',
              price: 2_000_000_000_000n,
              notional: 20_000_000_000n,
              fee: 16_000_000n,
              ts: 30 * DAY + 2_000,
            }),
            K: filled(o6, {
              qty: '0.01',
              price: 2_000_000_000_000n,
              notional: 20_000_000_000n,
              fee: 20_000_000n,
              ts: 31 * DAY + 2_000,
            }),
          },
        );
      });
    });

    it('credits a negative maker fee as a rebate, rounded down to the unit (never overpaid)', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const o = limit('l', 'buy', '0.00033', 20_001, 0);
        const a = tick(10, 20_100, 1, 'a');
        const b = tick(20, 20_000, 1, 'b');
        const source = hot<PaperExchangeInput>(line('o', 'a', 'b', '|'), { o, a, b });
        // 0.00033 × 20001 = 6.60033; −1 bp = −0.000660033 → −0.00066003
        expectObservable(source.pipe(makePaperExchange({ ...CONFIG, makerFeeBps: -1 }))).toBe(
          line('A', 'a', 'Fb', '|'),
          {
            a,
            b,
            A: accepted(o),
            F: filled(o, {
              qty: '0.00033',
              price: 2_000_100_000_000n,
              notional: 660_033_000n,
              fee: -66_003n,
              ts: 20,
              maker: true,
            }),
          },
        );
      });
    });

    it('moves every taker fill by γ·√(V/ADV) on top of the book price, and never past a limit', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const venue = makePaperExchange({ ...CONFIG, impact: { gamma: 0.1, adv: { 'BTC/USDT': 5 } } });
        const B = book(
          0,
          [[19_990, 1]],
          [
            [20_000, 0.03],
            [20_010, 1],
          ],
        );
        const o = order('m', 'buy', '0.05', 10); // √(0.05 / 5) = 0.1 → impact 1 %
        const s = order('s', 'sell', '0.05', 20);
        const C = book(30, [[19_990, 1]], [[20_000, 1]]);
        const l = limit('l', 'buy', '0.05', 20_100, 40);
        const source = hot<PaperExchangeInput>(line('B', 'o', 's', 'C', 'l', '|'), { B, o, s, C, l });
        expectObservable(source.pipe(venue)).toBe(line('B', 'aFG', 'bH', 'C', 'cI', '|'), {
          B,
          C,
          a: accepted(o),
          // 20000 × 1.01 = 20200; 0.03 × 20200 = 606
          F: filled(o, {
            qty: '0.03',
            price: 2_020_000_000_000n,
            notional: 60_600_000_000n,
            fee: 60_600_000n,
            leaves: '0.02',
            ts: 10,
          }),
          // 20010 × 1.01 = 20210.1; 0.02 × 20210.1 = 404.202
          G: filled(o, { qty: '0.02', price: 2_021_010_000_000n, notional: 40_420_200_000n, fee: 40_420_200n, ts: 10 }),
          b: accepted(s),
          // 19990 × 0.99 = 19790.1; 0.05 × 19790.1 = 989.505
          H: filled(s, { qty: '0.05', price: 1_979_010_000_000n, notional: 98_950_500_000n, fee: 98_950_500n, ts: 20 }),
          c: accepted(l),
          // 20000 × 1.01 = 20200, capped at the limit 20100
          I: filled(l, {
            qty: '0.05',
            price: 2_010_000_000_000n,
            notional: 100_500_000_000n,
            fee: 100_500_000n,
            ts: 40,
          }),
        });
      });
    });

    it('estimates ADV from the bars seen before the fill, never from the bar being matched', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const first = bar(0, { o: 19_900, c: 19_950, v: 1.44 }); // 1.44 per minute → ADV 2073.6
        const next = bar(M, { o: 20_000, v: 1_000 });
        const o = order('m', 'buy', '0.20736', M); // √(0.20736 / 2073.6) = 0.01 → impact 0.1 %
        const source = hot<PaperExchangeInput>(line('d', 'o', 'n', '|'), { d: first, o, n: next });
        // 20000 × (1 + 0.0002 slippage + 0.001 impact) = 20024; 0.20736 × 20024 = 4152.17664
        expectObservable(source.pipe(makePaperExchange({ ...CONFIG, impact: { gamma: 0.1 } }))).toBe(
          line('d', 'a', 'Fn', '|'),
          {
            d: first,
            n: next,
            a: accepted(o),
            F: filled(o, {
              qty: '0.20736',
              price: 2_002_400_000_000n,
              notional: 415_217_664_000n,
              fee: 415_217_664n,
              ts: M,
            }),
          },
        );
      });
    });

    it('squareRootImpact is γ·√(V/ADV), and 0 when ADV is unknown', () => {
      strictEqual(squareRootImpact(0.5, 4, 100), 0.1);
      strictEqual(squareRootImpact(0.5, 4, undefined), 0);
      strictEqual(squareRootImpact(0, 4, 100), 0);
    });
  });

  describe('latency', () => {
    it('delays an order’s arrival on the scheduler: it fills against the book as it is after the delay, not before', () => {
      const testScheduler = makeTestScheduler();
      testScheduler.run(({ hot, expectObservable }) => {
        const B = book(0, [[19_990, 1]], [[20_000, 1]]);
        const C = book(4, [[20_090, 1]], [[20_100, 1]]);
        const o = order('m', 'buy', '0.1', 2);
        const source = hot<PaperExchangeInput>('B-o-C----|', { B, o, C });
        const venue = makePaperExchange({ ...CONFIG, latency: { meanMs: 3 }, scheduler: testScheduler });
        // arrives at 2 + 3 = 5, after C: 0.1 × 20100 = 2010
        expectObservable(source.pipe(venue)).toBe('B---C(aF)|', {
          B,
          C,
          a: accepted(o, 5),
          F: filled(o, { qty: '0.1', price: 2_010_000_000_000n, notional: 201_000_000_000n, fee: 201_000_000n, ts: 5 }),
        });
      });
    });

    it('without latency the same order fills against the book current when it is sent', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const B = book(0, [[19_990, 1]], [[20_000, 1]]);
        const C = book(4, [[20_090, 1]], [[20_100, 1]]);
        const o = order('m', 'buy', '0.1', 2);
        const source = hot<PaperExchangeInput>('B-o---C--|', { B, o, C });
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe('B-(aF)C--|', {
          B,
          C,
          a: accepted(o),
          F: filled(o, { qty: '0.1', price: 2_000_000_000_000n, notional: 200_000_000_000n, fee: 200_000_000n, ts: 2 }),
        });
      });
    });

    it('keeps commands in the order sent: a cancel drawn a shorter delay than its order still arrives after it', () => {
      const testScheduler = makeTestScheduler();
      testScheduler.run(({ hot, expectObservable }) => {
        // u2 = 0 → z = +√(−2 ln 0.1) ≈ 2.15 (about 18 ms); u2 = 0.5 → z ≈ −2.15 (about 1 ms)
        const draws = [0.9, 0, 0.9, 0.5];
        const makeRandom = () => () => draws.shift() ?? 0;
        const o = limit('l', 'buy', '0.1', 19_000, 0);
        const c = cancel('l', 1);
        const source = hot<PaperExchangeInput>('oc--------------------|', { o, c });
        const venue = makePaperExchange({
          ...CONFIG,
          latency: { meanMs: 5, stdMs: 4 },
          makeRandom,
          scheduler: testScheduler,
        });
        expectObservable(source.pipe(venue, messages(/user cancel/))).toBe('------------------(ax)|', {
          a: accepted(o, 18),
          x: canceled(o, /user cancel/, 18),
        });
      });
    });

    it('draws latencies from a log-normal with the configured mean and standard deviation, the same for the same seed', function () {
      this.timeout(180_000); // thousands of draws: slow on a loaded machine, never timed
      const delays = (seed: number): number[] => {
        const testScheduler = new TestScheduler(deepStrictEqual);
        const out: number[] = [];
        testScheduler.run(() => {
          const orders$ = interval(1_000).pipe(
            take(2_000),
            map((i) => limit(`o${i}`, 'buy', '0.001', 19_000, (i + 1) * 1_000)),
          );
          orders$
            .pipe(
              makePaperExchange({
                ...CONFIG,
                initialCash: u('1000000'),
                latency: { meanMs: 50, stdMs: 30 },
                seed,
                scheduler: testScheduler,
              }),
            )
            .subscribe((e) => {
              if (e.kind === 'order-accepted') out.push(e.tsEvent - Number(e.clientOrderId.slice(1)) * 1_000 - 1_000);
            });
        });
        return out;
      };
      const a = delays(7);
      strictEqual(a.length, 2_000);
      const mean = a.reduce((s, x) => s + x, 0) / a.length;
      const std = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length);
      ok(Math.abs(mean - 50) < 3, `mean ${mean}`);
      ok(Math.abs(std - 30) < 4, `std ${std}`);
      ok(a.every((x) => Number.isInteger(x) && x >= 0));
      deepStrictEqual(delays(7), a);
      ok(delays(8).some((x, i) => x !== a[i]));
      const { mu, sigma } = logNormalParams(50, 30);
      ok(Math.abs(Math.exp(mu + (sigma * sigma) / 2) - 50) < 1e-9);
    });
  });

  describe('rejections', () => {
    it('price not a multiple of the tick (limit and stop prices): PRICE_PRECISION', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const l = limit('l', 'buy', '0.1', 20_000.005, 0);
        const s = order('s', 'sell', '0.1', 1, { type: 'stop-market', stopPrice: 19_999.999 });
        const LP = /limitPrice 20000\.005 is not a multiple of the tick 0\.01/;
        const SP = /stopPrice 19999\.999 is not a multiple of the tick 0\.01/;
        const source = hot<PaperExchangeInput>(line('l', 's', '|'), { l, s });
        expectObservable(source.pipe(makePaperExchange(SHORTABLE), messages(LP, SP))).toBe(line('x', 'y', '|'), {
          x: rejected(l, 'PRICE_PRECISION', LP, 0),
          y: rejected(s, 'PRICE_PRECISION', SP, 1),
        });
      });
    });

    it('qty not a multiple of the lot: QTY_PRECISION; below the minimum qty: BELOW_MIN_QTY; below the minimum notional: BELOW_MIN_NOTIONAL', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const lot = limit('a', 'buy', '0.000015', 20_000, 0);
        const tiny = limit('b', 'buy', '0.000001', 20_000, 1);
        const small = limit('c', 'buy', '0.0002', 20_000, 2);
        const LOT = /qty 0\.000015 is not a multiple of the lot size 0\.00001/;
        const MIN = /qty 0\.000001 below minimum 0\.00001\b/;
        const NOTIONAL = /notional 4 below minimum 5\b/;
        const source = hot<PaperExchangeInput>(line('a', 'b', 'c', '|'), { a: lot, b: tiny, c: small });
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages(LOT, MIN, NOTIONAL))).toBe(
          line('x', 'y', 'z', '|'),
          {
            x: rejected(lot, 'QTY_PRECISION', LOT, 0),
            y: rejected(tiny, 'BELOW_MIN_QTY', MIN, 1),
            z: rejected(small, 'BELOW_MIN_NOTIONAL', NOTIONAL, 2),
          },
        );
      });
    });

    it('a buy the free quote cannot pay fee included: INSUFFICIENT_BALANCE; a spot sell of base not held: INSUFFICIENT_POSITION', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const tooMuch = limit('a', 'buy', '0.49975', 20_000, 0); // 9995 + 9.995 fee
        const fits = limit('b', 'buy', '0.4995', 20_000, 1); // 9990 + 9.99 fee
        const sell = order('c', 'sell', '0.1', 2);
        const CASH = /needs 10004\.995 USDT, free 10000$/;
        const BASE = /sells 0\.1 BTC, holds 0$/;
        const source = hot<PaperExchangeInput>(line('a', 'b', 'c', '|'), { a: tooMuch, b: fits, c: sell });
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages(CASH, BASE, EXPIRED))).toBe(
          line('x', 'B', 'y', 'e|'),
          {
            x: rejected(tooMuch, 'INSUFFICIENT_BALANCE', CASH, 0),
            B: accepted(fits),
            y: rejected(sell, 'INSUFFICIENT_POSITION', BASE, 2),
            e: canceled(fits, EXPIRED, 1),
          },
        );
      });
    });

    it('a resubmitted client order id is rejected and never executes twice: before its fill, after it, after a cancel', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const o = order('o', 'buy', '0.1', 10);
        const B = book(20, [[19_990, 1]], [[20_000, 1]]);
        const r = limit('r', 'buy', '0.1', 19_000, 40);
        const DUP_O = /client order id o was already used; nothing executed/;
        const DUP_R = /client order id r was already used; nothing executed/;
        const source = hot<PaperExchangeInput>(line('o', 'B', 'p', 'r', 'c', 's', '|'), {
          o,
          B,
          p: { ...o, tsEvent: 30 },
          r,
          c: cancel('r', 50),
          s: { ...r, tsEvent: 60 },
        });
        const venue = makePaperExchange(CONFIG);
        expectObservable(source.pipe(venue, messages(DUP_O, DUP_R, /user cancel/))).toBe(
          line('a', 'FB', 'x', 'b', 'y', 'z', '|'),
          {
            a: accepted(o),
            B,
            F: filled(o, {
              qty: '0.1',
              price: 2_000_000_000_000n,
              notional: 200_000_000_000n,
              fee: 200_000_000n,
              ts: 20,
            }),
            x: rejected(o, 'DUPLICATE_CLIENT_ORDER_ID', DUP_O, 30),
            b: accepted(r),
            y: canceled(r, /user cancel/, 50),
            z: rejected(r, 'DUPLICATE_CLIENT_ORDER_ID', DUP_R, 60),
          },
        );
      });
    });

    it('an unknown symbol: UNKNOWN_SYMBOL; a malformed order: EXCHANGE_ERROR', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const doge = order('d', 'buy', '100', 0, { symbol: 'DOGE/USDT' });
        const bad = order('l', 'buy', '0.1', 1, { type: 'limit' });
        const UNKNOWN = /symbol DOGE\/USDT is not traded on this venue/;
        const BAD = /limit order needs limitPrice > 0, got undefined/;
        const source = hot<PaperExchangeInput>(line('d', 'l', '|'), { d: doge, l: bad });
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages(UNKNOWN, BAD))).toBe(line('x', 'y', '|'), {
          x: rejected(doge, 'UNKNOWN_SYMBOL', UNKNOWN, 0),
          y: rejected(bad, 'EXCHANGE_ERROR', BAD, 1),
        });
      });
    });

    it('a cancel of an order that is not open: UNKNOWN_ORDER, with the signal id when the order was known', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const B = book(0, [[19_990, 1]], [[20_000, 1]]);
        const o = order('o', 'buy', '0.1', 10);
        const NEVER = /cancel of nope on BTC\/USDT: order never seen/;
        const CLOSED = /cancel of o on BTC\/USDT: order no longer open/;
        const source = hot<PaperExchangeInput>(line('B', 'o', 'n', 'c', '|'), {
          B,
          o,
          n: cancel('nope', 20),
          c: cancel('o', 30),
        });
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages(NEVER, CLOSED))).toBe(
          line('B', 'aF', 'x', 'y', '|'),
          {
            B,
            a: accepted(o),
            F: filled(o, {
              qty: '0.1',
              price: 2_000_000_000_000n,
              notional: 200_000_000_000n,
              fee: 200_000_000n,
              ts: 10,
            }),
            x: rejected({ clientOrderId: 'nope', signalId: '' }, 'UNKNOWN_ORDER', NEVER, 20),
            y: rejected(o, 'UNKNOWN_ORDER', CLOSED, 30),
          },
        );
      });
    });

    it('more orders per second than the limit: RATE_LIMITED, and the refused id stays free for a retry after the window', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const r1 = limit('r1', 'buy', '0.1', 19_000, 0);
        const r2 = limit('r2', 'buy', '0.1', 19_000, 100);
        const r3 = limit('r3', 'buy', '0.1', 19_000, 200);
        const retry = { ...r3, tsEvent: 1_001 };
        const LIMITED = /2 orders in the last 1000 ms, limit 2\/s; not executed, id not used/;
        const source = hot<PaperExchangeInput>(line('1', '2', '3', 'r', '|'), { 1: r1, 2: r2, 3: r3, r: retry });
        expectObservable(
          source.pipe(makePaperExchange({ ...CONFIG, rateLimit: { ordersPerSecond: 2 } }), messages(LIMITED, EXPIRED)),
        ).toBe(line('a', 'b', 'x', 'c', 'pqr|'), {
          a: accepted(r1),
          b: accepted(r2),
          x: rejected(r3, 'RATE_LIMITED', LIMITED, 200),
          c: accepted(retry),
          p: canceled(r1, EXPIRED, 0),
          q: canceled(r2, EXPIRED, 100),
          r: canceled(retry, EXPIRED, 1_001),
        });
      });
    });
  });

  describe('balance reservation', () => {
    it('a resting buy reserves its quote: a second buy cannot spend the same cash until the first is canceled', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const a = limit('a', 'buy', '0.3', 20_000, 0); // 6000 + 6 fee reserved
        const b = limit('b', 'buy', '0.3', 20_000, 1);
        const c = limit('c', 'buy', '0.3', 20_000, 3);
        const RESERVED = /needs 6006 USDT, free 3994, 6006 reserved by open orders/;
        const source = hot<PaperExchangeInput>(line('a', 'b', 'x', 'c', '|'), { a, b, x: cancel('a', 2), c });
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages(RESERVED, /user cancel/, EXPIRED))).toBe(
          line('A', 'y', 'z', 'C', 'e|'),
          {
            A: accepted(a),
            y: rejected(b, 'INSUFFICIENT_BALANCE', RESERVED, 1),
            z: canceled(a, /user cancel/, 2),
            C: accepted(c),
            e: canceled(c, EXPIRED, 3),
          },
        );
      });
    });

    it('a market buy on the book cannot spend what a resting buy reserved; a resting sell reserves its base', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const B = book(0, [[19_990, 1]], [[20_000, 1]]);
        const held = order('h', 'buy', '0.1', 1); // 2000 + 2
        const sell = limit('s', 'sell', '0.1', 21_000, 2);
        const sell2 = limit('t', 'sell', '0.05', 21_000, 3);
        const rest = limit('r', 'buy', '0.35', 19_000, 4); // 6650 + 6.65 reserved of 7998 cash
        const grab = order('g', 'buy', '0.1', 5); // 2000 + 2 > 7998 − 6656.65 = 1341.35
        const BASE = /sells 0\.05 BTC, holds 0\.1, 0\.1 reserved by open orders/;
        const CASH = /needs 2002 USDT, free 1341\.35, 6656\.65 reserved by open orders/;
        const source = hot<PaperExchangeInput>(line('B', 'h', 's', 't', 'r', 'g', '|'), {
          B,
          h: held,
          s: sell,
          t: sell2,
          r: rest,
          g: grab,
        });
        const OPEN = /EXPIRED: market data ended with the order open/;
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages(BASE, CASH, OPEN))).toBe(
          line('B', 'HF', 'S', 'x', 'R', 'y', 'pq|'),
          {
            p: canceled(sell, OPEN, 2),
            q: canceled(rest, OPEN, 4),
            B,
            H: accepted(held),
            F: filled(held, {
              qty: '0.1',
              price: 2_000_000_000_000n,
              notional: 200_000_000_000n,
              fee: 200_000_000n,
              ts: 1,
            }),
            S: accepted(sell),
            x: rejected(sell2, 'INSUFFICIENT_POSITION', BASE, 3),
            R: accepted(rest),
            y: rejected(grab, 'INSUFFICIENT_BALANCE', CASH, 5),
          },
        );
      });
    });
  });

  describe('cancels', () => {
    it('cancel-all of a symbol cancels that symbol’s open orders in time order and leaves the others', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const a = limit('a', 'buy', '0.01', 19_000, 0);
        const e = limit('e', 'buy', '0.01', 1_000, 1, { symbol: 'ETH/USDT' });
        const b = limit('b', 'buy', '0.01', 18_000, 2);
        const all: CancelAllOrders = { kind: 'cancel-all', symbol: 'BTC/USDT', reason: 'flatten', tsEvent: 3 };
        const source = hot<PaperExchangeInput>(line('a', 'e', 'b', 'x', 'c', '|'), {
          a,
          e,
          b,
          x: all,
          c: cancel('e', 4, 'user cancel', 'ETH/USDT'),
        });
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages(/flatten/, /user cancel/))).toBe(
          line('A', 'E', 'B', 'xy', 'z', '|'),
          {
            A: accepted(a),
            E: accepted(e),
            B: accepted(b),
            x: canceled(a, /flatten/, 3),
            y: canceled(b, /flatten/, 3),
            z: canceled(e, /user cancel/, 4),
          },
        );
      });
    });
  });

  describe('stream lifecycle', () => {
    it('passes a source error through and drops orders still in flight', () => {
      const testScheduler = makeTestScheduler();
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const o = limit('l', 'buy', '0.1', 19_000, 0);
        const source = hot<PaperExchangeInput>('o-#', { o }, new Error('feed down'));
        const venue = makePaperExchange({ ...CONFIG, latency: { meanMs: 5 }, scheduler: testScheduler });
        expectObservable(source.pipe(venue)).toBe('--#', {}, new Error('feed down'));
        expectSubscriptions(source.subscriptions).toBe('^-!');
      });
    });

    it('completes without output on an empty source', () => {
      makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<PaperExchangeInput>('--|');
        expectObservable(source.pipe(makePaperExchange(CONFIG))).toBe('--|');
        expectSubscriptions(source.subscriptions).toBe('^-!');
      });
    });

    it('completes only after the orders in flight have reached the engine, reporting what is still open as EXPIRED', () => {
      const testScheduler = makeTestScheduler();
      testScheduler.run(({ hot, expectObservable }) => {
        const o = limit('l', 'buy', '0.1', 19_000, 0);
        const source = hot<PaperExchangeInput>('o|', { o });
        const venue = makePaperExchange({ ...CONFIG, latency: { meanMs: 3 }, scheduler: testScheduler });
        const NEVER_PRICED = /^EXPIRED: market data ended before a price after 3 arrived$/;
        expectObservable(source.pipe(venue, messages(NEVER_PRICED))).toBe('---(ae|)', {
          a: accepted(o, 3),
          e: canceled(o, NEVER_PRICED, 3),
        });
      });
    });

    it('reports a resting order, a partly filled one and an armed stop still open at the end as EXPIRED with what is unfilled', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const B = book(0, [[19_990, 1]], [[20_000, 0.1]]);
        const part = limit('p', 'buy', '0.3', 20_000, 1);
        const stop = order('s', 'buy', '0.1', 2, { type: 'stop-market', stopPrice: 21_000 });
        const PART = /^EXPIRED: market data ended with the order open, 0\.2 of 0\.3 unfilled$/;
        const STOP = /^EXPIRED: market data ended with the order open, 0\.1 of 0\.1 unfilled$/;
        const source = hot<PaperExchangeInput>(line('B', 'p', 's', '|'), { B, p: part, s: stop });
        expectObservable(source.pipe(makePaperExchange(CONFIG), messages(PART, STOP))).toBe(
          line('B', 'aF', 'b', 'xy|'),
          {
            B,
            a: accepted(part),
            F: filled(part, {
              qty: '0.1',
              price: 2_000_000_000_000n,
              notional: 200_000_000_000n,
              fee: 200_000_000n,
              leaves: '0.2',
              ts: 1,
            }),
            b: accepted(stop),
            x: canceled(part, PART, 1),
            y: canceled(stop, STOP, 2),
          },
        );
      });
    });

    it('unsubscribed early, it unsubscribes from the source and an order in flight never arrives', () => {
      const testScheduler = makeTestScheduler();
      testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
        const o = limit('l', 'buy', '0.1', 19_000, 0);
        const source = hot<PaperExchangeInput>('o------|', { o });
        const venue = makePaperExchange({ ...CONFIG, latency: { meanMs: 5 }, scheduler: testScheduler });
        expectObservable(source.pipe(venue), '^--!').toBe('----');
        expectSubscriptions(source.subscriptions).toBe('^--!');
      });
    });

    it('sends an exception of the random generator to the error channel', () => {
      const testScheduler = makeTestScheduler();
      testScheduler.run(({ hot, expectObservable }) => {
        const o = limit('l', 'buy', '0.1', 19_000, 0);
        const source = hot<PaperExchangeInput>('-o-|', { o });
        const makeRandom = () => (): number => {
          throw new Error('entropy gone');
        };
        const venue = makePaperExchange({ ...CONFIG, latency: { meanMs: 5 }, makeRandom, scheduler: testScheduler });
        expectObservable(source.pipe(venue)).toBe('-#', {}, new Error('entropy gone'));
      });
    });

    it('gives every subscription its own account, order ids and random generator', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const B = book(0, [[19_990, 1]], [[20_000, 1]]);
        const o = order('o', 'buy', '0.1', 1);
        const venue$ = cold<PaperExchangeInput>('Bo---|', { B, o }).pipe(makePaperExchange(CONFIG));
        const values = {
          B,
          a: accepted(o),
          F: filled(o, { qty: '0.1', price: 2_000_000_000_000n, notional: 200_000_000_000n, fee: 200_000_000n, ts: 1 }),
        };
        expectObservable(venue$).toBe('B(aF)|', values);
        expectObservable(venue$).toBe('B(aF)|', values);
      });
    });
  });

  describe('config', () => {
    it('fails before subscription with the key, what was expected and what was found', () => {
      const cases: [Partial<PaperExchangeConfig>, RegExp][] = [
        [{ takerFeeBps: -1 }, /feeTiers\[0\]\.takerBps: expected basis points ≥ 0, found -1/],
        [
          { feeTiers: [BINANCE_SPOT_FEE_TIERS[1]!] },
          /feeTiers: expected a non-empty list whose first tier starts at volume 0/,
        ],
        [
          { feeTiers: [BINANCE_SPOT_FEE_TIERS[0]!, BINANCE_SPOT_FEE_TIERS[0]!] },
          /feeTiers\[1\]\.minVolume30d: expected strictly ascending volumes, found 0n/,
        ],
        [{ latency: { meanMs: -5 } }, /latency\.meanMs: expected ms ≥ 0, found -5/],
        [{ rateLimit: { ordersPerSecond: 0.5 } }, /rateLimit\.ordersPerSecond: expected an integer ≥ 1, found 0\.5/],
        [
          { impact: { gamma: 0.1, adv: { 'BTC/USDT': 0 } } },
          /impact\.adv\.BTC\/USDT: expected base units per day > 0, found 0/,
        ],
        [{ instruments: [] }, /instruments: expected a non-empty list of instruments/],
      ];
      for (const [patch, message] of cases) {
        throws(
          () => makePaperExchange({ ...CONFIG, ...patch }),
          (err: unknown) => err instanceof PaperExchangeConfigError && message.test(err.message),
        );
      }
    });

    it('defaults to Binance’s spot VIP tiers when no fee is configured', () => {
      makeTestScheduler().run(({ hot, expectObservable }) => {
        const B = book(0, [[19_990, 1]], [[20_000, 1]]);
        const o = order('o', 'buy', '0.1', 1);
        const source = hot<PaperExchangeInput>(line('B', 'o', '|'), { B, o });
        const venue = makePaperExchange({ instruments: [BTC_USDT], initialCash: u('10000'), quote: 'USDT' });
        expectObservable(source.pipe(venue)).toBe(line('B', 'aF', '|'), {
          B,
          a: accepted(o),
          F: filled(o, { qty: '0.1', price: 2_000_000_000_000n, notional: 200_000_000_000n, fee: 200_000_000n, ts: 1 }),
        });
      });
    });
  });

  describe('properties', () => {
    const INSTRUMENT: Instrument = { ...BTC_USDT, minNotional: u('1') };
    const GAMMA = 0.1;
    const ADV = 50;

    type Step =
      | { readonly t: 'book'; readonly move: number; readonly spread: number; readonly depth: readonly number[] }
      | { readonly t: 'trade'; readonly offset: number; readonly qty: number }
      | { readonly t: 'bar'; readonly move: number; readonly range: number }
      | {
          readonly t: 'order';
          readonly type: Order['type'];
          readonly side: Side;
          readonly lots: number;
          readonly offset: number;
          readonly tif: 'GTC' | 'IOC' | 'FOK';
          readonly group: number;
        }
      | { readonly t: 'cancel'; readonly index: number }
      | { readonly t: 'cancel-all' };

    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      fc.record({
        t: fc.constant('book' as const),
        move: fc.integer({ min: -300, max: 300 }),
        spread: fc.integer({ min: 1, max: 20 }),
        depth: fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 0, maxLength: 4 }),
      }),
      fc.record({
        t: fc.constant('trade' as const),
        offset: fc.integer({ min: -400, max: 400 }),
        qty: fc.integer({ min: 1, max: 30_000 }),
      }),
      fc.record({
        t: fc.constant('bar' as const),
        move: fc.integer({ min: -300, max: 300 }),
        range: fc.integer({ min: 0, max: 300 }),
      }),
      fc.record({
        t: fc.constant('order' as const),
        type: fc.constantFrom<Order['type']>(
          'market',
          'limit',
          'stop-market',
          'stop-limit',
          'take-profit-market',
          'take-profit-limit',
          'trailing-stop',
        ),
        side: fc.constantFrom<Side>('buy', 'sell'),
        lots: fc.integer({ min: 1, max: 40_000 }),
        offset: fc.integer({ min: -300, max: 300 }),
        tif: fc.constantFrom('GTC' as const, 'IOC' as const, 'FOK' as const),
        group: fc.integer({ min: 0, max: 2 }),
      }),
      fc.record({ t: fc.constant('cancel' as const), index: fc.nat() }),
      fc.record({ t: fc.constant('cancel-all' as const) }),
    );

    /** Inputs of a scenario: a random walk of the market around 20000 with orders in between. */
    function inputsOf(steps: readonly Step[]): { inputs: PaperExchangeInput[]; orders: Map<string, Order> } {
      let mid = 20_000;
      let ts = 0;
      const inputs: PaperExchangeInput[] = [];
      const orders = new Map<string, Order>();
      const ids: string[] = [];
      steps.forEach((step, i) => {
        ts += 1_000;
        const cents = (x: number): number => Math.round(x * 100) / 100;
        switch (step.t) {
          case 'book': {
            mid = cents(Math.max(1_000, mid + step.move / 10));
            const half = step.spread / 200;
            const asks = step.depth.map((q, k): [number, number] => [cents(mid + half + k), q / 1e5]);
            const bids = step.depth.map((q, k): [number, number] => [cents(mid - half - k), q / 1e5]);
            inputs.push(book(ts, bids, asks));
            break;
          }
          case 'trade':
            inputs.push(tick(ts, cents(mid + step.offset / 10), step.qty / 1e5, `t${i}`));
            break;
          case 'bar': {
            const open = mid;
            mid = cents(Math.max(1_000, mid + step.move / 10));
            const range = step.range / 10;
            inputs.push({
              ...bar(ts - 1_000, {
                o: open,
                c: mid,
                h: cents(Math.max(open, mid) + range),
                l: cents(Math.min(open, mid) - range),
                v: 0.5,
              }),
              tsEvent: ts,
            });
            break;
          }
          case 'order': {
            const id = `o${i}`;
            const price = cents(mid + step.offset / 10);
            const extra: { -readonly [K in keyof Order]?: Order[K] } = { type: step.type, timeInForce: step.tif };
            if (step.type.endsWith('limit')) extra.limitPrice = price;
            if (step.type.startsWith('stop') || step.type.startsWith('take-profit')) {
              extra.stopPrice = cents(mid + (step.offset >= 0 ? 1 : -1) * (Math.abs(step.offset) / 10 + 1));
              if (extra.limitPrice !== undefined) extra.limitPrice = extra.stopPrice;
            }
            if (step.type === 'trailing-stop') extra.trailingBps = 10 + Math.abs(step.offset);
            if (step.group > 0) extra.ocoGroup = `g${step.group}`;
            const o = order(id, step.side, (step.lots / 1e5).toFixed(5), ts, extra);
            orders.set(id, o);
            ids.push(id);
            inputs.push(o);
            break;
          }
          case 'cancel':
            if (ids.length > 0) inputs.push(cancel(ids[step.index % ids.length]!, ts));
            break;
          case 'cancel-all':
            inputs.push({ kind: 'cancel-all', reason: 'flatten', tsEvent: ts });
            break;
        }
      });
      return { inputs, orders };
    }

    const venueConfig = (allowShort: boolean, makerBps: number): PaperExchangeConfig => ({
      instruments: [INSTRUMENT],
      initialCash: u('10000'),
      quote: 'USDT',
      allowShort,
      feeTiers: [
        { name: 'base', minVolume30d: 0n, makerBps, takerBps: 10 },
        { name: 'pro', minVolume30d: u('5000'), makerBps: makerBps / 2, takerBps: 7.5 },
      ],
      impact: { gamma: GAMMA, adv: { 'BTC/USDT': ADV } },
    });

    it('the account always reconciles exactly: cash + cost basis − realized PnL + fees = initial cash; cash and spot positions never go negative; each order’s fills add up to its quantity', () => {
      fc.assert(
        fc.property(
          fc.array(stepArb, { minLength: 1, maxLength: 80 }),
          fc.boolean(),
          fc.constantFrom(-1, 0, 2, 10),
          (steps, allowShort, makerBps) => {
            const { inputs, orders } = inputsOf(steps);
            const out = runAll(makePaperExchange(venueConfig(allowShort, makerBps)), inputs);
            let account: Portfolio = initialPortfolio({ initialCash: u('10000'), quote: 'USDT' });
            let cash = u('10000');
            const cumulative = new Map<string, Units>();
            const closed = new Set<string>();
            for (const event of out) {
              if (event.kind === 'order-accepted' || event.kind === 'order-unknown') continue;
              if (event.kind === 'order-rejected') {
                if (event.code !== 'DUPLICATE_CLIENT_ORDER_ID') closed.add(event.clientOrderId);
                continue;
              }
              if (event.kind === 'order-canceled') {
                ok(!closed.has(event.clientOrderId), `canceled after close: ${event.clientOrderId}`);
                closed.add(event.clientOrderId);
                continue;
              }
              if (event.kind !== 'fill') continue;
              const o = orders.get(event.clientOrderId)!;
              ok(!closed.has(o.clientOrderId), `fill after close: ${o.clientOrderId}`);
              ok(event.qty > 0n && event.qty % INSTRUMENT.qtyStep === 0n, 'fill qty is a positive multiple of the lot');
              strictEqual(event.notional, notionalOf(event.qty, event.price));
              if (event.liquidity === 'taker')
                ok(
                  event.fee >= feeOf(event.notional, 750n) && event.fee <= feeOf(event.notional, 1000n),
                  'taker fee within the tier rates',
                );
              const total = (cumulative.get(o.clientOrderId) ?? 0n) + event.qty;
              cumulative.set(o.clientOrderId, total);
              strictEqual(event.leavesQty, o.qty - total);
              if (event.leavesQty === 0n) closed.add(o.clientOrderId);
              account = applyFill(account, event);
              cash += (event.side === 'buy' ? -event.notional : event.notional) - event.fee;
              strictEqual(accountingResidual(account), 0n);
              strictEqual(account.cash, cash);
              ok(account.cash >= 0n, `cash ${account.cash} < 0`);
              if (!allowShort)
                for (const p of Object.values(account.positions)) ok(p.qty >= 0n, `short ${p.qty} without allowShort`);
            }
          },
        ),
        { numRuns: 300 },
      );
    });

    it('no taker fill is outside the book and trade prices of its moment widened by slippage and impact; a maker fill is at its limit, which the market went through', () => {
      fc.assert(
        fc.property(
          fc.array(
            stepArb.filter((s) => s.t !== 'bar'),
            { minLength: 1, maxLength: 80 },
          ),
          fc.boolean(),
          (steps, allowShort) => {
            const { inputs, orders } = inputsOf(steps);
            const subject = new Subject<PaperExchangeInput>();
            let emitted: PaperExchangeOutput[] = [];
            subject.pipe(makePaperExchange(venueConfig(allowShort, 2))).subscribe((e) => emitted.push(e));
            let current: OrderBook | undefined;
            for (const input of inputs) {
              emitted = [];
              subject.next(input);
              if (input.kind === 'book') current = input;
              const prices = [
                ...(current ? [...current.bids, ...current.asks].map(([p]) => p) : []),
                ...(input.kind === 'trade' ? [input.price] : []),
              ];
              for (const event of emitted) {
                if (event.kind !== 'fill') continue;
                const o = orders.get(event.clientOrderId)!;
                const price = unitsToNumber(event.price);
                if (event.liquidity === 'maker') {
                  strictEqual(event.price, u(o.limitPrice!));
                  const through =
                    input.kind === 'trade'
                      ? o.side === 'buy'
                        ? input.price < o.limitPrice!
                        : input.price > o.limitPrice!
                      : input.kind === 'book' &&
                        (o.side === 'buy'
                          ? input.asks.some(([p]) => p < o.limitPrice!)
                          : input.bids.some(([p]) => p > o.limitPrice!));
                  ok(through, `maker fill of ${o.clientOrderId} at ${price} without the market going through it`);
                  continue;
                }
                ok(prices.length > 0, `taker fill of ${o.clientOrderId} with no price at all`);
                const move = 0.0002 + GAMMA * Math.sqrt(unitsToNumber(o.qty) / ADV);
                const lo = Math.min(...prices) * (1 - move) - 1e-8;
                const hi = Math.max(...prices) * (1 + move) + 1e-8;
                ok(price >= lo && price <= hi, `taker fill of ${o.clientOrderId} at ${price} outside [${lo}, ${hi}]`);
                if (o.limitPrice !== undefined)
                  ok(o.side === 'buy' ? price <= o.limitPrice : price >= o.limitPrice, 'a limit is never passed');
              }
            }
            subject.complete();
          },
        ),
        { numRuns: 300 },
      );
    });

    it('is deterministic: the same inputs and seed give the same outputs, latency included', () => {
      fc.assert(
        fc.property(fc.array(stepArb, { minLength: 1, maxLength: 40 }), fc.integer(), (steps, seed) => {
          const { inputs } = inputsOf(steps);
          const run = (): [number, PaperExchangeOutput][] => {
            const testScheduler = new TestScheduler(deepStrictEqual);
            const out: [number, PaperExchangeOutput][] = [];
            testScheduler.run(() => {
              const source$ = interval(10).pipe(
                take(inputs.length),
                map((i) => inputs[i]!),
              );
              source$
                .pipe(
                  makePaperExchange({
                    ...venueConfig(false, 2),
                    latency: { meanMs: 20, stdMs: 15 },
                    seed,
                    scheduler: testScheduler,
                  }),
                )
                .subscribe((e) => out.push([testScheduler.now(), e]));
            });
            return out;
          };
          deepStrictEqual(run(), run());
        }),
        { numRuns: 100 },
      );
    });
  });
});
