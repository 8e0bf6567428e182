/**
 * Paper and live venues produce the same order flow for the same signals.
 *
 * One sequence of inputs — orders as the risk gate emits them (deterministic `clientOrderIdFor` ids),
 * cancels, and trades — is fed, item by item and identical, into (a) the paper exchange
 * (`makePaperExchange`) and (b) the live venue (`asVenue(makeCcxtVenue(…))`: the real ccxt binance
 * class over HTTP against the local Binance server and its simulated account). Every trade fed to
 * the venues is also the price the server's matching engine is set to (`setPrice`) just before, so
 * both venues see one market. The order events of the two are then compared; the server's own
 * orders, trades and balances are checked afterwards.
 *
 * Where the venues legitimately differ, the harness normalises explicitly (each one named where it
 * is done):
 * - **Next market event.** The paper venue acts on an order at the next market event after it (a
 *   market order fills at the next trade, a limit starts resting there); the live one acts at once
 *   at the server's price. Every order is therefore followed by a trade at the current price — the
 *   data a live pipeline keeps receiving anyway — and both fill at that one price.
 * - **Slippage.** The server fills a market order at its last price exactly, so the paper venue runs
 *   with `slippageBps: 0`; with slippage the prices would differ by design.
 * - **Fees.** Both charge the same rate, but paper charges quote rounded up, Binance the asset
 *   received (base on buys) rounded half-up, which the live venue converts to quote at the trade
 *   price: fees are compared within that rounding ({@link feeTolerance}), not for equality.
 * - **Time.** Event times are the market event's on paper and the exchange's or the wall clock's
 *   live: not compared. Nor are texts: rejections compare by code, and each venue's text is checked
 *   to be the one that belongs to that code ({@link REJECTION_TEXT}).
 * - **Unpriced market orders.** Paper accepts a market order it has no price for yet and rejects it
 *   at the fill when it cannot be paid; Binance rejects it at once. Set aside by
 *   {@link setAsideProvisionalAcceptances}, which reports what it set aside so a test asserts it.
 * - **Market data.** Only order events are compared here; how market events interleave with fills
 *   is a real difference, pinned in the `where the venues differ` block.
 *
 * The `where the venues differ` block pins behaviour that is not the same and is not normalised
 * away: if one of those tests starts failing because the venues now agree, move the case into the
 * parity scenario.
 */
import { strict as assert } from 'node:assert';
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { VenueInput, VenueOutput } from '../../operators/types';
import { clientOrderIdFor } from '../../operators/gateRisk';
import { divCeil, formatUnits, toUnits, UNITS_PER_ONE, type Units } from '../../operators/money';
import { accountingResidual, applyFill, initialPortfolio, positionQty } from '../../operators/trackPortfolio';
import type { Fill, Order, OrderEvent, OrderRejectCode, TradeTick } from '../../operators/types';
import {
  asVenue,
  makeCcxtVenue,
  type CcxtVenueEvent,
  type VenueAccountSnapshot,
  type VenueBalance,
} from '../../sinks/ccxtVenue';
import { makePaperExchange } from '../../sinks/paperExchange';
import { mountBinanceOrders, type BinanceOrders } from '../support/binanceOrders';
import { startBinanceServer, type BinanceServer } from '../support/binanceServer';
import { consistently, eventually } from '../support/eventually';

// Binance's documentation example credentials.
const API_KEY = 'vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A';
const SECRET = 'NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j';
const ORDER_PATH = '/api/v3/order';
const SYMBOL = 'BTC/USDT';
const BINANCE_SYMBOL = 'BTCUSDT';
const STRATEGY = 'venue-parity';
/** One commission rate for both venues: the server's (maker = taker) and the paper's flat tier. */
const FEE_BPS = 10;
const START_PRICE = 50_000;

// ── the harness ──────────────────────────────────────────────────────────────────────────────────

interface VenueRun {
  readonly input: Subject<VenueInput>;
  readonly output: VenueOutput[];
  readonly errors: unknown[];
  completed: boolean;
  subscription: Subscription | undefined;
}

interface Pair {
  readonly server: BinanceServer;
  readonly exchange: BinanceOrders;
  readonly paper: VenueRun;
  readonly live: VenueRun;
  /** What the live venue reports beside the Venue contract: account snapshot, notices, cancel rejections. */
  readonly liveSide: CcxtVenueEvent[];
  readonly snapshot: VenueAccountSnapshot;
  /** Every order sent, by client order id, with a readable label for assertion messages. */
  readonly orders: Map<string, { readonly label: string; readonly order: Order }>;
  price: number;
  lastTs: number;
  trades: number;
}

function venueRun(): VenueRun {
  return { input: new Subject<VenueInput>(), output: [], errors: [], completed: false, subscription: undefined };
}

function subscribe(run: VenueRun, venue: (source: Observable<VenueInput>) => Observable<VenueOutput>): void {
  run.subscription = venue(run.input).subscribe({
    next: (event) => run.output.push(event),
    error: (error: unknown) => run.errors.push(error),
    complete: () => {
      run.completed = true;
    },
  });
}

/**
 * A local Binance server with a USDT-only account at {@link START_PRICE}, the live venue on it, and a
 * paper exchange configured from what the live venue found at start-up (instruments, quote balance).
 */
async function startPair(): Promise<Pair> {
  const server = await startBinanceServer();
  const exchange = mountBinanceOrders(server, {
    apiKey: API_KEY,
    secret: SECRET,
    // Paper accounts start with quote only: so does this one, or sells would diverge on holdings.
    balances: { USDT: '10000' },
    prices: { [BINANCE_SYMBOL]: String(START_PRICE) },
    commission: String(FEE_BPS / 10_000),
  });
  const live = venueRun();
  const paper = venueRun();
  const liveSide: CcxtVenueEvent[] = [];
  subscribe(
    live,
    asVenue(
      makeCcxtVenue({
        exchange: 'binance',
        apiKey: API_KEY,
        secret: SECRET,
        symbols: [SYMBOL],
        apiUrl: server.url,
        ccxtOptions: { fetchCurrencies: false },
        // Resting orders are seen filled at the next poll: short, so the test does not wait long.
        pollIntervalMs: 40,
      }),
      (event) => liveSide.push(event),
    ),
  );
  let snapshot: VenueAccountSnapshot;
  let usdt: VenueBalance;
  try {
    snapshot = await eventually(() => {
      assert.deepEqual(live.errors, []);
      const found = liveSide.find((e): e is VenueAccountSnapshot => e.kind === 'venue-account');
      assert.ok(found, 'no account snapshot from the live venue yet');
      return found;
    });
    const found = snapshot.balances['USDT'];
    assert.ok(found, 'the live account has USDT');
    usdt = found;
  } catch (error) {
    // No pair to hand to an after hook yet: close what was started here.
    live.subscription?.unsubscribe();
    await server.close();
    throw error;
  }
  subscribe(
    paper,
    makePaperExchange({
      // The exchange's own filters (lot, tick, minimums) as ccxt read them: one rulebook for both.
      instruments: snapshot.instruments,
      initialCash: usdt.total,
      quote: 'USDT',
      takerFeeBps: FEE_BPS,
      makerFeeBps: FEE_BPS,
      // The server fills market orders at its last price exactly; slippage would differ by design.
      slippageBps: 0,
    }),
  );
  return {
    server,
    exchange,
    paper,
    live,
    liveSide,
    snapshot,
    orders: new Map(),
    price: START_PRICE,
    lastTs: 0,
    trades: 0,
  };
}

async function closePair(pair: Pair | undefined): Promise<void> {
  if (!pair) return;
  pair.paper.subscription?.unsubscribe();
  pair.live.subscription?.unsubscribe();
  await pair.server.close();
}

/** Event time of the next input: strictly increasing (paper fills only on a trade after the order), never before the venue started. */
function nextTs(pair: Pair): number {
  pair.lastTs = Math.max(pair.lastTs + 1, Date.now());
  return pair.lastTs;
}

/** The same inputs, in the same order, to both venues. */
function send(pair: Pair, ...inputs: VenueInput[]): void {
  for (const input of inputs) {
    pair.paper.input.next(input);
    pair.live.input.next(input);
  }
}

/** The market trades at `price`: the server's matching engine moves there, then both venues see the trade. */
function trade(pair: Pair, price: number): TradeTick {
  pair.price = price;
  pair.trades += 1;
  const ts = nextTs(pair);
  pair.exchange.setPrice(BINANCE_SYMBOL, String(price));
  // A large quantity: a paper resting order fills up to the trade's quantity, the server's fills whole.
  const tick: TradeTick = {
    kind: 'trade',
    venue: 'binance',
    symbol: SYMBOL,
    price,
    qty: 10,
    side: 'buy',
    tradeId: `t${pair.trades}`,
    tsEvent: ts,
    tsInit: ts,
  };
  send(pair, tick);
  return tick;
}

/**
 * Sends an order to both venues, then the next market event at the unchanged price: the paper venue
 * acts on an order at the next market event, the live one at once (see the module comment).
 */
function submit(pair: Pair, order: Order): void {
  send(pair, order);
  trade(pair, pair.price);
}

/** An order as the risk gate emits it: deterministic client order id from strategy and intent. */
function gateOrder(
  pair: Pair,
  label: string,
  fields: Pick<Order, 'side' | 'type'> & { qty: string } & Partial<Pick<Order, 'limitPrice' | 'stopPrice'>>,
): Order {
  const tsEvent = nextTs(pair);
  const signalId = `${SYMBOL}:1m:${tsEvent}:fused`;
  const intentId = `${signalId}:0`;
  const { qty, ...rest } = fields;
  const order: Order = {
    kind: 'order',
    clientOrderId: clientOrderIdFor(STRATEGY, intentId),
    intentId,
    signalId,
    symbol: SYMBOL,
    qty: toUnits(qty),
    refPrice: pair.price,
    reducesRisk: fields.side === 'sell',
    configHash: 'venue-parity',
    tsEvent,
    ...rest,
  };
  pair.orders.set(order.clientOrderId, { label, order });
  return order;
}

function cancelOf(pair: Pair, order: Order, reason: string): VenueInput {
  return { kind: 'cancel', clientOrderId: order.clientOrderId, symbol: SYMBOL, reason, tsEvent: nextTs(pair) };
}

function isOrderEvent(event: VenueOutput): event is OrderEvent {
  return event.kind !== 'bar' && event.kind !== 'trade';
}

function eventsOf<K extends OrderEvent['kind']>(
  run: VenueRun,
  kind: K,
  order?: Order,
): Extract<OrderEvent, { kind: K }>[] {
  return run.output.filter(
    (e): e is Extract<OrderEvent, { kind: K }> =>
      e.kind === kind && (order === undefined || (e as OrderEvent).clientOrderId === order.clientOrderId),
  );
}

/** Waits until the live venue (asynchronous, over HTTP) has reported `count` events of `kind` for `order`. */
async function liveReports(pair: Pair, order: Order, kind: OrderEvent['kind'], count = 1): Promise<void> {
  await eventually(() => {
    assert.deepEqual(pair.live.errors, []);
    assert.ok(
      eventsOf(pair.live, kind, order).length >= count,
      `live venue: no ${kind} for ${pair.orders.get(order.clientOrderId)?.label} yet; flow so far:\n${flowOf(pair, pair.live.output).join('\n')}`,
    );
  });
}

// ── normalisation ────────────────────────────────────────────────────────────────────────────────

/**
 * One order event as compared: order (by label), kind, and what must match — code for a rejection,
 * side / quantity / price / liquidity / leaves for a fill, reason for a cancel. Not times (see the
 * module comment), not fees (compared within rounding by {@link feeTolerance}), not texts.
 */
function describeEvent(pair: Pair, event: OrderEvent): string {
  const label = pair.orders.get(event.clientOrderId)?.label ?? event.clientOrderId;
  switch (event.kind) {
    case 'order-accepted':
      return `${label}: accepted`;
    case 'order-rejected':
      return `${label}: rejected ${event.code}`;
    case 'fill':
      return `${label}: fill ${event.side} ${formatUnits(event.qty)} @ ${formatUnits(event.price)} ${event.liquidity}, leaves ${formatUnits(event.leavesQty)}`;
    case 'order-canceled':
      return `${label}: canceled (${event.reason})`;
    case 'order-unknown':
      return `${label}: status unknown (${event.reason})`;
  }
}

function flowOf(pair: Pair, events: readonly VenueOutput[]): string[] {
  return events.filter(isOrderEvent).map((e) => describeEvent(pair, e));
}

/**
 * The paper venue accepts a market order it has no price for yet (no book, no ticker: the contract's
 * inputs are bars and trades) and checks the balance when the order fills, rejecting it then; Binance
 * checks a market order against its last price and rejects it at once. Both end in the same rejection
 * code. Drops such a provisional `order-accepted` — only for a market order whose next event is its
 * rejection, with no fill between — and returns the labels dropped, for a test to assert.
 */
function setAsideProvisionalAcceptances(
  pair: Pair,
  events: readonly VenueOutput[],
): { readonly events: OrderEvent[]; readonly setAside: string[] } {
  const orderEvents = events.filter(isOrderEvent);
  const setAside: string[] = [];
  const kept = orderEvents.filter((event, i) => {
    if (event.kind !== 'order-accepted') return true;
    const sent = pair.orders.get(event.clientOrderId);
    if (sent?.order.type !== 'market') return true;
    const next = orderEvents.slice(i + 1).find((e) => e.clientOrderId === event.clientOrderId);
    if (next?.kind !== 'order-rejected') return true;
    setAside.push(sent.label);
    return false;
  });
  return { events: kept, setAside };
}

/**
 * Largest |paper fee − live fee| of one fill that the venues' documented rounding allows, in quote
 * units. Paper: quote fee rounded up to the unit (< 1). Binance: commission on the asset received,
 * rounded half-up to its unit (≤ ½): on a sell that is quote; on a buy it is base, and the live venue
 * converts it at the trade price (≤ ½ base unit × price, plus ≤ ½ quote unit for the conversion).
 */
function feeTolerance(fill: Fill): Units {
  return fill.side === 'sell' ? 1n : 2n + divCeil(fill.price, 2n * UNITS_PER_ONE);
}

/** The text each venue gives for a rejection code: a code is only trusted when its text is the one that belongs to it. */
const REJECTION_TEXT: Readonly<Partial<Record<OrderRejectCode, { readonly paper: RegExp; readonly live: RegExp }>>> = {
  INSUFFICIENT_BALANCE: {
    paper: /^needs [\d.]+ USDT, free [\d.]+$/,
    live: /^InsufficientFunds: binance Account has insufficient balance for requested action\.$/,
  },
  DUPLICATE_CLIENT_ORDER_ID: {
    paper: /^client order id \S+ was already used; nothing executed$/,
    live: /^client order id \S+ was already used in this session; nothing sent$/,
  },
};

// ── the parity scenario ──────────────────────────────────────────────────────────────────────────

describe('venue parity: the paper exchange and the live ccxt venue (local Binance server) given the same orders and prices', function () {
  this.timeout(30_000);

  let pair: Pair | undefined;
  /** Orders of the scenario, by role. */
  let scenario: Readonly<Record<'buy' | 'sell' | 'canceled' | 'resting' | 'stop' | 'tooBig', Order>>;
  let flowsAtEnd: { readonly paper: number; readonly live: number };

  before(async () => {
    pair = await startPair();
    const p = pair;
    trade(p, START_PRICE);

    // Market buy, then a market sell after the price rose.
    const buy = gateOrder(p, 'market buy 0.004', { side: 'buy', type: 'market', qty: '0.004' });
    submit(p, buy);
    await liveReports(p, buy, 'fill');
    trade(p, 50_500);
    const sell = gateOrder(p, 'market sell 0.001', { side: 'sell', type: 'market', qty: '0.001' });
    submit(p, sell);
    await liveReports(p, sell, 'fill');

    // A limit below the market rests, and is canceled.
    const canceled = gateOrder(p, 'limit buy 0.001 @ 49000', {
      side: 'buy',
      type: 'limit',
      qty: '0.001',
      limitPrice: 49_000,
    });
    submit(p, canceled);
    await liveReports(p, canceled, 'order-accepted');
    send(p, cancelOf(p, canceled, 'signal reversed'));
    await liveReports(p, canceled, 'order-canceled');

    // A limit that the market later trades through, and a stop-loss under it.
    const resting = gateOrder(p, 'limit buy 0.002 @ 49500', {
      side: 'buy',
      type: 'limit',
      qty: '0.002',
      limitPrice: 49_500,
    });
    submit(p, resting);
    await liveReports(p, resting, 'order-accepted');
    const stop = gateOrder(p, 'stop-market sell 0.002 @ 48000', {
      side: 'sell',
      type: 'stop-market',
      qty: '0.002',
      stopPrice: 48_000,
    });
    submit(p, stop);
    await liveReports(p, stop, 'order-accepted');

    // The stop resubmitted while it is still open (a replay after a restart): a duplicate id.
    submit(p, stop);
    await liveReports(p, stop, 'order-rejected');

    // Through the limit (it fills at its price, as maker), then through the stop (it fills at the trade, as taker).
    trade(p, 49_400);
    await liveReports(p, resting, 'fill');
    trade(p, 47_900);
    await liveReports(p, stop, 'fill');

    // More than the account can pay.
    const tooBig = gateOrder(p, 'market buy 1 (too big)', { side: 'buy', type: 'market', qty: '1' });
    submit(p, tooBig);
    await liveReports(p, tooBig, 'order-rejected');

    // The first order resubmitted after it filled: on Binance a filled order's id is free again.
    submit(p, buy);
    await liveReports(p, buy, 'order-rejected');

    scenario = { buy, sell, canceled, resting, stop, tooBig };
    // Nothing else may arrive afterwards (a fill reported twice, a late event): hold still a while.
    const counts = { paper: p.paper.output.length, live: p.live.output.length };
    await consistently(() => assert.deepEqual({ paper: p.paper.output.length, live: p.live.output.length }, counts), {
      durationMs: 300,
    });

    p.paper.input.complete();
    p.live.input.complete();
    await eventually(() =>
      assert.ok(
        p.paper.completed && p.live.completed,
        `completed: paper ${p.paper.completed}, live ${p.live.completed}`,
      ),
    );
    flowsAtEnd = { paper: p.paper.output.length - counts.paper, live: p.live.output.length - counts.live };
  });

  after(async () => {
    const p = pair;
    pair = undefined;
    await closePair(p);
  });

  function current(): Pair {
    assert.ok(pair, 'the scenario did not start');
    return pair;
  }

  it('neither venue errors, and the live venue never loses track of an order (no status unknown)', () => {
    const p = current();
    assert.deepEqual(p.paper.errors, []);
    assert.deepEqual(p.live.errors, []);
    assert.deepEqual(eventsOf(p.live, 'order-unknown'), []);
    assert.deepEqual(eventsOf(p.paper, 'order-unknown'), []);
  });

  it('the same signals at the same prices: both venues give the same order flow, event by event, in the same order', () => {
    const p = current();
    const live = flowOf(p, p.live.output);
    const paper = setAsideProvisionalAcceptances(p, p.paper.output).events.map((e) => describeEvent(p, e));
    const expected = [
      'market buy 0.004: accepted',
      'market buy 0.004: fill buy 0.004 @ 50000 taker, leaves 0',
      'market sell 0.001: accepted',
      'market sell 0.001: fill sell 0.001 @ 50500 taker, leaves 0',
      'limit buy 0.001 @ 49000: accepted',
      'limit buy 0.001 @ 49000: canceled (signal reversed)',
      'limit buy 0.002 @ 49500: accepted',
      'stop-market sell 0.002 @ 48000: accepted',
      'stop-market sell 0.002 @ 48000: rejected DUPLICATE_CLIENT_ORDER_ID',
      'limit buy 0.002 @ 49500: fill buy 0.002 @ 49500 maker, leaves 0',
      'stop-market sell 0.002 @ 48000: fill sell 0.002 @ 47900 taker, leaves 0',
      'market buy 1 (too big): rejected INSUFFICIENT_BALANCE',
      'market buy 0.004: rejected DUPLICATE_CLIENT_ORDER_ID',
    ];
    assert.deepEqual(paper, live, 'paper and live order flows differ');
    // Agreeing is not enough: both could be wrong the same way.
    assert.deepEqual(live, expected);
  });

  it('an unpriced market order paper cannot pay: paper accepts it then rejects it at the fill, live rejects it at once — the only event set aside', () => {
    const p = current();
    const { setAside } = setAsideProvisionalAcceptances(p, p.paper.output);
    assert.deepEqual(setAside, ['market buy 1 (too big)']);
    assert.deepEqual(
      flowOf(
        p,
        p.paper.output.filter((e) => isOrderEvent(e) && e.clientOrderId === scenario.tooBig.clientOrderId),
      ),
      ['market buy 1 (too big): accepted', 'market buy 1 (too big): rejected INSUFFICIENT_BALANCE'],
    );
    assert.deepEqual(eventsOf(p.live, 'order-accepted', scenario.tooBig), []);
    assert.equal(
      eventsOf(p.paper, 'fill', scenario.tooBig).length + eventsOf(p.live, 'fill', scenario.tooBig).length,
      0,
    );
  });

  it('accepts and rejects the same client order ids with the same codes, and each venue’s text belongs to its code', () => {
    const p = current();
    const outcomes = (run: VenueRun): string[][] => [
      eventsOf(run, 'order-accepted').map((e) => p.orders.get(e.clientOrderId)!.label),
      eventsOf(run, 'order-rejected').map((e) => `${p.orders.get(e.clientOrderId)!.label} ${e.code}`),
    ];
    const [liveAccepted, liveRejected] = outcomes(p.live);
    const [paperAccepted, paperRejected] = outcomes(p.paper);
    assert.deepEqual(paperRejected, liveRejected);
    // The provisional paper acceptance of the too-big market order is the one acceptance live does not give.
    assert.deepEqual(
      paperAccepted!.filter((label) => label !== 'market buy 1 (too big)'),
      liveAccepted,
    );
    for (const [venue, run] of [
      ['paper', p.paper],
      ['live', p.live],
    ] as const) {
      for (const rejection of eventsOf(run, 'order-rejected')) {
        const text = REJECTION_TEXT[rejection.code];
        assert.ok(text, `${venue}: no venue text known for ${rejection.code}`);
        assert.match(rejection.message, text[venue], `${venue}: ${rejection.code} with an unexpected text`);
      }
    }
  });

  it('every order event carries the signal id of the order it is about, on both venues', () => {
    const p = current();
    for (const run of [p.paper, p.live]) {
      for (const event of run.output.filter(isOrderEvent)) {
        assert.equal(event.signalId, p.orders.get(event.clientOrderId)?.order.signalId, describeEvent(p, event));
      }
    }
  });

  it('fills: the same quantities, sides, prices and liquidity; fees agree within the venues’ rounding', () => {
    const p = current();
    const paperFills = eventsOf(p.paper, 'fill');
    const liveFills = eventsOf(p.live, 'fill');
    assert.equal(paperFills.length, 4);
    assert.equal(liveFills.length, paperFills.length);
    paperFills.forEach((paper, i) => {
      const live = liveFills[i]!;
      const label = p.orders.get(paper.clientOrderId)!.label;
      assert.equal(live.clientOrderId, paper.clientOrderId);
      assert.deepEqual(
        {
          side: live.side,
          qty: live.qty,
          price: live.price,
          notional: live.notional,
          liquidity: live.liquidity,
          leavesQty: live.leavesQty,
        },
        {
          side: paper.side,
          qty: paper.qty,
          price: paper.price,
          notional: paper.notional,
          liquidity: paper.liquidity,
          leavesQty: paper.leavesQty,
        },
        label,
      );
      const difference = live.fee > paper.fee ? live.fee - paper.fee : paper.fee - live.fee;
      assert.ok(
        difference <= feeTolerance(paper),
        `${label}: fee paper ${formatUnits(paper.fee)}, live ${formatUnits(live.fee)} (in quote): more apart than the rounding allows (${formatUnits(feeTolerance(paper))})`,
      );
      // The rate itself: 10 bps of the notional, both.
      assert.ok(paper.fee >= (paper.notional * BigInt(FEE_BPS)) / 10_000n, `${label}: paper fee below the rate`);
    });
  });

  it('a cancel of a resting limit: canceled on both with the command’s reason, and canceled on the exchange', () => {
    const p = current();
    for (const run of [p.paper, p.live]) {
      assert.deepEqual(
        eventsOf(run, 'order-canceled').map((e) => [e.clientOrderId, e.reason]),
        [[scenario.canceled.clientOrderId, 'signal reversed']],
      );
      assert.deepEqual(eventsOf(run, 'fill', scenario.canceled), []);
    }
    assert.deepEqual(
      p.exchange.ordersWithClientId(scenario.canceled.clientOrderId).map((x) => x.status),
      ['CANCELED'],
    );
    assert.equal(p.server.requests(ORDER_PATH).filter((r) => r.method === 'DELETE').length, 1);
    assert.ok(!p.liveSide.some((e) => e.kind === 'cancel-rejected'));
  });

  it('a duplicate client order id, of a filled order and of an open one: DUPLICATE_CLIENT_ORDER_ID on both, executed once, never sent to the exchange', () => {
    const p = current();
    for (const run of [p.paper, p.live]) {
      for (const original of [scenario.buy, scenario.stop]) {
        assert.deepEqual(
          eventsOf(run, 'order-rejected', original).map((e) => e.code),
          ['DUPLICATE_CLIENT_ORDER_ID'],
        );
        assert.equal(eventsOf(run, 'order-accepted', original).length, 1);
        assert.equal(eventsOf(run, 'fill', original).length, 1);
      }
    }
    for (const original of [scenario.buy, scenario.stop])
      assert.equal(p.exchange.ordersWithClientId(original.clientOrderId).length, 1);
  });

  it('the exchange afterwards: one order per client order id, the trades both venues reported, nothing open, nothing locked', () => {
    const p = current();
    const placed = [scenario.buy, scenario.sell, scenario.canceled, scenario.resting, scenario.stop];
    const orders = p.exchange.orders();
    assert.deepEqual(
      orders.map((x) => [p.orders.get(x.clientOrderId)?.label, x.status]),
      [
        ['market buy 0.004', 'FILLED'],
        ['market sell 0.001', 'FILLED'],
        ['limit buy 0.001 @ 49000', 'CANCELED'],
        ['limit buy 0.002 @ 49500', 'FILLED'],
        ['stop-market sell 0.002 @ 48000', 'FILLED'],
      ],
    );
    assert.deepEqual(
      orders.map((x) => x.clientOrderId),
      placed.map((x) => x.clientOrderId),
    );
    // Six order requests: the five placed and the one refused for its balance — none for a duplicate.
    assert.equal(p.server.requests(ORDER_PATH).filter((r) => r.method === 'POST').length, 6);
    const byOrderId = new Map(orders.map((x) => [x.orderId, x.clientOrderId]));
    const exchangeTrades = p.exchange
      .trades()
      .map((t) => [byOrderId.get(t.orderId), t.isBuyer ? 'buy' : 'sell', t.qty, t.price]);
    for (const run of [p.paper, p.live]) {
      assert.deepEqual(
        eventsOf(run, 'fill').map((f) => [f.clientOrderId, f.side, f.qty, f.price]),
        exchangeTrades,
      );
    }
    assert.deepEqual(
      orders.filter((x) => x.status === 'NEW' || x.status === 'PARTIALLY_FILLED'),
      [],
    );
    assert.equal(p.exchange.balance('USDT').locked, '0');
    assert.equal(p.exchange.balance('BTC').locked, '0');
  });

  it('the exchange’s balances are exactly what the live venue’s fills say, buy commissions taken in base included', () => {
    const p = current();
    // The fills fold into the ledger the pipeline keeps. Binance took the buys' commission from
    // the BTC received: those fills carry it as feeBase, so the ledger's BTC and USDT are the
    // exchange's to the unit, and the fees are still counted (at their quote value).
    const fills = eventsOf(p.live, 'fill');
    const ledger = fills.reduce(
      applyFill,
      initialPortfolio({ initialCash: p.snapshot.balances['USDT']!.total, quote: 'USDT' }),
    );
    const baseCommissions = p.exchange.trades().filter((t) => t.commissionAsset === 'BTC');
    assert.equal(baseCommissions.length, 2, 'one per buy');
    assert.deepEqual(
      fills.filter((f) => f.side === 'buy').map((f) => f.feeBase),
      baseCommissions.map((t) => t.commission),
    );
    const usdt = p.exchange.balance('USDT');
    const btc = p.exchange.balance('BTC');
    assert.equal(toUnits(usdt.free) + toUnits(usdt.locked), ledger.cash);
    assert.equal(toUnits(btc.free) + toUnits(btc.locked), positionQty(ledger, SYMBOL));
    assert.equal(
      ledger.feesPaid,
      fills.reduce((sum, f) => sum + f.fee, 0n),
    );
    assert.equal(accountingResidual(ledger), 0n);
  });

  it('input completion: both venues complete with nothing left open — no EXPIRED on paper, nothing still open on live', () => {
    const p = current();
    assert.ok(p.paper.completed && p.live.completed);
    assert.deepEqual(flowsAtEnd, { paper: 0, live: 0 });
    assert.ok(!p.liveSide.some((e) => e.kind === 'venue-notice' && e.code === 'OPEN_AT_COMPLETION'));
  });
});

// ── where the venues differ ──────────────────────────────────────────────────────────────────────

describe('venue parity: where the paper exchange and the live ccxt venue differ (pinned, not normalised)', function () {
  this.timeout(30_000);

  let pair: Pair | undefined;

  afterEach(async () => {
    const p = pair;
    pair = undefined;
    await closePair(p);
  });

  it('differs: Binance takes a buy’s fee in base, paper in quote — selling the gross quantity fills on paper, live is refused; the live ledger holds what the exchange holds', async () => {
    pair = await startPair();
    const p = pair;
    trade(p, START_PRICE);
    const buy = gateOrder(p, 'market buy 0.002', { side: 'buy', type: 'market', qty: '0.002' });
    submit(p, buy);
    await liveReports(p, buy, 'fill');
    const flat = gateOrder(p, 'market sell 0.002 (flatten)', { side: 'sell', type: 'market', qty: '0.002' });
    submit(p, flat);
    await liveReports(p, flat, 'order-rejected');
    assert.deepEqual(flowOf(p, eventsOf(p.paper, 'fill', flat)), [
      'market sell 0.002 (flatten): fill sell 0.002 @ 50000 taker, leaves 0',
    ]);
    assert.deepEqual(
      eventsOf(p.live, 'order-rejected', flat).map((e) => e.code),
      ['INSUFFICIENT_BALANCE'],
    );
    // The live fill says the fee was withheld in BTC (feeBase), so the ledger built from the live
    // fills holds what the exchange holds — 0.002 less 0.1 % — and a pipeline sizing its flattening
    // order from that ledger sells exactly 0.001998 (the order above is the gross quantity).
    assert.deepEqual(
      eventsOf(p.live, 'fill', buy).map((f) => f.feeBase),
      [toUnits('0.000002')],
    );
    const ledger = eventsOf(p.live, 'fill').reduce(
      applyFill,
      initialPortfolio({ initialCash: p.snapshot.balances['USDT']!.total, quote: 'USDT' }),
    );
    assert.equal(positionQty(ledger, SYMBOL), toUnits('0.001998'));
    assert.equal(accountingResidual(ledger), 0n);
    assert.deepEqual(p.exchange.balance('BTC'), { free: '0.001998', locked: '0' });
  });

  it('differs: a price move that fills a resting limit — paper emits the fill before passing the trade on, live passes the trade first and reports the fill at its next poll', async () => {
    pair = await startPair();
    const p = pair;
    trade(p, START_PRICE);
    const resting = gateOrder(p, 'limit buy 0.001 @ 49500', {
      side: 'buy',
      type: 'limit',
      qty: '0.001',
      limitPrice: 49_500,
    });
    submit(p, resting);
    await liveReports(p, resting, 'order-accepted');
    const through = trade(p, 49_400);
    await liveReports(p, resting, 'fill');
    const position = (run: VenueRun, event: VenueOutput | undefined): number =>
      event === undefined ? -1 : run.output.indexOf(event);
    const [paperFill] = eventsOf(p.paper, 'fill', resting);
    const [liveFill] = eventsOf(p.live, 'fill', resting);
    assert.ok(
      position(p.paper, paperFill) < position(p.paper, through),
      'paper: fill, then the trade that caused it (the Venue contract)',
    );
    assert.ok(
      position(p.live, through) < position(p.live, liveFill),
      'live: the trade passes through before the exchange-side fill is known',
    );
    // The fill itself is the same.
    assert.deepEqual(flowOf(p, [liveFill!]), flowOf(p, [paperFill!]));
  });

  it('differs: a cancel of an order already filled — paper emits order-rejected UNKNOWN_ORDER downstream, live only cancel-rejected on its side channel', async () => {
    pair = await startPair();
    const p = pair;
    trade(p, START_PRICE);
    const buy = gateOrder(p, 'market buy 0.001', { side: 'buy', type: 'market', qty: '0.001' });
    submit(p, buy);
    await liveReports(p, buy, 'fill');
    send(p, cancelOf(p, buy, 'too late'));
    const sideRejection = await eventually(() => {
      const found = p.liveSide.find((e) => e.kind === 'cancel-rejected' && e.clientOrderId === buy.clientOrderId);
      assert.ok(found, 'no cancel-rejected from the live venue yet');
      return found;
    });
    assert.deepEqual(
      eventsOf(p.paper, 'order-rejected', buy).map((e) => [e.code, e.signalId]),
      [['UNKNOWN_ORDER', buy.signalId]],
    );
    assert.deepEqual(eventsOf(p.live, 'order-rejected', buy), []);
    assert.equal(sideRejection.kind === 'cancel-rejected' ? sideRejection.reason : '', 'the order is already closed');
    assert.equal(
      p.server.requests(ORDER_PATH).filter((r) => r.method === 'DELETE').length,
      0,
      'nothing to cancel on the exchange',
    );
  });

  it('differs: a duplicate sent right behind its original — live rejects it before the original is acknowledged, paper after; one order on the exchange either way', async () => {
    pair = await startPair();
    const p = pair;
    trade(p, START_PRICE);
    const resting = gateOrder(p, 'limit buy 0.001 @ 49000', {
      side: 'buy',
      type: 'limit',
      qty: '0.001',
      limitPrice: 49_000,
    });
    send(p, resting, resting);
    trade(p, p.price);
    await liveReports(p, resting, 'order-accepted');
    assert.deepEqual(flowOf(p, p.paper.output), [
      'limit buy 0.001 @ 49000: accepted',
      'limit buy 0.001 @ 49000: rejected DUPLICATE_CLIENT_ORDER_ID',
    ]);
    assert.deepEqual(flowOf(p, p.live.output), [
      'limit buy 0.001 @ 49000: rejected DUPLICATE_CLIENT_ORDER_ID',
      'limit buy 0.001 @ 49000: accepted',
    ]);
    assert.equal(p.exchange.ordersWithClientId(resting.clientOrderId).length, 1);
    assert.equal(p.server.requests(ORDER_PATH).filter((r) => r.method === 'POST').length, 1);
  });
});
