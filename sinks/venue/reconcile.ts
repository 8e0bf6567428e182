/**
 * Continuous reconciliation of a live venue session with its exchange account: on a schedule
 * and soon after every order-unknown, recent trades (`fetchMyTrades`), open orders and balances
 * are read and compared with what the session reported ({@link AccountLedger}):
 *
 * - a trade no order of the session explains (accepted and executed late after its session ended,
 *   or placed by hand) is adopted as a fill, with a TRADE_ADOPTED notice;
 * - an open order no session placed is tracked (ORDER_ADOPTED), so its fills are reported;
 * - a base balance, or a quote asset's total, that differs from start-up + fills at two idle
 *   passes in a row is a BALANCE_DRIFT; a change of dust is a DUST notice;
 * - every pass ends with a {@link VenueReconciled} (a clean one is a success for the venue's
 *   breaker, a difference trips it).
 *
 * The session keeps the orders; this unit asks it through {@link ReconcilerHost}.
 */
import type * as ccxt from 'ccxt';
import type { Subscription } from 'rxjs';
import { formatUnits, notionalOf, toUnits, type Units } from '../../operators/money';
import type { Fill, Instrument, Side, VenueId } from '../../operators/types';
import type { AccountLedger } from './account';
import type { CcxtVenueError, CcxtVenueSettings } from './config';
import type { VenueNoticeCode, VenueOpenOrder, VenueReconciled } from './events';
import { compareIds, feeInBase, feeInQuote, openOrderOf } from './exchange';
import { Closed } from './submitOutcome';

/** What the reconciler needs of the session that owns the orders and the exchange calls. */
export interface ReconcilerHost {
  readonly venue: VenueId;
  readonly settings: CcxtVenueSettings;
  readonly exchange: ccxt.Exchange;
  readonly instruments: ReadonlyMap<string, Instrument>;
  readonly ledger: AccountLedger;
  now(): number;
  /** When the session started (scheduler time). */
  startedAt(): number;
  /** How long after a failure "not found" is conclusive, ms (recvWindow + margin). */
  absentAfterMs(): number;
  isClosed(): boolean;
  /** An exchange read with the session's retries, pauses and watchdog. */
  retrying<T>(label: string, fn: () => Promise<T>): Promise<T>;
  schedule(work: () => void, delayMs: number): Subscription;
  emit(event: Fill | VenueReconciled): void;
  notice(level: 'info' | 'warning', code: VenueNoticeCode, clientOrderId: string | null, message: string): void;
  fail(error: unknown): void;
  describe(error: unknown): string;
  startupError(what: string, error: unknown): CcxtVenueError;
  /** True when the session tracks this order (and refreshes it if it rests idle): its flow reports its trades. */
  handledBySession(clientOrderId: string): boolean;
  /** True when the session tracks or finished this order. */
  knowsOrder(clientOrderId: string): boolean;
  /** Tracks an open order found on the exchange, so its later fills are reported. */
  trackOpenOrder(order: ccxt.Order, view: VenueOpenOrder): Promise<void>;
  /** Nothing in flight that could explain a balance difference. */
  idle(): boolean;
}

export class AccountReconciler {
  private reconciling = false;
  private reconcileSoon: Subscription | null = null;

  constructor(private readonly host: ReconcilerHost) {}

  /**
   * The recent trades at start-up are in the balances the snapshot reports: they are known, never
   * adopted. (A trade executing between the balance read and this read would be missed by the
   * adoption; the balance check of the next idle pass flags it as drift.)
   */
  async rememberTradesInBalances(): Promise<void> {
    if (this.host.settings.reconcile.everyMs === 0 || !this.host.exchange.has['fetchMyTrades']) return;
    for (const symbol of this.host.settings.symbols) {
      const since = this.host.ledger.since(symbol)!;
      let trades: ccxt.Trade[];
      try {
        trades = await this.host.retrying(`fetchMyTrades ${symbol}`, () =>
          this.host.exchange.fetchMyTrades(symbol, since),
        );
      } catch (error) {
        throw this.host.startupError(`fetching the recent trades of ${symbol}`, error);
      }
      for (const trade of trades)
        if (trade.id !== undefined && trade.id !== null)
          this.host.ledger.knownAtStart(symbol, String(trade.id), trade.timestamp ?? undefined);
    }
  }

  /** Trades this old before the start are read at start-up (and then known). */
  tradesLookbackMs(): number {
    return Math.max(60_000, this.host.absentAfterMs() * 2);
  }

  /** Runs a pass after `afterUnknownMs` (an order-unknown) or `everyMs` (the schedule), unless one is due sooner. */
  schedule(trigger: 'schedule' | 'order-unknown'): void {
    const { everyMs, afterUnknownMs } = this.host.settings.reconcile;
    if (this.host.isClosed() || everyMs === 0) return;
    const delay = trigger === 'schedule' ? everyMs : afterUnknownMs;
    if (trigger === 'order-unknown') this.reconcileSoon?.unsubscribe();
    else if (this.reconcileSoon !== null) return;
    this.reconcileSoon = this.host.schedule(() => {
      this.reconcileSoon = null;
      this.pass(trigger)
        .catch((error: unknown) => {
          if (!(error instanceof Closed)) this.host.fail(error);
        })
        .finally(() => this.schedule('schedule'));
    }, delay);
  }

  /**
   * One pass: recent trades no order of this session explains are adopted (a fill, with a
   * TRADE_ADOPTED notice) — an order accepted and executed late, after its session gave up or
   * ended, or placed by someone else on the account; open orders of no session are tracked
   * (ORDER_ADOPTED); when nothing is in flight, base balances are compared with what this session
   * reported (BALANCE_DRIFT); dust changes are reported (DUST). Ends with a {@link VenueReconciled}.
   */
  async pass(trigger: 'schedule' | 'order-unknown'): Promise<void> {
    if (this.reconciling) return;
    this.reconciling = true;
    let adoptedTrades = 0;
    let drifts = 0;
    try {
      for (const symbol of this.host.settings.symbols) adoptedTrades += await this.adoptUnexplainedTrades(symbol);
      for (const symbol of this.host.settings.symbols) await this.adoptUnknownOpenOrders(symbol);
      drifts = await this.checkBalances();
    } catch (error) {
      if (error instanceof Closed) throw error;
      this.host.notice(
        'warning',
        'RECONCILE_PASS_FAILED',
        null,
        `reconciliation pass failed: ${this.host.describe(error)}`,
      );
      return;
    } finally {
      this.reconciling = false;
    }
    this.host.emit({
      kind: 'venue-reconciled',
      venue: this.host.venue,
      adoptedTrades,
      drifts,
      differences: adoptedTrades + drifts,
      trigger,
      tsEvent: this.host.now(),
    });
  }

  private async adoptUnexplainedTrades(symbol: string): Promise<number> {
    if (!this.host.exchange.has['fetchMyTrades']) return 0;
    const since = this.host.ledger.since(symbol) ?? this.host.startedAt() - this.tradesLookbackMs();
    const trades = await this.host.retrying(`fetchMyTrades ${symbol}`, () =>
      this.host.exchange.fetchMyTrades(symbol, since),
    );
    let adopted = 0;
    const sorted = [...trades].sort(
      (a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0) || compareIds(String(a.id), String(b.id)),
    );
    for (const trade of sorted) {
      if (trade.id === undefined || trade.id === null) continue;
      const id = String(trade.id);
      const orderId = trade.order === undefined || trade.order === null ? null : String(trade.order);
      const verdict = this.host.ledger.verdict(id, orderId);
      // One of ours, not yet reported: its own flow (poll, reconciliation of an unknown) reports it,
      // so the read starts no later than here next time.
      if (verdict === 'ours') continue;
      if (verdict === 'known') {
        if (typeof trade.timestamp === 'number') this.host.ledger.advance(symbol, trade.timestamp);
        continue;
      }
      const order =
        orderId === null
          ? null
          : await this.host
              .retrying(`fetchOrder ${orderId}`, () => this.host.exchange.fetchOrder(orderId, symbol))
              .catch((error: unknown) => {
                if (error instanceof Closed) throw error;
                return null;
              });
      const clientOrderId = order?.clientOrderId ?? '';
      // Ours, still being submitted or reconciled: its flow reads it (now, when it is resting).
      if (clientOrderId !== '' && this.host.handledBySession(clientOrderId)) continue;
      if (trade.amount === undefined || trade.amount === null || trade.price === undefined || trade.price === null)
        continue;
      this.adoptTrade(symbol, trade, clientOrderId, orderId, order);
      if (typeof trade.timestamp === 'number') this.host.ledger.advance(symbol, trade.timestamp);
      adopted += 1;
    }
    return adopted;
  }

  /** Reports a trade no order of this session explains as a fill, so the portfolio holds what the exchange holds. */
  private adoptTrade(
    symbol: string,
    trade: ccxt.Trade,
    clientOrderId: string,
    orderId: string | null,
    order: ccxt.Order | null,
  ): void {
    const id = String(trade.id);
    const qty = toUnits(trade.amount!);
    const price = toUnits(trade.price!);
    const cid = clientOrderId !== '' ? clientOrderId : `exchange:${orderId ?? id}`;
    this.host.ledger.adopted(cid, id, qty);
    const side: Side = trade.side === 'sell' ? 'sell' : 'buy';
    const remaining = order?.remaining;
    const fill: Fill = {
      kind: 'fill',
      clientOrderId: cid,
      signalId: '',
      symbol,
      side,
      qty,
      price,
      notional: notionalOf(qty, price),
      fee: feeInQuote(this.host.instruments.get(symbol), trade.fee, price),
      ...feeInBase(this.host.instruments.get(symbol), trade.fee),
      liquidity: trade.takerOrMaker === 'maker' ? 'maker' : 'taker',
      leavesQty: remaining === undefined || remaining === null ? 0n : toUnits(remaining),
      tsEvent: trade.timestamp ?? this.host.now(),
    };
    this.host.notice(
      'warning',
      'TRADE_ADOPTED',
      null,
      `${symbol}: trade ${id} (${side} ${formatUnits(qty)} @ ${formatUnits(price)}, order ${cid}) is on the exchange but no order of this session explains it; adopted into the portfolio as a fill`,
    );
    this.host.ledger.filled(fill, id);
    this.host.emit(fill);
  }

  /** Open orders no one tracks (placed by an earlier run or by hand) are tracked so their fills are reported. */
  private async adoptUnknownOpenOrders(symbol: string): Promise<void> {
    if (!this.host.exchange.has['fetchOpenOrders']) return;
    const open = await this.host.retrying(`fetchOpenOrders ${symbol}`, () =>
      this.host.exchange.fetchOpenOrders(symbol),
    );
    for (const o of open) {
      const view = openOrderOf(o, symbol);
      if (view.clientOrderId === '' || this.host.knowsOrder(view.clientOrderId)) continue;
      if (view.exchangeOrderId !== '' && this.host.ledger.isOurs(view.exchangeOrderId)) continue;
      await this.host.trackOpenOrder(o, view);
      this.host.notice(
        'warning',
        'ORDER_ADOPTED',
        view.clientOrderId,
        `${symbol}: open order ${view.clientOrderId} (${view.side} ${formatUnits(view.qty)}) is on the exchange but was not placed by this session; tracking it`,
      );
    }
  }

  /** Compares base holdings and quote totals with what this session reported (only when nothing is in flight) and reports dust. Returns drifts. */
  private async checkBalances(): Promise<number> {
    const balance = await this.host.retrying('fetchBalance', () => this.host.exchange.fetchBalance());
    const totals = (balance['total'] ?? {}) as unknown as Record<string, number | undefined>;
    const idle = this.host.idle();
    let drifts = 0;
    for (const symbol of this.host.settings.symbols) {
      const instrument = this.host.instruments.get(symbol)!;
      const found = toUnits(totals[instrument.base] ?? 0);
      const drift = this.host.ledger.balance(symbol, found, idle);
      if (drift) {
        drifts += 1;
        this.host.notice(
          'warning',
          'BALANCE_DRIFT',
          null,
          `${symbol}: the exchange holds ${formatUnits(drift.found)} ${instrument.base}, this session accounts for ${formatUnits(drift.expected)} (difference ${formatUnits(drift.found - drift.expected)}); no trade explains it (a transfer, or a trade outside the lookback)`,
        );
      }
      const dust = this.host.ledger.dustChange(symbol, found);
      if (dust !== null && dust !== 0n) this.noticeDust(symbol, dust);
    }
    // The quote asset too: a buy executed while nobody watched moves cash, not only the base.
    for (const asset of this.host.ledger.quoteAssets()) {
      const drift = this.host.ledger.quoteBalance(asset, toUnits(totals[asset] ?? 0), idle);
      if (drift) {
        drifts += 1;
        this.host.notice(
          'warning',
          'BALANCE_DRIFT',
          null,
          `${asset}: the exchange holds ${formatUnits(drift.found)} ${asset}, this session accounts for ${formatUnits(drift.expected)} (difference ${formatUnits(drift.found - drift.expected)}); no trade explains it (a transfer, a fee in another asset, or a trade outside the lookback)`,
        );
      }
    }
    return drifts;
  }

  noticeDust(symbol: string, dust: Units): void {
    const instrument = this.host.instruments.get(symbol)!;
    this.host.notice(
      'info',
      'DUST',
      null,
      `${symbol}: ${formatUnits(dust)} ${instrument.base} is dust (lot step ${formatUnits(instrument.qtyStep)}, min qty ${formatUnits(instrument.minQty)}, min notional ${formatUnits(instrument.minNotional)} ${instrument.quote}): kept, never traded`,
    );
  }
}
