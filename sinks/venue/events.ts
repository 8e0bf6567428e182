/**
 * What the live venue emits beyond the {@link VenueOutput} every venue has: the account snapshot,
 * throttling, reconciliation and its notices, refused cancels; and the venue's operator type.
 */
import { filter, type OperatorFunction } from 'rxjs';
import type { Units } from '../../operators/money';
import type { Venue, VenueInput, VenueOutput } from '../../operators/types';
import type { CancelAllOrders, CancelOrder, Fill, Instrument, Side, Timestamp, VenueId } from '../../operators/types';

export interface VenueBalance {
  readonly free: Units;
  readonly used: Units;
  readonly total: Units;
}

/** An order found open on the exchange at start-up. */
export interface VenueOpenOrder {
  readonly clientOrderId: string;
  readonly exchangeOrderId: string;
  readonly symbol: string;
  readonly side: Side;
  /** ccxt's unified type (`limit`, `market`…) and, when present, the exchange's own (`STOP_LOSS_LIMIT`). */
  readonly type: string;
  readonly qty: Units;
  readonly filledQty: Units;
  readonly price: number | null;
  readonly stopPrice: number | null;
  readonly tsEvent: Timestamp;
}

/** The account as the exchange reports it at start-up: what the portfolio starts from. */
export interface VenueAccountSnapshot {
  readonly kind: 'venue-account';
  readonly venue: VenueId;
  /** Every asset with a non-zero total, in units of 1e-8. */
  readonly balances: Readonly<Record<string, VenueBalance>>;
  /** Spot positions: total base-asset holding per configured symbol (no cost basis: the exchange has none). */
  readonly positions: Readonly<Record<string, Units>>;
  readonly openOrders: readonly VenueOpenOrder[];
  /** Lot and tick sizes and minimums of the configured symbols, from the exchange's markets. */
  readonly instruments: readonly Instrument[];
  /**
   * Per symbol, the part of the base holding no order can trade: the whole holding when it is below
   * the minimum quantity or notional, else what is off the lot grid (fee dust). Omitted when zero.
   */
  readonly dust: Readonly<Record<string, Units>>;
  /**
   * A restart (config `recoverOrders`): the trades the earlier session's unsettled orders made
   * while no session watched, as fills with their fees and signal ids, oldest first. The balances
   * above already include them: they explain the difference from the journal, they are not to be
   * added to the balances again. Empty when nothing was recovered.
   */
  readonly recoveredFills: readonly Fill[];
  readonly tsEvent: Timestamp;
  readonly tsInit: Timestamp;
}

/**
 * One continuous reconciliation pass (live): trades, balances and open orders compared with what
 * this session reported. `differences` counts what had to be adopted or flagged; 0 is a success
 * for the venue's circuit breaker, anything else a failure that trips it.
 */
export interface VenueReconciled {
  readonly kind: 'venue-reconciled';
  readonly venue: VenueId;
  /** Trades adopted (reported as fills) because no order of this session explained them. */
  readonly adoptedTrades: number;
  /** Assets whose balance differed from the expected one (adopted as the new expectation). */
  readonly drifts: number;
  readonly differences: number;
  /** Why the pass ran: `schedule` or `order-unknown`. */
  readonly trigger: 'schedule' | 'order-unknown';
  readonly tsEvent: Timestamp;
}

/** The exchange told us to slow down or banned us: nothing is sent until `until`. */
export interface VenueThrottled {
  readonly kind: 'venue-throttled';
  readonly venue: VenueId;
  /** 429 rate limit, 418 IP ban, null when the status is not known (a ccxt rate-limit error without one). */
  readonly status: 429 | 418 | null;
  readonly retryAfterMs: number;
  readonly until: Timestamp;
  readonly reason: string;
  readonly tsEvent: Timestamp;
}

export interface VenueResumed {
  readonly kind: 'venue-resumed';
  readonly venue: VenueId;
  readonly tsEvent: Timestamp;
}

export type VenueNoticeCode =
  | 'ORDER_FOUND'
  | 'ORDER_ABSENT'
  | 'ORDER_RESENT'
  | 'ORDER_ADOPTED'
  | 'RECONCILE_FAILED'
  | 'POLL_FAILED'
  | 'EMULATED'
  | 'EMULATED_TRIGGERED'
  | 'OCO_PAIRED'
  | 'OCO_LINKED'
  | 'FILL_ADJUSTED'
  | 'OPEN_AT_COMPLETION'
  /** Reconciliation found a trade no order of this session explains, and reported it as a fill. */
  | 'TRADE_ADOPTED'
  /** Reconciliation found a base balance that neither the start-up snapshot nor the fills explain. */
  | 'BALANCE_DRIFT'
  /** A holding (or the part of it off the lot grid) is below the venue's minimums: kept, never traded. */
  | 'DUST'
  /** A reduce-only order off the lot grid was sent rounded down to it. */
  | 'QTY_ROUNDED'
  | 'RECONCILE_PASS_FAILED'
  /** A restart looked up an order the earlier session never saw settled (see `recoverOrders`). */
  | 'FILL_RECOVERED';

/** What the venue did on its own (reconciliation, resends, emulation), for the journal. */
export interface VenueNotice {
  readonly kind: 'venue-notice';
  readonly venue: VenueId;
  readonly level: 'info' | 'warning';
  readonly code: VenueNoticeCode;
  readonly clientOrderId: string | null;
  readonly message: string;
  readonly tsEvent: Timestamp;
}

/** A cancel could not be done (already filled, unknown order, exchange refused). */
export interface OrderCancelRejected {
  readonly kind: 'cancel-rejected';
  readonly clientOrderId: string;
  readonly signalId: string;
  readonly reason: string;
  readonly tsEvent: Timestamp;
}

export type CcxtVenueEvent =
  | VenueAccountSnapshot
  | VenueThrottled
  | VenueResumed
  | VenueNotice
  | VenueReconciled
  | OrderCancelRejected;
export type CcxtVenueInput = VenueInput | CancelOrder | CancelAllOrders;
export type CcxtVenueOutput = VenueOutput | CcxtVenueEvent;
/** A {@link Venue} that also takes cancels and reports account, throttling and reconciliation events. */
export type CcxtVenue = OperatorFunction<CcxtVenueInput, CcxtVenueOutput>;

const VENUE_OUTPUT_KINDS = new Set([
  'order-accepted',
  'order-rejected',
  'fill',
  'order-canceled',
  'order-unknown',
  'bar',
  'trade',
]);

export function isVenueOutput(event: CcxtVenueOutput): event is VenueOutput {
  return VENUE_OUTPUT_KINDS.has(event.kind);
}

/**
 * Narrows a {@link CcxtVenue} to the plain {@link Venue} contract the pipeline wires: the extra events
 * go to `onEvent` (journal, portfolio seeding) instead of downstream.
 */
export function asVenue(venue: CcxtVenue, onEvent: (event: CcxtVenueEvent) => void = () => undefined): Venue {
  return (source) =>
    venue(source).pipe(
      filter((event): event is VenueOutput => {
        if (isVenueOutput(event)) return true;
        onEvent(event);
        return false;
      }),
    );
}
