/**
 * The account as this venue session accounts for it, and the decisions continuous reconciliation
 * takes against the exchange's view: which trades are explained, what an adopted trade leaves for
 * an order that later claims its id, whether a base balance drifted, and what is dust. No I/O: the
 * session reads the exchange and acts on the answers.
 */
import { dustOf } from '../../operators/lotGrid';
import { unitsToNumber, type Units } from '../../operators/money';
import type { Fill, Instrument, Symbol } from '../../operators/types';

/** What reconciliation should do with a trade the exchange lists. */
export type TradeVerdict =
  /** Already in the account (start-up balances, or reported as a fill). */
  | 'known'
  /** Belongs to an order of this session whose own flow reports it. */
  | 'ours'
  /** No order of this session explains it: look its order up, then adopt it or hand it to its flow. */
  | 'unexplained';

/** A balance the exchange reported that the session did not expect, seen twice in a row. */
export interface Drift {
  /** The symbol whose base asset drifted, or the quote asset's name (see {@link AccountLedger.quoteBalance}). */
  readonly symbol: Symbol;
  readonly expected: Units;
  readonly found: Units;
}

export class AccountLedger {
  /** Trade ids in the start-up balances or reported as fills. */
  private readonly knownTrades = new Set<string>();
  /** Exchange ids of the orders this session tracks or tracked: their own flows report their trades. */
  private readonly ourOrders = new Set<string>();
  /** Trades adopted by reconciliation, by client order id. */
  private readonly adoptions = new Map<string, { readonly tradeIds: Set<string>; qty: Units }>();
  /** Base holding per symbol as reported: the start-up balance plus the fills. */
  private readonly expectedBase = new Map<Symbol, Units>();
  /** `since` of the next trade read per symbol, ms. */
  private readonly tradesSince = new Map<Symbol, number>();
  /** Quote holding per quote asset as reported: the start-up balance plus the fills' notionals and quote fees. */
  private readonly expectedQuote = new Map<string, Units>();
  /** Fills per quote asset: each may round its notional by one unit on the exchange's side. */
  private readonly quoteFills = new Map<string, bigint>();
  /** A difference seen at the last pass; flagged only when the next pass finds the same (base: by symbol, quote: `quote:` + asset). */
  private readonly suspected = new Map<string, Units>();
  private readonly reportedDust = new Map<Symbol, Units>();
  private readonly lastPrice = new Map<Symbol, number>();

  constructor(private readonly instruments: ReadonlyMap<Symbol, Instrument>) {}

  /** The start-up snapshot: the base holding of a symbol, and where its trade reads start. Returns its dust. */
  start(symbol: Symbol, base: Units, tradesSince: number): Units {
    this.expectedBase.set(symbol, base);
    this.tradesSince.set(symbol, tradesSince);
    const dust = dustOf(base, this.instrument(symbol), this.lastPrice.get(symbol));
    this.reportedDust.set(symbol, dust);
    return dust;
  }

  /** The start-up snapshot's total of a quote asset (once per asset, whatever the number of symbols quoted in it). */
  startQuote(asset: string, total: Units): void {
    if (!this.expectedQuote.has(asset)) this.expectedQuote.set(asset, total);
  }

  /** The quote assets the session accounts for. */
  quoteAssets(): string[] {
    return [...this.expectedQuote.keys()];
  }

  /** A trade the start-up balances already include. */
  knownAtStart(symbol: Symbol, tradeId: string, timestamp: number | undefined): void {
    this.knownTrades.add(tradeId);
    if (timestamp !== undefined && timestamp > (this.tradesSince.get(symbol) ?? -Infinity))
      this.tradesSince.set(symbol, timestamp);
  }

  /** A trade an order of this session has accounted for (reported as a fill, or consciously skipped). */
  know(tradeId: string): void {
    this.knownTrades.add(tradeId);
  }

  /** An order of this session got its exchange id. */
  ours(exchangeOrderId: string): void {
    if (exchangeOrderId !== '') this.ourOrders.add(exchangeOrderId);
  }

  isOurs(exchangeOrderId: string): boolean {
    return this.ourOrders.has(exchangeOrderId);
  }

  /** A market price (bar close, trade, fill): the dust's notional uses the latest. */
  price(symbol: Symbol, price: number): void {
    if (Number.isFinite(price) && price > 0) this.lastPrice.set(symbol, price);
  }

  /** A fill this session reports (its own or adopted): its trade is known, the holding moves. */
  filled(fill: Fill, tradeId: string | null): void {
    if (tradeId !== null) this.knownTrades.add(tradeId);
    const before = this.expectedBase.get(fill.symbol);
    if (before !== undefined) {
      const delta = fill.side === 'buy' ? fill.qty - (fill.feeBase ?? 0n) : -fill.qty;
      this.expectedBase.set(fill.symbol, before + delta);
    }
    const quote = this.instruments.get(fill.symbol)?.quote;
    const quoteBefore = quote === undefined ? undefined : this.expectedQuote.get(quote);
    if (quote !== undefined && quoteBefore !== undefined) {
      // A fee taken in the base asset is not paid in quote (its `fee` is only its quote value);
      // a fee in a third asset (BNB) has a quote value of 0 here.
      const quoteFee = fill.feeBase !== undefined ? 0n : fill.fee;
      const delta = (fill.side === 'buy' ? -fill.notional : fill.notional) - quoteFee;
      this.expectedQuote.set(quote, quoteBefore + delta);
      this.quoteFills.set(quote, (this.quoteFills.get(quote) ?? 0n) + 1n);
    }
    if (fill.price > 0n) this.price(fill.symbol, unitsToNumber(fill.price));
  }

  since(symbol: Symbol): number | undefined {
    return this.tradesSince.get(symbol);
  }

  /** Where the next trade read of `symbol` starts (the latest trade time settled). */
  advance(symbol: Symbol, timestamp: number): void {
    if (timestamp > (this.tradesSince.get(symbol) ?? -Infinity)) this.tradesSince.set(symbol, timestamp);
  }

  verdict(tradeId: string, exchangeOrderId: string | null): TradeVerdict {
    if (this.knownTrades.has(tradeId)) return 'known';
    if (exchangeOrderId !== null && this.ourOrders.has(exchangeOrderId)) return 'ours';
    return 'unexplained';
  }

  /** An unexplained trade reported as a fill for `clientOrderId`; see {@link claim}. */
  adopted(clientOrderId: string, tradeId: string, qty: Units): void {
    const record = this.adoptions.get(clientOrderId) ?? { tradeIds: new Set<string>(), qty: 0n };
    record.tradeIds.add(tradeId);
    record.qty += qty;
    this.adoptions.set(clientOrderId, record);
  }

  /** What an order claiming `clientOrderId` must not report again: the adopted trades and their quantity. */
  claim(clientOrderId: string): { readonly tradeIds: ReadonlySet<string>; readonly qty: Units } | undefined {
    return this.adoptions.get(clientOrderId);
  }

  /**
   * The exchange's base holding of `symbol` at a pass. When `idle` (nothing in flight that could
   * explain a difference) and it differs from the expected holding at this pass and the previous
   * one alike, it is a drift: returned, and adopted as the new expectation. A difference seen once
   * is only suspected: a trade between the pass's trade read and its balance read explains it at
   * the next pass.
   */
  balance(symbol: Symbol, found: Units, idle: boolean): Drift | null {
    return this.compare(this.expectedBase, symbol, symbol, found, idle, 0n);
  }

  /**
   * The exchange's total of quote asset `asset` at a pass, judged like {@link balance}: the
   * start-up total, minus what buys paid (notional and a fee taken in quote), plus what sells
   * received (notional minus a fee taken in quote). A difference of up to one unit (1e-8) per fill
   * is the exchange's rounding of the notional, not a drift.
   */
  quoteBalance(asset: string, found: Units, idle: boolean): Drift | null {
    return this.compare(this.expectedQuote, `quote:${asset}`, asset, found, idle, this.quoteFills.get(asset) ?? 0n);
  }

  private compare(
    expectations: Map<string, Units>,
    key: string,
    name: string,
    found: Units,
    idle: boolean,
    tolerance: Units,
  ): Drift | null {
    const expected = expectations.get(name);
    const confirmed = this.suspected.get(key) === found;
    this.suspected.delete(key);
    if (!idle || expected === undefined) return null;
    const difference = found - expected;
    if (difference <= tolerance && difference >= -tolerance) return null;
    if (!confirmed) {
      this.suspected.set(key, found);
      return null;
    }
    expectations.set(name, found);
    return { symbol: name, expected, found };
  }

  /** The dust of `symbol` at this holding, when it changed since last reported (else null). */
  dustChange(symbol: Symbol, holding: Units): Units | null {
    const dust = dustOf(holding, this.instrument(symbol), this.lastPrice.get(symbol));
    if (dust === (this.reportedDust.get(symbol) ?? 0n)) return null;
    this.reportedDust.set(symbol, dust);
    return dust;
  }

  private instrument(symbol: Symbol): Instrument {
    const instrument = this.instruments.get(symbol);
    if (!instrument) throw new Error(`AccountLedger: no instrument for ${symbol}`);
    return instrument;
  }
}
