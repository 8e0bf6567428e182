/**
 * bot4's domain types, defined once and shared by every stage.
 *
 * Conventions:
 * - Every event carries `tsEvent` (ms since the Unix epoch, UTC: when it happened on the venue or,
 *   for derived events, the time of the market event that caused it) and, where the event crossed
 *   into the system, `tsInit` (when we saw it, from the pipeline's scheduler).
 * - Amounts that are summed (quantities, cash, fees, PnL) are `Units` (bigint, 1e-8); prices and
 *   indicator values are `number`.
 * - Everything is plain readonly data; unions are discriminated by `kind`.
 */
import type { OperatorFunction } from 'rxjs';
import type { Units } from './money';

/** Milliseconds since the Unix epoch, UTC. */
export type Timestamp = number;

/** Unified symbol as ccxt writes it: `BASE/QUOTE`, e.g. `BTC/USDT`. */
export type Symbol = string;

/** A venue id as ccxt names exchanges (`binance`, `kraken`…), or `paper`. */
export type VenueId = string;

export interface Instrument {
  readonly venue: VenueId;
  readonly symbol: Symbol;
  readonly base: string;
  readonly quote: string;
  /** Smallest quantity increment (lot size), in base units. */
  readonly qtyStep: Units;
  /** Smallest price increment, in quote per base. */
  readonly priceTick: number;
  /** Smallest order quantity, in base units. */
  readonly minQty: Units;
  /** Smallest order notional, in quote units. */
  readonly minNotional: Units;
  /** Largest order quantity, in base units, when the venue has one. */
  readonly maxQty?: Units;
  /** Sector for concentration limits (`L1`, `DeFi`…). Default `unclassified`. */
  readonly sector?: string;
}

export type Side = 'buy' | 'sell';

export interface TradeTick {
  readonly kind: 'trade';
  readonly venue: VenueId;
  readonly symbol: Symbol;
  readonly price: number;
  readonly qty: number;
  /** Side of the aggressor (taker). */
  readonly side: Side;
  readonly tradeId: string;
  readonly tsEvent: Timestamp;
  readonly tsInit: Timestamp;
}

/** Bar timeframes, as ccxt spells them. */
export type Timeframe = '1m' | '3m' | '5m' | '15m' | '30m' | '1h' | '2h' | '4h' | '6h' | '8h' | '12h' | '1d';

export const TIMEFRAMES: readonly Timeframe[] = [
  '1m',
  '3m',
  '5m',
  '15m',
  '30m',
  '1h',
  '2h',
  '4h',
  '6h',
  '8h',
  '12h',
  '1d',
];

const TIMEFRAME_MS: Readonly<Record<Timeframe, number>> = {
  '1m': 60_000,
  '3m': 180_000,
  '5m': 300_000,
  '15m': 900_000,
  '30m': 1_800_000,
  '1h': 3_600_000,
  '2h': 7_200_000,
  '4h': 14_400_000,
  '6h': 21_600_000,
  '8h': 28_800_000,
  '12h': 43_200_000,
  '1d': 86_400_000,
};

export function timeframeMs(timeframe: Timeframe): number {
  return TIMEFRAME_MS[timeframe];
}

export function isTimeframe(value: string): value is Timeframe {
  return Object.hasOwn(TIMEFRAME_MS, value);
}

/**
 * An OHLCV bar. Aggregation is by time (step = timeframe) from trade prices; the bar is known at
 * `tsEvent`, its close time, so no stage may act on it earlier.
 */
export interface Bar {
  readonly kind: 'bar';
  readonly venue: VenueId;
  readonly symbol: Symbol;
  readonly timeframe: Timeframe;
  /** Start of the interval (inclusive). */
  readonly tsOpen: Timestamp;
  /** End of the interval (exclusive) = when the bar became known. */
  readonly tsEvent: Timestamp;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  /** Base-asset volume. */
  readonly volume: number;
  /** Number of trades aggregated, when known. */
  readonly trades: number;
}

/** Reported when consecutive bars of one series are not adjacent: no bar is invented. */
export interface BarGap {
  readonly kind: 'gap';
  readonly venue: VenueId;
  readonly symbol: Symbol;
  readonly timeframe: Timeframe;
  /** tsEvent of the last bar before the gap. */
  readonly from: Timestamp;
  /** tsOpen of the first bar after the gap. */
  readonly to: Timestamp;
  /** Number of whole bars missing. */
  readonly missing: number;
  readonly tsEvent: Timestamp;
}

/** Input that could not be used, with the reason. Counted, journaled, never thrown. */
export interface DeadLetter {
  readonly kind: 'dead-letter';
  readonly stage: string;
  readonly reason: string;
  readonly raw: unknown;
  readonly tsInit: Timestamp;
}

/** Indicator outputs at one bar. A value is `null` until its indicator is warm. */
export interface Features {
  readonly kind: 'features';
  readonly bar: Bar;
  readonly tsEvent: Timestamp;
  readonly values: Readonly<Record<string, number | null>>;
}

/** -1 short, 0 flat, +1 long. */
export type Direction = -1 | 0 | 1;

export type SignalSource = 'ta' | 'ml' | 'sentiment' | 'onchain' | 'macro' | 'news' | 'fused';

export interface Signal {
  readonly kind: 'signal';
  /** Deterministic id: `<symbol>:<timeframe>:<tsEvent>:<source>`. Orders carry it. */
  readonly id: string;
  readonly source: SignalSource;
  readonly symbol: Symbol;
  readonly timeframe: Timeframe;
  readonly tsEvent: Timestamp;
  /** Close of the bar the signal was computed on. */
  readonly price: number;
  readonly direction: Direction;
  /** Size of the edge, 0..1. */
  readonly strength: number;
  /** How much the source trusts itself, 0..1; 0 when the source had nothing to say. */
  readonly confidence: number;
  /** False when the source could not produce an opinion (not warm, no model, stale input). */
  readonly available: boolean;
  /** Human-readable evidence: votes, probabilities, weights. */
  readonly detail: Readonly<Record<string, number | string | boolean | null>>;
  /** Component signals (fused signals only). */
  readonly components?: readonly Signal[];
  /** What the signal expects over a stated horizon (set by `forecastReturn`). */
  readonly forecast?: Forecast;
}

/**
 * A signal's expectation: the log return from its bar's close over `horizonBars` bars, in basis
 * points, learned from the outcomes of earlier signals like it (see `operators/forecastReturn`).
 */
export interface Forecast {
  readonly horizonBars: number;
  /** Expected return over the horizon, bps (shrunk toward 0 when samples are few). */
  readonly expectedBps: number;
  /** Standard deviation of one outcome over the horizon, bps. */
  readonly stdBps: number;
  /** Standard error of the expected return, bps. */
  readonly seBps: number;
  /** Calibrated probability that the return beats a round trip's cost. */
  readonly pWin: number;
  /** Matured outcomes behind the numbers. */
  readonly samples: number;
  /** Score bin the signal fell in (−1: no score). */
  readonly bin: number;
  /** False until the bin has enough outcomes: nothing should trade on it. */
  readonly available: boolean;
}

/** A request from sizing to change a position: the command, before risk has seen it. */
export interface OrderIntent {
  readonly kind: 'intent';
  /** `<signal id>:<n>` so that every order is traceable to the signal that caused it. */
  readonly id: string;
  readonly signalId: string;
  readonly symbol: Symbol;
  readonly side: Side;
  readonly qty: Units;
  /** Price the decision was made at (bar close). */
  readonly refPrice: number;
  /** Position the intent aims for, in base units (signed). */
  readonly targetQty: Units;
  /** True when the order can only shrink the absolute position. */
  readonly reducesRisk: boolean;
  readonly tsEvent: Timestamp;
  readonly reason: string;
  /**
   * A resting exit instead of a market order: one protective leg of a bracket (stop-loss or
   * take-profit), sent as the venue's own order type — natively where the venue has it, emulated
   * by the venue otherwise. Unset: a market order.
   */
  readonly exit?: ExitOrderSpec;
}

/** The venue order type and prices of a resting exit (see {@link OrderIntent.exit}). */
export interface ExitOrderSpec {
  readonly type: 'stop-market' | 'stop-limit' | 'take-profit-market' | 'take-profit-limit';
  /** Trigger price. */
  readonly stopPrice: number;
  /** Limit price of the `*-limit` types (the worst price the triggered order accepts). */
  readonly limitPrice?: number;
  /** Legs sharing a group are one-cancels-the-other (a Binance OCO order list). */
  readonly ocoGroup?: string;
}

/**
 * `market` fills at once; `limit` rests at `limitPrice`; `stop-market`/`stop-limit` trigger when
 * the price trades through `stopPrice` (stop-losses); `take-profit-market`/`take-profit-limit`
 * trigger at `stopPrice` in the profitable direction; `trailing-stop` follows the best price by
 * `trailingBps` and triggers a market order when the price comes back that far.
 */
export type OrderType =
  | 'market'
  | 'limit'
  | 'stop-market'
  | 'stop-limit'
  | 'take-profit-market'
  | 'take-profit-limit'
  | 'trailing-stop';

export type TimeInForce = 'GTC' | 'IOC' | 'FOK';

/** An intent approved by risk, addressed to a venue. Immutable once created. */
export interface Order {
  readonly kind: 'order';
  /** Deterministic, venue-safe (≤ 36 chars, [A-Za-z0-9_-]); the same intent always gives the same id. */
  readonly clientOrderId: string;
  readonly intentId: string;
  readonly signalId: string;
  readonly symbol: Symbol;
  readonly side: Side;
  readonly type: OrderType;
  readonly qty: Units;
  readonly refPrice: number;
  /** Limit price (`limit`, `stop-limit`, `take-profit-limit`). */
  readonly limitPrice?: number;
  /** Trigger price (`stop-*`, `take-profit-*`). */
  readonly stopPrice?: number;
  /** Trailing distance in basis points (`trailing-stop`). */
  readonly trailingBps?: number;
  /** Default GTC for resting orders. */
  readonly timeInForce?: TimeInForce;
  /** Orders sharing a group are one-cancels-the-other: a fill of one cancels the rest. */
  readonly ocoGroup?: string;
  readonly reducesRisk: boolean;
  /** Hash of the validated config that produced the order. */
  readonly configHash: string;
  readonly tsEvent: Timestamp;
}

/** Command: cancel one open order. */
export interface CancelOrder {
  readonly kind: 'cancel';
  readonly clientOrderId: string;
  readonly symbol: Symbol;
  readonly reason: string;
  readonly tsEvent: Timestamp;
}

/** Command: cancel every open order (of one symbol, or all). */
export interface CancelAllOrders {
  readonly kind: 'cancel-all';
  readonly symbol?: Symbol;
  readonly reason: string;
  readonly tsEvent: Timestamp;
}

export type OrderCommand = Order | CancelOrder | CancelAllOrders;

export interface Fill {
  readonly kind: 'fill';
  readonly clientOrderId: string;
  readonly signalId: string;
  readonly symbol: Symbol;
  readonly side: Side;
  readonly qty: Units;
  /** Execution price in units (1e-8 quote per base). */
  readonly price: Units;
  /** Quote amount, qty × price. */
  readonly notional: Units;
  /** Fee charged, in quote units (its quote value when it was taken in the base asset). */
  readonly fee: Units;
  /**
   * Set when the venue took the fee in the base asset (Binance: a buy's commission in the coin
   * received): the base quantity withheld. The position grows by `qty − feeBase`.
   */
  readonly feeBase?: Units;
  readonly liquidity: 'maker' | 'taker';
  /** Quantity of the order still open after this fill; 0 when the order is complete. */
  readonly leavesQty: Units;
  readonly tsEvent: Timestamp;
}

export type OrderRejectCode =
  | 'DUPLICATE_CLIENT_ORDER_ID'
  | 'INSUFFICIENT_BALANCE'
  | 'INSUFFICIENT_POSITION'
  | 'BELOW_MIN_NOTIONAL'
  | 'BELOW_MIN_QTY'
  | 'NO_MARKET_DATA'
  | 'UNKNOWN_SYMBOL'
  | 'PRICE_PRECISION'
  | 'QTY_PRECISION'
  | 'RATE_LIMITED'
  | 'UNKNOWN_ORDER'
  | 'EXCHANGE_ERROR';

export interface OrderRejected {
  readonly kind: 'order-rejected';
  readonly clientOrderId: string;
  readonly signalId: string;
  readonly code: OrderRejectCode;
  readonly message: string;
  readonly tsEvent: Timestamp;
}

export interface OrderAccepted {
  readonly kind: 'order-accepted';
  readonly clientOrderId: string;
  readonly signalId: string;
  readonly tsEvent: Timestamp;
}

export interface OrderCanceled {
  readonly kind: 'order-canceled';
  readonly clientOrderId: string;
  readonly signalId: string;
  readonly reason: string;
  readonly tsEvent: Timestamp;
}

/**
 * The venue did not confirm what happened to an order (timeout, lost response). Never a failure:
 * the order may exist. Reconcile with the venue before anything is resent.
 */
export interface OrderStatusUnknown {
  readonly kind: 'order-unknown';
  readonly clientOrderId: string;
  readonly signalId: string;
  readonly reason: string;
  readonly tsEvent: Timestamp;
}

export type OrderEvent = OrderAccepted | OrderRejected | Fill | OrderCanceled | OrderStatusUnknown;

/** One price level: price, quantity (base). */
export type BookLevel = readonly [price: number, qty: number];

/** An L2 order book snapshot, bounded depth: bids descending, asks ascending. */
export interface OrderBook {
  readonly kind: 'book';
  readonly venue: VenueId;
  readonly symbol: Symbol;
  readonly bids: readonly BookLevel[];
  readonly asks: readonly BookLevel[];
  /** Venue sequence number of the last update applied (Binance: lastUpdateId / u). */
  readonly sequence: number;
  readonly tsEvent: Timestamp;
  readonly tsInit: Timestamp;
}

export interface Ticker {
  readonly kind: 'ticker';
  readonly venue: VenueId;
  readonly symbol: Symbol;
  readonly bid: number;
  readonly ask: number;
  readonly last: number;
  readonly tsEvent: Timestamp;
  readonly tsInit: Timestamp;
}

export interface Position {
  readonly symbol: Symbol;
  /** Signed quantity in base units (negative = short). */
  readonly qty: Units;
  /** Total quote paid for the open quantity (signed with qty), fees excluded. */
  readonly costBasis: Units;
  /** Last mark price. */
  readonly markPrice: number;
}

export interface Portfolio {
  readonly kind: 'portfolio';
  readonly quote: string;
  readonly initialCash: Units;
  readonly cash: Units;
  readonly positions: Readonly<Record<Symbol, Position>>;
  /** Realized PnL before fees. */
  readonly realizedPnl: Units;
  readonly feesPaid: Units;
  /** cash + Σ qty × mark, in quote (a valuation, not a balance). */
  readonly equity: number;
  readonly peakEquity: number;
  /** (peak − equity) / peak, 0..1. */
  readonly drawdown: number;
  readonly tsEvent: Timestamp;
}

export type Mode = 'Normal' | 'Paused' | 'Reduced' | 'Emergency';

export type RiskDenyCode =
  // trading state
  | 'MODE_PAUSED'
  | 'MODE_REDUCED_RISK_INCREASING'
  | 'MODE_EMERGENCY'
  | 'DRAWDOWN_HALT'
  // pre-trade
  | 'UNKNOWN_INSTRUMENT'
  | 'QTY_PRECISION'
  | 'PRICE_PRECISION'
  | 'BELOW_MIN_QTY'
  | 'QTY_EXCEEDS_MAX'
  | 'BELOW_MIN_NOTIONAL'
  | 'NOTIONAL_EXCEEDS_LIMIT'
  | 'NOTIONAL_EXCEEDS_FREE_BALANCE'
  | 'QTY_EXCEEDS_POSITION'
  | 'LEVERAGE_EXCEEDS_LIMIT'
  | 'ORDER_RATE_EXCEEDED'
  // portfolio
  | 'POSITION_PCT_EXCEEDS_LIMIT'
  | 'VENUE_CONCENTRATION_EXCEEDS_LIMIT'
  | 'STRATEGY_CONCENTRATION_EXCEEDS_LIMIT'
  | 'SECTOR_CONCENTRATION_EXCEEDS_LIMIT'
  | 'PORTFOLIO_HEAT_EXCEEDS_LIMIT'
  | 'CORRELATION_EXCEEDS_LIMIT'
  | 'VOLATILITY_EXCEEDS_TARGET'
  // market risk
  | 'VAR_EXCEEDS_LIMIT'
  | 'RISK_DATA_UNAVAILABLE';

export interface OrderApproved {
  readonly kind: 'approved';
  readonly order: Order;
  /** The measures the gate computed for the order (post-trade exposure, heat, VaR…). */
  readonly numbers: Readonly<Record<string, number | string>>;
  readonly tsEvent: Timestamp;
}

export interface OrderDenied {
  readonly kind: 'denied';
  readonly intent: OrderIntent;
  readonly code: RiskDenyCode;
  /** `CODE: key=value …`, with the numbers that made the decision. */
  readonly message: string;
  readonly numbers: Readonly<Record<string, number | string>>;
  readonly tsEvent: Timestamp;
}

export type RiskDecision = OrderApproved | OrderDenied;

export interface ModeChanged {
  readonly kind: 'mode-changed';
  readonly from: Mode;
  readonly to: Mode;
  readonly reason: string;
  readonly tsEvent: Timestamp;
}

/** What a venue consumes: order commands, and the market data it fills orders against. */
export type VenueInput = OrderCommand | Bar | TradeTick;

/**
 * What a venue produces: order events, and each market event passed through *after* the fills it
 * caused — so a consumer downstream sees the state the venue was in when that price was current.
 */
export type VenueOutput = OrderEvent | Bar | TradeTick;

/** A venue is a function of order and market streams to order events (paper exchange, ccxt live…). */
export type Venue = OperatorFunction<VenueInput, VenueOutput>;

/** What every simulated venue needs: the instruments, the account and its costs. */
export interface PaperVenueConfig {
  readonly instruments: readonly Instrument[];
  /** Quote balance the simulated account starts with, in units. */
  readonly initialCash: Units;
  readonly quote: string;
  /** Taker fee in basis points (10 = 0.10 %). Default 10. */
  readonly takerFeeBps?: number;
  /** Adverse slippage applied to every market fill without a book, in basis points. Default 2. */
  readonly slippageBps?: number;
  /** Whether the account may sell more than it holds. Default false (spot). */
  readonly allowShort?: boolean;
}
