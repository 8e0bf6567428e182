/**
 * A run's equity per bar and its round trips, rebuilt from its bars and fills (the journal's
 * `fill` events): what the research commands and the HTML report measure and draw. Display and
 * statistics only — the exact accounting is operators/trackPortfolio.ts; these floats are
 * checked against its final equity in the tests.
 */

export interface EquityBar {
  readonly symbol: string;
  readonly tsEvent: number;
  readonly close: number;
}

export interface EquityFill {
  readonly symbol: string;
  readonly side: 'buy' | 'sell';
  readonly qty: number;
  readonly price: number;
  readonly fee: number;
  readonly tsEvent: number;
}

export interface RoundTrip {
  readonly symbol: string;
  readonly side: 'long' | 'short';
  readonly tsOpen: number;
  readonly tsClose: number;
  readonly entryPrice: number;
  readonly exitPrice: number;
  /** Change of total equity over the trade, as a share of the equity when it opened, after fees. */
  readonly return: number;
}

export interface EquityCurve {
  /** Close time of each bar that was valued. */
  readonly ts: Float64Array;
  readonly equity: Float64Array;
  /** Buy-and-hold of the first symbol with the same initial cash, bought at the first close. */
  readonly buyAndHold: Float64Array;
  /** 1 − equity / running peak. */
  readonly drawdown: Float64Array;
  readonly trips: readonly RoundTrip[];
}

/**
 * Values cash + Σ position × close at every bar's close. A fill is counted from the first bar that
 * closes after it (a fill at a bar's open belongs to that bar). `bars` and `fills` in time order.
 */
export function rebuildEquity(
  bars: readonly EquityBar[],
  fills: readonly EquityFill[],
  initialCash: number,
): EquityCurve {
  const positions = new Map<string, number>();
  const lastClose = new Map<string, number>();
  const open = new Map<string, { side: 'long' | 'short'; tsOpen: number; entryPrice: number; equityBefore: number }>();
  const trips: RoundTrip[] = [];
  let cash = initialCash;
  const marked = (): number => {
    let e = cash;
    for (const [s, q] of positions) e += q * (lastClose.get(s) ?? 0);
    return e;
  };
  const times: number[] = [];
  const equity: number[] = [];
  const hold: number[] = [];
  const dd: number[] = [];
  const first = bars[0];
  const holdQty = first ? initialCash / first.close : 0;
  let f = 0;
  let peak = -Infinity;
  let i = 0;
  while (i < bars.length) {
    const t = (bars[i] as EquityBar).tsEvent;
    while (f < fills.length && (fills[f] as EquityFill).tsEvent < t) {
      const fill = fills[f] as EquityFill;
      const before = positions.get(fill.symbol) ?? 0;
      const delta = fill.side === 'buy' ? fill.qty : -fill.qty;
      const after = before + delta;
      lastClose.set(fill.symbol, lastClose.get(fill.symbol) ?? fill.price);
      const equityAtFill = (): number =>
        marked() + (positions.get(fill.symbol) ?? 0) * (fill.price - (lastClose.get(fill.symbol) as number));
      if (before === 0 && after !== 0)
        open.set(fill.symbol, {
          side: after > 0 ? 'long' : 'short',
          tsOpen: fill.tsEvent,
          entryPrice: fill.price,
          equityBefore: equityAtFill(),
        });
      cash -= delta * fill.price + fill.fee;
      positions.set(fill.symbol, Math.abs(after) < 1e-12 ? 0 : after);
      const now = positions.get(fill.symbol) as number;
      const flipped = before !== 0 && now !== 0 && Math.sign(now) !== Math.sign(before);
      if (before !== 0 && (now === 0 || flipped)) {
        const o = open.get(fill.symbol);
        if (o) {
          const eq = equityAtFill();
          trips.push({
            symbol: fill.symbol,
            side: o.side,
            tsOpen: o.tsOpen,
            tsClose: fill.tsEvent,
            entryPrice: o.entryPrice,
            exitPrice: fill.price,
            return: eq / o.equityBefore - 1,
          });
        }
        open.delete(fill.symbol);
        if (flipped)
          open.set(fill.symbol, {
            side: now > 0 ? 'long' : 'short',
            tsOpen: fill.tsEvent,
            entryPrice: fill.price,
            equityBefore: equityAtFill(),
          });
      }
      f++;
    }
    // All bars closing at t (one per symbol) before valuing.
    while (i < bars.length && (bars[i] as EquityBar).tsEvent === t) {
      const b = bars[i] as EquityBar;
      lastClose.set(b.symbol, b.close);
      i++;
    }
    const e = marked();
    peak = Math.max(peak, e);
    times.push(t);
    equity.push(e);
    hold.push(first ? holdQty * (lastClose.get(first.symbol) as number) : initialCash);
    dd.push(peak > 0 ? 1 - e / peak : 0);
  }
  return {
    ts: Float64Array.from(times),
    equity: Float64Array.from(equity),
    buyAndHold: Float64Array.from(hold),
    drawdown: Float64Array.from(dd),
    trips,
  };
}

/** Simple returns e_t / e_{t−1} − 1 of an equity curve. */
export function equityReturns(equity: ArrayLike<number>): Float64Array {
  const out = new Float64Array(Math.max(0, equity.length - 1));
  for (let i = 1; i < equity.length; i++) out[i - 1] = (equity[i] as number) / (equity[i - 1] as number) - 1;
  return out;
}
