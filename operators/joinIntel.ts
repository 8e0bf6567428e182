import { Observable, type OperatorFunction } from 'rxjs';
import { baseAsset, IntelBook, type IntelEvent, type IntelSource, type IntelSourceTiming } from './intelligence';
import type { Bar, Direction, Signal } from './types';

export interface JoinIntelConfig {
  /** Sources to read at every bar, in this order (one signal each). */
  readonly sources: readonly IntelSource[];
  /** Freshness per source (defaults: `DEFAULT_INTEL_TIMING`). */
  readonly timing?: Partial<Record<IntelSource, IntelSourceTiming>>;
  /** |score| below which a source says flat. Default 0.05. */
  readonly deadband?: number;
  /** Forget values that can no longer count every this many bars. Default 64. */
  readonly pruneEveryBars?: number;
}

/**
 * As-of join of intelligence to bars: for each bar, one signal per configured source built only
 * from values observed at or before the bar's close (`bar.tsEvent`). A source with nothing fresh
 * enough is `available: false` (fusion hands its weight to the others); an ageing one loses
 * confidence.
 *
 * The intelligence stream is subscribed first and feeds a book owned by this subscription; its
 * problems pass by (drivers report them as values) and its end or error only means that nothing
 * new arrives — the sources then go stale, trading goes on.
 *
 * ```
 * intel$: -i---j-------k--
 * bars:   ---a----b------c|
 * out:    ---A----B------C|   A sees i; B sees i, j; C sees i, j, k
 * ```
 * @example
 * bars$.pipe(joinIntel(recorded$, { sources: ['sentiment', 'news'] }))
 */
export function joinIntel(intel$: Observable<IntelEvent>, config: JoinIntelConfig): OperatorFunction<Bar, Signal[]> {
  const deadband = config.deadband ?? 0.05;
  const pruneEvery = config.pruneEveryBars ?? 64;
  const sources = [...config.sources];
  new IntelBook(config.timing); // checks the timing before anything subscribes
  return (bars$) =>
    new Observable<Signal[]>((subscriber) => {
      const book = new IntelBook(config.timing);
      let bars = 0;
      let symbol = '';
      let asset = '';
      const intelSubscription = intel$.subscribe({
        next: (e) => {
          if (e.kind !== 'intel') return;
          try {
            book.add(e);
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: () => undefined,
      });
      const barSubscription = bars$.subscribe({
        next: (bar) => {
          let out: Signal[];
          try {
            if (bar.symbol !== symbol) {
              symbol = bar.symbol;
              asset = baseAsset(symbol);
            }
            const prefix = `${bar.symbol}:${bar.timeframe}:${bar.tsEvent}:`;
            out = new Array<Signal>(sources.length);
            for (let i = 0; i < sources.length; i++) {
              const source = sources[i]!;
              const r = book.read(source, asset, bar.tsEvent);
              const direction: Direction = r.counted > 0 && Math.abs(r.score) >= deadband ? (r.score > 0 ? 1 : -1) : 0;
              out[i] = {
                kind: 'signal',
                id: prefix + source,
                source,
                symbol: bar.symbol,
                timeframe: bar.timeframe,
                tsEvent: bar.tsEvent,
                price: bar.close,
                direction,
                strength: Math.abs(r.score),
                confidence: r.confidence,
                available: r.counted > 0,
                detail: { score: r.score, series: r.series, counted: r.counted, stale: r.stale, ageMs: r.ageMs },
              } satisfies Signal;
            }
            if (++bars % pruneEvery === 0) book.prune(bar.tsEvent);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          subscriber.next(out);
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      return () => {
        barSubscription.unsubscribe();
        intelSubscription.unsubscribe();
      };
    });
}
