/**
 * The live venue: orders and cancels in, order events out, traded through a real ccxt exchange
 * instance (any exchange ccxt implements; Binance spot is the tested one).
 *
 * ```
 * input:   --a--o----------o2-----c------|        a account snapshot · o order · c cancel
 * output:  --A--(Ao)--u----(f f)--x------|        A accepted · u status unknown · f fill · x canceled
 *                     └ reconcile: fetchOrder(clientOrderId) → found → continue from its real state
 * ```
 *
 * Guarantees, in the order they matter:
 *
 * - **Idempotent submission.** Every order goes out with its deterministic `clientOrderId` (ccxt's
 *   unified `clientOrderId` param → Binance `newClientOrderId`), and ccxt's own retries are switched
 *   off (`maxRetriesOnFailure = 0`): only this venue decides to send again.
 * - **A timeout is never a failure.** A lost answer (ccxt `RequestTimeout`/`NetworkError`, HTTP 5xx,
 *   Binance -1007, a response body that never completes — our own watchdog, because ccxt's timeout
 *   stops at the headers — or anything unexpected) emits {@link OrderStatusUnknown}, then reconciles:
 *   `fetchOrder` by client order id (Binance `origClientOrderId`), falling back to scanning open and
 *   closed orders where the exchange cannot look up by client id. Found → the venue continues from
 *   the order's real state (accepted, partially filled, filled, canceled). Not found → the answer
 *   only counts once the lost request can no longer execute: Binance refuses a request later than
 *   `timestamp + recvWindow`, so "absent" is conclusive `recvWindowMs + clockMarginMs` after the
 *   failure; only then is the order sent again (same id), at most `retry.maxRetries` times. A
 *   "Duplicate order sent." answer means the id is live on the exchange: reconcile, never reject.
 * - **Rate limits.** ccxt's `enableRateLimit` plus our own order cap (`maxOrdersPerSecond`, token
 *   bucket, bounded queue → `RATE_LIMITED` when full). A 429 or 418 pauses *every* request (limits
 *   are per IP) until `Retry-After` (or Binance's "banned until") has passed, with
 *   {@link VenueThrottled} / {@link VenueResumed} events; the refused order was not executed and is
 *   sent again after the pause, a bounded number of times. All waits run on the injected scheduler.
 * - **Overloaded.** Binance's 503 -1008 ("Server is currently overloaded"), which ccxt reports as a
 *   plain ExchangeError, is transient: reads are retried, and an order refused with it was not
 *   executed, so it is sent again with the same client order id after a backoff, never rejected.
 * - **Order types.** Native where the exchange has them, emulated otherwise — see
 *   {@link nativeSupport}: stop-loss / take-profit natively when ccxt's `features` for the market
 *   declare `stopLossPrice` / `takeProfitPrice` (Binance spot: STOP_LOSS(_LIMIT), TAKE_PROFIT(_LIMIT));
 *   trailing stops natively on Binance spot (`trailingDelta`); OCO natively on Binance spot through
 *   an order list (`POST /api/v3/orderList/oco`). Emulated orders are held here and watch the bars
 *   and trades that flow through the venue; when triggered they are sent as a market (or, for
 *   `*-limit`, a limit) order with the same client order id. An emulated OCO group is emulated as a
 *   whole: the first leg to trigger is sent, the others are canceled.
 * - **Fills.** From the exchange's trades (the order response's trades, then `fetchOrderTrades` /
 *   `fetchMyTrades`), de-duplicated by trade id, each a {@link Fill} with the `leavesQty` after it;
 *   the fee is converted to quote at the trade price when charged in base. Resting orders are
 *   polled every `pollIntervalMs` (one `fetchOpenOrders` per symbol, `fetchOrder` for orders that left
 *   the book). Polling, not the user-data stream: it works on every ccxt exchange and against the
 *   local test server.
 * - **Start-up reconciliation.** Before the first order: `loadMarkets`, `fetchBalance`,
 *   `fetchOpenOrders` per symbol → one {@link VenueAccountSnapshot} (balances, spot positions, open
 *   orders, instruments) for the portfolio to fold. Open orders found are tracked (their later fills
 *   are reported); an incoming order with the same client id claims it instead of being sent.
 *   Orders from before this session (`tsEvent` < start; replayed after a crash) are looked up before
 *   they are sent (`lookupBeforeSend`), because a filled order's id is free again on Binance.
 * - **Secrets.** Keys come only from the config; every text this venue emits or throws is redacted
 *   (keys, secret, `signature=`), ccxt `verbose` is forced off.
 *
 * Orders and cancels arriving before the snapshot are held; bars and trades pass through at once
 * (after the emulated orders they trigger). When the input completes, the venue completes once
 * nothing it sent is still unresolved; resting orders stay on the exchange (the next start-up
 * snapshot reports them). Unsubscribing closes the exchange and its keep-alive sockets.
 *
 * @example
 * const venue = makeCcxtVenue({ exchange: 'binance', apiKey: process.env.BINANCE_KEY!, secret: process.env.BINANCE_SECRET!, symbols: ['BTC/USDT'] });
 * orders$.pipe(venue).subscribe((event) => journal.append(event));
 */
import * as ccxt from 'ccxt';
import { Observable, Subscription, asyncScheduler, type SchedulerLike } from 'rxjs';
import { floorToStep, formatUnits, toUnits, type Units } from '../operators/money';
import type {
  Bar,
  CancelAllOrders,
  CancelOrder,
  Fill,
  Instrument,
  Order,
  OrderRejectCode,
  TradeTick,
  VenueId,
} from '../operators/types';
import {
  CcxtVenueError,
  parseCcxtVenueConfig,
  redactWith,
  secretsOf,
  type CcxtVenueConfig,
  type CcxtVenueEnv,
  type CcxtVenueSettings,
} from './venue/config';
import type {
  CcxtVenue,
  CcxtVenueInput,
  CcxtVenueOutput,
  VenueBalance,
  VenueNoticeCode,
  VenueOpenOrder,
} from './venue/events';
import { createExchange, disposeExchange, instrumentOf, openOrderOf } from './venue/exchange';
import { emulationFor, triggerOf, type Emulation } from './venue/emulatedStops';
import {
  NO_NATIVE,
  nativeSupport,
  ocoPlan,
  ocoRole,
  type Capabilities,
  type OcoPlan as OrderListPlan,
} from './venue/orderTypes';
import { AccountLedger } from './venue/account';
import { lookupOrder, type LookupResult } from './venue/lookup';
import { RateGate, type Pause } from './venue/rateLimit';
import { ExchangeCalls } from './venue/exchangeCalls';
import { recoverFills } from './venue/recoverFills';
import { sendOrder, sendOrderList } from './venue/submit';
import { derivedFill, fillsFromTrades, type FillFigures } from './venue/orderFills';
import { AccountReconciler } from './venue/reconcile';
import { Closed, classifySubmitError, describeError, exchangeMessage, type SubmitOutcome } from './venue/submitOutcome';

// The venue's public surface, from the units it is built of.
export {
  CcxtVenueConfigSchema,
  CcxtVenueError,
  parseCcxtVenueConfig,
  redactWith,
  type CcxtVenueConfig,
  type CcxtVenueEnv,
  type CcxtVenueSettings,
} from './venue/config';
export {
  asVenue,
  isVenueOutput,
  type CcxtVenue,
  type CcxtVenueEvent,
  type CcxtVenueInput,
  type CcxtVenueOutput,
  type OrderCancelRejected,
  type VenueAccountSnapshot,
  type VenueBalance,
  type VenueNotice,
  type VenueNoticeCode,
  type VenueOpenOrder,
  type VenueReconciled,
  type VenueResumed,
  type VenueThrottled,
} from './venue/events';
export { nativeSupport } from './venue/orderTypes';

/**
 * A live venue on a ccxt exchange. See the module comment for what it guarantees.
 *
 * @param config validated before anything is subscribed; a broken config throws here.
 * @param env scheduler (default `asyncScheduler`) and an instrumentation hook.
 */
export function makeCcxtVenue(config: CcxtVenueConfig, env: CcxtVenueEnv = {}): CcxtVenue {
  const settings = parseCcxtVenueConfig(config);
  const scheduler = env.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<CcxtVenueOutput>((subscriber) => {
      const exchange = createExchange(settings);
      env.onExchange?.(exchange);
      const session = new Session(
        settings,
        exchange,
        scheduler,
        (event) => subscriber.next(event),
        (error) => subscriber.error(error),
        () => subscriber.complete(),
      );
      const input = source.subscribe({
        next: (value) => session.input(value),
        error: (error: unknown) => session.fail(error),
        complete: () => session.inputComplete(),
      });
      session.start();
      return () => {
        input.unsubscribe();
        session.close();
        disposeExchange(exchange);
      };
    });
}

type Phase = 'pending' | 'armed' | 'pairing' | 'queued' | 'submitting' | 'unknown' | 'open' | 'done';

interface Tracked {
  order: Order;
  phase: Phase;
  adopted: boolean;
  claimed: boolean;
  accepted: boolean;
  exchangeId: string | undefined;
  filled: Units;
  readonly seenTrades: Set<string>;
  /** A flow (submission, reconciliation, refresh, cancel) is running for this order. */
  inFlight: boolean;
  cancelReason: string | null;
  cancelAttempts: number;
  emulation: Emulation | null;
  /** How a triggered emulated order is sent. */
  sendAs: 'market' | 'limit' | null;
  unit: Unit | null;
  /** Linked OCO group (emulated cancel-on-fill), when not a native order list. */
  group: string | null;
  firstSentAt: number | null;
  /** When the last submission's outcome became unknown (scheduler time). */
  failedAt: number | null;
  /** Refreshes that found the exchange reporting more filled than the trades we could see. */
  missingFillChecks: number;
}

type OcoPlan = OrderListPlan<Tracked>;

interface Unit {
  readonly legs: readonly Tracked[];
  readonly oco: OcoPlan | null;
}

/** One subscription's state: everything mutable lives here and dies with it. */
class Session {
  private readonly venue: VenueId;
  private readonly secrets: readonly string[];
  private readonly tracked = new Map<string, Tracked>();
  private readonly doneIds = new Set<string>();
  private readonly pairing = new Map<string, { readonly leg: Tracked; readonly timer: Subscription }>();
  private readonly groups = new Map<string, Set<Tracked>>();
  private readonly sendQueue: Unit[] = [];
  private readonly held: CcxtVenueInput[] = [];
  private readonly inputQueue: CcxtVenueInput[] = [];
  private readonly timers = new Subscription();
  private readonly capabilities = new Map<string, Capabilities>();
  private readonly instruments = new Map<string, Instrument>();
  private draining = false;
  private pumping = false;
  private ready = false;
  private closed = false;
  private inputDone = false;
  private venueOps = 0;
  private readonly rate: RateGate;
  /** Every exchange request: pauses, order cap, watchdog, retries (sinks/venue/exchangeCalls.ts). */
  private readonly calls: ExchangeCalls;
  private resumeTimer: Subscription | null = null;
  private startedAt = 0;
  /** What this session reported of the account, for continuous reconciliation (see reconcilePass). */
  private readonly ledger: AccountLedger;
  private readonly reconciler: AccountReconciler;

  constructor(
    private readonly settings: CcxtVenueSettings,
    private readonly exchange: ccxt.Exchange,
    private readonly scheduler: SchedulerLike,
    private readonly emit: (event: CcxtVenueOutput) => void,
    private readonly error: (error: unknown) => void,
    private readonly complete: () => void,
  ) {
    this.venue = settings.exchange;
    this.secrets = secretsOf(settings);
    this.ledger = new AccountLedger(this.instruments);
    this.reconciler = new AccountReconciler({
      venue: this.venue,
      settings,
      exchange,
      instruments: this.instruments,
      ledger: this.ledger,
      now: () => this.now(),
      startedAt: () => this.startedAt,
      absentAfterMs: () => this.absentAfterMs(),
      isClosed: () => this.closed,
      retrying: (label, fn) => this.calls.retrying(label, fn),
      schedule: (work, delay) => this.schedule(work, delay),
      emit: (event) => this.emit(event),
      notice: (level, code, clientOrderId, message) =>
        this.notice(level, code, clientOrderId === null ? null : (this.tracked.get(clientOrderId) ?? null), message),
      fail: (error) => this.fail(error),
      describe: (error) => this.describe(error),
      startupError: (what, error) => this.startupError(what, error),
      handledBySession: (clientOrderId) => {
        const t = this.tracked.get(clientOrderId);
        if (!t) return false;
        if (!t.inFlight && t.phase === 'open') this.flow([t], () => this.refresh(t));
        return true;
      },
      knowsOrder: (clientOrderId) => this.tracked.has(clientOrderId) || this.doneIds.has(clientOrderId),
      trackOpenOrder: (order, view) => this.adopt(order, view),
      idle: () =>
        [...this.tracked.values()].every(
          (t) =>
            !t.inFlight &&
            (t.phase === 'armed' || t.phase === 'pairing' || t.phase === 'pending' || t.phase === 'done'),
        ),
    });
    this.rate = new RateGate(settings.maxOrdersPerSecond, settings.retry.maxDelayMs, scheduler.now());
    this.calls = new ExchangeCalls({
      settings,
      exchange,
      scheduler,
      rate: this.rate,
      schedule: (work, delay) => this.schedule(work, delay),
      throttled: (pause, error, now) => this.throttled(pause, error, now),
    });
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────────────────────────

  start(): void {
    this.startedAt = this.now();
    this.rate.restart(this.startedAt);
    this.reconcileAccount().catch((error: unknown) => this.fail(error));
  }

  close(): void {
    this.closed = true;
    this.calls.close();
    this.timers.unsubscribe();
  }

  fail(error: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.calls.close();
    this.timers.unsubscribe();
    this.error(error instanceof CcxtVenueError ? error : new CcxtVenueError('INTERNAL', this.describe(error)));
  }

  inputComplete(): void {
    this.inputDone = true;
    this.maybeComplete();
  }

  private maybeComplete(): void {
    if (this.closed || !this.inputDone || !this.ready || this.draining || this.held.length > 0) return;
    if (this.sendQueue.length > 0 || this.pairing.size > 0 || this.venueOps > 0) return;
    for (const t of this.tracked.values()) {
      if (t.inFlight || t.phase === 'queued' || t.phase === 'submitting' || t.phase === 'pending') return;
    }
    // Emulated orders can no longer trigger: no more prices will come.
    for (const t of [...this.tracked.values()]) {
      if (t.phase === 'armed') this.cancelLocally(t, 'input completed: an emulated order can no longer trigger');
    }
    const open = [...this.tracked.values()].filter((t) => t.phase === 'open' || t.phase === 'unknown');
    for (const t of open) {
      this.notice(
        'info',
        'OPEN_AT_COMPLETION',
        t,
        `${t.order.clientOrderId} is ${t.phase === 'open' ? 'still open on the exchange' : 'still unresolved'} at completion`,
      );
    }
    this.closed = true;
    this.calls.close();
    this.timers.unsubscribe();
    this.complete();
  }

  // ── input ──────────────────────────────────────────────────────────────────────────────────────

  input(value: CcxtVenueInput): void {
    this.inputQueue.push(value);
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.inputQueue.shift(); next !== undefined; next = this.inputQueue.shift()) {
        if (this.closed) return;
        this.handle(next);
      }
    } finally {
      this.draining = false;
    }
    this.maybeComplete();
  }

  private handle(value: CcxtVenueInput): void {
    if (value.kind === 'bar' || value.kind === 'trade') {
      this.ledger.price(value.symbol, value.kind === 'bar' ? value.close : value.price);
      if (this.ready) this.onMarket(value);
      this.emit(value);
      return;
    }
    if (!this.ready) {
      this.held.push(value);
      return;
    }
    if (value.kind === 'order') this.onOrder(value);
    else if (value.kind === 'cancel') this.onCancel(value);
    else this.onCancelAll(value);
  }

  private onOrder(order: Order): void {
    const existing = this.tracked.get(order.clientOrderId);
    if (existing?.adopted && !existing.claimed) {
      // The order was already on the exchange at start-up (placed by an earlier run): continue it.
      // The exchange's quantity stays authoritative for leavesQty; the incoming order brings the ids.
      existing.order = { ...order, qty: existing.order.qty };
      existing.claimed = true;
      this.notice(
        'info',
        'ORDER_ADOPTED',
        existing,
        `${order.clientOrderId} was already on the exchange at start-up; continuing it`,
      );
      this.emit({
        kind: 'order-accepted',
        clientOrderId: order.clientOrderId,
        signalId: order.signalId,
        tsEvent: this.now(),
      });
      return;
    }
    if (existing || this.doneIds.has(order.clientOrderId)) {
      this.reject(
        order,
        'DUPLICATE_CLIENT_ORDER_ID',
        `client order id ${order.clientOrderId} was already used in this session; nothing sent`,
      );
      return;
    }
    const instrument = this.instruments.get(order.symbol);
    if (order.reducesRisk && instrument && instrument.qtyStep > 0n && order.qty % instrument.qtyStep !== 0n) {
      // An exit of a position holding fee dust must not fail on precision: it goes out rounded
      // down to the lot grid (the order's fills and leavesQty then count from the rounded qty).
      const rounded = floorToStep(order.qty, instrument.qtyStep);
      this.notice(
        'warning',
        'QTY_ROUNDED',
        null,
        `${order.clientOrderId}: reduce-only qty ${formatUnits(order.qty)} is off the lot step ${formatUnits(instrument.qtyStep)}; sent as ${formatUnits(rounded)}, the rest is dust`,
      );
      order = { ...order, qty: rounded };
    }
    const problem = this.validate(order);
    if (problem) {
      this.reject(order, problem.code, problem.message);
      return;
    }
    const t = this.track(order);
    const adopted = this.ledger.claim(order.clientOrderId);
    if (adopted) {
      // Reconciliation already reported this order's trades (it executed while no session knew it).
      for (const id of adopted.tradeIds) t.seenTrades.add(id);
      t.filled = adopted.qty > order.qty ? order.qty : adopted.qty;
    }
    const caps = this.capabilities.get(order.symbol)!;
    const emulation = emulationFor(order, caps);
    if (order.ocoGroup !== undefined) {
      if (caps.oco && emulation === null && this.pairable(order)) {
        this.pair(t);
        return;
      }
      this.link(t, order.ocoGroup);
      const held = emulationFor(order, NO_NATIVE);
      if (!caps.oco && held) {
        // Emulated OCO: every leg waits here; the first to trigger is sent, the others are canceled.
        this.arm(t, held);
        return;
      }
    }
    if (emulation) {
      this.arm(t, emulation);
      return;
    }
    this.enqueue({ legs: [t], oco: null });
  }

  private validate(order: Order): { code: OrderRejectCode; message: string } | null {
    const instrument = this.instruments.get(order.symbol);
    if (!instrument)
      return {
        code: 'UNKNOWN_SYMBOL',
        message: `symbol ${order.symbol} is not among this venue's symbols (${this.settings.symbols.join(', ')})`,
      };
    if (order.qty <= 0n) return { code: 'BELOW_MIN_QTY', message: `qty ${formatUnits(order.qty)} is not positive` };
    if (instrument.qtyStep > 0n && order.qty % instrument.qtyStep !== 0n) {
      return {
        code: 'QTY_PRECISION',
        message: `qty ${formatUnits(order.qty)} is not a multiple of the lot step ${formatUnits(instrument.qtyStep)}`,
      };
    }
    if (order.qty < instrument.minQty)
      return {
        code: 'BELOW_MIN_QTY',
        message: `qty ${formatUnits(order.qty)} below minimum ${formatUnits(instrument.minQty)}`,
      };
    const needsLimit = order.type === 'limit' || order.type === 'stop-limit' || order.type === 'take-profit-limit';
    const needsStop =
      order.type === 'stop-market' ||
      order.type === 'stop-limit' ||
      order.type === 'take-profit-market' ||
      order.type === 'take-profit-limit';
    if (needsLimit && !(order.limitPrice !== undefined && order.limitPrice > 0))
      return { code: 'EXCHANGE_ERROR', message: `invalid order: a ${order.type} order needs a positive limitPrice` };
    if (needsStop && !(order.stopPrice !== undefined && order.stopPrice > 0))
      return { code: 'EXCHANGE_ERROR', message: `invalid order: a ${order.type} order needs a positive stopPrice` };
    if (order.type === 'trailing-stop' && !(order.trailingBps !== undefined && order.trailingBps > 0)) {
      return { code: 'EXCHANGE_ERROR', message: 'invalid order: a trailing-stop order needs a positive trailingBps' };
    }
    return null;
  }

  private track(order: Order): Tracked {
    const t: Tracked = {
      order: { ...order },
      phase: 'pending',
      adopted: false,
      claimed: true,
      accepted: false,
      exchangeId: undefined,
      filled: 0n,
      seenTrades: new Set(),
      inFlight: false,
      cancelReason: null,
      cancelAttempts: 0,
      emulation: null,
      sendAs: null,
      unit: null,
      group: null,
      firstSentAt: null,
      failedAt: null,
      missingFillChecks: 0,
    };
    this.tracked.set(order.clientOrderId, t);
    return t;
  }

  private onCancel(command: CancelOrder): void {
    const t = this.tracked.get(command.clientOrderId);
    if (!t) {
      const why = this.doneIds.has(command.clientOrderId)
        ? 'the order is already closed'
        : 'no such order in this session';
      this.emit({
        kind: 'cancel-rejected',
        clientOrderId: command.clientOrderId,
        signalId: '',
        reason: why,
        tsEvent: this.now(),
      });
      return;
    }
    this.requestCancel(t, command.reason);
  }

  private requestCancel(t: Tracked, reason: string): void {
    switch (t.phase) {
      case 'pending':
      case 'armed':
      case 'queued':
        this.cancelLocally(t, reason);
        return;
      case 'pairing': {
        const waiting = t.order.ocoGroup === undefined ? undefined : this.pairing.get(t.order.ocoGroup);
        if (waiting && waiting.leg === t) {
          waiting.timer.unsubscribe();
          this.pairing.delete(t.order.ocoGroup!);
        }
        this.cancelLocally(t, reason);
        return;
      }
      case 'submitting':
      case 'unknown':
        // What is in flight cannot be canceled yet: its flow cancels it once it knows the outcome.
        t.cancelReason ??= reason;
        return;
      case 'open':
        t.cancelReason ??= reason;
        if (!t.inFlight) this.flow([t], () => this.cancelFlow(t));
        return;
      case 'done':
        this.emit({
          kind: 'cancel-rejected',
          clientOrderId: t.order.clientOrderId,
          signalId: t.order.signalId,
          reason: 'the order is already closed',
          tsEvent: this.now(),
        });
        return;
    }
  }

  private onCancelAll(command: CancelAllOrders): void {
    const inScope = (t: Tracked): boolean => command.symbol === undefined || t.order.symbol === command.symbol;
    const onExchange: Tracked[] = [];
    for (const t of [...this.tracked.values()]) {
      if (!inScope(t)) continue;
      if (t.phase === 'open' && !t.inFlight) {
        t.cancelReason ??= command.reason;
        onExchange.push(t);
      } else {
        this.requestCancel(t, command.reason);
      }
    }
    const symbols =
      command.symbol !== undefined
        ? [command.symbol]
        : [...new Set([...this.settings.symbols, ...onExchange.map((t) => t.order.symbol)])];
    if (!this.exchange.has['cancelAllOrders']) {
      for (const t of onExchange) this.flow([t], () => this.cancelFlow(t));
      return;
    }
    for (const t of onExchange) t.inFlight = true;
    this.venueOps += 1;
    (async () => {
      for (const symbol of symbols) {
        try {
          await this.calls.retrying(`cancelAllOrders ${symbol}`, () => this.exchange.cancelAllOrders(symbol));
        } catch (error) {
          // Nothing open on that symbol is not a failure; anything else is left to the per-order flows below.
          if (!(error instanceof ccxt.OrderNotFound) && !(error instanceof Closed)) {
            this.notice('warning', 'POLL_FAILED', null, `cancelAllOrders ${symbol}: ${this.describe(error)}`);
          }
        }
      }
      for (const t of onExchange) {
        t.inFlight = false;
        this.flow([t], () => this.cancelFlow(t, { alreadyRequested: true }));
      }
    })()
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.venueOps -= 1;
        this.maybeComplete();
      });
  }

  // ── emulation and OCO pairing ──────────────────────────────────────────────────────────────────

  private arm(t: Tracked, emulation: Emulation): void {
    t.phase = 'armed';
    t.emulation = emulation;
    t.accepted = true;
    this.emit({
      kind: 'order-accepted',
      clientOrderId: t.order.clientOrderId,
      signalId: t.order.signalId,
      tsEvent: this.now(),
    });
    this.notice(
      'info',
      'EMULATED',
      t,
      `${t.order.clientOrderId} (${t.order.type}${t.order.ocoGroup !== undefined ? `, OCO group ${t.order.ocoGroup}` : ''}) is emulated by the venue: ${this.venue} has no native equivalent here`,
    );
  }

  private onMarket(event: Bar | TradeTick): void {
    for (const t of [...this.tracked.values()]) {
      if (t.phase !== 'armed' || !t.emulation) continue;
      const trigger = triggerOf(t.order, t.emulation, event);
      if (trigger === null) continue;
      t.sendAs = trigger.sendAs;
      this.notice(
        'info',
        'EMULATED_TRIGGERED',
        t,
        `${t.order.clientOrderId} triggered at ${trigger.at}; sending a ${t.sendAs} order`,
      );
      if (t.group !== null) {
        for (const sibling of this.groups.get(t.group) ?? []) {
          if (sibling !== t && sibling.phase === 'armed')
            this.cancelLocally(sibling, `oco: ${t.order.clientOrderId} triggered`);
        }
      }
      t.phase = 'pending';
      this.enqueue({ legs: [t], oco: null });
    }
  }

  private pairable(order: Order): boolean {
    return ocoRole(order) !== null;
  }

  private pair(t: Tracked): void {
    const group = t.order.ocoGroup!;
    const waiting = this.pairing.get(group);
    if (!waiting) {
      t.phase = 'pairing';
      const timer = this.schedule(() => {
        this.pairing.delete(group);
        if (t.phase !== 'pairing') return;
        // No partner in time: send alone, and link the group so a later leg is still one-cancels-the-other.
        this.link(t, group);
        t.phase = 'pending';
        const emulation = emulationFor(t.order, this.capabilities.get(t.order.symbol)!);
        if (emulation) this.arm(t, emulation);
        else this.enqueue({ legs: [t], oco: null });
        this.maybeComplete();
      }, this.settings.ocoPairTimeoutMs);
      this.pairing.set(group, { leg: t, timer });
      return;
    }
    this.pairing.delete(group);
    waiting.timer.unsubscribe();
    const first = waiting.leg;
    const plan = ocoPlan(first, t);
    if (!plan) {
      this.notice(
        'warning',
        'OCO_LINKED',
        t,
        `OCO group ${group}: legs ${first.order.clientOrderId} and ${t.order.clientOrderId} do not form a native order list (same symbol, side and qty; one stop and one take-profit/limit); sent separately and linked by the venue`,
      );
      for (const leg of [first, t]) {
        this.link(leg, group);
        leg.phase = 'pending';
        const emulation = emulationFor(leg.order, this.capabilities.get(leg.order.symbol)!);
        if (emulation) this.arm(leg, emulation);
        else this.enqueue({ legs: [leg], oco: null });
      }
      return;
    }
    this.notice(
      'info',
      'OCO_PAIRED',
      t,
      `OCO group ${group}: ${plan.above.order.clientOrderId} (above) and ${plan.below.order.clientOrderId} (below) go out as one order list ${plan.listClientOrderId}`,
    );
    first.phase = 'pending';
    t.phase = 'pending';
    this.enqueue({ legs: [first, t], oco: plan });
  }

  private link(t: Tracked, group: string): void {
    t.group = group;
    const members = this.groups.get(group) ?? new Set<Tracked>();
    members.add(t);
    this.groups.set(group, members);
  }

  /** A linked (not natively listed) OCO leg traded: the others are canceled. */
  private cancelSiblings(t: Tracked): void {
    if (t.group === null) return;
    for (const sibling of this.groups.get(t.group) ?? []) {
      if (sibling !== t && sibling.phase !== 'done')
        this.requestCancel(sibling, `oco: ${t.order.clientOrderId} filled`);
    }
  }

  // ── sending ────────────────────────────────────────────────────────────────────────────────────

  private enqueue(unit: Unit): void {
    if (this.sendQueue.length >= this.settings.maxQueuedOrders) {
      for (const leg of unit.legs) {
        this.finish(leg);
        this.reject(
          leg.order,
          'RATE_LIMITED',
          `order queue full (${this.settings.maxQueuedOrders} waiting for the rate cap or a ban to pass); not sent`,
        );
      }
      return;
    }
    for (const leg of unit.legs) {
      leg.phase = 'queued';
      leg.unit = unit;
    }
    this.sendQueue.push(unit);
    if (!this.pumping) void this.pump();
  }

  /** Sends queued units in order, as fast as the pause and the order cap allow. */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (!this.closed && this.sendQueue.length > 0) {
        const head = this.sendQueue[0]!;
        if (head.legs.every((leg) => leg.phase !== 'queued')) {
          this.sendQueue.shift();
          continue;
        }
        const wait = this.calls.waitBeforeSend(true);
        if (wait > 0) {
          await this.calls.wait(wait);
          continue;
        }
        this.sendQueue.shift();
        const legs = head.legs.filter((leg) => leg.phase === 'queued');
        if (legs.length !== head.legs.length) {
          // A leg of an order list was canceled while waiting: send the rest on their own.
          for (const leg of legs) this.flow([leg], () => this.submitFlow({ legs: [leg], oco: null }));
          continue;
        }
        for (const leg of legs) leg.phase = 'submitting';
        this.flow(legs, () => this.submitFlow(head));
      }
    } finally {
      this.pumping = false;
      this.maybeComplete();
    }
  }

  /** Runs one flow for some orders; one flow per order at a time. */
  private flow(legs: readonly Tracked[], work: () => Promise<void>): void {
    for (const leg of legs) leg.inFlight = true;
    work()
      .catch((error: unknown) => {
        if (!(error instanceof Closed)) this.fail(error);
      })
      .finally(() => {
        for (const leg of legs) leg.inFlight = false;
        if (this.closed) return;
        for (const leg of legs) this.afterFlow(leg);
        this.maybeComplete();
      });
  }

  private afterFlow(t: Tracked): void {
    if (
      t.phase === 'open' &&
      t.cancelReason !== null &&
      !t.inFlight &&
      t.cancelAttempts <= this.settings.retry.maxRetries
    ) {
      this.flow([t], () => this.cancelFlow(t));
    }
  }

  private async submitFlow(unit: Unit): Promise<void> {
    const label = unit.oco ? `order list ${unit.oco.listClientOrderId}` : unit.legs[0]!.order.clientOrderId;
    const first = unit.legs[0]!;
    const lookupFirst =
      this.settings.lookupBeforeSend === 'always' ||
      (this.settings.lookupBeforeSend === 'replayed' && first.order.tsEvent < this.startedAt);
    let rateRetries = 0;
    let resends = 0;
    let attempt = 0;
    if (lookupFirst) {
      // Placed by an earlier run? Its id may be free again on the exchange (filled orders), so look first.
      const result = await this.reconcile(unit, this.now() - this.absentAfterMs());
      if (result === 'found') return;
      if (result === 'unresolved') return this.leaveUnknown(unit);
    }
    for (;;) {
      if (unit.legs.some((leg) => leg.cancelReason !== null)) {
        for (const leg of unit.legs) this.cancelLocally(leg, leg.cancelReason ?? 'canceled with its order list');
        return;
      }
      // The pump took this unit's slot under the order cap for the first attempt; re-sends take their own.
      if (attempt > 0) await this.calls.acquireOrderSlot();
      attempt += 1;
      for (const leg of unit.legs) {
        leg.phase = 'submitting';
        leg.firstSentAt ??= this.now();
      }
      const outcome = await this.place(unit);
      switch (outcome.kind) {
        case 'placed':
          for (const [i, leg] of unit.legs.entries()) {
            const order = unit.oco
              ? outcome.orders.find((o) => o.clientOrderId === leg.order.clientOrderId)
              : outcome.orders[i];
            if (order) await this.applyOrder(leg, order);
            else await this.refresh(leg);
          }
          return;
        case 'rejected':
          for (const leg of unit.legs) {
            this.finish(leg);
            this.reject(leg.order, outcome.code, outcome.message);
          }
          return;
        case 'rate-limited':
        case 'not-placed':
          rateRetries += 1;
          if (rateRetries > this.settings.retry.maxRetries) {
            for (const leg of unit.legs) {
              this.finish(leg);
              this.reject(
                leg.order,
                outcome.kind === 'rate-limited' ? 'RATE_LIMITED' : 'EXCHANGE_ERROR',
                `not placed after ${rateRetries} attempts: ${outcome.message}`,
              );
            }
            return;
          }
          // The exchange refused it before executing anything: wait (the pause, or a backoff) and send again.
          if (outcome.kind === 'not-placed') await this.calls.wait(this.calls.backoff(rateRetries));
          await this.calls.waitForPause();
          continue;
        case 'duplicate':
        case 'unknown': {
          const failedAt = this.now();
          if (outcome.kind === 'unknown') {
            for (const leg of unit.legs) {
              leg.phase = 'unknown';
              leg.failedAt = failedAt;
              this.reconciler.schedule('order-unknown');
              this.emit({
                kind: 'order-unknown',
                clientOrderId: leg.order.clientOrderId,
                signalId: leg.order.signalId,
                reason: outcome.message,
                tsEvent: failedAt,
              });
            }
          }
          // A duplicate id is live on the exchange right now: "absent" could only be a race, so it is conclusive at once.
          const result = await this.reconcile(
            unit,
            outcome.kind === 'duplicate' ? failedAt - this.absentAfterMs() : failedAt,
          );
          if (result === 'found') return;
          if (result === 'unresolved') return this.leaveUnknown(unit);
          if (outcome.kind === 'duplicate') {
            for (const leg of unit.legs) {
              this.finish(leg);
              this.reject(
                leg.order,
                'DUPLICATE_CLIENT_ORDER_ID',
                `${outcome.message} (and no order with this id could be found)`,
              );
            }
            return;
          }
          resends += 1;
          if (resends > this.settings.retry.maxRetries) {
            for (const leg of unit.legs) {
              this.finish(leg);
              this.reject(
                leg.order,
                'EXCHANGE_ERROR',
                `confirmed not placed after ${resends} attempts (last: ${outcome.message})`,
              );
            }
            return;
          }
          for (const leg of unit.legs)
            this.notice(
              'warning',
              'ORDER_RESENT',
              leg,
              `${label}: the exchange confirms it does not exist (checked ${this.absentAfterMs()} ms after the failure); sending it again (attempt ${resends + 1})`,
            );
          continue;
        }
      }
    }
  }

  private leaveUnknown(unit: Unit): void {
    for (const leg of unit.legs) {
      leg.phase = 'unknown';
      this.notice(
        'warning',
        'RECONCILE_FAILED',
        leg,
        `${leg.order.clientOrderId}: could not find out whether the order exists; nothing is resent, the poller keeps looking`,
      );
    }
  }

  /** One attempt to place a unit; classifies what happened. Never throws (except Closed). */
  private async place(unit: Unit): Promise<SubmitOutcome> {
    try {
      if (unit.oco)
        return {
          kind: 'placed',
          orders: await this.calls.call('order list', () => sendOrderList(this.exchange, unit.oco!)),
        };
      const t = unit.legs[0]!;
      return {
        kind: 'placed',
        orders: [
          await this.calls.call(`createOrder ${t.order.clientOrderId}`, () =>
            sendOrder(this.exchange, t.order, t.sendAs),
          ),
        ],
      };
    } catch (error) {
      if (error instanceof Closed) throw error;
      return this.classifySubmitError(error);
    }
  }

  private classifySubmitError(error: unknown): SubmitOutcome {
    return classifySubmitError(error, this.exchangeMessage(error));
  }

  // ── reconciliation ─────────────────────────────────────────────────────────────────────────────

  private absentAfterMs(): number {
    return this.settings.reconcile.absentAfterMs ?? this.settings.recvWindowMs + this.settings.clockMarginMs;
  }

  /**
   * Finds out whether a unit's orders exist. `found`: their real state has been applied. `absent`:
   * the exchange says no, at a time when the lost request can no longer execute. `unresolved`:
   * lookups kept failing.
   */
  private async reconcile(unit: Unit, failedAt: number): Promise<'found' | 'absent' | 'unresolved'> {
    const conclusiveAt = failedAt + this.absentAfterMs();
    let failures = 0;
    for (;;) {
      const results: LookupResult[] = [];
      for (const leg of unit.legs) results.push(await this.lookup(leg));
      const found = results.some((r) => r.kind === 'found');
      if (found) {
        for (const [i, leg] of unit.legs.entries()) {
          const result = results[i]!;
          this.notice(
            'info',
            result.kind === 'found' ? 'ORDER_FOUND' : 'ORDER_ABSENT',
            leg,
            `${leg.order.clientOrderId}: reconciliation ${result.kind === 'found' ? `found it (${result.order.status ?? 'status not given'}, filled ${result.order.filled ?? 0})` : 'did not find this leg'}`,
          );
          if (result.kind === 'found') await this.applyOrder(leg, result.order);
          else await this.refresh(leg);
        }
        return 'found';
      }
      if (results.every((r) => r.kind === 'absent')) {
        const now = this.now();
        if (now >= conclusiveAt) {
          for (const leg of unit.legs)
            this.notice(
              'info',
              'ORDER_ABSENT',
              leg,
              `${leg.order.clientOrderId}: the exchange has no order with this id`,
            );
          return 'absent';
        }
        // Not yet conclusive: the lost request could still be executing.
        await this.calls.wait(conclusiveAt - now);
        continue;
      }
      failures += 1;
      if (failures >= this.settings.reconcile.maxAttempts) return 'unresolved';
      await this.calls.wait(this.calls.backoff(failures));
      await this.calls.waitForPause();
    }
  }

  /** The exchange's view of one order, by client order id (see sinks/venue/lookup.ts). */
  private lookup(t: Tracked): Promise<LookupResult> {
    return lookupOrder(this.exchange, (label, fn) => this.calls.call(label, fn), {
      order: t.order,
      exchangeId: t.exchangeId,
      sentAt: t.firstSentAt ?? this.startedAt,
    });
  }

  /** Re-reads an order the exchange has, and applies its state. */
  private async refresh(t: Tracked): Promise<void> {
    const result = await this.lookup(t);
    if (result.kind === 'found') await this.applyOrder(t, result.order);
    else if (result.kind === 'absent' && t.phase === 'open') {
      this.notice(
        'warning',
        'RECONCILE_FAILED',
        t,
        `${t.order.clientOrderId} was accepted but the exchange no longer finds it`,
      );
    }
  }

  // ── applying the exchange's state ──────────────────────────────────────────────────────────────

  private async applyOrder(t: Tracked, order: ccxt.Order): Promise<void> {
    if (t.phase === 'done') return;
    if (order.id !== undefined && order.id !== null) {
      t.exchangeId = order.id;
      this.ledger.ours(order.id);
    }
    if (!t.accepted) {
      t.accepted = true;
      this.emit({
        kind: 'order-accepted',
        clientOrderId: t.order.clientOrderId,
        signalId: t.order.signalId,
        tsEvent: order.timestamp ?? this.now(),
      });
    }
    const filledBefore = t.filled;
    try {
      await this.catchUpFills(t, order);
    } catch (error) {
      if (error instanceof Closed) throw error;
      // The trades could not be read now: the poller comes back to this order.
      this.notice(
        'warning',
        'POLL_FAILED',
        t,
        `${t.order.clientOrderId}: reading its trades failed: ${this.describe(error)}`,
      );
      if (t.filled > filledBefore) this.cancelSiblings(t);
      t.phase = 'open';
      return;
    }
    if (t.filled > filledBefore) this.cancelSiblings(t);
    const status = order.status;
    const exchangeFilled = order.filled === undefined || order.filled === null ? t.filled : toUnits(order.filled);
    if (t.filled < exchangeFilled) {
      t.missingFillChecks += 1;
      if (t.missingFillChecks < 3) {
        // The exchange reports fills whose trades are not listed yet: look again at the next poll.
        t.phase = 'open';
        return;
      }
      this.notice(
        'warning',
        'FILL_ADJUSTED',
        t,
        `${t.order.clientOrderId}: the exchange reports ${formatUnits(exchangeFilled)} filled but lists trades for ${formatUnits(t.filled)}; the rest is reported from the order's average price`,
      );
      this.emitDerivedFill(t, order, exchangeFilled);
    }
    if (status === 'closed') {
      if (t.filled < t.order.qty) {
        this.notice(
          'warning',
          'FILL_ADJUSTED',
          t,
          `${t.order.clientOrderId} closed with ${formatUnits(t.order.qty - t.filled)} never filled`,
        );
      }
      this.finish(t);
      return;
    }
    if (status === 'canceled' || status === 'expired' || status === 'rejected') {
      this.finish(t);
      if (status === 'rejected' && t.filled === 0n) {
        this.reject(t.order, 'EXCHANGE_ERROR', `the exchange rejected ${t.order.clientOrderId} after accepting it`);
        return;
      }
      const reason =
        t.cancelReason ??
        (status === 'expired'
          ? t.unit?.oco
            ? 'oco: the other order of the list executed'
            : 'expired on the exchange (time in force or market protection)'
          : 'canceled on the exchange');
      this.emit({
        kind: 'order-canceled',
        clientOrderId: t.order.clientOrderId,
        signalId: t.order.signalId,
        reason,
        tsEvent: order.lastUpdateTimestamp ?? order.lastTradeTimestamp ?? this.now(),
      });
      return;
    }
    t.phase = 'open';
  }

  /** Emits the fills the exchange reports beyond what was already emitted, in trade order. */
  private async catchUpFills(t: Tracked, order: ccxt.Order): Promise<void> {
    const target = order.filled === undefined || order.filled === null ? t.filled : toUnits(order.filled);
    if (target <= t.filled) return;
    this.emitTrades(t, order.trades ?? []);
    if (t.filled >= target) return;
    const trades = await this.fetchTradesOf(t, order);
    if (trades === null) {
      // The exchange cannot list trades: derive one fill from the order's cumulative figures.
      this.emitDerivedFill(t, order, target);
      return;
    }
    this.emitTrades(t, trades);
  }

  private async fetchTradesOf(t: Tracked, order: ccxt.Order): Promise<ccxt.Trade[] | null> {
    const { symbol } = t.order;
    if (order.id === undefined || order.id === null) return null;
    const id = order.id;
    if (this.exchange.has['fetchOrderTrades']) {
      return this.calls.retrying(`fetchOrderTrades ${t.order.clientOrderId}`, () =>
        this.exchange.fetchOrderTrades(id, symbol),
      );
    }
    if (this.exchange.has['fetchMyTrades']) {
      const since = (t.firstSentAt ?? this.startedAt) - 60_000;
      const trades = await this.calls.retrying(`fetchMyTrades ${symbol}`, () =>
        this.exchange.fetchMyTrades(symbol, since),
      );
      return trades.filter((trade) => trade.order === id);
    }
    return null;
  }

  private emitTrades(t: Tracked, trades: readonly ccxt.Trade[]): void {
    const found = fillsFromTrades(t, trades, this.instruments.get(t.order.symbol), this.now());
    for (const id of found.tradeIds) this.ledger.know(id);
    for (const message of found.adjusted) this.notice('warning', 'FILL_ADJUSTED', t, message);
    for (const figures of found.fills) this.emitFill(t, figures);
  }

  private emitDerivedFill(t: Tracked, order: ccxt.Order, target: Units): void {
    const figures = derivedFill(t, order, target, this.now());
    if (figures) this.emitFill(t, figures);
  }

  private emitFill(t: Tracked, f: FillFigures): void {
    const fill: Fill = {
      kind: 'fill',
      clientOrderId: t.order.clientOrderId,
      signalId: t.order.signalId,
      symbol: t.order.symbol,
      side: t.order.side,
      qty: f.qty,
      price: f.price,
      notional: f.notional,
      fee: f.fee,
      ...(f.feeBase !== undefined ? { feeBase: f.feeBase } : {}),
      liquidity: f.liquidity,
      leavesQty: f.leavesQty,
      tsEvent: f.tsEvent,
    };
    this.ledger.filled(fill, null);
    this.emit(fill);
  }

  // ── canceling ──────────────────────────────────────────────────────────────────────────────────

  private async cancelFlow(t: Tracked, options: { alreadyRequested?: boolean } = {}): Promise<void> {
    if (t.phase !== 'open') return;
    t.cancelAttempts += 1;
    if (!options.alreadyRequested) {
      try {
        await this.calls.call(`cancelOrder ${t.order.clientOrderId}`, () =>
          this.exchange.cancelOrder(t.exchangeId as string, t.order.symbol, { clientOrderId: t.order.clientOrderId }),
        );
      } catch (error) {
        if (error instanceof Closed) throw error;
        // Not found (already done), a lost answer, a refusal: the order's state says what happened.
        if (error instanceof ccxt.DDoSProtection || error instanceof ccxt.RateLimitExceeded)
          await this.calls.waitForPause();
      }
    }
    await this.refresh(t);
    if ((t.phase as Phase) === 'done') {
      if (t.filled >= t.order.qty) {
        this.emit({
          kind: 'cancel-rejected',
          clientOrderId: t.order.clientOrderId,
          signalId: t.order.signalId,
          reason: 'the order filled before the cancel',
          tsEvent: this.now(),
        });
      }
      if (t.unit?.oco) {
        // Canceling one leg of an order list cancels the list.
        for (const leg of t.unit.legs) {
          if (leg === t || leg.phase !== 'open' || leg.inFlight) continue;
          leg.cancelReason ??= `oco: canceled with ${t.order.clientOrderId}`;
          await this.refresh(leg);
        }
      }
      return;
    }
    if (t.cancelAttempts > this.settings.retry.maxRetries) {
      const reason = `still open after ${t.cancelAttempts} cancel attempts`;
      t.cancelReason = null;
      this.emit({
        kind: 'cancel-rejected',
        clientOrderId: t.order.clientOrderId,
        signalId: t.order.signalId,
        reason,
        tsEvent: this.now(),
      });
      return;
    }
    await this.calls.wait(this.calls.backoff(t.cancelAttempts));
    // afterFlow sends the cancel again (cancelReason is still set).
  }

  private cancelLocally(t: Tracked, reason: string): void {
    if (t.phase === 'done') return;
    this.finish(t);
    this.emit({
      kind: 'order-canceled',
      clientOrderId: t.order.clientOrderId,
      signalId: t.order.signalId,
      reason,
      tsEvent: this.now(),
    });
  }

  private finish(t: Tracked): void {
    t.phase = 'done';
    this.tracked.delete(t.order.clientOrderId);
    this.doneIds.add(t.order.clientOrderId);
    if (t.group !== null) {
      const members = this.groups.get(t.group);
      members?.delete(t);
      if (members && members.size === 0) this.groups.delete(t.group);
    }
  }

  private reject(order: Order, code: OrderRejectCode, message: string): void {
    this.emit({
      kind: 'order-rejected',
      clientOrderId: order.clientOrderId,
      signalId: order.signalId,
      code,
      message: this.redact(message),
      tsEvent: this.now(),
    });
  }

  // ── polling ────────────────────────────────────────────────────────────────────────────────────

  private schedulePoll(): void {
    if (this.closed) return;
    this.schedule(() => {
      this.poll()
        .catch((error: unknown) => {
          if (!(error instanceof Closed)) this.fail(error);
        })
        .finally(() => this.schedulePoll());
    }, this.settings.pollIntervalMs);
  }

  private async poll(): Promise<void> {
    const open = [...this.tracked.values()].filter((t) => (t.phase === 'open' || t.phase === 'unknown') && !t.inFlight);
    if (open.length === 0) return;
    for (const t of open.filter((t) => t.phase === 'unknown')) {
      this.flow([t], async () => {
        const result = await this.reconcile({ legs: [t], oco: null }, t.failedAt ?? -Infinity);
        if (result === 'absent') {
          // Conclusively never placed. The submission flow gave up on it a while ago and the market has
          // moved since: the poller reports it and does not send it late.
          if (t.cancelReason !== null) {
            this.cancelLocally(t, t.cancelReason);
            return;
          }
          this.finish(t);
          this.reject(
            t.order,
            'EXCHANGE_ERROR',
            `${t.order.clientOrderId}: status was unknown; the exchange confirms it does not exist, so it was never placed (not resent)`,
          );
        }
      });
    }
    const bySymbol = new Map<string, Tracked[]>();
    for (const t of open)
      if (t.phase === 'open') bySymbol.set(t.order.symbol, [...(bySymbol.get(t.order.symbol) ?? []), t]);
    for (const [symbol, orders] of bySymbol) {
      let listed: ccxt.Order[] | null = null;
      if (this.exchange.has['fetchOpenOrders']) {
        try {
          listed = await this.calls.call(`fetchOpenOrders ${symbol}`, () => this.exchange.fetchOpenOrders(symbol));
        } catch (error) {
          if (error instanceof Closed) throw error;
          this.notice('warning', 'POLL_FAILED', null, `fetchOpenOrders ${symbol}: ${this.describe(error)}`);
          continue;
        }
      }
      const byClientId = new Map((listed ?? []).map((o) => [o.clientOrderId, o]));
      for (const t of orders) {
        if (t.inFlight || t.phase !== 'open') continue;
        const seen = listed === null ? undefined : byClientId.get(t.order.clientOrderId);
        if (listed !== null && seen !== undefined) {
          if (toUnits(seen.filled ?? 0) > t.filled) this.flow([t], () => this.applyOrder(t, seen));
        } else {
          // Left the book (filled, canceled, expired) or the exchange cannot list: read its final state.
          this.flow([t], () => this.refresh(t));
        }
      }
    }
  }

  // ── start-up ───────────────────────────────────────────────────────────────────────────────────

  private async reconcileAccount(): Promise<void> {
    try {
      await this.calls.retrying('loadMarkets', () => this.exchange.loadMarkets());
    } catch (error) {
      throw this.startupError('loading markets', error);
    }
    for (const symbol of this.settings.symbols) {
      const market = this.exchange.markets?.[symbol];
      if (!market)
        throw new CcxtVenueError('UNKNOWN_SYMBOL', `${this.venue} has no market ${symbol} (config key symbols)`);
      this.instruments.set(symbol, instrumentOf(this.exchange, market));
      this.capabilities.set(symbol, nativeSupport(this.exchange, market, this.settings.emulate));
    }
    // A restart: what the earlier session's unsettled orders executed while nobody watched comes
    // back as fills (read before the balances, which then include them).
    const recovered = await recoverFills(
      this.exchange,
      (label, fn) => this.calls.retrying(label, fn),
      this.instruments,
      this.settings.recoverOrders,
    );
    for (const id of recovered.tradeIds) this.ledger.know(id);
    let balance: ccxt.Balances;
    try {
      balance = await this.calls.retrying('fetchBalance', () => this.exchange.fetchBalance());
    } catch (error) {
      throw this.startupError('fetching the balance', error);
    }
    const openOrders: VenueOpenOrder[] = [];
    for (const symbol of this.settings.symbols) {
      let orders: ccxt.Order[];
      try {
        orders = await this.calls.retrying(`fetchOpenOrders ${symbol}`, () => this.exchange.fetchOpenOrders(symbol));
      } catch (error) {
        throw this.startupError(`fetching open orders of ${symbol}`, error);
      }
      for (const o of orders) {
        const view = openOrderOf(o, symbol);
        openOrders.push(view);
        if (view.clientOrderId !== '') await this.adopt(o, view);
      }
    }
    const balances: Record<string, VenueBalance> = {};
    const totals = (balance['total'] ?? {}) as unknown as Record<string, number | undefined>;
    const frees = (balance['free'] ?? {}) as unknown as Record<string, number | undefined>;
    const useds = (balance['used'] ?? {}) as unknown as Record<string, number | undefined>;
    for (const [asset, total] of Object.entries(totals)) {
      if (total === undefined || total === null || total === 0) continue;
      balances[asset] = { free: toUnits(frees[asset] ?? 0), used: toUnits(useds[asset] ?? 0), total: toUnits(total) };
    }
    const positions: Record<string, Units> = {};
    const dust: Record<string, Units> = {};
    for (const symbol of this.settings.symbols) {
      const instrument = this.instruments.get(symbol)!;
      positions[symbol] = balances[instrument.base]?.total ?? 0n;
      const d = this.ledger.start(symbol, positions[symbol], this.startedAt - this.reconciler.tradesLookbackMs());
      if (d !== 0n) dust[symbol] = d;
      this.ledger.startQuote(instrument.quote, balances[instrument.quote]?.total ?? 0n);
    }
    await this.reconciler.rememberTradesInBalances();
    const now = this.now();
    this.ready = true;
    this.emit({
      kind: 'venue-account',
      venue: this.venue,
      balances,
      positions,
      openOrders,
      instruments: [...this.instruments.values()],
      dust,
      recoveredFills: recovered.fills,
      tsEvent: typeof balance.timestamp === 'number' ? balance.timestamp : now,
      tsInit: now,
    });
    for (const [symbol, d] of Object.entries(dust)) this.reconciler.noticeDust(symbol, d);
    for (const note of recovered.notes)
      this.notice(
        note.level,
        'FILL_RECOVERED',
        this.tracked.get(note.clientOrderId) ?? null,
        `restart: ${note.message}`,
      );
    this.schedulePoll();
    this.reconciler.schedule('schedule');
    for (const value of this.held.splice(0)) this.input(value);
    this.maybeComplete();
  }

  /** An order found open at start-up is tracked so its later fills are reported. */
  private async adopt(o: ccxt.Order, view: VenueOpenOrder): Promise<void> {
    const order: Order = {
      kind: 'order',
      clientOrderId: view.clientOrderId,
      intentId: '',
      // An order of an earlier session of ours (a restart) keeps its signal: its later fills trace to it.
      signalId: this.settings.recoverOrders.find((o) => o.clientOrderId === view.clientOrderId)?.signalId ?? '',
      symbol: view.symbol,
      side: view.side,
      type: o.type === 'market' ? 'market' : 'limit',
      qty: view.qty,
      refPrice: view.price ?? 0,
      ...(view.price !== null ? { limitPrice: view.price } : {}),
      ...(view.stopPrice !== null ? { stopPrice: view.stopPrice } : {}),
      reducesRisk: false,
      configHash: '',
      tsEvent: view.tsEvent,
    };
    const t = this.track(order);
    t.adopted = true;
    t.claimed = false;
    t.accepted = true;
    t.exchangeId = view.exchangeOrderId;
    this.ledger.ours(view.exchangeOrderId);
    t.phase = 'open';
    t.filled = view.filledQty;
    if (view.filledQty > 0n) {
      // Fills before start-up are in the balances already; only later ones are reported.
      const trades = await this.fetchTradesOf(t, o).catch(() => null);
      for (const trade of trades ?? [])
        if (trade.id !== undefined && trade.id !== null) t.seenTrades.add(String(trade.id));
    }
  }

  private startupError(what: string, error: unknown): CcxtVenueError {
    if (error instanceof CcxtVenueError) return error;
    const code = error instanceof ccxt.AuthenticationError ? 'AUTHENTICATION_FAILED' : 'STARTUP_FAILED';
    return new CcxtVenueError(
      code,
      `${this.venue}: start-up reconciliation failed while ${what}: ${this.describe(error)}`,
    );
  }

  // ── calling the exchange (sinks/venue/exchangeCalls.ts) ───────────────────────────────────────

  /** A 429 or 418 started a pause: reported now, and its end when it has passed. */
  private throttled(pause: Pause, error: Error, now: number): void {
    this.emit({
      kind: 'venue-throttled',
      venue: this.venue,
      status: pause.status,
      retryAfterMs: pause.retryAfterMs,
      until: pause.until,
      reason: this.exchangeMessage(error),
      tsEvent: now,
    });
    this.resumeTimer?.unsubscribe();
    this.resumeTimer = this.schedule(() => {
      if (!this.rate.pausedAt(this.now())) this.emit({ kind: 'venue-resumed', venue: this.venue, tsEvent: this.now() });
    }, pause.retryAfterMs);
  }

  // ── small helpers ──────────────────────────────────────────────────────────────────────────────

  private now(): number {
    return this.scheduler.now();
  }

  /** A timer that dies with the session; it leaves the session's set when it fires or is unsubscribed. */
  private schedule(work: () => void, delay: number): Subscription {
    const subscription = this.scheduler.schedule(
      () => {
        this.timers.remove(subscription);
        if (!this.closed) work();
      },
      Math.max(0, delay),
    );
    subscription.add(() => this.timers.remove(subscription));
    this.timers.add(subscription);
    return subscription;
  }

  private notice(level: 'info' | 'warning', code: VenueNoticeCode, t: Tracked | null, message: string): void {
    this.emit({
      kind: 'venue-notice',
      venue: this.venue,
      level,
      code,
      clientOrderId: t?.order.clientOrderId ?? null,
      message: this.redact(message),
      tsEvent: this.now(),
    });
  }

  private redact(text: string): string {
    return redactWith(text, this.secrets);
  }

  /** The exchange's coded message when it sent one, else `Class: message`; redacted. */
  private exchangeMessage(error: unknown): string {
    return this.redact(exchangeMessage(error, this.venue));
  }

  private describe(error: unknown): string {
    return this.redact(describeError(error));
  }
}
