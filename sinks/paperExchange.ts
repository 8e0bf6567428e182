/**
 * The paper exchange: the one exchange simulator — backtests and paper sessions both fill through it
 * (a {@link Venue}) — and it behaves like a real spot exchange — an L2 matching engine with
 * resting orders, stops, trailing stops, OCO groups, maker/taker fee tiers, market impact, order
 * latency, rate limits, balance reservation and the rejections an exchange gives.
 *
 * Determinism: time comes only from the events (`tsEvent`) and from the injected scheduler (the
 * latency delay); randomness only from a seeded generator created per subscription. The same
 * inputs and seed always give the same outputs.
 *
 * ```
 * input:  --o--B--t--|     o order · B book · t trade
 * output: --(af)B--t-|     a accepted · f fills against the book at once · market events after their fills
 * ```
 *
 * ## Matching rules (what a reader of the fills needs to know)
 *
 * - **Market orders** walk the current L2 book, one `Fill` per level, with decreasing `leavesQty`.
 *   They are immediate-or-cancel: what the book cannot fill is canceled (`OrderCanceled`, reason
 *   `IOC: …`), as Binance expires the rest of a market order. Liquidity taken is removed from the
 *   simulator's copy of the book until the next snapshot replaces it. Without a book the order
 *   fills completely at the next price: the top of a `Ticker` if one was seen, else — exactly like
 *   the classic backtest fill — the next trade (strictly after the order) or the open of the next bar
 *   (opening at or after the order), moved against the order by `slippageBps`.
 * - **Limit orders** take what is marketable at once (taker fee, never worse than the limit), then
 *   rest (`GTC`), or cancel the rest (`IOC`), or fill completely or not at all (`FOK`). A resting
 *   order fills at its limit price as maker when the market goes *through* it: a book whose best
 *   opposite level is strictly better than the limit (the liquidity through the limit fills it), a
 *   trade strictly through the limit (up to the trade's quantity), a bar whose price path crosses
 *   it (up to the bar's volume). At the touch it does not fill: its place in the queue is unknown.
 * - **Stops** (`stop-*`, `take-profit-*`) trigger when the last price crosses `stopPrice` (stop:
 *   buy ≥, sell ≤; take-profit: buy ≤, sell ≥), then execute as a market or limit order at once.
 *   The last price is the trade price, the ticker's `last`, a book's mid, or a point of a bar's
 *   path. An order that would trigger at placement is rejected (Binance: "Order would trigger
 *   immediately"). **Trailing stops** follow the best price since placement (sell: the highest,
 *   buy: the lowest) and trigger a market order when the price retraces `trailingBps` from it.
 * - **Bars** are read as the path open → nearer extreme → farther extreme → close. Between two
 *   points of the path the price moves continuously, so a stop inside the range triggers at its
 *   level; at the open (a jump from the previous bar) it triggers at the open. Fills at the open are
 *   stamped `tsOpen`, fills inside the bar `tsEvent`. Only bars of one timeframe per symbol are
 *   matched (`barTimeframe`, default the first seen); other timeframes pass through.
 * - **OCO**: orders sharing `ocoGroup` are one-cancels-the-other. The first fill of a leg — a
 *   partial fill too — cancels the other legs; so does a stop leg triggering (Binance behaviour);
 *   canceling one leg cancels the group. The group reserves its balance once (the largest leg).
 *
 * ## Costs
 *
 * - Fees: maker/taker rates by 30-day traded quote volume tier. Like Binance, the tier is fixed for
 *   a UTC day from the volume of the 30 days before it; the volume is this account's fills. Fees
 *   are charged in quote and rounded up to the unit; a negative maker rate is a rebate, rounded down.
 * - Market impact: every taker fill price is moved against the order by γ·√(V/ADV) (V the order's
 *   quantity, ADV the average daily volume in base units, configured or estimated from the bars
 *   or trades seen so far — never from the event being matched), on top of the book price (and of
 *   the slippage where there is no book). A limit order never fills worse than its limit.
 * - Latency: with `latency` set, every command (order, cancel) reaches the matching engine after a
 *   log-normal delay on the scheduler, so it meets the book as it is after the delay; commands
 *   arrive in the order they were sent (one order-entry session). The engine time of the command is
 *   its `tsEvent` plus the delay; events it causes carry that time.
 *
 * ## Balances and rejections
 *
 * The simulated account starts with `initialCash` of quote and nothing else; its ledger is
 * `trackPortfolio`'s `applyFill`, so it reconciles exactly. Open orders reserve what they may spend:
 * a buy its quantity × limit (or stop) price plus the fee, a sell (spot) its quantity. A new order
 * or a fill may use only what is not reserved by other orders. Rejections are `OrderRejected` events
 * with a code and the numbers; checked in this order: `RATE_LIMITED` (the order never reached the
 * engine: its id stays free), `DUPLICATE_CLIENT_ORDER_ID` (an id the engine has seen never executes
 * again), `UNKNOWN_SYMBOL`, `EXCHANGE_ERROR` (malformed order, or a stop that would trigger
 * immediately), `BELOW_MIN_QTY`, `QTY_PRECISION`, `PRICE_PRECISION`, `BELOW_MIN_NOTIONAL` (at the
 * limit/stop price, or the top of the book), `INSUFFICIENT_POSITION` (spot sell of more than the
 * free base), `INSUFFICIENT_BALANCE` (buy needing more than the free quote, fee included). A market
 * order with no price to check against (no book, no ticker) is checked when it fills, after it was
 * accepted (as the classic backtest fill does). A later fill that cannot be paid cancels the rest of the order
 * with the code in the reason. A cancel of an order that is not open is rejected `UNKNOWN_ORDER`.
 * Unlike a classic backtest fill, a spot sell is checked against the free base when it is placed (the base
 * balance is known without a price), as an exchange does.
 *
 * ## End of data
 *
 * When the input completes (after the commands still in flight have arrived), every order still
 * open is reported `OrderCanceled` with an `EXPIRED: …` reason — word for word the same
 * for an order that never saw a price — so no order vanishes silently. A source error is passed on
 * at once; commands in flight are dropped.
 *
 * A `Ticker` is used as a book of unknown depth (top of book, plus slippage) only for a symbol that
 * has no L2 book; its `last` always feeds the triggers.
 */
import {
  BINANCE_SPOT_FEE_TIERS,
  DEFAULT_SLIPPAGE_BPS,
  feeAtPpm,
  feeTiersOf,
  squareRootImpact,
  takerFillPrice,
  tierForVolume,
  type FeeTier,
} from '../operators/costModel';
import { mulberry32 } from '../operators/random';
import { asyncScheduler, Observable, Subscription, type SchedulerLike } from 'rxjs';
import {
  PPM,
  bpsToPpm,
  feeOf,
  floorToStep,
  formatUnits,
  notionalOf,
  toUnits,
  unitsToNumber,
  type Units,
} from '../operators/money';
import { applyFill, initialPortfolio, positionQty } from '../operators/trackPortfolio';
import type {
  Bar,
  CancelAllOrders,
  CancelOrder,
  Fill,
  Instrument,
  Order,
  OrderBook,
  OrderCommand,
  OrderEvent,
  OrderRejectCode,
  Portfolio,
  Symbol,
  Ticker,
  TimeInForce,
  Timeframe,
  TradeTick,
  PaperVenueConfig,
  VenueInput,
} from '../operators/types';

/** Market data the paper exchange matches against (and passes through after the fills it caused). */
export type PaperMarketEvent = Bar | TradeTick | OrderBook | Ticker;

/** What the paper exchange consumes: a {@link VenueInput} (orders, cancels, bars, trades) widened with L2 books and tickers. */
export type PaperExchangeInput = VenueInput | OrderBook | Ticker;

export type PaperExchangeOutput = OrderEvent | PaperMarketEvent;

/**
 * The operator: order events, and the market events of the input passed through. Typed so that
 * with a {@link VenueInput} source its output is a `VenueOutput`: it is assignable to `Venue`.
 */
export type PaperExchange = <I extends PaperExchangeInput>(
  source: Observable<I>,
) => Observable<OrderEvent | Exclude<I, OrderCommand>>;

export { BINANCE_SPOT_FEE_TIERS, squareRootImpact, type FeeTier };

export interface ImpactConfig {
  /** γ of the square-root law: a taker fill moves by γ·√(V/ADV) of its price. 0 = off. Default 0. */
  readonly gamma: number;
  /** Average daily volume per symbol, base units per day. Symbols not listed are estimated. */
  readonly adv?: Readonly<Record<Symbol, number>>;
  /** Window of the rolling ADV estimate, ms. Default 86 400 000 (one day). */
  readonly advWindowMs?: number;
}

export interface LatencyConfig {
  /** Mean order latency, ms. 0 = no latency (commands reach the engine synchronously). */
  readonly meanMs: number;
  /** Standard deviation of the latency, ms (log-normal). 0 = always `meanMs`. Default 0. */
  readonly stdMs?: number;
}

export interface RateLimitConfig {
  /** New orders accepted per sliding second (engine time); more are rejected `RATE_LIMITED`. */
  readonly ordersPerSecond: number;
}

export interface PaperExchangeConfig extends PaperVenueConfig {
  /**
   * Fee tiers by 30-day volume, ascending. Default: `BINANCE_SPOT_FEE_TIERS`, unless `takerFeeBps`
   * or `makerFeeBps` is given: then one flat tier (maker defaults to the taker rate, taker to 10).
   */
  readonly feeTiers?: readonly FeeTier[];
  /** Flat maker fee, basis points (see `feeTiers`). */
  readonly makerFeeBps?: number;
  /** Square-root market impact. Default off (γ = 0). */
  readonly impact?: ImpactConfig;
  /** Order latency. Default none (synchronous: the classic backtest fill). */
  readonly latency?: LatencyConfig;
  /** Order rate limit. Default none. */
  readonly rateLimit?: RateLimitConfig;
  /** The one bar timeframe matched per symbol. Default: the first timeframe seen for the symbol. */
  readonly barTimeframe?: Timeframe;
  /** Seed of the random generator (latency draws). Default 1. */
  readonly seed?: number;
  /** Random generator factory, called once per subscription with `seed`; uniform in [0, 1). Default mulberry32. */
  readonly makeRandom?: (seed: number) => () => number;
  /** Scheduler the latency is simulated on. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /**
   * The account to start from instead of `initialCash` alone: a restarted paper session hands
   * over the ledger it rebuilt from its journal (cash and positions), so the simulated exchange
   * holds what the session holds. Its quote must be `quote`.
   */
  readonly startLedger?: Portfolio;
  /** Client order ids already used (a restart's journal): refused as duplicates, never executed again. */
  readonly usedClientOrderIds?: Iterable<string>;
}

/** A broken paper-exchange config, found before the first subscription. */
export class PaperExchangeConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
  readonly stage = 'paperExchange';
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly found: unknown,
  ) {
    super(`paperExchange config: ${key}: expected ${expected}, found ${describe(found)}`);
    this.name = 'PaperExchangeConfigError';
  }
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export { mulberry32 };

/** μ and σ of ln(latency) for a log-normal with the given mean and standard deviation. */
export function logNormalParams(meanMs: number, stdMs: number): { readonly mu: number; readonly sigma: number } {
  const sigma2 = Math.log(1 + (stdMs * stdMs) / (meanMs * meanMs));
  return { mu: Math.log(meanMs) - sigma2 / 2, sigma: Math.sqrt(sigma2) };
}

interface ResolvedTier {
  readonly name: string;
  readonly minVolume30d: Units;
  readonly makerPpm: bigint;
  readonly takerPpm: bigint;
}

interface Settings {
  readonly instruments: ReadonlyMap<Symbol, Instrument>;
  readonly initialCash: Units;
  readonly startLedger: Portfolio | undefined;
  readonly usedClientOrderIds: readonly string[];
  readonly quote: string;
  readonly tiers: readonly ResolvedTier[];
  readonly slippage: number;
  readonly allowShort: boolean;
  readonly gamma: number;
  readonly adv: ReadonlyMap<Symbol, number>;
  readonly advWindowMs: number;
  readonly latency: { readonly mu: number; readonly sigma: number } | undefined;
  readonly ordersPerSecond: number | undefined;
  readonly barTimeframe: Timeframe | undefined;
  readonly seed: number;
  readonly makeRandom: (seed: number) => () => number;
  readonly scheduler: SchedulerLike;
}

const DAY_MS = 86_400_000;
const FEE_WINDOW_DAYS = 30;

function finite(key: string, value: unknown, min: number, expected: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min)
    throw new PaperExchangeConfigError(key, expected, value);
  return value;
}

function resolveConfig(config: PaperExchangeConfig): Settings {
  if (!Array.isArray(config.instruments) || config.instruments.length === 0)
    throw new PaperExchangeConfigError('instruments', 'a non-empty list of instruments', config.instruments);
  const instruments = new Map<Symbol, Instrument>();
  config.instruments.forEach((instrument, i) => {
    if (instrument.qtyStep < 0n || instrument.minQty < 0n || instrument.minNotional < 0n)
      throw new PaperExchangeConfigError(
        `instruments[${i}]`,
        'non-negative qtyStep, minQty and minNotional',
        instrument,
      );
    finite(`instruments[${i}].priceTick`, instrument.priceTick, 0, 'a price tick ≥ 0');
    instruments.set(instrument.symbol, instrument);
  });
  if (typeof config.initialCash !== 'bigint' || config.initialCash < 0n)
    throw new PaperExchangeConfigError('initialCash', 'quote units ≥ 0 (bigint)', config.initialCash);

  const tierList = feeTiersOf(config);
  if (tierList.length === 0 || tierList[0]!.minVolume30d !== 0n)
    throw new PaperExchangeConfigError('feeTiers', 'a non-empty list whose first tier starts at volume 0', tierList);
  const tiers = tierList.map((tier, i): ResolvedTier => {
    if (i > 0 && !(tier.minVolume30d > tierList[i - 1]!.minVolume30d))
      throw new PaperExchangeConfigError(
        `feeTiers[${i}].minVolume30d`,
        'strictly ascending volumes',
        tier.minVolume30d,
      );
    const takerBps = finite(`feeTiers[${i}].takerBps`, tier.takerBps, 0, 'basis points ≥ 0');
    const makerBps = finite(`feeTiers[${i}].makerBps`, tier.makerBps, -takerBps, 'basis points ≥ −takerBps');
    return {
      name: tier.name,
      minVolume30d: tier.minVolume30d,
      makerPpm: bpsToPpm(makerBps),
      takerPpm: bpsToPpm(takerBps),
    };
  });

  const slippageBps =
    config.slippageBps === undefined
      ? DEFAULT_SLIPPAGE_BPS
      : finite('slippageBps', config.slippageBps, 0, 'basis points ≥ 0');
  const gamma = config.impact === undefined ? 0 : finite('impact.gamma', config.impact.gamma, 0, 'a number ≥ 0');
  const adv = new Map<Symbol, number>();
  for (const [symbol, value] of Object.entries(config.impact?.adv ?? {})) {
    if (!(typeof value === 'number' && Number.isFinite(value) && value > 0))
      throw new PaperExchangeConfigError(`impact.adv.${symbol}`, 'base units per day > 0', value);
    adv.set(symbol, value);
  }
  const advWindowMs =
    config.impact?.advWindowMs === undefined
      ? DAY_MS
      : finite('impact.advWindowMs', config.impact.advWindowMs, 1, 'ms ≥ 1');

  let latency: Settings['latency'];
  if (config.latency !== undefined) {
    const meanMs = finite('latency.meanMs', config.latency.meanMs, 0, 'ms ≥ 0');
    const stdMs = config.latency.stdMs === undefined ? 0 : finite('latency.stdMs', config.latency.stdMs, 0, 'ms ≥ 0');
    latency = meanMs > 0 ? logNormalParams(meanMs, stdMs) : undefined;
  }
  let ordersPerSecond: number | undefined;
  if (config.rateLimit !== undefined) {
    ordersPerSecond = finite('rateLimit.ordersPerSecond', config.rateLimit.ordersPerSecond, 1, 'an integer ≥ 1');
    if (!Number.isInteger(ordersPerSecond))
      throw new PaperExchangeConfigError('rateLimit.ordersPerSecond', 'an integer ≥ 1', ordersPerSecond);
  }
  const seed = config.seed ?? 1;
  if (!Number.isInteger(seed)) throw new PaperExchangeConfigError('seed', 'an integer', seed);

  if (config.startLedger !== undefined && config.startLedger.quote !== config.quote)
    throw new PaperExchangeConfigError('startLedger.quote', JSON.stringify(config.quote), config.startLedger.quote);
  return Object.freeze({
    instruments,
    initialCash: config.initialCash,
    startLedger: config.startLedger,
    usedClientOrderIds: [...(config.usedClientOrderIds ?? [])],
    quote: config.quote,
    tiers,
    slippage: slippageBps / 10_000,
    allowShort: config.allowShort ?? false,
    gamma,
    adv,
    advWindowMs,
    latency,
    ordersPerSecond,
    barTimeframe: config.barTimeframe,
    seed,
    makeRandom: config.makeRandom ?? mulberry32,
    scheduler: config.scheduler ?? asyncScheduler,
  });
}

/**
 * Creates a paper exchange (see the module comment for the rules). The config is validated here:
 * a broken one throws {@link PaperExchangeConfigError} before anything subscribes. Every
 * subscription gets its own account, order book copy, id registry and random generator.
 *
 * @example
 * const venue: Venue = makePaperExchange({ instruments: [BTC_USDT], initialCash: toUnits('10000'), quote: 'USDT' });
 * marketAndOrders$.pipe(venue).subscribe(...)
 */
export function makePaperExchange(config: PaperExchangeConfig): PaperExchange {
  const settings = resolveConfig(config);
  return <I extends PaperExchangeInput>(source: Observable<I>) =>
    new Observable<OrderEvent | Exclude<I, OrderCommand>>((subscriber) => {
      type Item =
        | { readonly kind: 'input'; readonly value: PaperExchangeInput }
        | { readonly kind: 'arrive'; readonly command: OrderCommand; readonly time: number };
      const queue: Item[] = [];
      const timers = new Subscription();
      let draining = false;
      let inFlight = 0;
      let sourceDone = false;
      let stopped = false;
      const random = settings.makeRandom(settings.seed);
      let lastArrival = -Infinity;

      // Market events are passed through unchanged: they are members of I that are not commands.
      const engine = new MatchingEngine(settings, (event) =>
        subscriber.next(event as OrderEvent | Exclude<I, OrderCommand>),
      );

      const latencyMs = (): number => {
        const latency = settings.latency!;
        const u1 = random();
        const u2 = random();
        const z = Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
        return Math.max(0, Math.round(Math.exp(latency.mu + latency.sigma * z)));
      };

      const send = (command: OrderCommand): void => {
        const now = settings.scheduler.now();
        const at = Math.max(now + latencyMs(), lastArrival); // one session: commands arrive in the order sent
        lastArrival = at;
        const delay = at - now;
        inFlight++;
        let ran = false;
        const action: Subscription = settings.scheduler.schedule(() => {
          ran = true;
          timers.remove(action); // a long run schedules one action per command: do not keep them
          inFlight--;
          push({ kind: 'arrive', command, time: command.tsEvent + delay });
        }, delay);
        if (!ran) timers.add(action);
      };

      const handle = (item: Item): void => {
        if (item.kind === 'arrive') {
          engine.arrive(item.command, item.time);
          return;
        }
        const input = item.value;
        switch (input.kind) {
          case 'order':
          case 'cancel':
          case 'cancel-all':
            if (settings.latency) send(input);
            else engine.arrive(input, input.tsEvent);
            return;
          default:
            engine.market(input);
        }
      };

      const drain = (): void => {
        draining = true;
        try {
          for (let item = queue.shift(); item !== undefined && !stopped; item = queue.shift()) handle(item);
        } catch (err) {
          stopped = true;
          subscriber.error(err);
          return;
        } finally {
          draining = false;
        }
        if (sourceDone && inFlight === 0 && queue.length === 0 && !stopped) {
          stopped = true;
          try {
            engine.expire();
          } catch (err) {
            subscriber.error(err);
            return;
          }
          subscriber.complete();
        }
      };

      const push = (item: Item): void => {
        if (stopped) return;
        queue.push(item);
        if (!draining) drain();
      };

      timers.add(
        source.subscribe({
          next: (value) => push({ kind: 'input', value }),
          error: (err: unknown) => {
            stopped = true;
            subscriber.error(err);
          },
          complete: () => {
            sourceDone = true;
            if (!draining) drain();
          },
        }),
      );
      return () => {
        stopped = true;
        timers.unsubscribe();
      };
    });
}

// ---------------------------------------------------------------------------------------------
// The matching engine: state of one subscription.

interface Level {
  readonly price: number;
  qty: Units;
}

interface MarketState {
  /** Simulator's copy of the last L2 snapshot, minus the liquidity taken since. */
  book: { bids: Level[]; asks: Level[] } | undefined;
  ticker: { readonly bid: number; readonly ask: number } | undefined;
  last: number | undefined;
  barTimeframe: Timeframe | undefined;
  /** Which data feeds the ADV estimate: trades, or bars of one timeframe (the first seen). */
  volumeSource: 'trade' | Timeframe | undefined;
  volumes: { readonly end: number; readonly qty: number }[];
  firstStart: number | undefined;
}

type Phase = 'pending' | 'resting' | 'armed';

interface Working {
  readonly order: Order;
  readonly instrument: Instrument;
  readonly seq: number;
  readonly engineTime: number;
  readonly tif: TimeInForce;
  /** Once active: take at any price, or only up to `limit`. */
  readonly exec: 'market' | 'limit';
  readonly limit: number | undefined;
  /** Price a buy reserves quote at; undefined: reserves nothing (a market order not yet priced). */
  readonly reservePrice: number | undefined;
  leaves: Units;
  filled: Units;
  phase: Phase;
  /** Trailing stops: best price since placement. */
  best: number | undefined;
  /** Whether the minimum notional was checked at placement (else at the first fill). */
  notionalChecked: boolean;
}

interface Leg {
  readonly qty: Units;
  readonly price: Units;
  readonly level?: Level;
}

const TRIGGERED: ReadonlySet<Order['type']> = new Set([
  'stop-market',
  'stop-limit',
  'take-profit-market',
  'take-profit-limit',
  'trailing-stop',
]);
const LIMIT_TYPES: ReadonlySet<Order['type']> = new Set(['limit', 'stop-limit', 'take-profit-limit']);
const STOP_TYPES: ReadonlySet<Order['type']> = new Set([
  'stop-market',
  'stop-limit',
  'take-profit-market',
  'take-profit-limit',
]);

function isMultiple(price: number, tick: number): boolean {
  if (!(tick > 0)) return true;
  return toUnits(price) % toUnits(tick) === 0n;
}

/** The part of a balance message about reservations: empty when nothing is reserved (the wording bot4 has always used). */
function reservedNote(reserved: Units): string {
  return reserved > 0n ? `, ${formatUnits(reserved)} reserved by open orders` : '';
}

function maxUnits(a: Units, b: Units): Units {
  return a > b ? a : b;
}

class MatchingEngine {
  private ledger: Portfolio;
  private readonly known = new Map<string, string>(); // clientOrderId → signalId
  private readonly open = new Map<string, Working>(); // insertion order = time priority
  private readonly markets = new Map<Symbol, MarketState>();
  private readonly volume: { readonly ts: number; readonly notional: Units }[] = [];
  private tierCache: { readonly day: number; readonly tier: ResolvedTier } | undefined;
  private orderTimes: number[] = [];
  private seq = 0;

  constructor(
    private readonly s: Settings,
    private readonly out: (event: PaperExchangeOutput) => void,
  ) {
    this.ledger = s.startLedger ?? initialPortfolio({ initialCash: s.initialCash, quote: s.quote });
    for (const id of s.usedClientOrderIds) this.known.set(id, '');
  }

  // ----- commands -----------------------------------------------------------------------------

  arrive(command: OrderCommand, time: number): void {
    switch (command.kind) {
      case 'order':
        this.place(command, time);
        return;
      case 'cancel':
        this.cancel(command, time);
        return;
      case 'cancel-all':
        this.cancelAll(command, time);
        return;
    }
  }

  /** The market data ended: every order still open is reported canceled, none vanishes silently. */
  expire(): void {
    for (const w of [...this.open.values()]) {
      const reason =
        w.phase === 'pending' && w.filled === 0n
          ? `EXPIRED: market data ended before a price after ${w.engineTime} arrived`
          : `EXPIRED: market data ended with the order open, ${formatUnits(w.leaves)} of ${formatUnits(w.order.qty)} unfilled`;
      this.close(w, reason, w.engineTime);
    }
  }

  private reject(
    order: Pick<Order, 'clientOrderId' | 'signalId'>,
    code: OrderRejectCode,
    message: string,
    tsEvent: number,
  ): void {
    this.out({
      kind: 'order-rejected',
      clientOrderId: order.clientOrderId,
      signalId: order.signalId,
      code,
      message,
      tsEvent,
    });
  }

  private place(order: Order, t: number): void {
    const s = this.s;
    if (s.ordersPerSecond !== undefined) {
      this.orderTimes = this.orderTimes.filter((time) => time > t - 1000);
      if (this.orderTimes.length >= s.ordersPerSecond) {
        this.reject(
          order,
          'RATE_LIMITED',
          `${this.orderTimes.length} orders in the last 1000 ms, limit ${s.ordersPerSecond}/s; not executed, id not used`,
          t,
        );
        return;
      }
      this.orderTimes.push(t);
    }
    if (this.known.has(order.clientOrderId)) {
      this.reject(
        order,
        'DUPLICATE_CLIENT_ORDER_ID',
        `client order id ${order.clientOrderId} was already used; nothing executed`,
        t,
      );
      return;
    }
    this.known.set(order.clientOrderId, order.signalId);
    const instrument = s.instruments.get(order.symbol);
    if (!instrument) {
      this.reject(order, 'UNKNOWN_SYMBOL', `symbol ${order.symbol} is not traded on this venue`, t);
      return;
    }
    const malformed = malformedReason(order);
    if (malformed) {
      this.reject(order, 'EXCHANGE_ERROR', malformed, t);
      return;
    }
    if (order.qty < instrument.minQty) {
      this.reject(
        order,
        'BELOW_MIN_QTY',
        `qty ${formatUnits(order.qty)} below minimum ${formatUnits(instrument.minQty)}`,
        t,
      );
      return;
    }
    if (instrument.maxQty !== undefined && order.qty > instrument.maxQty) {
      this.reject(
        order,
        'EXCHANGE_ERROR',
        `LOT_SIZE: qty ${formatUnits(order.qty)} above maximum ${formatUnits(instrument.maxQty)}`,
        t,
      );
      return;
    }
    if (instrument.qtyStep > 0n && order.qty % instrument.qtyStep !== 0n) {
      this.reject(
        order,
        'QTY_PRECISION',
        `qty ${formatUnits(order.qty)} is not a multiple of the lot size ${formatUnits(instrument.qtyStep)}`,
        t,
      );
      return;
    }
    for (const key of ['limitPrice', 'stopPrice'] as const) {
      const price = order[key];
      if (price !== undefined && !isMultiple(price, instrument.priceTick)) {
        this.reject(
          order,
          'PRICE_PRECISION',
          `${key} ${price} is not a multiple of the tick ${instrument.priceTick}`,
          t,
        );
        return;
      }
    }
    const market = this.state(order.symbol);
    if (STOP_TYPES.has(order.type) && market.last !== undefined && triggers(order, order.stopPrice!, market.last)) {
      this.reject(
        order,
        'EXCHANGE_ERROR',
        `WOULD_TRIGGER_IMMEDIATELY: ${order.type} ${order.side} stopPrice ${order.stopPrice} vs last ${market.last}`,
        t,
      );
      return;
    }

    const trailLevel =
      order.type === 'trailing-stop' && market.last !== undefined ? trailingLevel(order, market.last) : undefined;
    const limit = LIMIT_TYPES.has(order.type) ? order.limitPrice : undefined;
    const top = order.type === 'market' ? this.topPrice(market, order.side) : undefined;
    const refPrice = limit ?? order.stopPrice ?? trailLevel ?? top;
    if (refPrice !== undefined) {
      const notional = notionalOf(order.qty, toUnits(refPrice));
      if (notional < instrument.minNotional) {
        this.reject(
          order,
          'BELOW_MIN_NOTIONAL',
          `notional ${formatUnits(notional)} below minimum ${formatUnits(instrument.minNotional)}`,
          t,
        );
        return;
      }
    }

    const w: Working = {
      order,
      instrument,
      seq: this.seq++,
      engineTime: t,
      tif: order.type === 'market' ? 'IOC' : (order.timeInForce ?? 'GTC'),
      exec: limit === undefined ? 'market' : 'limit',
      limit,
      reservePrice: order.side === 'buy' ? (limit ?? order.stopPrice ?? trailLevel) : undefined,
      leaves: order.qty,
      filled: 0n,
      phase: TRIGGERED.has(order.type) ? 'armed' : 'pending',
      best: order.type === 'trailing-stop' ? market.last : undefined,
      notionalChecked: refPrice !== undefined,
    };

    if (order.side === 'sell' && !s.allowShort) {
      const held = positionQty(this.ledger, order.symbol);
      const reserved = this.reservedBase(order.symbol, w);
      const need = this.groupNeed(
        w,
        (o) => o.leaves,
        (o) => o.order.side === 'sell' && o.order.symbol === order.symbol,
      );
      if (need > held - reserved) {
        this.reject(
          order,
          'INSUFFICIENT_POSITION',
          `sells ${formatUnits(need)} ${instrument.base}, holds ${formatUnits(held)}${reservedNote(reserved)}`,
          t,
        );
        return;
      }
    }
    if (order.side === 'buy') {
      let need: Units | undefined;
      if (order.type === 'market') {
        const legs = this.plan(w, market, undefined);
        if (legs !== undefined) need = legs.reduce((sum, leg) => sum + this.cost(leg, 'taker', t), 0n);
      } else if (w.reservePrice !== undefined) {
        need = this.groupNeed(
          w,
          (o) => this.quoteNeed(o, t),
          (o) => o.order.side === 'buy',
        );
      }
      if (need !== undefined) {
        const reserved = this.reservedQuote(w, t);
        const free = this.ledger.cash - reserved;
        if (need > free) {
          this.reject(
            order,
            'INSUFFICIENT_BALANCE',
            `needs ${formatUnits(need)} ${s.quote}, free ${formatUnits(free)}${reservedNote(reserved)}`,
            t,
          );
          return;
        }
      }
    }

    this.out({ kind: 'order-accepted', clientOrderId: order.clientOrderId, signalId: order.signalId, tsEvent: t });
    this.open.set(order.clientOrderId, w);
    if (w.phase === 'pending') this.activate(w, market, undefined, t);
  }

  private cancel(command: CancelOrder, t: number): void {
    const w = this.open.get(command.clientOrderId);
    if (!w || w.order.symbol !== command.symbol) {
      const signalId = this.known.get(command.clientOrderId);
      const why = signalId === undefined ? 'never seen' : 'no longer open';
      this.reject(
        { clientOrderId: command.clientOrderId, signalId: signalId ?? '' },
        'UNKNOWN_ORDER',
        `cancel of ${command.clientOrderId} on ${command.symbol}: order ${why}`,
        t,
      );
      return;
    }
    this.close(w, command.reason, t);
    this.cancelSiblings(w, `OCO: sibling ${w.order.clientOrderId} canceled`, t);
  }

  private cancelAll(command: CancelAllOrders, t: number): void {
    for (const w of [...this.open.values()]) {
      if (command.symbol !== undefined && w.order.symbol !== command.symbol) continue;
      if (this.open.get(w.order.clientOrderId) !== w) continue;
      this.close(w, command.reason, t);
      this.cancelSiblings(w, `OCO: sibling ${w.order.clientOrderId} canceled`, t);
    }
  }

  private close(w: Working, reason: string, t: number): void {
    this.open.delete(w.order.clientOrderId);
    this.out({
      kind: 'order-canceled',
      clientOrderId: w.order.clientOrderId,
      signalId: w.order.signalId,
      reason,
      tsEvent: t,
    });
  }

  private cancelSiblings(w: Working, reason: string, t: number): void {
    const group = w.order.ocoGroup;
    if (group === undefined) return;
    for (const other of [...this.open.values()])
      if (other !== w && other.order.ocoGroup === group) this.close(other, reason, t);
  }

  /** Ends an order that cannot continue: rejected if nothing was filled yet, else canceled. */
  private fail(w: Working, code: OrderRejectCode, message: string, t: number): void {
    if (w.filled === 0n) {
      this.open.delete(w.order.clientOrderId);
      this.reject(w.order, code, message, t);
    } else this.close(w, `${code}: ${message}`, t);
  }

  // ----- balances -----------------------------------------------------------------------------

  private tier(t: number): ResolvedTier {
    const day = Math.floor(t / DAY_MS) * DAY_MS;
    if (this.tierCache?.day === day) return this.tierCache.tier;
    const from = day - FEE_WINDOW_DAYS * DAY_MS;
    let volume = 0n;
    for (const entry of this.volume) if (entry.ts >= from && entry.ts < day) volume += entry.notional;
    const tier = tierForVolume(this.s.tiers, volume);
    this.tierCache = { day, tier };
    return tier;
  }

  private feeOf(notional: Units, liquidity: 'maker' | 'taker', t: number): Units {
    const tier = this.tier(t);
    const ppm = liquidity === 'maker' ? tier.makerPpm : tier.takerPpm;
    return feeAtPpm(notional, ppm);
  }

  private cost(leg: Leg, liquidity: 'maker' | 'taker', t: number): Units {
    const notional = notionalOf(leg.qty, leg.price);
    return notional + this.feeOf(notional, liquidity, t);
  }

  /** Quote a resting buy may spend: leaves × reserve price + the higher of its fees. */
  private quoteNeed(w: Working, t: number): Units {
    if (w.reservePrice === undefined) return 0n;
    const notional = notionalOf(w.leaves, toUnits(w.reservePrice));
    return notional + maxUnits(this.feeOf(notional, 'maker', t), this.feeOf(notional, 'taker', t));
  }

  /** What `w`'s OCO group needs with `w` in it: the largest leg (one leg at most executes). */
  private groupNeed(w: Working, need: (o: Working) => Units, same: (o: Working) => boolean): Units {
    let total = need(w);
    if (w.order.ocoGroup === undefined) return total;
    for (const o of this.open.values())
      if (o !== w && o.order.ocoGroup === w.order.ocoGroup && same(o)) total = maxUnits(total, need(o));
    return total;
  }

  private sumReserved(except: Working, include: (o: Working) => boolean, need: (o: Working) => Units): Units {
    let total = 0n;
    const groups = new Map<string, Units>();
    for (const o of this.open.values()) {
      if (o === except || !include(o)) continue;
      const group = o.order.ocoGroup;
      if (group !== undefined && group === except.order.ocoGroup) continue; // the group executes one leg at most
      const amount = need(o);
      if (group === undefined) total += amount;
      else groups.set(group, maxUnits(groups.get(group) ?? 0n, amount));
    }
    for (const amount of groups.values()) total += amount;
    return total;
  }

  /** Quote reserved by open buys other than `except` and its OCO group. */
  private reservedQuote(except: Working, t: number): Units {
    return this.sumReserved(
      except,
      (o) => o.order.side === 'buy',
      (o) => this.quoteNeed(o, t),
    );
  }

  /** Base reserved by open spot sells of `symbol` other than `except` and its OCO group. */
  private reservedBase(symbol: Symbol, except: Working): Units {
    return this.sumReserved(
      except,
      (o) => o.order.side === 'sell' && o.order.symbol === symbol,
      (o) => o.leaves,
    );
  }

  // ----- execution ----------------------------------------------------------------------------

  private state(symbol: Symbol): MarketState {
    let state = this.markets.get(symbol);
    if (!state) {
      state = {
        book: undefined,
        ticker: undefined,
        last: undefined,
        barTimeframe: this.s.barTimeframe,
        volumeSource: undefined,
        volumes: [],
        firstStart: undefined,
      };
      this.markets.set(symbol, state);
    }
    return state;
  }

  private topPrice(market: MarketState, side: Order['side']): number | undefined {
    if (market.book)
      return (side === 'buy' ? market.book.asks : market.book.bids).find((level) => level.qty > 0n)?.price;
    if (market.ticker) return side === 'buy' ? market.ticker.ask : market.ticker.bid;
    return undefined;
  }

  private adv(symbol: Symbol): number | undefined {
    const configured = this.s.adv.get(symbol);
    if (configured !== undefined) return configured;
    const market = this.state(symbol);
    const last = market.volumes[market.volumes.length - 1];
    if (!last || market.firstStart === undefined) return undefined;
    const span = Math.min(this.s.advWindowMs, last.end - market.firstStart);
    if (!(span > 0)) return undefined;
    let qty = 0;
    for (const entry of market.volumes) if (entry.end > last.end - this.s.advWindowMs) qty += entry.qty;
    return qty > 0 ? (qty * DAY_MS) / span : undefined;
  }

  private recordVolume(
    market: MarketState,
    source: 'trade' | Timeframe,
    start: number,
    end: number,
    qty: number,
  ): void {
    market.volumeSource ??= source;
    if (market.volumeSource !== source) return;
    market.firstStart ??= start;
    market.volumes.push({ end, qty });
    while (market.volumes.length > 0 && market.volumes[0]!.end <= end - this.s.advWindowMs) market.volumes.shift();
  }

  /** A taker price: `base` moved against the order by `extra` (slippage) plus impact, capped at the limit. */
  private takerPrice(w: Working, base: number, extra: number): Units {
    const impact = squareRootImpact(this.s.gamma, unitsToNumber(w.order.qty), this.adv(w.order.symbol));
    return toUnits(takerFillPrice(w.order.side, base, extra, impact, w.limit));
  }

  private marketable(w: Working, price: number): boolean {
    if (w.limit === undefined) return true;
    return w.order.side === 'buy' ? price <= w.limit : price >= w.limit;
  }

  /**
   * What `w` would take now: levels of the book, else the event's price (`fallback`), else the
   * ticker's top — undefined when there is no price at all. Does not change anything.
   */
  private plan(w: Working, market: MarketState, fallback: number | undefined): Leg[] | undefined {
    if (market.book) {
      const legs: Leg[] = [];
      let remaining = w.leaves;
      for (const level of w.order.side === 'buy' ? market.book.asks : market.book.bids) {
        if (remaining === 0n) break;
        if (!this.marketable(w, level.price)) break;
        const qty = floorToStep(level.qty < remaining ? level.qty : remaining, w.instrument.qtyStep);
        if (qty <= 0n) continue;
        legs.push({ qty, price: this.takerPrice(w, level.price, 0), level });
        remaining -= qty;
      }
      return legs;
    }
    const price =
      fallback ?? (market.ticker ? (w.order.side === 'buy' ? market.ticker.ask : market.ticker.bid) : undefined);
    if (price === undefined) return undefined;
    if (!this.marketable(w, price)) return [];
    return [{ qty: w.leaves, price: this.takerPrice(w, price, this.s.slippage) }];
  }

  /**
   * An order that can trade now (new, or just triggered): takes what is marketable, then rests,
   * or cancels the rest (IOC, market orders), or does nothing at all (FOK that cannot fill).
   */
  private activate(w: Working, market: MarketState, fallback: number | undefined, t: number): void {
    const legs = this.plan(w, market, fallback);
    if (legs === undefined) return; // no price yet: wait for the first one
    const available = legs.reduce((sum, leg) => sum + leg.qty, 0n);
    if (w.tif === 'FOK' && available < w.leaves) {
      this.close(
        w,
        `FOK: only ${formatUnits(available)} of ${formatUnits(w.leaves)} available${w.limit === undefined ? '' : ` at ${w.limit}`}; nothing executed`,
        t,
      );
      return;
    }
    if (!w.notionalChecked && legs[0] !== undefined) {
      w.notionalChecked = true;
      const notional = notionalOf(w.order.qty, legs[0].price);
      if (notional < w.instrument.minNotional) {
        this.fail(
          w,
          'BELOW_MIN_NOTIONAL',
          `notional ${formatUnits(notional)} below minimum ${formatUnits(w.instrument.minNotional)}`,
          t,
        );
        return;
      }
    }
    for (const leg of legs) {
      if (!this.fill(w, leg.qty, leg.price, 'taker', t)) return;
      if (leg.level) leg.level.qty -= leg.qty;
    }
    if (w.leaves === 0n || this.open.get(w.order.clientOrderId) !== w) return;
    if (w.exec === 'limit' && w.tif === 'GTC') {
      w.phase = 'resting';
      return;
    }
    const why = w.exec === 'market' ? (market.book ? 'book depth exhausted' : 'no liquidity') : 'not marketable';
    this.close(
      w,
      `IOC: ${why}; filled ${formatUnits(w.filled)} of ${formatUnits(w.order.qty)}, ${formatUnits(w.leaves)} canceled`,
      t,
    );
  }

  /** Books one fill of `w` if the account can pay for it; false (and the order ended) if not. */
  private fill(w: Working, qty: Units, price: Units, liquidity: 'maker' | 'taker', t: number): boolean {
    const order = w.order;
    const notional = notionalOf(qty, price);
    const fee = this.feeOf(notional, liquidity, t);
    if (order.side === 'buy') {
      const reserved = this.reservedQuote(w, t);
      const free = this.ledger.cash - reserved;
      if (notional + fee > free) {
        this.fail(
          w,
          'INSUFFICIENT_BALANCE',
          `needs ${formatUnits(notional + fee)} ${this.s.quote}, free ${formatUnits(free)}${reservedNote(reserved)}`,
          t,
        );
        return false;
      }
    } else if (!this.s.allowShort) {
      const held = positionQty(this.ledger, order.symbol);
      const reserved = this.reservedBase(order.symbol, w);
      if (qty > held - reserved) {
        this.fail(
          w,
          'INSUFFICIENT_POSITION',
          `sells ${formatUnits(qty)} ${w.instrument.base}, holds ${formatUnits(held)}${reservedNote(reserved)}`,
          t,
        );
        return false;
      }
    }
    w.leaves -= qty;
    w.filled += qty;
    const fill: Fill = {
      kind: 'fill',
      clientOrderId: order.clientOrderId,
      signalId: order.signalId,
      symbol: order.symbol,
      side: order.side,
      qty,
      price,
      notional,
      fee,
      liquidity,
      leavesQty: w.leaves,
      tsEvent: t,
    };
    this.ledger = applyFill(this.ledger, fill);
    this.volume.push({ ts: t, notional });
    if (this.tierCache !== undefined && t < this.tierCache.day) this.tierCache = undefined;
    this.pruneVolume(t);
    if (w.leaves === 0n) this.open.delete(order.clientOrderId);
    this.out(fill);
    this.cancelSiblings(w, `OCO: sibling ${order.clientOrderId} filled`, t);
    return true;
  }

  private pruneVolume(t: number): void {
    const horizon = t - (FEE_WINDOW_DAYS + 1) * DAY_MS;
    while (this.volume.length > 0 && this.volume[0]!.ts < horizon) this.volume.shift();
  }

  /** A resting order filled at its limit as maker, up to `available` (undefined: all of it). Returns what was filled. */
  private fillMaker(w: Working, available: Units | undefined, t: number): Units {
    const qty = floorToStep(
      available === undefined || available > w.leaves ? w.leaves : available,
      w.instrument.qtyStep,
    );
    if (qty <= 0n) return 0n;
    return this.fill(w, qty, toUnits(w.limit!), 'maker', t) ? qty : 0n;
  }

  /** Open orders of `symbol` that may see a market event at `time` (no order sees a price from before it). */
  private eligible(symbol: Symbol, phase: Phase, seesEventAt: (w: Working) => boolean): Working[] {
    const list: Working[] = [];
    for (const w of this.open.values())
      if (w.order.symbol === symbol && w.phase === phase && seesEventAt(w)) list.push(w);
    return list;
  }

  private stillOpen(w: Working, phase: Phase): boolean {
    return this.open.get(w.order.clientOrderId) === w && w.phase === phase && w.leaves > 0n;
  }

  /** Resting orders by price then time priority. */
  private resting(symbol: Symbol, seesEventAt: (w: Working) => boolean): Working[] {
    return this.eligible(symbol, 'resting', seesEventAt).sort((a, b) => {
      if (a.order.side !== b.order.side) return a.order.side === 'buy' ? -1 : 1;
      const byPrice = a.order.side === 'buy' ? b.limit! - a.limit! : a.limit! - b.limit!;
      return byPrice !== 0 ? byPrice : a.seq - b.seq;
    });
  }

  /**
   * Armed orders at a price point: trigger (then execute), or follow the price (trailing).
   * `previous` is the price the market moved continuously from (inside a bar), else undefined (a jump).
   */
  private checkTriggers(
    market: MarketState,
    symbol: Symbol,
    price: number,
    previous: number | undefined,
    t: number,
    seesEventAt: (w: Working) => boolean,
    useBook: boolean,
  ): void {
    for (const w of this.eligible(symbol, 'armed', seesEventAt)) {
      if (!this.stillOpen(w, 'armed')) continue;
      const order = w.order;
      let level: number | undefined;
      if (order.type === 'trailing-stop') {
        if (w.best === undefined) {
          w.best = price;
          continue;
        }
        level = trailingLevel(order, w.best);
      } else level = order.stopPrice!;
      if (triggers(order, level, price)) {
        const at = previous !== undefined && !triggers(order, level, previous) ? level : price;
        this.cancelSiblings(w, `OCO: sibling ${order.clientOrderId} triggered at ${at}`, t);
        w.phase = 'pending';
        this.activate(w, useBook ? market : { ...market, book: undefined, ticker: undefined }, at, t);
      } else if (order.type === 'trailing-stop') {
        w.best = order.side === 'sell' ? Math.max(w.best!, price) : Math.min(w.best!, price);
      }
    }
  }

  market(event: PaperMarketEvent): void {
    switch (event.kind) {
      case 'book':
        this.onBook(event);
        break;
      case 'ticker':
        this.onTicker(event);
        break;
      case 'trade':
        this.onTrade(event);
        break;
      case 'bar':
        this.onBar(event);
        break;
    }
    this.out(event);
  }

  private onBook(book: OrderBook): void {
    const market = this.state(book.symbol);
    const instrument = this.s.instruments.get(book.symbol);
    const levels = (side: readonly (readonly [number, number])[]): Level[] =>
      side.map(([price, qty]) => ({
        price,
        qty: instrument ? floorToStep(toUnits(qty), instrument.qtyStep) : toUnits(qty),
      }));
    market.book = { bids: levels(book.bids), asks: levels(book.asks) };
    const bid = book.bids[0]?.[0];
    const ask = book.asks[0]?.[0];
    if (bid !== undefined && ask !== undefined) market.last = (bid + ask) / 2;
    const t = book.tsEvent;
    const sees = (w: Working): boolean => t >= w.engineTime;

    for (const w of this.eligible(book.symbol, 'pending', sees))
      if (this.stillOpen(w, 'pending')) this.activate(w, market, undefined, t);
    for (const w of this.resting(book.symbol, sees)) {
      const opposite = w.order.side === 'buy' ? market.book.asks : market.book.bids;
      for (const level of opposite) {
        if (!this.stillOpen(w, 'resting')) break;
        const through = w.order.side === 'buy' ? level.price < w.limit! : level.price > w.limit!;
        if (!through) break;
        level.qty -= this.fillMaker(w, level.qty, t);
      }
    }
    if (market.last !== undefined) this.checkTriggers(market, book.symbol, market.last, undefined, t, sees, true);
  }

  private onTicker(ticker: Ticker): void {
    const market = this.state(ticker.symbol);
    market.ticker = { bid: ticker.bid, ask: ticker.ask };
    market.last = ticker.last;
    const t = ticker.tsEvent;
    const sees = (w: Working): boolean => t >= w.engineTime;
    if (!market.book) {
      for (const w of this.eligible(ticker.symbol, 'pending', sees))
        if (this.stillOpen(w, 'pending')) this.activate(w, market, undefined, t);
      for (const w of this.resting(ticker.symbol, sees)) {
        if (!this.stillOpen(w, 'resting')) continue;
        const through = w.order.side === 'buy' ? ticker.ask < w.limit! : ticker.bid > w.limit!;
        if (through) this.fillMaker(w, undefined, t);
      }
    }
    this.checkTriggers(market, ticker.symbol, ticker.last, undefined, t, sees, true);
  }

  private onTrade(trade: TradeTick): void {
    const market = this.state(trade.symbol);
    const instrument = this.s.instruments.get(trade.symbol);
    market.last = trade.price;
    const t = trade.tsEvent;
    const sees = (w: Working): boolean => t > w.engineTime; // a trade in the decision's millisecond is not after it
    for (const w of this.eligible(trade.symbol, 'pending', sees))
      if (this.stillOpen(w, 'pending')) this.activate(w, market, trade.price, t);
    let left = instrument ? floorToStep(toUnits(trade.qty), instrument.qtyStep) : 0n;
    for (const w of this.resting(trade.symbol, sees)) {
      if (left <= 0n) break;
      if (!this.stillOpen(w, 'resting')) continue;
      const through = w.order.side === 'buy' ? trade.price < w.limit! : trade.price > w.limit!;
      if (through) left -= this.fillMaker(w, left, t);
    }
    this.checkTriggers(market, trade.symbol, trade.price, undefined, t, sees, true);
    this.recordVolume(market, 'trade', t, t, trade.qty);
  }

  private onBar(bar: Bar): void {
    const market = this.state(bar.symbol);
    market.barTimeframe ??= bar.timeframe;
    if (bar.timeframe !== market.barTimeframe) return;
    const instrument = this.s.instruments.get(bar.symbol);
    const sees = (w: Working): boolean => bar.tsOpen >= w.engineTime;
    const highFirst = bar.high - bar.open <= bar.open - bar.low;
    const path = highFirst ? [bar.open, bar.high, bar.low, bar.close] : [bar.open, bar.low, bar.high, bar.close];
    let left = instrument ? floorToStep(toUnits(bar.volume), instrument.qtyStep) : 0n;
    let previous: number | undefined;
    for (const price of path) {
      const t = previous === undefined ? bar.tsOpen : bar.tsEvent;
      if (previous === undefined) {
        for (const w of this.eligible(bar.symbol, 'pending', sees))
          if (this.stillOpen(w, 'pending')) this.activate(w, market, price, t);
      }
      for (const w of this.resting(bar.symbol, sees)) {
        if (left <= 0n) break;
        if (!this.stillOpen(w, 'resting')) continue;
        const through = w.order.side === 'buy' ? price < w.limit! : price > w.limit!;
        if (through) left -= this.fillMaker(w, left, t);
      }
      market.last = price;
      this.checkTriggers(market, bar.symbol, price, previous, t, sees, previous === undefined);
      previous = price;
    }
    this.recordVolume(market, bar.timeframe, bar.tsOpen, bar.tsEvent, bar.volume);
  }
}

/** Why an order cannot be processed at all, or undefined when it is well-formed. */
function malformedReason(order: Order): string | undefined {
  const positive = (value: number | undefined): boolean => value !== undefined && Number.isFinite(value) && value > 0;
  switch (order.type) {
    case 'market':
      return undefined;
    case 'limit':
      return positive(order.limitPrice) ? undefined : `limit order needs limitPrice > 0, got ${order.limitPrice}`;
    case 'stop-market':
    case 'take-profit-market':
      return positive(order.stopPrice) ? undefined : `${order.type} order needs stopPrice > 0, got ${order.stopPrice}`;
    case 'stop-limit':
    case 'take-profit-limit':
      return positive(order.stopPrice) && positive(order.limitPrice)
        ? undefined
        : `${order.type} order needs stopPrice > 0 and limitPrice > 0, got ${order.stopPrice} and ${order.limitPrice}`;
    case 'trailing-stop':
      return positive(order.trailingBps) && order.trailingBps! < 10_000
        ? undefined
        : `trailing-stop order needs 0 < trailingBps < 10000, got ${order.trailingBps}`;
    default:
      return `unsupported order type ${String((order as { type: unknown }).type)}`;
  }
}

/** Whether `price` is at or through the trigger `level` of a stop, take-profit or trailing stop. */
function triggers(order: Order, level: number, price: number): boolean {
  const stopLike = order.type === 'stop-market' || order.type === 'stop-limit' || order.type === 'trailing-stop';
  const rising = order.side === 'buy' ? stopLike : !stopLike;
  return rising ? price >= level : price <= level;
}

/** The trigger level of a trailing stop whose best price is `best`. */
function trailingLevel(order: Order, best: number): number {
  const distance = order.trailingBps! / 10_000;
  return order.side === 'sell' ? best * (1 - distance) : best * (1 + distance);
}
