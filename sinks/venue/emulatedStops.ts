/**
 * Orders the venue holds because the exchange cannot take them (stops, take-profits, trailing
 * stops, the legs of an emulated OCO): which are held, and when a price flowing through the
 * venue triggers one — then it goes out as a market order (a limit order for `*-limit` types)
 * with the same client order id.
 *
 * ```
 * prices:  --101--99--97--   sell stop 98
 * trigger: -----------x---   at 98, sent as a market order
 * ```
 */
import type { Bar, Order, TradeTick } from '../../operators/types';
import { NO_NATIVE, type Capabilities } from './orderTypes';

export type EmulationKind = 'stop' | 'take-profit' | 'trailing' | 'touch';

export interface Emulation {
  readonly kind: EmulationKind;
  /** Trailing: best price since armed. */
  ref: number | null;
}

/** How the venue holds an order the exchange cannot take natively (null: send it as it is). */
export function emulationFor(order: Order, caps: Capabilities): Emulation | null {
  switch (order.type) {
    case 'market':
      return null;
    case 'limit':
      // Only an OCO leg is held: it goes out when the price touches its limit.
      return caps === NO_NATIVE ? { kind: 'touch', ref: null } : null;
    case 'stop-market':
    case 'stop-limit':
      return caps.stop ? null : { kind: 'stop', ref: null };
    case 'take-profit-market':
    case 'take-profit-limit':
      return caps.takeProfit ? null : { kind: 'take-profit', ref: null };
    case 'trailing-stop':
      return caps.trailing ? null : { kind: 'trailing', ref: null };
  }
}

/** The price at which an emulated order triggers within [lo, hi], or null. Updates a trailing reference. */
export function triggerPrice(order: Order, emulation: Emulation, lo: number, hi: number): number | null {
  const sell = order.side === 'sell';
  switch (emulation.kind) {
    case 'touch': {
      const limit = order.limitPrice ?? order.refPrice;
      return sell ? (hi >= limit ? limit : null) : lo <= limit ? limit : null;
    }
    case 'stop': {
      const stop = order.stopPrice ?? order.limitPrice ?? order.refPrice;
      return sell ? (lo <= stop ? stop : null) : hi >= stop ? stop : null;
    }
    case 'take-profit': {
      const target = order.stopPrice ?? order.refPrice;
      return sell ? (hi >= target ? target : null) : lo <= target ? target : null;
    }
    case 'trailing': {
      const distance = (order.trailingBps ?? 0) / 10_000;
      const ref = emulation.ref ?? order.refPrice;
      // Check against the best price so far before moving it: within one bar the order of high and low is unknown.
      const level = sell ? ref * (1 - distance) : ref * (1 + distance);
      const hit = sell ? lo <= level : hi >= level;
      emulation.ref = sell ? Math.max(ref, hi) : Math.min(ref, lo);
      return hit ? level : null;
    }
  }
}

/**
 * Whether `event` triggers the held `order`: the trigger price and how the order then goes out,
 * or null. Only prices from the order's own symbol and from after it was decided count (a bar
 * that opened before the order holds prices from before it: no lookahead).
 */
export function triggerOf(
  order: Order,
  emulation: Emulation,
  event: Bar | TradeTick,
): { readonly at: number; readonly sendAs: 'market' | 'limit' } | null {
  if (order.symbol !== event.symbol) return null;
  if ((event.kind === 'bar' ? event.tsOpen : event.tsEvent) < order.tsEvent) return null;
  const lo = event.kind === 'bar' ? event.low : event.price;
  const hi = event.kind === 'bar' ? event.high : event.price;
  const at = triggerPrice(order, emulation, lo, hi);
  if (at === null) return null;
  const limit = order.type === 'limit' || order.type === 'stop-limit' || order.type === 'take-profit-limit';
  return { at, sendAs: limit ? 'limit' : 'market' };
}
