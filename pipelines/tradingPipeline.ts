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
 * The venue passes every bar through only after filling what that price filled. The portfolio,
 * the market statistics, the VaR, the trading mode and the pending orders are folded into one
 * decision state (`trackDecisionState`, a `scan`) that is connected before the decision chain;
 * the decisions and the gate join it with `withLatestFrom`, so a decision on bar N sees the fills
 * of bar N's open and the marks, statistics and mode of bar N's close — and nothing later.
 *
 * With a universe, each symbol runs its own chain from features to sizing
 * ({@link symbolDecisionChain}); the venue, the portfolio, the market statistics (volatility,
 * correlation, ADV), the GARCH VaR and the one risk gate see every symbol.
 */
import {
  EMPTY,
  NEVER,
  Observable,
  ReplaySubject,
  Subject,
  Subscription,
  connectable,
  filter,
  identity,
  map,
  materialize,
  merge,
  share,
  shareReplay,
  startWith,
  take,
  takeUntil,
  tap,
  withLatestFrom,
  zip,
  type MonoTypeOperatorFunction,
  type Observable as Obs,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import {
  trackBreakers,
  type BreakerState,
  type BreakerStateChanged,
  type ComponentOutcome,
} from '../operators/circuitBreaker';
import { flattenOnEmergency, type EmergencyCommand } from '../operators/emergencyActions';
import { estimateMarketRisk, type MarketRiskEstimate } from '../operators/garch';
import { rollMarketRisk } from '../operators/rollMarketRisk';
import { haltOnKill } from '../operators/shortCircuit';
import { trackTradingMode, type KillSwitchChanged, type ModeRequest, type ModeReset } from '../operators/tradingMode';
import { computeFeatures } from '../operators/computeFeatures';
import { fuseSignals } from '../operators/fuseSignals';
import { gateRisk } from '../operators/gateRisk';
import type { CompiledModel } from '../operators/mlModel';
import { mlSignal } from '../operators/mlSignal';
import { sequenceBars } from '../operators/sequenceBars';
import { detectCandlePatterns } from '../operators/candlePatterns';
import { confirmTimeframes, type HigherTimeframe } from '../operators/confirmTimeframes';
import { makeCostModel } from '../operators/costModel';
import { decideTrade, type DecideTradeInput, type DecideTradeOutput } from '../operators/decideTrade';
import { forecastReturn } from '../operators/forecastReturn';
import { sizePosition } from '../operators/sizePosition';
import { read, taSignal } from '../operators/taSignal';
import { trackMarketStats } from '../operators/trackMarketStats';
import {
  exitsOf,
  trackDecisionState,
  type DecisionState,
  type PendingOrderSent,
} from '../operators/trackDecisionState';
import { initialPortfolio, trackPortfolio, type PortfolioEvent } from '../operators/trackPortfolio';
import type {
  Bar,
  CancelAllOrders,
  BarGap,
  DeadLetter,
  Features,
  Fill,
  Mode,
  ModeChanged,
  Order,
  OrderBook,
  OrderCanceled,
  OrderCommand,
  OrderEvent,
  OrderIntent,
  OrderRejected,
  Portfolio,
  RiskDecision,
  Signal,
  Symbol,
  Ticker,
  Timeframe,
  TradeTick,
  Venue,
  VenueInput,
  VenueOutput,
} from '../operators/types';
import type { IntelEvent } from '../operators/intelligence';
import type { PipelineConfig, UniverseMember } from './config';
import { makeIntelChain } from './intelChain';

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
  /**
   * Intelligence (sentiment, on-chain, macro, news: live drivers or a recording), joined as of
   * each bar's close when the config has an `intelligence` section. Its end or failure only makes
   * the sources go stale.
   */
  readonly intel$?: Obs<IntelEvent>;
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

/**
 * What observability sees inside a symbol's decision chain (`pipelines/observability.ts`): the
 * features as the pipeline computed them (exported, not computed again) and the ends of the
 * stages that emit no event of their own. Called synchronously on the pipeline's path: keep it cheap.
 */
export interface PipelineObserver {
  /** Every features event of every symbol (with higher timeframes and patterns when configured). */
  readonly features?: (features: Features) => void;
  /** Stage `features`, `ta` or `ml` ended for the bar with this event time. */
  readonly stage?: (stage: 'features' | 'ta' | 'ml', tsEvent: number) => void;
}

export interface PipelineDeps {
  readonly venue: PipelineVenue;
  /** Observability's view inside the decision chains (features, stage ends). */
  readonly observe?: PipelineObserver;
  /** Starting portfolio when it is not cash only (live: what the exchange reported). */
  readonly initialPortfolio?: Portfolio;
  /** Required when the config has an ML section. */
  readonly model?: CompiledModel;
  /** Clock for stages that stamp `tsInit`, for timers (breaker cooldowns) and for releasing orders. */
  readonly scheduler: SchedulerLike;
  /**
   * Where the kill-switch guard releases orders to the venue (see `haltOnKill`). Default
   * `scheduler`; a real-time session passes `asapScheduler` (the end of the current turn), so an
   * order — a flatten at a press — does not wait for a timer.
   */
  readonly releaseScheduler?: SchedulerLike;
  /** Breaker states an earlier session left (a restart, from the journal): restored, see `trackBreakers`' `restore`. */
  readonly restoredBreakers?: Readonly<Record<string, BreakerState>>;
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
  if (config.signals.ml && !deps.model) throw new Error(`config ${config.file} has signals.ml but no model was loaded`);
  const chains = config.universe.map((member) => symbolDecisionChain(config, member, deps.model, deps.observe));
  const traded = new Set(config.instruments.map((i) => i.symbol));
  const isUniverseBar = (e: { kind: string }): e is Bar =>
    e.kind === 'bar' && traded.has((e as Bar).symbol) && (e as Bar).timeframe === config.timeframe;
  const { marketStats: statsConfig, garch: garchConfig, ...limits } = risk;
  const garch = garchConfig ? estimateMarketRisk(garchConfig) : undefined;
  const gate = gateRisk({
    instruments: config.instruments,
    ...limits,
    ...(execution.takerFeeBps !== undefined ? { takerFeeBps: execution.takerFeeBps } : {}),
    allowShort,
    strategyId: config.name,
    configHash: config.hash,
  });
  const modes = trackTradingMode(config.modes ?? {});
  const breakers = trackBreakers({
    ...(config.breakers ?? {}),
    scheduler: deps.scheduler,
    ...(deps.restoredBreakers ? { restore: deps.restoredBreakers } : {}),
  });
  const flatten = flattenOnEmergency({ strategyId: config.name, configHash: config.hash, instruments: [instrument] });
  const journalSignals = config.journal?.signals ?? 'all';

  const start = deps.initialPortfolio ?? initialPortfolio({ initialCash: config.initialCash, quote: instrument.quote });

  return ({ bars$, market$, tradeFrom, kill$, commands$, outcomes$, intel$ }) =>
    new Observable<PipelineEvent>((subscriber) => {
      const subscriptions = new Subscription();
      const sharedIntel$ = intel$?.pipe(share());
      const fail = (err: unknown): void => subscriber.error(err);
      const emit = (event: PipelineEvent): void => subscriber.next(event);
      const toVenue$ = new Subject<OrderCommand>();
      const approved$ = new Subject<OrderCommand>();
      const emergency$ = new Subject<EmergencyCommand>();
      // Fed back into the decision state: orders the gate sent, and orders the kill switch stopped.
      const sent$ = new Subject<PendingOrderSent>();
      const halted$ = new Subject<OrderHalted>();
      const fits$ = new Subject<MarketRiskEstimate>();

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
      const venueBars$ = venue$.pipe(filter(isUniverseBar));

      // The portfolio, joined to the venue event it follows (one per event: zip pairs them exactly).
      const portfolioEvents$ = venue$.pipe(
        filter((e): e is PortfolioEvent => e.kind === 'fill' || e.kind === 'bar' || e.kind === 'trade'),
        share(),
      );
      const portfolioAfter$ = zip(
        portfolioEvents$,
        portfolioEvents$.pipe(trackPortfolio({ initialCash: start.initialCash, quote: instrument.quote, start })),
      ).pipe(share());
      const portfolio$ = portfolioAfter$.pipe(map(([, p]) => p));
      /** The portfolio at each universe bar: journaled, and it drives the mode machine's drawdown rules. */
      const portfolioAtBar$ = portfolioAfter$.pipe(
        filter(([e]) => isUniverseBar(e)),
        map(([, p]) => p),
        share(),
      );
      const stats$ = venueBars$.pipe(trackMarketStats(statsConfig ?? {}));
      // Between refits each symbol's GARCH variance rolls forward through every bar's return, so
      // the VaR the gate reads on bar N includes bar N's move (and nothing later).
      const rolled$ = garch ? merge(venueBars$, fits$).pipe(rollMarketRisk()) : EMPTY;
      const breakers$ = (outcomes$ ?? NEVER).pipe(breakers, share());
      const modeChanged$ = merge(killPresses$, commands$ ?? NEVER, portfolioAtBar$, breakers$).pipe(modes, share());

      // 1. The decision state first: it must fold bar N (its fills, marks, statistics, VaR and
      //    the mode it leads to) before the decision chain sees bar N. One fold, joined by the
      //    decisions with withLatestFrom.
      const state$ = connectable(
        merge(
          portfolio$,
          stats$,
          rolled$,
          fits$,
          venue$.pipe(
            filter(
              (e): e is Fill | OrderCanceled | OrderRejected =>
                e.kind === 'fill' || e.kind === 'order-canceled' || e.kind === 'order-rejected',
            ),
          ),
          sent$,
          halted$,
          modeChanged$,
        ).pipe(trackDecisionState({ portfolio: start, mode: config.modes?.initial ?? 'Normal' })),
        { connector: () => new ReplaySubject<DecisionState>(1), resetOnDisconnect: false },
      );
      subscriptions.add(state$.subscribe({ error: fail }));
      subscriptions.add(state$.connect());

      // 2. Safety: breakers, the mode machine, emergency flattening, the kill switch guard.
      subscriptions.add(breakers$.subscribe({ next: emit, error: fail }));
      subscriptions.add(modeChanged$.subscribe({ next: emit, error: fail }));
      // Emergency flattens the portfolio as it is now — fills since the last bar included — not
      // the last bar's: a position opened mid-bar is sold at the press, not at the next close.
      subscriptions.add(
        merge(modeChanged$, portfolio$.pipe(startWith(start)))
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
              scheduler: deps.releaseScheduler ?? deps.scheduler,
              onHalt: (item) => {
                if (item.kind !== 'order') return;
                const halted: OrderHalted = {
                  kind: 'order-halted',
                  clientOrderId: item.clientOrderId,
                  signalId: item.signalId,
                  reason: 'kill switch pressed',
                  tsEvent: deps.scheduler.now(),
                };
                halted$.next(halted);
                emit(halted);
              },
            }),
          )
          .subscribe({ next: (command) => toVenue$.next(command), error: fail, complete: () => toVenue$.complete() }),
      );

      // 3. Observations: data problems, venue events, the portfolio at each bar.
      subscriptions.add(
        sequenced$
          .pipe(filter((e): e is BarGap | DeadLetter => e.kind !== 'bar'))
          .subscribe({ next: emit, error: fail }),
      );
      subscriptions.add(portfolioAtBar$.subscribe({ next: emit, error: fail }));
      subscriptions.add(
        venue$
          .pipe(
            filter(
              (e): e is Exclude<PipelineVenueOutput, Bar | TradeTick | OrderBook | Ticker> =>
                e.kind !== 'bar' && e.kind !== 'trade' && e.kind !== 'book' && e.kind !== 'ticker',
            ),
          )
          .subscribe({ next: emit, error: fail }),
      );

      // 4. Decisions: one chain per symbol (its own indicator and signal state), one gate for all,
      //    each joined to the decision state of the moment.
      const intents$ = merge(
        ...chains.map((chain) =>
          venueBars$.pipe(
            filter((bar) => bar.symbol === chain.symbol),
            (bars) => chain.signals(bars, sharedIntel$),
            map((decided) => {
              if (journalSignals === 'all' || decided.signal.direction !== 0) emit(decided.signal);
              return decided;
            }),
            filter(({ signal }) => tradeFrom === undefined || signal.tsEvent >= tradeFrom),
            withLatestFrom(state$),
            map(([{ signal, atr, support, resistance }, state]): DecideTradeInput => {
              const volatility = state.stats?.volatility.get(signal.symbol);
              return {
                signal,
                portfolio: state.portfolio,
                pending: state.pending.get(signal.symbol) ?? 0n,
                ...(() => {
                  const exits = exitsOf(state, signal.symbol);
                  return exits.length > 0 ? { exits } : {};
                })(),
                ...(volatility === undefined ? {} : { volatility }),
                ...(atr === null ? {} : { atr }),
                ...(support === null ? {} : { support }),
                ...(resistance === null ? {} : { resistance }),
              };
            }),
            chain.size,
          ),
        ),
      ).pipe(share());
      // A decision's cancel of its resting exits goes straight to the venue (a cancel adds no
      // risk), ahead of the intents that follow it.
      subscriptions.add(
        intents$.pipe(filter((d): d is CancelAllOrders => d.kind === 'cancel-all')).subscribe({
          next: (command) => {
            emit(command);
            approved$.next(command);
          },
          error: fail,
        }),
      );
      subscriptions.add(
        intents$
          .pipe(
            filter((d): d is OrderIntent => d.kind === 'intent'),
            withLatestFrom(state$),
            map(([intent, state]) => {
              emit(intent);
              return {
                intent,
                portfolio: state.portfolio,
                mode: state.mode,
                pending: state.pending.get(intent.symbol) ?? 0n,
                market: state.stats
                  ? { stats: state.stats, ...(state.var99.size > 0 ? { var99: state.var99 } : {}) }
                  : {},
              };
            }),
            gate,
          )
          .subscribe({
            next: (decision) => {
              emit(decision);
              if (decision.kind === 'approved') {
                // Pending in the state before the venue can fill it.
                sent$.next({ kind: 'order-sent', order: decision.order });
                approved$.next(decision.order);
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
              fits$.next(estimate);
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

/** A fused signal with the bracket levels read from the same bar's features. */
export interface DecidedSignal {
  readonly signal: Signal;
  readonly atr: number | null;
  readonly support: number | null;
  readonly resistance: number | null;
}

/** One symbol's decisions, from its bars to order intents: the part each symbol runs on its own. */
export interface SymbolDecisionChain {
  readonly symbol: Symbol;
  /**
   * Bars of this symbol → one fused signal per bar (features → TA/ML [+ intelligence as of the bar]
   * → fuse → forecast), with bracket levels.
   */
  readonly signals: (bars$: Obs<Bar>, intel$?: Obs<IntelEvent>) => Obs<DecidedSignal>;
  /** A signal with the portfolio state it is decided on → order intents (and cancels of resting exits), or nothing. */
  readonly size: OperatorFunction<DecideTradeInput, DecideTradeOutput>;
}

/**
 * Builds one symbol's decision chain from its universe entry: its features (and higher
 * timeframes, candlestick patterns), its TA/ML signals, their fusion and forecast, and the trade
 * decision on the symbol's own lot grid — net of costs with brackets when `sizing.edge` is set,
 * plain sizing otherwise. What must see every symbol at once (the risk gate, the portfolio,
 * market statistics) stays in {@link tradingPipeline}.
 */
export function symbolDecisionChain(
  config: PipelineConfig,
  member: UniverseMember,
  model: CompiledModel | undefined,
  observe?: PipelineObserver,
): SymbolDecisionChain {
  const instrument = member.instrument;
  const features = computeFeatures({ features: member.features });
  const ta = member.signals.ta ? taSignal(member.signals.ta) : undefined;
  if (member.signals.ml && !model)
    throw new Error(`config ${config.file}: ${instrument.symbol} has signals.ml but no model was loaded`);
  const ml = member.signals.ml && model ? mlSignal({ model, ...withoutModel(member.signals.ml) }) : undefined;
  const fuse = fuseSignals(member.signals.fuse);
  const intelChain = makeIntelChain({ ...config, signals: member.signals });
  const patterns = member.signals.patterns ? detectCandlePatterns() : undefined;
  const timeframes = member.signals.timeframes
    ? confirmTimeframes({ base: config.timeframe, timeframes: higherTimeframes(member.signals.timeframes) })
    : undefined;
  const execution = config.execution;
  const { edge, brackets, ...plainSizing } = config.sizing ?? {};
  const costModel = makeCostModel({
    takerFeeBps: execution.takerFeeBps ?? 10,
    ...(execution.slippageBps !== undefined ? { slippageBps: execution.slippageBps } : {}),
    ...(edge?.halfSpreadBps !== undefined ? { halfSpreadBps: edge.halfSpreadBps } : {}),
  });
  const forecast = member.signals.forecast
    ? forecastReturn({ ...member.signals.forecast, winThresholdBps: costModel.roundTrip({ qty: 0 }).totalBps })
    : undefined;
  const signals = (bars$: Obs<Bar>, intel$?: Obs<IntelEvent>): Obs<DecidedSignal> => {
    const mark = observe?.stage;
    const stageEnd = <T extends { readonly tsEvent: number }>(
      stage: 'features' | 'ta' | 'ml',
    ): MonoTypeOperatorFunction<T> => (mark ? tap((e: T) => mark(stage, e.tsEvent)) : identity);
    const exported = observe?.features;
    const exportFeatures: MonoTypeOperatorFunction<Features> = exported ? tap(exported) : identity;
    const features$ = bars$.pipe(
      features,
      timeframes ?? identity,
      patterns ?? identity,
      exportFeatures,
      stageEnd<Features>('features'),
      share(),
    );
    const components: Obs<Signal>[] = [];
    if (ta) components.push(features$.pipe(ta, stageEnd<Signal>('ta')));
    if (ml) components.push(features$.pipe(ml, stageEnd<Signal>('ml')));
    if (components.length === 0) throw new Error(`config ${config.file}: ${instrument.symbol} has no signal source`);
    const market$ = components.length === 1 ? components[0]!.pipe(map((s) => [s])) : zip(components);
    const fused$ = (
      intelChain ? intelChain.fuseInput(features$.pipe(map((f) => f.bar)), market$, intel$) : market$
    ).pipe(fuse, forecast ?? identity);
    // Each features event yields exactly one fused signal, so the two zip bar by bar.
    return zip(fused$, features$).pipe(
      map(([signal, bar]) => ({
        signal,
        atr: brackets ? read(bar, brackets.atr) : null,
        support: brackets?.support !== undefined ? read(bar, brackets.support) : null,
        resistance: brackets?.resistance !== undefined ? read(bar, brackets.resistance) : null,
      })),
    );
  };
  // With an edge section, trades are decided from forecasts net of costs, with brackets;
  // without, every signal is sized (the older behaviour).
  const size: OperatorFunction<DecideTradeInput, DecideTradeOutput> = edge
    ? decideTrade({
        instrument,
        cost: costModel,
        ...withoutUndefined(edge),
        ...withoutUndefined(plainSizing),
        ...(brackets
          ? { brackets: withoutUndefined({ ...brackets, atr: undefined, support: undefined, resistance: undefined }) }
          : {}),
      })
    : sizePosition({ instrument, ...plainSizing });
  return { symbol: instrument.symbol, signals, size };
}

/** A config's higher timeframes, typed for `confirmTimeframes`. */
export function higherTimeframes(timeframes: NonNullable<PipelineConfig['signals']['timeframes']>): HigherTimeframe[] {
  return timeframes.map((tf) => ({
    timeframe: tf.timeframe as Timeframe,
    features: tf.features,
    ...(tf.trend ? { trend: tf.trend } : {}),
  }));
}

/** The object without its undefined fields (config sections spread into exact optional types). */
function withoutUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

function withoutModel<T extends { model: string; training?: unknown }>(ml: T): Omit<T, 'model' | 'training'> {
  const { model: _model, training: _training, ...rest } = ml;
  return rest;
}
