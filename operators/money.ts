/**
 * Fixed-point amounts for everything that is summed: cash, position quantity, cost basis, fees,
 * realized PnL. One unit is 1e-8 of the asset (a satoshi for BTC, 1e-8 USDT for the quote
 * currency), the resolution exchanges such as Binance use for spot balances. A `bigint` cannot
 * drift: a million fills add up to exactly what an exchange statement says.
 *
 * Prices and indicator values stay `number`: they are observations, never accumulated.
 */
export type Units = bigint;

/** Decimal places represented by one unit. */
export const UNIT_DECIMALS = 8;
/** Units per whole asset. */
export const UNITS_PER_ONE = 100_000_000n;
const UNITS_PER_ONE_NUMBER = 1e8;

/** Parts-per-million denominator used for fee rates (0.1 % taker fee = 1000 ppm). */
export const PPM = 1_000_000n;

export class MoneyError extends Error {
  readonly code = 'INVALID_AMOUNT';
  constructor(message: string) {
    super(message);
    this.name = 'MoneyError';
  }
}

/**
 * Converts a decimal number or string to units, rounding half away from zero at the 8th decimal.
 * Strings are parsed exactly (no float on the way); numbers go through their shortest decimal
 * representation, so `toUnits(0.1)` is exactly 10_000_000n.
 */
export function toUnits(value: number | string): Units {
  if (typeof value === 'number') {
    const fast = nearestUnits(value);
    if (fast !== undefined) return fast;
  }
  const text = typeof value === 'number' ? numberToPlainString(value) : value.trim();
  const match = /^([+-])?(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match || (match[2] === '' && (match[3] === undefined || match[3] === ''))) {
    throw new MoneyError(`not a decimal amount: ${JSON.stringify(value)}`);
  }
  const negative = match[1] === '-';
  const whole = match[2] === '' ? '0' : match[2]!;
  const fraction = match[3] ?? '';
  const kept = fraction.slice(0, UNIT_DECIMALS).padEnd(UNIT_DECIMALS, '0');
  let units = BigInt(whole) * UNITS_PER_ONE + BigInt(kept);
  const nextDigit = fraction.charCodeAt(UNIT_DECIMALS) - 48;
  if (nextDigit >= 5) units += 1n;
  return negative ? -units : units;
}

/**
 * The hot path of {@link toUnits} for a number (sizing, marks and fills convert every bar):
 * value × 10⁸ rounded to the nearest integer, without formatting and parsing a string. For
 * |value| < 10⁶ the product is within 0.02 of the shortest decimal's own product, so the nearest
 * integer is the same — except next to a half, where the decimal path decides (undefined).
 */
function nearestUnits(value: number): Units | undefined {
  const abs = Math.abs(value);
  if (!(abs < 1e6)) return undefined;
  const scaled = abs * UNITS_PER_ONE_NUMBER;
  const whole = Math.floor(scaled);
  const fraction = scaled - whole;
  if (Math.abs(fraction - 0.5) < 0.05) return undefined;
  const units = BigInt(fraction > 0.5 ? whole + 1 : whole);
  return value < 0 ? -units : units;
}

function numberToPlainString(value: number): string {
  if (!Number.isFinite(value)) throw new MoneyError(`not a finite amount: ${value}`);
  const text = String(value);
  if (!/e/i.test(text)) return text;
  // Exponent form (1e-9, 1e21): expand with enough digits for the 8th decimal to round right.
  return value.toFixed(UNIT_DECIMALS + 2);
}

/** Units as a JavaScript number of whole assets (for display and float maths, not for sums). */
export function unitsToNumber(units: Units): number {
  return Number(units) / UNITS_PER_ONE_NUMBER;
}

/** Units as an exact decimal string with trailing zeros trimmed: 150000000n → "1.5". */
export function formatUnits(units: Units): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const whole = abs / UNITS_PER_ONE;
  const fraction = (abs % UNITS_PER_ONE).toString().padStart(UNIT_DECIMALS, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** Division rounding half away from zero. */
export function divRound(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new MoneyError('division by zero');
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  const q = (n + d / 2n) / d;
  return negative ? -q : q;
}

/** Division rounding up in magnitude (for fees: never undercharge). */
export function divCeil(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new MoneyError('division by zero');
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  const q = (n + d - 1n) / d;
  return negative ? -q : q;
}

/** Quote amount of `qty` base units at `price` units per base unit, rounded half away from zero. */
export function notionalOf(qty: Units, price: Units): Units {
  return divRound(qty * price, UNITS_PER_ONE);
}

/** Fee on a notional at a rate in parts per million, rounded up. */
export function feeOf(notional: Units, ratePpm: bigint): Units {
  const abs = notional < 0n ? -notional : notional;
  return divCeil(abs * ratePpm, PPM);
}

/** Rounds a quantity down (towards zero) to a multiple of `step` units. */
export function floorToStep(qty: Units, step: Units): Units {
  if (step <= 0n) return qty;
  return (qty / step) * step;
}

export function absUnits(units: Units): Units {
  return units < 0n ? -units : units;
}

export function minUnits(a: Units, b: Units): Units {
  return a < b ? a : b;
}

/** A fee rate given in basis points (10 = 0.10 %) as parts per million. */
export function bpsToPpm(bps: number): bigint {
  return BigInt(Math.round(bps * 100));
}
