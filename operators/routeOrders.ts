import { createHash } from 'node:crypto';
import { Observable, type OperatorFunction } from 'rxjs';
import { bpsToPpm, feeOf, floorToStep, formatUnits, notionalOf, toUnits, unitsToNumber, type Units } from './money';
import type { Instrument, Order, OrderBook, Symbol, Timestamp, VenueId } from './types';
import { routeThrows } from './routeThrows';

/** One venue the router may send to, with its fee schedule. */
export interface RouteVenue {
  readonly venue: VenueId;
  /** What the venue trades, with its lot, tick and minimums. */
  readonly instruments: readonly Instrument[];
  /** Taker fee, basis points (10 = 0.10 %): what taking liquidity costs on this venue now (the account's tier). */
  readonly takerFeeBps: number;
  /** Maker fee, basis points (negative = rebate). Default `takerFeeBps`. Used to choose where a limit remainder rests. */
  readonly makerFeeBps?: number;
  /** Extra cost of using this venue (latency, counterparty risk), basis points of price. Default 0. */
  readonly penaltyBps?: number;
}

export interface RouteOrdersConfig {
  readonly venues: readonly RouteVenue[];
  /** Split an order across venues when that is cheaper than one venue. Default true. */
  readonly split?: boolean;
  /** A book older than this before the order is not used, ms. Default 5000. */
  readonly maxBookAgeMs?: number;
}

/** One child order of a routed order, addressed to a venue. */
export interface RouteLeg {
  readonly venue: VenueId;
  /** The child: the parent with this leg's quantity and a deterministic id `<parent>-<venue index>`. */
  readonly order: Order;
  /** Quantity expected to fill at once against the visible book (the rest of a limit leg rests). */
  readonly takeQty: Units;
  /** Volume-weighted book price of `takeQty`; undefined when nothing is expected to fill at once. */
  readonly expectedPrice: number | undefined;
  /** Quote amount of `takeQty` at the book prices. */
  readonly expectedNotional: Units;
  /** Taker fee on `expectedNotional`, rounded up. */
  readonly expectedFee: Units;
}

/** The router's decision for one order. */
export interface RoutePlan {
  readonly kind: 'route';
  readonly parent: Order;
  readonly legs: readonly RouteLeg[];
  /** Quantity no venue can take (a market order beyond the visible depth, or no venue at all). */
  readonly unroutedQty: Units;
  /** Buy: quote paid by the taking part, fees included. Sell: quote received, fees deducted. */
  readonly expectedQuote: Units;
  /** Why the plan looks like it does, with the numbers. */
  readonly reason: string;
  readonly tsEvent: Timestamp;
}

export type RouteInput = Order | OrderBook;

/**
 * Smart order routing: keeps the latest book of every configured venue and, for every order,
 * chooses the venue — or the split across venues — with the best effective price after fees and
 * depth, and emits the plan.
 *
 * The effective price of a book level is its price moved by the venue's taker fee and penalty
 * (buy: × (1 + fee), sell: × (1 − fee)). Because every venue's cost grows level by level, taking
 * the best effective levels across all books first is the cheapest split. Each leg is rounded down
 * to its venue's lot; a leg below the venue's minimum quantity or notional is dropped and the plan
 * redone without that venue. With `split: false` the single venue that fills the most, then at
 * the best effective average, gets everything.
 *
 * - market orders: what the visible books cannot fill is `unroutedQty`.
 * - limit orders: only levels at or better than the limit; the rest rests on the venue with the
 *   lowest maker fee (+ penalty), added to its leg.
 * - stop, take-profit and trailing orders are not split: the venue with the best effective top of
 *   book takes the whole order (the first venue that trades the symbol when no book is fresh).
 *
 * A book is used only when it is at most `maxBookAgeMs` older than the order and not newer (no
 * lookahead). Pure: no I/O, no clock; state lives in the subscription.
 *
 * ```
 * input:  -a-b-o-|     a, b books of two venues · o order
 * output: -----p-|     p route plan
 * ```
 *
 * @param config venues with their instruments and fees; `split`; `maxBookAgeMs` (ms).
 */
export function routeOrders(config: RouteOrdersConfig): OperatorFunction<RouteInput, RoutePlan> {
  validate(config);
  return (source) =>
    new Observable<RoutePlan>((subscriber) => {
      const books = new Map<string, OrderBook>();
      return source.subscribe({
        next: routeThrows(subscriber, (input) => {
          if (input.kind === 'book') {
            books.set(bookKey(input.venue, input.symbol), input);
            return;
          }
          subscriber.next(planRoute(input, (venue) => books.get(bookKey(venue, input.symbol)), config));
        }),
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}

function bookKey(venue: VenueId, symbol: Symbol): string {
  return `${venue}\u0000${symbol}`;
}

function validate(config: RouteOrdersConfig): void {
  if (config.venues.length === 0)
    throw new RangeError('routeOrders config: venues: expected at least one venue, found none');
  const seen = new Set<string>();
  config.venues.forEach((venue, i) => {
    if (seen.has(venue.venue))
      throw new RangeError(
        `routeOrders config: venues[${i}].venue: expected a unique venue id, found ${venue.venue} twice`,
      );
    seen.add(venue.venue);
    for (const key of ['takerFeeBps', 'makerFeeBps', 'penaltyBps'] as const) {
      const value = venue[key];
      if (value !== undefined && !Number.isFinite(value))
        throw new RangeError(
          `routeOrders config: venues[${i}].${key}: expected a finite number of basis points, found ${value}`,
        );
    }
  });
  if (config.maxBookAgeMs !== undefined && !(config.maxBookAgeMs >= 0))
    throw new RangeError(`routeOrders config: maxBookAgeMs: expected ms ≥ 0, found ${config.maxBookAgeMs}`);
}

interface Candidate {
  readonly index: number;
  readonly venue: RouteVenue;
  readonly instrument: Instrument;
  /** Levels on the side the order takes, best first; empty without a fresh book. */
  readonly levels: readonly (readonly [number, number])[];
  /** Price multiplier of fee + penalty. */
  readonly costFactor: number;
}

interface Allocation {
  qty: Units;
  notional: Units;
}

/** The plan for one order, given the latest book per venue (pure). */
export function planRoute(
  order: Order,
  bookOf: (venue: VenueId) => OrderBook | undefined,
  config: RouteOrdersConfig,
): RoutePlan {
  const maxAge = config.maxBookAgeMs ?? 5000;
  const buy = order.side === 'buy';
  const candidates: Candidate[] = [];
  config.venues.forEach((venue, index) => {
    const instrument = venue.instruments.find((i) => i.symbol === order.symbol);
    if (!instrument) return;
    const book = bookOf(venue.venue);
    const fresh = book !== undefined && book.tsEvent <= order.tsEvent && book.tsEvent >= order.tsEvent - maxAge;
    const levels = fresh ? (buy ? book.asks : book.bids) : [];
    const rate = (venue.takerFeeBps + (venue.penaltyBps ?? 0)) / 10_000;
    candidates.push({ index, venue, instrument, levels, costFactor: buy ? 1 + rate : 1 - rate });
  });
  const plan = (legs: RouteLeg[], unroutedQty: Units, reason: string): RoutePlan => {
    const expectedQuote = legs.reduce(
      (sum, leg) => sum + (buy ? leg.expectedNotional + leg.expectedFee : leg.expectedNotional - leg.expectedFee),
      0n,
    );
    return { kind: 'route', parent: order, legs, unroutedQty, expectedQuote, reason, tsEvent: order.tsEvent };
  };
  if (candidates.length === 0) return plan([], order.qty, `no configured venue trades ${order.symbol}`);

  if (order.type !== 'market' && order.type !== 'limit') {
    const priced = candidates.filter((c) => c.levels.length > 0);
    const best =
      priced.length === 0
        ? candidates[0]!
        : priced.reduce((a, b) => (better(effective(b, b.levels[0]![0]), effective(a, a.levels[0]![0]), buy) ? b : a));
    const leg = makeLeg(order, best, order.qty, { qty: 0n, notional: 0n });
    return plan(
      [leg],
      0n,
      `${order.type} not split: ${priced.length === 0 ? `no fresh book, first venue trading ${order.symbol}` : `best effective top of book`} → ${best.venue.venue}`,
    );
  }

  const limit = order.type === 'limit' ? order.limitPrice : undefined;
  let usable = candidates.filter((c) => c.levels.length > 0);
  let allocations = new Map<number, Allocation>();
  const dropped: string[] = [];
  for (;;) {
    allocations = config.split === false ? allocateSingle(order, usable, limit) : allocateGreedy(order, usable, limit);
    const tooSmall = usable.find((c) => {
      const a = allocations.get(c.index);
      return a !== undefined && a.qty > 0n && (a.qty < c.instrument.minQty || a.notional < c.instrument.minNotional);
    });
    if (!tooSmall) break;
    const a = allocations.get(tooSmall.index)!;
    dropped.push(
      `${tooSmall.venue.venue} (qty ${formatUnits(a.qty)}, notional ${formatUnits(a.notional)} below its minimum)`,
    );
    usable = usable.filter((c) => c !== tooSmall);
  }

  let taken = 0n;
  for (const a of allocations.values()) taken += a.qty;
  let rest = order.qty - taken;
  const legs = new Map<number, { qty: Units; take: Allocation }>();
  for (const [index, a] of allocations) if (a.qty > 0n) legs.set(index, { qty: a.qty, take: a });

  let restVenue: Candidate | undefined;
  if (limit !== undefined && rest > 0n) {
    // The remainder of a limit order rests where making is cheapest (and the venue's lot allows it).
    const makerCost = (c: Candidate): number =>
      (c.venue.makerFeeBps ?? c.venue.takerFeeBps) + (c.venue.penaltyBps ?? 0);
    const fits = candidates.filter((c) => {
      const total = (legs.get(c.index)?.qty ?? 0n) + rest;
      return (
        floorToStep(rest, c.instrument.qtyStep) === rest &&
        total >= c.instrument.minQty &&
        notionalOf(total, toUnits(limit)) >= c.instrument.minNotional
      );
    });
    restVenue = fits.reduce<Candidate | undefined>(
      (best, c) => (best === undefined || makerCost(c) < makerCost(best) ? c : best),
      undefined,
    );
    if (restVenue) {
      const leg = legs.get(restVenue.index);
      if (leg) leg.qty += rest;
      else legs.set(restVenue.index, { qty: rest, take: { qty: 0n, notional: 0n } });
      rest = 0n;
    }
  }

  const routed = [...legs.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, leg]) => makeLeg(order, candidates.find((c) => c.index === index)!, leg.qty, leg.take));
  const parts = routed.map(
    (leg) =>
      `${leg.venue} ${formatUnits(leg.order.qty)}${leg.expectedPrice === undefined ? '' : ` @ ${round(leg.expectedPrice)}`}`,
  );
  const reason = [
    routed.length === 0
      ? 'no venue has liquidity'
      : `${config.split === false ? 'single venue' : 'best effective price after fees'}: ${parts.join(', ')}`,
    restVenue ? `rest ${formatUnits(order.qty - taken)} rests on ${restVenue.venue.venue} (lowest maker fee)` : '',
    rest > 0n
      ? `unrouted ${formatUnits(rest)} (${limit === undefined ? 'beyond visible depth' : 'no venue can rest it'})`
      : '',
    dropped.length > 0 ? `dropped ${dropped.join(', ')}` : '',
  ]
    .filter((part) => part !== '')
    .join('; ');
  return plan(routed, rest, reason);
}

function round(price: number): number {
  return Math.round(price * 1e8) / 1e8;
}

function effective(c: Candidate, price: number): number {
  return price * c.costFactor;
}

function better(a: number, b: number, buy: boolean): boolean {
  return buy ? a < b : a > b;
}

function marketable(price: number, limit: number | undefined, buy: boolean): boolean {
  return limit === undefined || (buy ? price <= limit : price >= limit);
}

/** Takes the best effective levels across all venues first (ties: venue order, then book order). */
function allocateGreedy(
  order: Order,
  usable: readonly Candidate[],
  limit: number | undefined,
): Map<number, Allocation> {
  const buy = order.side === 'buy';
  const levels: { c: Candidate; price: number; qty: Units; rank: number }[] = [];
  for (const c of usable) {
    c.levels.forEach(([price, qty], rank) => {
      if (marketable(price, limit, buy))
        levels.push({ c, price, qty: floorToStep(toUnits(qty), c.instrument.qtyStep), rank });
    });
  }
  levels.sort((a, b) => {
    const ea = effective(a.c, a.price);
    const eb = effective(b.c, b.price);
    if (ea !== eb) return buy ? ea - eb : eb - ea;
    return a.c.index - b.c.index || a.rank - b.rank;
  });
  const allocations = new Map<number, Allocation>();
  let remaining = order.qty;
  for (const level of levels) {
    if (remaining <= 0n) break;
    const qty = floorToStep(level.qty < remaining ? level.qty : remaining, level.c.instrument.qtyStep);
    if (qty <= 0n) continue;
    const a = allocations.get(level.c.index) ?? { qty: 0n, notional: 0n };
    a.qty += qty;
    a.notional += notionalOf(qty, toUnits(level.price));
    allocations.set(level.c.index, a);
    remaining -= qty;
  }
  return allocations;
}

/** The one venue that fills the most, then at the best effective average price. */
function allocateSingle(
  order: Order,
  usable: readonly Candidate[],
  limit: number | undefined,
): Map<number, Allocation> {
  let best: { c: Candidate; a: Allocation } | undefined;
  for (const c of usable) {
    const a = allocateGreedy(order, [c], limit).get(c.index);
    if (!a || a.qty === 0n) continue;
    if (!best) {
      best = { c, a };
      continue;
    }
    if (a.qty !== best.a.qty) {
      if (a.qty > best.a.qty) best = { c, a };
      continue;
    }
    const avg = (x: { c: Candidate; a: Allocation }): number =>
      (unitsToNumber(x.a.notional) / unitsToNumber(x.a.qty)) * x.c.costFactor;
    if (better(avg({ c, a }), avg(best), order.side === 'buy')) best = { c, a };
  }
  return best ? new Map([[best.c.index, best.a]]) : new Map();
}

function makeLeg(parent: Order, c: Candidate, qty: Units, take: Allocation): RouteLeg {
  const ppm = bpsToPpm(c.venue.takerFeeBps);
  return {
    venue: c.venue.venue,
    order: { ...parent, clientOrderId: childId(parent.clientOrderId, c.index), qty },
    takeQty: take.qty,
    expectedPrice: take.qty > 0n ? unitsToNumber(take.notional) / unitsToNumber(take.qty) : undefined,
    expectedNotional: take.notional,
    expectedFee: feeOf(take.notional, ppm),
  };
}

/** `<parent>-<venue index>`, kept within the 36 characters venues accept by hashing a long parent id. */
export function childId(parentId: string, venueIndex: number): string {
  const suffix = `-${venueIndex}`;
  if (parentId.length + suffix.length <= 36) return `${parentId}${suffix}`;
  const hash = createHash('sha256').update(parentId).digest('base64url');
  return `${hash.slice(0, 36 - suffix.length)}${suffix}`;
}
