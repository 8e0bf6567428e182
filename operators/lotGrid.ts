import { absUnits, floorToStep, notionalOf, toUnits, type Units } from './money';
import type { Instrument } from './types';

/**
 * The part of a holding no order can trade on `instrument`: all of it when the tradeable part (on
 * the lot grid) is below the minimum quantity or, at `price`, the minimum notional; otherwise what
 * is off the lot grid (e.g. the 0.00000031 BTC a buy leaves when Binance takes its fee in BTC).
 *
 * ```
 * dustOf(0.04964031, step 0.00001)          → 0.00000031
 * dustOf(0.00000984, min qty 0.00001)       → 0.00000984
 * dustOf(0.0001 at 20 000, min notional 5)  → 0.0001
 * ```
 * @param qty the holding, signed units (the sign is kept on the result).
 * @param price mark price in quote per base; without one the notional minimum is not checked.
 */
export function dustOf(qty: Units, instrument: Instrument, price?: number): Units {
  const sign = qty < 0n ? -1n : 1n;
  const held = absUnits(qty);
  const tradeable = floorToStep(held, instrument.qtyStep);
  const belowNotional =
    price !== undefined &&
    Number.isFinite(price) &&
    price > 0 &&
    notionalOf(tradeable, toUnits(price)) < instrument.minNotional;
  if (tradeable < instrument.minQty || tradeable === 0n || belowNotional) return sign * held;
  return sign * (held - tradeable);
}
