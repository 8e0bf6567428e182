import { Observable, type OperatorFunction } from 'rxjs';
import { bpsToPpm, feeOf, formatUnits, notionalOf, toUnits, type Units } from './money';
import { applyFill, initialPortfolio, positionQty } from './trackPortfolio';
import type {
  Bar,
  CancelAllOrders,
  CancelOrder,
  Fill,
  Instrument,
  Order,
  OrderCommand,
  OrderEvent,
  OrderRejectCode,
  Portfolio,
  TradeTick,
} from './types';

/** What a venue consumes: order commands, and the market data it fills orders against. */
export type VenueInput = OrderCommand | Bar | TradeTick;

/**
 * What a venue produces: order events, and each market event passed through *after* the fills it
 * caused — so a consumer downstream sees the state the venue was in when that price was current.
 */
export type VenueOutput = OrderEvent | Bar | TradeTick;

/** A venue is a function of order and market streams to order events (paper, ccxt live…). */
export type Venue = OperatorFunction<VenueInput, VenueOutput>;

export interface PaperVenueConfig {
  readonly instruments: readonly Instrument[];
  /** Quote balance the simulated account starts with, in units. */
  readonly initialCash: Units;
  readonly quote: string;
  /** Taker fee in basis points (10 = 0.10 %). Default 10. */
  readonly takerFeeBps?: number;
  /** Adverse slippage applied to every market fill, in basis points. Default 2. */
  readonly slippageBps?: number;
  /** Whether the account may sell more than it holds. Default false (spot). */
  readonly allowShort?: boolean;
}

/**
 * Executes orders on a simulated venue (a paper account), deterministically.
 *
 * Market orders fill at the next available price after they were placed: the open of the next
 * bar (opening at or after the decision) or the next trade strictly after it, moved
 * against the order by `slippageBps`, with the taker fee charged in quote. Like a real exchange
 * the venue keeps its own ledger and rejects what it could not do: a reused client order id
 * (nothing is executed twice), a quantity below the lot minimum, a notional below the minimum,
 * more than the free balance or held position. Orders still waiting when the market data
 * completes are reported canceled (`EXPIRED`), never dropped silently.
 *
 * `cancel` removes one waiting order (an unknown id is rejected `UNKNOWN_ORDER`); `cancel-all`
 * removes every waiting order (of a symbol, or all), each reported `order-canceled`.
 *
 * Orders may arrive while the venue is emitting (a decision made on the bar it just passed
 * through): they are queued and handled after the current event, so the output order is the
 * same however the pipeline is wired.
 *
 * ```
 * input:  --o--b--b--|    o order · b bar
 * output: --a--(fb)b-|    a accepted · f fill at b's open · then b passes through
 * ```
 */
export function executeOrders(config: PaperVenueConfig): Venue {
  const instruments = new Map(config.instruments.map((i) => [i.symbol, i]));
  const feePpm = bpsToPpm(config.takerFeeBps ?? 10);
  const slippage = (config.slippageBps ?? 2) / 10_000;
  const allowShort = config.allowShort ?? false;

  return (source) =>
    new Observable<VenueOutput>((subscriber) => {
      let ledger: Portfolio = initialPortfolio({ initialCash: config.initialCash, quote: config.quote });
      const seen = new Set<string>();
      const pending: Order[] = [];
      const queue: VenueInput[] = [];
      let draining = false;

      const reject = (order: Order, code: OrderRejectCode, message: string, tsEvent: number): void => {
        subscriber.next({
          kind: 'order-rejected',
          clientOrderId: order.clientOrderId,
          signalId: order.signalId,
          code,
          message,
          tsEvent,
        });
      };

      const accept = (order: Order): void => {
        if (seen.has(order.clientOrderId)) {
          reject(
            order,
            'DUPLICATE_CLIENT_ORDER_ID',
            `client order id ${order.clientOrderId} was already used; nothing executed`,
            order.tsEvent,
          );
          return;
        }
        seen.add(order.clientOrderId);
        const instrument = instruments.get(order.symbol);
        if (!instrument) {
          reject(order, 'UNKNOWN_SYMBOL', `symbol ${order.symbol} is not traded on this venue`, order.tsEvent);
          return;
        }
        if (order.qty < instrument.minQty) {
          reject(
            order,
            'BELOW_MIN_QTY',
            `qty ${formatUnits(order.qty)} below minimum ${formatUnits(instrument.minQty)}`,
            order.tsEvent,
          );
          return;
        }
        subscriber.next({
          kind: 'order-accepted',
          clientOrderId: order.clientOrderId,
          signalId: order.signalId,
          tsEvent: order.tsEvent,
        });
        pending.push(order);
      };

      const fillAt = (order: Order, instrument: Instrument, marketPrice: number, tsEvent: number): void => {
        const slipped = order.side === 'buy' ? marketPrice * (1 + slippage) : marketPrice * (1 - slippage);
        const price = toUnits(slipped);
        const notional = notionalOf(order.qty, price);
        const fee = feeOf(notional, feePpm);
        if (notional < instrument.minNotional) {
          reject(
            order,
            'BELOW_MIN_NOTIONAL',
            `notional ${formatUnits(notional)} below minimum ${formatUnits(instrument.minNotional)}`,
            tsEvent,
          );
          return;
        }
        if (order.side === 'buy' && notional + fee > ledger.cash) {
          reject(
            order,
            'INSUFFICIENT_BALANCE',
            `needs ${formatUnits(notional + fee)} ${config.quote}, free ${formatUnits(ledger.cash)}`,
            tsEvent,
          );
          return;
        }
        const held = positionQty(ledger, order.symbol);
        if (order.side === 'sell' && !allowShort && order.qty > held) {
          reject(
            order,
            'INSUFFICIENT_POSITION',
            `sells ${formatUnits(order.qty)} ${instrument.base}, holds ${formatUnits(held)}`,
            tsEvent,
          );
          return;
        }
        const fill: Fill = {
          kind: 'fill',
          clientOrderId: order.clientOrderId,
          signalId: order.signalId,
          symbol: order.symbol,
          side: order.side,
          qty: order.qty,
          price,
          notional,
          fee,
          liquidity: 'taker',
          leavesQty: 0n,
          tsEvent,
        };
        ledger = applyFill(ledger, fill);
        subscriber.next(fill);
      };

      const onMarket = (event: Bar | TradeTick): void => {
        // A bar's open is the first price after the bar before it closed: usable by an order
        // decided at that close (tsOpen ≥ tsEvent). A trade must be strictly later than the
        // decision: one in the same millisecond may have been part of what was decided on.
        const marketTime = event.kind === 'bar' ? event.tsOpen : event.tsEvent;
        const price = event.kind === 'bar' ? event.open : event.price;
        if (pending.length > 0) {
          const waiting: Order[] = [];
          for (const order of pending.splice(0)) {
            const instrument = instruments.get(order.symbol);
            const tooEarly = event.kind === 'bar' ? marketTime < order.tsEvent : marketTime <= order.tsEvent;
            if (order.symbol !== event.symbol || !instrument || tooEarly) waiting.push(order);
            else fillAt(order, instrument, price, marketTime);
          }
          pending.push(...waiting);
        }
        subscriber.next(event);
      };

      const cancel = (command: CancelOrder | CancelAllOrders): void => {
        const matches = (order: Order): boolean =>
          command.kind === 'cancel'
            ? order.clientOrderId === command.clientOrderId
            : command.symbol === undefined || order.symbol === command.symbol;
        const kept: Order[] = [];
        let canceled = 0;
        for (const order of pending.splice(0)) {
          if (!matches(order)) {
            kept.push(order);
            continue;
          }
          canceled++;
          subscriber.next({
            kind: 'order-canceled',
            clientOrderId: order.clientOrderId,
            signalId: order.signalId,
            reason: command.reason,
            tsEvent: command.tsEvent,
          });
        }
        pending.push(...kept);
        if (command.kind === 'cancel' && canceled === 0) {
          subscriber.next({
            kind: 'order-rejected',
            clientOrderId: command.clientOrderId,
            signalId: '',
            code: 'UNKNOWN_ORDER',
            message: `cancel: no open order ${command.clientOrderId}`,
            tsEvent: command.tsEvent,
          });
        }
      };

      const drain = (): void => {
        draining = true;
        try {
          for (let input = queue.shift(); input !== undefined; input = queue.shift()) {
            if (input.kind === 'order') accept(input);
            else if (input.kind === 'cancel' || input.kind === 'cancel-all') cancel(input);
            else onMarket(input);
          }
        } finally {
          draining = false;
        }
      };

      return source.subscribe({
        next: (input) => {
          queue.push(input);
          if (!draining) drain();
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          // The feed ended before these could fill: say so rather than letting them vanish.
          for (const order of pending.splice(0)) {
            subscriber.next({
              kind: 'order-canceled',
              clientOrderId: order.clientOrderId,
              signalId: order.signalId,
              reason: `EXPIRED: market data ended before a price after ${order.tsEvent} arrived`,
              tsEvent: order.tsEvent,
            });
          }
          subscriber.complete();
        },
      });
    });
}
