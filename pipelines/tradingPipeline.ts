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
import { BehaviorSubject, Observable, Subject, Subscription, connectable, filter, map, merge, share, zip, type Observable as Obs, type SchedulerLike } from 'rxjs';
import { computeFeatures } from '../operators/computeFeatures';
import type { Venue, VenueOutput } from '../operators/executeOrders';
import { fuseSignals } from '../operators/fuseSignals';
import { gateRisk } from '../operators/gateRisk';
import type { CompiledModel } from '../operators/mlModel';
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
  Order,
  OrderEvent,
  OrderIntent,
  Portfolio,
  RiskDecision,
  Signal,
} from '../operators/types';
import type { PipelineConfig } from './config';

export interface PipelineSources {
  /** Closed bars, in event time. */
  readonly bars$: Obs<Bar>;
  /** Trading mode changes (kill switch, operator, breakers). Starts in `Normal`. */
  readonly mode$?: Obs<Mode>;
}

/** Everything the pipeline decided or observed, in the order it happened. */
export type PipelineEvent = Signal | OrderIntent | RiskDecision | OrderEvent | BarGap | DeadLetter | Portfolio;

export interface PipelineDeps {
  readonly venue: Venue;
  /** Required when the config has an ML section. */
  readonly model?: CompiledModel;
  /** Clock for stages that stamp `tsInit`. */
  readonly scheduler: SchedulerLike;
}

/**
 * Builds the pipeline for a validated config. The returned function is pure wiring: nothing runs
 * until the resulting observable is subscribed, and each subscription has its own state.
 * The observable emits every {@link PipelineEvent} and completes when the bars complete.
 */
export function tradingPipeline(config: PipelineConfig, deps: PipelineDeps): (sources: PipelineSources) => Observable<PipelineEvent> {
  const { instrument } = config;
  const sizing = config.sizing ?? {};
  const risk = config.risk ?? {};
  const execution = config.execution;
  const allowShort = sizing.allowShort ?? false;
  // Operators are built here, once, so a bad parameter fails before anything subscribes.
  const features = computeFeatures({ features: config.features });
  const ta = config.signals.ta ? taSignal(config.signals.ta) : undefined;
  if (config.signals.ml && !deps.model) throw new Error(`config ${config.file} has signals.ml but no model was loaded`);
  const ml = config.signals.ml && deps.model ? mlSignal({ model: deps.model, ...withoutModel(config.signals.ml) }) : undefined;
  const fuse = fuseSignals(config.signals.fuse);
  const size = sizePosition({ instrument, ...sizing });
  const { marketStats: statsConfig, ...limits } = risk;
  const gate = gateRisk({
    instruments: [instrument],
    ...limits,
    ...(execution.takerFeeBps !== undefined ? { takerFeeBps: execution.takerFeeBps } : {}),
    allowShort,
    strategyId: config.name,
    configHash: config.hash,
  });
  const journalSignals = config.journal?.signals ?? 'all';

  return ({ bars$, mode$ }) =>
    new Observable<PipelineEvent>((subscriber) => {
      const subscriptions = new Subscription();
      const emit = (event: PipelineEvent): void => subscriber.next(event);
      const orders$ = new Subject<Order>();
      const portfolio = new BehaviorSubject<Portfolio>(initialPortfolio({ initialCash: config.initialCash, quote: instrument.quote }));
      const mode = new BehaviorSubject<Mode>('Normal');
      let stats: MarketStats | undefined;

      // Connected last, once every consumer is subscribed, so that even a synchronous source
      // reaches all of them.
      const sequenced$ = connectable(bars$.pipe(sequenceBars({ scheduler: deps.scheduler })), { connector: () => new Subject(), resetOnDisconnect: false });
      const marketBars$ = sequenced$.pipe(filter((e): e is Bar => e.kind === 'bar'));
      const venue$: Obs<VenueOutput> = merge(marketBars$, orders$).pipe(deps.venue, share());
      const venueBars$ = venue$.pipe(filter((e): e is Bar => e.kind === 'bar' && e.symbol === instrument.symbol && e.timeframe === config.timeframe));

      // 1. Fed-back state first: it must see bar N before the decision chain does.
      subscriptions.add(
        venue$
          .pipe(
            filter((e): e is PortfolioEvent => e.kind === 'fill' || e.kind === 'bar' || e.kind === 'trade'),
            trackPortfolio({ initialCash: config.initialCash, quote: instrument.quote }),
          )
          .subscribe({ next: (p) => portfolio.next(p), error: (err: unknown) => subscriber.error(err) }),
      );
      subscriptions.add(
        venueBars$.pipe(trackMarketStats(statsConfig ?? {})).subscribe({ next: (s) => (stats = s), error: (err: unknown) => subscriber.error(err) }),
      );
      if (mode$) subscriptions.add(mode$.subscribe({ next: (m) => mode.next(m), error: (err: unknown) => subscriber.error(err) }));

      // 2. Observations: data problems, venue events, the portfolio at each bar.
      subscriptions.add(sequenced$.pipe(filter((e): e is BarGap | DeadLetter => e.kind !== 'bar')).subscribe(emit));
      subscriptions.add(
        venue$.subscribe({
          next: (e) => {
            if (e.kind === 'bar') {
              if (e.symbol === instrument.symbol && e.timeframe === config.timeframe) emit(portfolio.value);
            } else if (e.kind !== 'trade') emit(e);
          },
          error: (err: unknown) => subscriber.error(err),
        }),
      );

      // 3. Decisions.
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
              const volatility = stats?.volatility.get(signal.symbol);
              return volatility === undefined ? { signal, portfolio: portfolio.value } : { signal, portfolio: portfolio.value, volatility };
            }),
            size,
            map((intent) => {
              emit(intent);
              return { intent, portfolio: portfolio.value, mode: mode.value, market: stats ? { stats } : {} };
            }),
            gate,
          )
          .subscribe({
            next: (decision) => {
              emit(decision);
              if (decision.kind === 'approved') orders$.next(decision.order);
            },
            error: (err: unknown) => subscriber.error(err),
          }),
      );

      // 4. Completion: when the bars end, no further price can fill anything.
      subscriptions.add(
        venue$.subscribe({
          error: (err: unknown) => subscriber.error(err),
          complete: () => subscriber.complete(),
        }),
      );
      subscriptions.add(
        sequenced$.subscribe({
          error: () => undefined,
          complete: () => orders$.complete(),
        }),
      );
      subscriptions.add(sequenced$.connect());
      return () => {
        subscriptions.unsubscribe();
        orders$.complete();
      };
    });
}

function withoutModel<T extends { model: string; training?: unknown }>(ml: T): Omit<T, 'model' | 'training'> {
  const { model: _model, training: _training, ...rest } = ml;
  return rest;
}
