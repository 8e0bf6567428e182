/**
 * Performance statistics of a run, folded from its events (pure; used by backtest and paper).
 */
import { formatUnits, unitsToNumber, type Units } from './money';
import type { Fill, Portfolio, RiskDecision, Timeframe } from './types';
import { timeframeMs } from './types';
import { applyFill, initialPortfolio } from './trackPortfolio';

export interface BacktestReport {
  readonly bars: number;
  readonly from: string | null;
  readonly to: string | null;
  readonly initialEquity: number;
  readonly finalEquity: number;
  /** finalEquity / initialEquity − 1. */
  readonly totalReturn: number;
  /**
   * Close of the last bar / open of the first − 1: what holding the asset did. With several
   * symbols, the equal-weight buy-and-hold: the mean of the symbols' returns.
   */
  readonly buyAndHoldReturn: number;
  /** Each symbol's buy-and-hold return, when prices were given per symbol ({@link ReportBuilder.addPrice}). */
  readonly buyAndHoldBySymbol?: Readonly<Record<string, number>>;
  /** Largest peak-to-trough fall of equity, 0..1. */
  readonly maxDrawdown: number;
  /** Annualised Sharpe ratio of per-bar equity returns (risk-free 0, 365-day year). */
  readonly sharpe: number;
  /** Fills. */
  readonly trades: number;
  /** Positions opened and closed back to flat (or flipped). */
  readonly roundTrips: number;
  /** Share of round trips whose PnL net of fees was positive. */
  readonly winRate: number;
  readonly fees: string;
  readonly realizedPnl: string;
  /** Share of bars that ended with an open position. */
  readonly exposure: number;
  readonly ordersDenied: Readonly<Record<string, number>>;
  readonly gaps: number;
  readonly missingBars: number;
  readonly deadLetters: number;
  readonly signals: { readonly long: number; readonly short: number; readonly flat: number };
  /** Trading mode at the end and how many times it changed. */
  readonly mode: { readonly final: string; readonly changes: number };
  /** Risk-increasing orders the kill switch stopped before the venue. */
  readonly ordersHalted: number;
  /** Open positions at the end, base quantity per symbol (empty when flat). */
  readonly finalPositions: Readonly<Record<string, string>>;
}

/** Accumulates a run's events into a {@link BacktestReport}. O(1) memory. */
export class ReportBuilder {
  private bars = 0;
  private first: Portfolio | undefined;
  private last: Portfolio | undefined;
  private firstOpen: number | undefined;
  private lastClose: number | undefined;
  private maxDrawdown = 0;
  private returnsN = 0;
  private returnsMean = 0;
  private returnsM2 = 0;
  private exposed = 0;
  private trades = 0;
  private roundTrips = 0;
  private wins = 0;
  /** realizedPnl − fees at the start of the open round trip, per symbol. */
  private readonly tripStart = new Map<string, Units>();
  private readonly positionSign = new Map<string, number>();
  private readonly denied = new Map<string, number>();
  private gaps = 0;
  private missingBars = 0;
  private deadLetters = 0;
  private readonly directions = { long: 0, short: 0, flat: 0 };
  private ledger: Portfolio;
  private mode = 'Normal';
  private modeChanges = 0;
  private halted = 0;
  /** First open and last close per symbol, for the buy-and-hold benchmark of several symbols. */
  private readonly prices = new Map<string, { first: number; last: number }>();

  constructor(
    private readonly timeframe: Timeframe,
    private readonly initialCash: Units,
    quote: string,
  ) {
    this.ledger = initialPortfolio({ initialCash, quote });
  }

  /**
   * The portfolio after a bar (marked at its close), with the bar's open and close. Several
   * symbols: once per bar time, without prices, and the prices go to {@link addPrice}.
   */
  addBar(portfolio: Portfolio, open?: number, close?: number): void {
    if (this.firstOpen === undefined) this.firstOpen = open;
    if (close !== undefined) this.lastClose = close;
    const previousEquity = this.last?.equity ?? unitsToNumber(this.initialCash);
    if (!this.first) this.first = portfolio;
    this.last = portfolio;
    this.bars++;
    this.maxDrawdown = Math.max(this.maxDrawdown, portfolio.drawdown);
    if (previousEquity > 0) {
      const r = portfolio.equity / previousEquity - 1;
      this.returnsN++;
      const delta = r - this.returnsMean;
      this.returnsMean += delta / this.returnsN;
      this.returnsM2 += delta * (r - this.returnsMean);
    }
    if (Object.keys(portfolio.positions).length > 0) this.exposed++;
  }

  /** A fill: counted, and applied to the builder's own ledger for round-trip accounting. */
  addFill(fill: Fill): void {
    this.trades++;
    const after = applyFill(this.ledger, fill);
    this.ledger = after;
    const net = after.realizedPnl - after.feesPaid;
    const before = this.positionSign.get(fill.symbol) ?? 0;
    const qty = after.positions[fill.symbol]?.qty ?? 0n;
    const now = qty > 0n ? 1 : qty < 0n ? -1 : 0;
    if (before === 0 && now !== 0) {
      // Opening: the trip's PnL starts from here, including this fill's fee.
      this.tripStart.set(fill.symbol, net + fill.fee);
    } else if (before !== 0 && now !== before) {
      const start = this.tripStart.get(fill.symbol) ?? 0n;
      this.roundTrips++;
      if (net - start > 0n) this.wins++;
      if (now !== 0) this.tripStart.set(fill.symbol, net);
    }
    this.positionSign.set(fill.symbol, now);
  }

  /** One symbol's bar prices, for the equal-weight buy-and-hold benchmark. */
  addPrice(symbol: string, open: number, close: number): void {
    const seen = this.prices.get(symbol);
    if (seen) seen.last = close;
    else this.prices.set(symbol, { first: open, last: close });
  }

  addDecision(decision: RiskDecision): void {
    if (decision.kind === 'denied') this.denied.set(decision.code, (this.denied.get(decision.code) ?? 0) + 1);
  }

  addGap(missing: number): void {
    this.gaps++;
    this.missingBars += missing;
  }

  addDeadLetter(): void {
    this.deadLetters++;
  }

  addModeChange(to: string): void {
    this.mode = to;
    this.modeChanges++;
  }

  addHalted(): void {
    this.halted++;
  }

  addSignalDirection(direction: number): void {
    if (direction > 0) this.directions.long++;
    else if (direction < 0) this.directions.short++;
    else this.directions.flat++;
  }

  build(): BacktestReport {
    const initialEquity = unitsToNumber(this.initialCash);
    const finalEquity = this.last?.equity ?? initialEquity;
    const std = this.returnsN > 1 ? Math.sqrt(this.returnsM2 / (this.returnsN - 1)) : 0;
    const barsPerYear = (365 * 86_400_000) / timeframeMs(this.timeframe);
    const bySymbol = [...this.prices].map(([symbol, p]): [string, number] => [symbol, p.last / p.first - 1]);
    const buyAndHold =
      bySymbol.length > 0
        ? bySymbol.reduce((sum, [, r]) => sum + r, 0) / bySymbol.length
        : this.firstOpen && this.lastClose !== undefined
          ? this.lastClose / this.firstOpen - 1
          : 0;
    return {
      bars: this.bars,
      from: this.first ? new Date(this.first.tsEvent).toISOString() : null,
      to: this.last ? new Date(this.last.tsEvent).toISOString() : null,
      initialEquity,
      finalEquity,
      totalReturn: initialEquity > 0 ? finalEquity / initialEquity - 1 : 0,
      buyAndHoldReturn: buyAndHold,
      ...(bySymbol.length > 0 ? { buyAndHoldBySymbol: Object.fromEntries(bySymbol) } : {}),
      maxDrawdown: this.maxDrawdown,
      sharpe: std > 0 ? (this.returnsMean / std) * Math.sqrt(barsPerYear) : 0,
      trades: this.trades,
      roundTrips: this.roundTrips,
      winRate: this.roundTrips > 0 ? this.wins / this.roundTrips : 0,
      fees: formatUnits(this.last?.feesPaid ?? 0n),
      realizedPnl: formatUnits(this.last?.realizedPnl ?? 0n),
      exposure: this.bars > 0 ? this.exposed / this.bars : 0,
      ordersDenied: Object.fromEntries(this.denied),
      gaps: this.gaps,
      missingBars: this.missingBars,
      deadLetters: this.deadLetters,
      signals: { ...this.directions },
      mode: { final: this.mode, changes: this.modeChanges },
      ordersHalted: this.halted,
      finalPositions: Object.fromEntries(
        Object.entries(this.ledger.positions).map(([symbol, p]) => [symbol, formatUnits(p.qty)]),
      ),
    };
  }
}
