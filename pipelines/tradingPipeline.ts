/**
 * The decision pipeline, `main(sources) → sinks` in the Cycle.js sense: the same function runs a
 * backtest, a paper session and a live session; only the sources (replayed vs live bars) and the
 * venue (simulator vs exchange) change.
 *
 *   bars$ ─┐
 *          ├─▶ venue ─▶ (fills, then the bar) ─┬─▶ portfolio state ───────────────┐
 *  orders ─┘     ▲                             └─▶ features ─▶ ta ┐                 ▼
 *                │                                            ml ┴▶ fuse ─▶ size ─▶ gate ─▶ orders
 *                └───────────────────────────────────────────────────────────────────────────┘
 *
 * The venue passes every bar through only after filling what that price filled, and the
 * portfolio state and the market statistics subscribe before the decision chain, so a decision
 * on bar N always sees the fills of bar N's open and the marks and statistics of bar N's close —
 * and nothing later.
 */
import {
  BehaviorSubject,
  EMPTY,
  NEVER,
  Observable,
  Subject,
  Subscription,
  connectable,
  filter,
  map,
  materialize,
  merge,
  share,
  shareReplay,
  take,
  takeUntil,
  zip,
  type Observable as Obs,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import { trackBreakers, type BreakerStateChanged, type ComponentOutcome } from '../operators/circuitBreaker';
import { flattenOnEmergency, type EmergencyCommand } from '../operators/emergencyActions';
import { estimateMarketRisk, type MarketRiskEstimate } from '../operators/garch';
import { haltOnKill } from '../operators/shortCircuit';
import { trackTradingMode, type KillSwitchChanged, type ModeRequest, type ModeReset } from '../operators/tradingMode';
import { computeFeatures } from '../operators/computeFeatures';
import type { Venue, VenueInput, VenueOutput } from '../operators/executeOrders';
import { fuseSignals } from '../operators/fuseSignals';
import { gateRisk } from '../operators/gateRisk';
import type { CompiledModel } from '../operators/mlModel';
import type { Units } from '../operators/money';
import { mlSignal } from '../operators/mlSignal';
import { sequenceBars } from '../operators/sequenceBars';
import { sizePosition } from '../operators/sizePosition';
import { taSignal } from '../operators/taSignal';
import { trackMarketStats, type MarketStats } from '../operators/trackMarketStats';
import { initialPortfolio, trackPortfolio, type PortfolioEvent } from '../operators/trackPortfolio';
import type {
  Bar,
  BarGap,
  DeadLetter,
  Mode,
  ModeChanged,
  OrderBook,
  OrderCommand,
  OrderEvent,
  OrderIntent,
  Portfolio,
  RiskDecision,
  Signal,
  Ticker,
  TradeTick,
} from '../operators/types';
import type { PipelineConfig } from './config';

export interface PipelineSources {
  /** Closed bars, in event time. */
  readonly bars$: Obs<Bar>;
  /**
   * Market data for the venue besides bars (trades, L2 books, tickers): a simulator fills against
   * it, a live venue triggers emulated stops on it, and trades mark the portfolio.
   */
  readonly market$?: Obs<TradeTick | OrderBook | Ticker>;
  /**
   * Bars closing before this time only warm the indicators and statistics: their signals are
   * journaled but never sized into orders (a session replays recent history before going live).
   */
  readonly tradeFrom?: number;
  /**
   * The kill switch (GPIO button, process signal, a simulated press). Any value, an error or a
   * completion counts as pressed — fail-closed. Omit it when there is no switch.
   */
  readonly kill$?: Obs<{ readonly reason?: string }>;
  /** Operator commands: set a manual mode, or reset a latched Emergency. */
  readonly commands$?: Obs<ModeRequest | ModeReset>;
  /** Outcomes of calls to components (exchange, feeds, model) for the circuit breakers. */
  readonly outcomes$?: Obs<ComponentOutcome>;
}

/** A risk-increasing order the kill switch stopped on its way to the venue. */
export interface OrderHalted {
  readonly kind: 'order-halted';
  readonly clientOrderId: string;
  readonly signalId: string;
  readonly reason: string;
  readonly tsEvent: number;
}

/** Everything the pipeline decided or observed, in the order it happened. */
export type PipelineEvent =
  | Signal
  | OrderIntent
  | RiskDecision
  | OrderEvent
  | BarGap
  | DeadLetter
  | Portfolio
  | ModeChanged
  | BreakerStateChanged
  | EmergencyCommand
  | OrderHalted
  | MarketRiskEstimate;

/** What the pipeline hands its venue, and what it reads back. */
export type PipelineVenueInput = VenueInput | OrderBook | Ticker;
export type PipelineVenueOutput = VenueOutput | OrderBook | Ticker;
export type PipelineVenue = OperatorFunction<PipelineVenueInput, PipelineVenueOutput>;

/** Seats a venue that knows only bars and trades: books and tickers are not handed to it. */
export function acceptingBooks(venue: Venue): PipelineVenue {
  return (input$) => venue(input$.pipe(filter((e): e is VenueInput => e.kind !== 'book' && e.kind !== 'ticker')));
}

export interface PipelineDeps {
  readonly venue: PipelineVenue;
  /** Starting portfolio when it is not cash only (live: what the exchange reported). */
  readonly initialPortfolio?: Portfolio;
  /** Required when the config has an ML section. */
  readonly model?: CompiledModel;
  /** Clock for stages that stamp `tsInit`, for timers (breaker cooldowns) and for releasing orders. */
  readonly scheduler: SchedulerLike;
}

/**
 * Builds the pipeline for a validated config. The returned function is pure wiring: nothing runs
 * until the resulting observable is subscribed, and each subscription has its own state.
 * The observable emits every {@link PipelineEvent} and completes when the bars complete.
 *
 * Safety wiring: the trading mode is a state machine over the kill switch, operator commands,
 * the portfolio's drawdown and the global circuit breaker; the risk gate reads the current mode;
 * entering Emergency cancels every open order and flattens every position; and the kill switch
 * guards the very last step before the venue, so no risk-increasing order reaches the venue after
 * a press — not even one already on its way through the operators.
 */
export function tradingPipeline(
  config: PipelineConfig,
  deps: PipelineDeps,
): (sources: PipelineSources) => Observable<PipelineEvent> {
  const { instrument } = config;
  const sizing = config.sizing ?? {};
  const risk = config.risk ?? {};
  const execution = config.execution;
  const allowShort = sizing.allowShort ?? false;
  // Operators are built here, once, so a bad parameter fails before anything subscribes.
  const features = computeFeatures({ features: config.features });
  const ta = config.signals.ta ? taSignal(config.signals.ta) : undefined;
  if (config.signals.ml && !deps.model) throw new Error(`config ${config.file} has signals.ml but no model was loaded`);
  const ml =
    config.signals.ml && deps.model ? mlSignal({ model: deps.model, ...withoutModel(config.signals.ml) }) : undefined;
  const fuse = fuseSignals(config.signals.fuse);
  const size = sizePosition({ instrument, ...sizing });
  const { marketStats: statsConfig, garch: garchConfig, ...limits } = risk;
  const garch = garchConfig ? estimateMarketRisk(garchConfig) : undefined;
  const gate = gateRisk({
    instruments: [instrument],
    ...limits,
    ...(execution.takerFeeBps !== undefined ? { takerFeeBps: execution.takerFeeBps } : {}),
    allowShort,
    strategyId: config.name,
    configHash: config.hash,
  });
  const modes = trackTradingMode(config.modes ?? {});
  const breakers = trackBreakers({ ...(config.breakers ?? {}), scheduler: deps.scheduler });
  const flatten = flattenOnEmergency({ strategyId: config.name, configHash: config.hash, instruments: [instrument] });
  const journalSignals = config.journal?.signals ?? 'all';

  const start = deps.initialPortfolio ?? initialPortfolio({ initialCash: config.initialCash, quote: instrument.quote });

  return ({ bars$, market$, tradeFrom, kill$, commands$, outcomes$ }) =>
    new Observable<PipelineEvent>((subscriber) => {
      const subscriptions = new Subscription();
      const fail = (err: unknown): void => subscriber.error(err);
      const emit = (event: PipelineEvent): void => subscriber.next(event);
      const toVenue$ = new Subject<OrderCommand>();
      const approved$ = new Subject<OrderCommand>();
      const emergency$ = new Subject<EmergencyCommand>();
      const portfolioAtBar$ = new Subject<Portfolio>();
      const portfolio = new BehaviorSubject<Portfolio>(start);
      let mode: Mode = config.modes?.initial ?? 'Normal';
      let stats: MarketStats | undefined;
      /** Orders on their way or resting at the venue: signed quantity still to fill, per client order id. */
      const open = new Map<string, { symbol: string; remaining: Units }>();
      const pendingFor = (symbol: string): Units => {
        let sum = 0n;
        for (const o of open.values()) if (o.symbol === symbol) sum += o.remaining;
        return sum;
      };
      /** Latest GARCH-t 1-day 99 % VaR per symbol, as a fraction of the position (1 − e^(−VaR) of the log-return loss). */
      const var99 = new Map<string, number>();

      // The kill switch, shared: the mode machine and the guard before the venue both watch it.
      // Whatever it does — a value, an error, completing — is a press.
      const killPresses$ = (kill$ ?? NEVER).pipe(
        materialize(),
        take(1),
        map(
          (n): KillSwitchChanged => ({
            kind: 'kill-switch',
            pressed: true,
            reason:
              n.kind === 'N'
                ? (n.value.reason ?? 'kill switch pressed')
                : n.kind === 'E'
                  ? `kill switch stream failed (${(n.error as Error)?.message ?? String(n.error)}): treated as pressed`
                  : 'kill switch stream ended: treated as pressed',
            tsEvent: deps.scheduler.now(),
          }),
        ),
        shareReplay({ bufferSize: 1, refCount: false }),
      );

      // Connected last, once every consumer is subscribed, so that even a synchronous source
      // reaches all of them.
      const sequenced$ = connectable(bars$.pipe(sequenceBars({ scheduler: deps.scheduler })), {
        connector: () => new Subject(),
        resetOnDisconnect: false,
      });
      const marketBars$ = sequenced$.pipe(filter((e): e is Bar => e.kind === 'bar'));
      // Other market data lasts as long as the bars: when they end, the session ends.
      const barsEnded$ = new Subject<void>();
      const venue$: Obs<PipelineVenueOutput> = merge(
        marketBars$,
        (market$ ?? EMPTY).pipe(takeUntil(barsEnded$)),
        toVenue$,
      ).pipe(deps.venue, share());
      const venueBars$ = venue$.pipe(
        filter((e): e is Bar => e.kind === 'bar' && e.symbol === instrument.symbol && e.timeframe === config.timeframe),
      );

      // 1. Fed-back state first: it must see bar N before the decision chain does.
      subscriptions.add(
        venue$
          .pipe(
            filter((e): e is PortfolioEvent => e.kind === 'fill' || e.kind === 'bar' || e.kind === 'trade'),
            trackPortfolio({ initialCash: start.initialCash, quote: instrument.quote, start }),
          )
          .subscribe({ next: (p) => portfolio.next(p), error: fail }),
      );
      subscriptions.add(
        venueBars$.pipe(trackMarketStats(statsConfig ?? {})).subscribe({ next: (s) => (stats = s), error: fail }),
      );

      // 2. Safety: breakers, the mode machine, emergency flattening, the kill switch guard.
      const breakers$ = (outcomes$ ?? NEVER).pipe(breakers, share());
      subscriptions.add(breakers$.subscribe({ next: emit, error: fail }));
      const modeChanged$ = merge(killPresses$, commands$ ?? NEVER, portfolioAtBar$, breakers$).pipe(modes, share());
      subscriptions.add(
        modeChanged$.subscribe({
          next: (change) => {
            mode = change.to;
            emit(change);
          },
          error: fail,
        }),
      );
      subscriptions.add(
        merge(modeChanged$, portfolioAtBar$)
          .pipe(flatten)
          .subscribe({
            next: (command) => {
              emit(command);
              emergency$.next(command);
            },
            error: fail,
          }),
      );
      subscriptions.add(
        merge(approved$, emergency$)
          .pipe(
            haltOnKill(killPresses$, {
              scheduler: deps.scheduler,
              onHalt: (item) => {
                if (item.kind !== 'order') return;
                open.delete(item.clientOrderId);
                emit({
                  kind: 'order-halted',
                  clientOrderId: item.clientOrderId,
                  signalId: item.signalId,
                  reason: 'kill switch pressed',
                  tsEvent: deps.scheduler.now(),
                });
              },
            }),
          )
          .subscribe({ next: (command) => toVenue$.next(command), error: fail, complete: () => toVenue$.complete() }),
      );

      // 3. Observations: data problems, venue events, the portfolio at each bar (which also
      //    drives the mode machine's drawdown rules, before the decision on that bar).
      subscriptions.add(sequenced$.pipe(filter((e): e is BarGap | DeadLetter => e.kind !== 'bar')).subscribe(emit));
      subscriptions.add(
        venue$.subscribe({
          next: (e) => {
            if (e.kind === 'bar') {
              if (e.symbol === instrument.symbol && e.timeframe === config.timeframe) {
                emit(portfolio.value);
                portfolioAtBar$.next(portfolio.value);
              }
            } else if (e.kind !== 'trade' && e.kind !== 'book' && e.kind !== 'ticker') {
              if (e.kind === 'fill') {
                const o = open.get(e.clientOrderId);
                if (o) {
                  if (e.leavesQty === 0n) open.delete(e.clientOrderId);
                  else o.remaining = o.remaining > 0n ? e.leavesQty : -e.leavesQty;
                }
              } else if (e.kind === 'order-canceled' || e.kind === 'order-rejected') open.delete(e.clientOrderId);
              emit(e);
            }
          },
          error: fail,
        }),
      );

      // 4. Decisions.
      const features$ = venueBars$.pipe(features, share());
      const components: Obs<Signal>[] = [];
      if (ta) components.push(features$.pipe(ta));
      if (ml) components.push(features$.pipe(ml));
      const fused$ = (components.length === 1 ? components[0]!.pipe(map((s) => [s])) : zip(components)).pipe(fuse);
      subscriptions.add(
        fused$
          .pipe(
            map((signal) => {
              if (journalSignals === 'all' || signal.direction !== 0) emit(signal);
              return signal;
            }),
            filter((signal) => tradeFrom === undefined || signal.tsEvent >= tradeFrom),
            map((signal) => {
              const volatility = stats?.volatility.get(signal.symbol);
              const pending = pendingFor(signal.symbol);
              return {
                signal,
                portfolio: portfolio.value,
                pending,
                ...(volatility === undefined ? {} : { volatility }),
              };
            }),
            size,
            map((intent) => {
              emit(intent);
              return {
                intent,
                portfolio: portfolio.value,
                mode,
                pending: pendingFor(intent.symbol),
                market: stats ? { stats, ...(var99.size > 0 ? { var99 } : {}) } : {},
              };
            }),
            gate,
          )
          .subscribe({
            next: (decision) => {
              emit(decision);
              if (decision.kind === 'approved') {
                const order = decision.order;
                open.set(order.clientOrderId, {
                  symbol: order.symbol,
                  remaining: order.side === 'buy' ? order.qty : -order.qty,
                });
                approved$.next(order);
              }
            },
            error: fail,
          }),
      );

      // GARCH refits run after the decision on the bar that triggers them (a refit takes tens of
      // milliseconds): that bar is decided on the previous fit, the next ones on the new fit.
      if (garch) {
        subscriptions.add(
          venueBars$.pipe(garch).subscribe({
            next: (estimate) => {
              var99.set(estimate.symbol, 1 - Math.exp(-estimate.var));
              emit(estimate);
            },
            error: fail,
          }),
        );
      }

      // 5. Completion: when the bars end, nothing new is decided; what is on its way to the
      //    venue still arrives (and expires there, with no later price to fill at).
      subscriptions.add(venue$.subscribe({ error: fail, complete: () => subscriber.complete() }));
      subscriptions.add(
        sequenced$.subscribe({
          error: () => undefined,
          complete: () => {
            barsEnded$.next();
            approved$.complete();
            emergency$.complete();
          },
        }),
      );
      subscriptions.add(sequenced$.connect());
      return () => {
        subscriptions.unsubscribe();
        toVenue$.complete();
      };
    });
}

function withoutModel<T extends { model: string; training?: unknown }>(ml: T): Omit<T, 'model' | 'training'> {
  const { model: _model, training: _training, ...rest } = ml;
  return rest;
}
