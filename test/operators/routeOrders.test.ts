/**
 * routeOrders: for each order, the venue — or split across venues — with the best effective price
 * after taker fees and depth, each leg within its venue's lot and minimums; limit remainders rest
 * where making is cheapest; stale books and books from after the order are not used.
 */
import { ok, strictEqual, throws } from 'node:assert/strict';
import { toUnits, type Units } from '../../operators/money';
import {
  childId,
  routeOrders,
  type RouteInput,
  type RouteLeg,
  type RouteOrdersConfig,
  type RoutePlan,
} from '../../operators/routeOrders';
import type { Instrument, Order, OrderBook, Side } from '../../operators/types';
import { BTC_USDT } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';
import { assertThrowingInputReachesErrorChannel } from '../support/errorChannel';

const u = toUnits;

const A_BTC: Instrument = { ...BTC_USDT, venue: 'alpha' };
const B_BTC: Instrument = { ...BTC_USDT, venue: 'beta' };

/** alpha: taker 10 bps, maker 8; beta: taker 2 bps, maker 0. */
const CONFIG: RouteOrdersConfig = {
  venues: [
    { venue: 'alpha', instruments: [A_BTC], takerFeeBps: 10, makerFeeBps: 8 },
    { venue: 'beta', instruments: [B_BTC], takerFeeBps: 2, makerFeeBps: 0 },
  ],
};

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
    reducesRisk: false,
    configHash: 'cfg',
    tsEvent,
    ...extra,
  };
}

function book(venue: string, tsEvent: number, bids: [number, number][], asks: [number, number][]): OrderBook {
  return { kind: 'book', venue, symbol: 'BTC/USDT', bids, asks, sequence: tsEvent, tsEvent, tsInit: tsEvent };
}

function leg(
  parent: Order,
  venue: string,
  index: number,
  qty: string,
  take: { qty: string; price: number | undefined; notional: Units; fee: Units },
): RouteLeg {
  return {
    venue,
    order: { ...parent, clientOrderId: `${parent.clientOrderId}-${index}`, qty: u(qty) },
    takeQty: u(take.qty),
    expectedPrice: take.price,
    expectedNotional: take.notional,
    expectedFee: take.fee,
  };
}

function plan(parent: Order, legs: RouteLeg[], unrouted: string, expectedQuote: Units, reason: string): RoutePlan {
  return { kind: 'route', parent, legs, unroutedQty: u(unrouted), expectedQuote, reason, tsEvent: parent.tsEvent };
}

describe('routeOrders', () => {
  it('sends the whole order to the venue with the best price after fees, even when its book price is worse', () => {
    makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const a = book('alpha', 0, [[19_990, 1]], [[20_000, 1]]); // 20000 × 1.001 = 20020
      const b = book('beta', 0, [[19_990, 1]], [[20_010, 1]]); // 20010 × 1.0002 = 20014.002
      const o = order('p', 'buy', '0.1', 10);
      const source = hot<RouteInput>('a-b-o-|', { a, b, o });
      const expected = '              ----x-|';
      expectObservable(source.pipe(routeOrders(CONFIG))).toBe(expected, {
        // 0.1 × 20010 = 2001, fee 2 bps 0.4002
        x: plan(
          o,
          [leg(o, 'beta', 1, '0.1', { qty: '0.1', price: 20_010, notional: 200_100_000_000n, fee: 40_020_000n })],
          '0',
          200_140_020_000n,
          'best effective price after fees: beta 0.1 @ 20010',
        ),
      });
      expectSubscriptions(source.subscriptions).toBe('^-----!');
    });
  });

  it('splits when the cheapest venue’s depth runs out before the other venue gets dearer', () => {
    makeTestScheduler().run(({ hot, expectObservable }) => {
      const a = book('alpha', 0, [[19_990, 1]], [[20_000, 0.5]]); // 20020 effective
      const b = book(
        'beta',
        0,
        [[19_990, 1]],
        [
          [20_010, 0.2],
          [20_030, 1],
        ],
      ); // 20014.002, then 20034.006
      const o = order('p', 'buy', '0.5', 10);
      const source = hot<RouteInput>('a-b-o-|', { a, b, o });
      expectObservable(source.pipe(routeOrders(CONFIG))).toBe('----x-|', {
        x: plan(
          o,
          [
            // 0.3 × 20000 = 6000, fee 6
            leg(o, 'alpha', 0, '0.3', { qty: '0.3', price: 20_000, notional: 600_000_000_000n, fee: 600_000_000n }),
            // 0.2 × 20010 = 4002, fee 0.8004
            leg(o, 'beta', 1, '0.2', { qty: '0.2', price: 20_010, notional: 400_200_000_000n, fee: 80_040_000n }),
          ],
          '0',
          1_000_880_040_000n, // 6006 + 4002.8004
          'best effective price after fees: alpha 0.3 @ 20000, beta 0.2 @ 20010',
        ),
      });
    });
  });

  it('with split: false gives the order to the one venue that fills it at the best effective average', () => {
    makeTestScheduler().run(({ hot, expectObservable }) => {
      const a = book('alpha', 0, [[19_990, 1]], [[20_000, 0.5]]); // all at 20020 effective
      const b = book(
        'beta',
        0,
        [[19_990, 1]],
        [
          [20_010, 0.2],
          [20_030, 1],
        ],
      ); // average 20022 → 20026.0044 effective
      const o = order('p', 'buy', '0.5', 10);
      const source = hot<RouteInput>('a-b-o-|', { a, b, o });
      expectObservable(source.pipe(routeOrders({ ...CONFIG, split: false }))).toBe('----x-|', {
        x: plan(
          o,
          [leg(o, 'alpha', 0, '0.5', { qty: '0.5', price: 20_000, notional: 1_000_000_000_000n, fee: 1_000_000_000n })],
          '0',
          1_001_000_000_000n,
          'single venue: alpha 0.5 @ 20000',
        ),
      });
    });
  });

  it('sells where the bid after fees is highest', () => {
    makeTestScheduler().run(({ hot, expectObservable }) => {
      const a = book('alpha', 0, [[20_000, 1]], [[20_010, 1]]); // 19980 effective
      const b = book('beta', 0, [[19_990, 1]], [[20_010, 1]]); // 19986.002 effective
      const o = order('p', 'sell', '0.1', 10);
      const source = hot<RouteInput>('a-b-o-|', { a, b, o });
      // 0.1 × 19990 = 1999, fee 0.3998, received 1998.6002
      expectObservable(source.pipe(routeOrders(CONFIG))).toBe('----x-|', {
        x: plan(
          o,
          [leg(o, 'beta', 1, '0.1', { qty: '0.1', price: 19_990, notional: 199_900_000_000n, fee: 39_980_000n })],
          '0',
          199_860_020_000n,
          'best effective price after fees: beta 0.1 @ 19990',
        ),
      });
    });
  });

  it('reports what the visible books cannot fill of a market order as unroutedQty', () => {
    makeTestScheduler().run(({ hot, expectObservable }) => {
      const a = book('alpha', 0, [[19_990, 1]], [[20_000, 0.1]]);
      const b = book('beta', 0, [[19_990, 1]], [[20_010, 0.1]]);
      const o = order('p', 'buy', '0.5', 10);
      const source = hot<RouteInput>('a-b-o-|', { a, b, o });
      expectObservable(source.pipe(routeOrders(CONFIG))).toBe('----x-|', {
        x: plan(
          o,
          [
            leg(o, 'alpha', 0, '0.1', { qty: '0.1', price: 20_000, notional: 200_000_000_000n, fee: 200_000_000n }),
            leg(o, 'beta', 1, '0.1', { qty: '0.1', price: 20_010, notional: 200_100_000_000n, fee: 40_020_000n }),
          ],
          '0.3',
          400_340_020_000n, // 2002 + 2001.4002
          'best effective price after fees: alpha 0.1 @ 20000, beta 0.1 @ 20010; unrouted 0.3 (beyond visible depth)',
        ),
      });
    });
  });

  it('takes only levels at or better than a limit and rests the remainder where the maker fee is lowest', () => {
    makeTestScheduler().run(({ hot, expectObservable }) => {
      const a = book(
        'alpha',
        0,
        [[19_990, 1]],
        [
          [20_000, 0.2],
          [20_010, 1],
        ],
      );
      const b = book('beta', 0, [[19_990, 1]], [[20_006, 1]]); // above the limit
      const o = order('p', 'buy', '0.5', 10, { type: 'limit', limitPrice: 20_005 });
      const source = hot<RouteInput>('a-b-o-|', { a, b, o });
      expectObservable(source.pipe(routeOrders(CONFIG))).toBe('----x-|', {
        x: plan(
          o,
          [
            leg(o, 'alpha', 0, '0.2', { qty: '0.2', price: 20_000, notional: 400_000_000_000n, fee: 400_000_000n }),
            leg(o, 'beta', 1, '0.3', { qty: '0', price: undefined, notional: 0n, fee: 0n }),
          ],
          '0',
          400_400_000_000n,
          'best effective price after fees: alpha 0.2 @ 20000, beta 0.3; rest 0.3 rests on beta (lowest maker fee)',
        ),
      });
    });
  });

  it('does not use a book older than maxBookAgeMs or one stamped after the order (no lookahead)', () => {
    makeTestScheduler().run(({ hot, expectObservable }) => {
      const stale = book('beta', 0, [[19_990, 1]], [[19_000, 1]]);
      const a = book('alpha', 9_000, [[19_990, 1]], [[20_000, 1]]);
      const o = order('p', 'buy', '0.1', 10_000); // beta's book is 10 s old
      const future = book('beta', 20_001, [[19_990, 1]], [[19_000, 1]]);
      const q = order('q', 'buy', '0.1', 20_000); // beta's book is from after q; alpha's is 11 s old
      const source = hot<RouteInput>('s-a-o-f-q-|', { s: stale, a, o, f: future, q });
      expectObservable(source.pipe(routeOrders(CONFIG))).toBe('----x---y-|', {
        x: plan(
          o,
          [leg(o, 'alpha', 0, '0.1', { qty: '0.1', price: 20_000, notional: 200_000_000_000n, fee: 200_000_000n })],
          '0',
          200_200_000_000n,
          'best effective price after fees: alpha 0.1 @ 20000',
        ),
        y: plan(q, [], '0.1', 0n, 'no venue has liquidity; unrouted 0.1 (beyond visible depth)'),
      });
    });
  });

  it('rounds each leg down to its venue’s lot and gives the rest to the next best venue', () => {
    const fine: Instrument = { ...B_BTC, qtyStep: u('0.001'), minQty: u('0.001') };
    makeTestScheduler().run(({ hot, expectObservable }) => {
      const a = book('alpha', 0, [[19_990, 1]], [[20_010, 1]]); // 20030.01 effective
      const b = book('beta', 0, [[19_990, 1]], [[20_000, 0.0125]]); // 20004 effective, 0.012 in beta's lots
      const o = order('p', 'buy', '0.02', 10);
      const source = hot<RouteInput>('a-b-o-|', { a, b, o });
      expectObservable(
        source.pipe(routeOrders({ venues: [CONFIG.venues[0]!, { ...CONFIG.venues[1]!, instruments: [fine] }] })),
      ).toBe('----x-|', {
        x: plan(
          o,
          [
            // 0.008 × 20010 = 160.08, fee 0.16008
            leg(o, 'alpha', 0, '0.008', { qty: '0.008', price: 20_010, notional: 16_008_000_000n, fee: 16_008_000n }),
            // 0.012 × 20000 = 240, fee 0.048
            leg(o, 'beta', 1, '0.012', { qty: '0.012', price: 20_000, notional: 24_000_000_000n, fee: 4_800_000n }),
          ],
          '0',
          40_028_808_000n,
          'best effective price after fees: alpha 0.008 @ 20010, beta 0.012 @ 20000',
        ),
      });
    });
  });

  it('drops a leg below its venue’s minimum notional and routes that quantity elsewhere', () => {
    const strict: Instrument = { ...B_BTC, minNotional: u('50') };
    makeTestScheduler().run(({ hot, expectObservable }) => {
      const a = book('alpha', 0, [[19_990, 1]], [[20_010, 1]]);
      const b = book('beta', 0, [[19_990, 1]], [[20_000, 0.002]]); // 0.002 × 20000 = 40 < 50
      const o = order('p', 'buy', '0.02', 10);
      const source = hot<RouteInput>('a-b-o-|', { a, b, o });
      expectObservable(
        source.pipe(routeOrders({ venues: [CONFIG.venues[0]!, { ...CONFIG.venues[1]!, instruments: [strict] }] })),
      ).toBe('----x-|', {
        x: plan(
          o,
          [leg(o, 'alpha', 0, '0.02', { qty: '0.02', price: 20_010, notional: 40_020_000_000n, fee: 40_020_000n })],
          '0',
          40_060_020_000n,
          'best effective price after fees: alpha 0.02 @ 20010; dropped beta (qty 0.002, notional 40 below its minimum)',
        ),
      });
    });
  });

  it('does not split a stop: the venue with the best effective top of book takes all of it', () => {
    makeTestScheduler().run(({ hot, expectObservable }) => {
      const a = book('alpha', 0, [[19_990, 1]], [[20_000, 0.01]]);
      const b = book('beta', 0, [[19_990, 1]], [[20_010, 0.01]]);
      const o = order('p', 'buy', '0.5', 10, { type: 'stop-market', stopPrice: 21_000 });
      const source = hot<RouteInput>('a-b-o-|', { a, b, o });
      expectObservable(source.pipe(routeOrders(CONFIG))).toBe('----x-|', {
        x: plan(
          o,
          [leg(o, 'beta', 1, '0.5', { qty: '0', price: undefined, notional: 0n, fee: 0n })],
          '0',
          0n,
          'stop-market not split: best effective top of book → beta',
        ),
      });
    });
  });

  it('leaves an order no configured venue trades unrouted', () => {
    makeTestScheduler().run(({ hot, expectObservable }) => {
      const o = order('p', 'buy', '1', 10, { symbol: 'DOGE/USDT' });
      const source = hot<RouteInput>('o-|', { o });
      expectObservable(source.pipe(routeOrders(CONFIG))).toBe('x-|', {
        x: plan(o, [], '1', 0n, 'no configured venue trades DOGE/USDT'),
      });
    });
  });

  describe('stream lifecycle', () => {
    it('sends a throwing input to the error channel and unsubscribes', () => {
      assertThrowingInputReachesErrorChannel(() => routeOrders(CONFIG), book('alpha', 0, [], []) as RouteInput);
    });

    it('passes a source error through', () => {
      makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const source = hot<RouteInput>('-a-#', { a: book('alpha', 0, [], []) }, new Error('feed down'));
        expectObservable(source.pipe(routeOrders(CONFIG))).toBe('---#', {}, new Error('feed down'));
        expectSubscriptions(source.subscriptions).toBe('^--!');
      });
    });

    it('completes without output on an empty source', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        expectObservable(cold<RouteInput>('--|').pipe(routeOrders(CONFIG))).toBe('--|');
      });
    });

    it('unsubscribes from the source when unsubscribed early', () => {
      makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
        const o = order('p', 'buy', '1', 10);
        const source = hot<RouteInput>('---o-|', { o });
        expectObservable(source.pipe(routeOrders(CONFIG)), '^-!').toBe('---');
        expectSubscriptions(source.subscriptions).toBe('^-!');
      });
    });

    it('keeps the books of each subscription to itself', () => {
      makeTestScheduler().run(({ cold, expectObservable }) => {
        const a = book('alpha', 0, [[19_990, 1]], [[20_000, 1]]);
        const o = order('p', 'buy', '0.1', 10);
        const routed$ = cold<RouteInput>('a-o|', { a, o }).pipe(routeOrders(CONFIG));
        const x = plan(
          o,
          [leg(o, 'alpha', 0, '0.1', { qty: '0.1', price: 20_000, notional: 200_000_000_000n, fee: 200_000_000n })],
          '0',
          200_200_000_000n,
          'best effective price after fees: alpha 0.1 @ 20000',
        );
        expectObservable(routed$).toBe('--x|', { x });
        expectObservable(cold<RouteInput>('-o|', { o }).pipe(routeOrders(CONFIG))).toBe('-y|', {
          y: plan(o, [], '0.1', 0n, 'no venue has liquidity; unrouted 0.1 (beyond visible depth)'),
        });
      });
    });
  });

  describe('childId', () => {
    it('is <parent>-<venue index>, and a hash of a long parent id kept within 36 characters, deterministically', () => {
      strictEqual(childId('abc', 2), 'abc-2');
      const long = 'x'.repeat(40);
      const id = childId(long, 1);
      strictEqual(id.length, 36);
      ok(/^[A-Za-z0-9_-]+-1$/.test(id));
      strictEqual(childId(long, 1), id);
      ok(childId(`${long}y`, 1) !== id);
    });
  });

  describe('config', () => {
    it('refuses no venues, a duplicate venue id, a fee that is not a number', () => {
      throws(() => routeOrders({ venues: [] }), /venues: expected at least one venue/);
      throws(
        () => routeOrders({ venues: [CONFIG.venues[0]!, CONFIG.venues[0]!] }),
        /venues\[1\]\.venue: expected a unique venue id, found alpha twice/,
      );
      throws(
        () => routeOrders({ venues: [{ ...CONFIG.venues[0]!, takerFeeBps: Number.NaN }] }),
        /venues\[0\]\.takerFeeBps: expected a finite number/,
      );
    });
  });
});
