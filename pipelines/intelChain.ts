/**
 * The intelligence part of one symbol's decision chain: the as-of join of the intelligence stream
 * to the symbol's bars and the regime those bars are in, built from the config's `intelligence`
 * section. Kept out of tradingPipeline so that file only plugs it in.
 */
import { map, NEVER, share, tap, zip, type Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { detectRegime, type Regime } from '../operators/detectRegime';
import type { RegimeSignals } from '../operators/fuseSignals';
import type { IntelEvent, IntelProblem, IntelSource } from '../operators/intelligence';
import { makeIntelSources } from '../sources/intel';
import { joinIntel } from '../operators/joinIntel';
import type { Bar, Signal } from '../operators/types';
import type { PipelineConfig } from './config';

export interface IntelChain {
  /**
   * Market signals of each bar (ta, ml: one array per bar) → the same with the intelligence
   * signals of that bar appended and the bar's regime, ready for `fuseSignals`.
   */
  readonly fuseInput: (
    bars$: Observable<Bar>,
    market$: Observable<readonly Signal[]>,
    intel$: Observable<IntelEvent> | undefined,
  ) => Observable<readonly Signal[] | RegimeSignals>;
}

/** The chain for a config, or undefined when it has no `intelligence` section (nothing changes). */
export function makeIntelChain(config: PipelineConfig): IntelChain | undefined {
  const intel = config.intelligence;
  const weighted = Object.entries(config.signals.fuse.weights)
    .filter(([source, w]) => w !== undefined && w > 0 && source !== 'ta' && source !== 'ml')
    .map(([source]) => source);
  if (!intel) {
    if (weighted.length > 0)
      throw new Error(
        `config ${config.file}: signals.fuse.weights weighs ${weighted.join(', ')} but the config has no intelligence section to provide ${weighted.length > 1 ? 'them' : 'it'}`,
      );
    return undefined;
  }
  const sources = intel.sources as readonly IntelSource[];
  const unsourced = weighted.filter((s) => !sources.includes(s as IntelSource));
  if (unsourced.length > 0)
    throw new Error(
      `config ${config.file}: signals.fuse.weights weighs ${unsourced.join(', ')}, missing from intelligence.sources (${sources.join(', ')})`,
    );
  const join = (intel$: Observable<IntelEvent>): OperatorFunction<Bar, Signal[]> =>
    joinIntel(intel$, {
      sources,
      ...(intel.timing ? { timing: intel.timing } : {}),
      ...(intel.deadband !== undefined ? { deadband: intel.deadband } : {}),
    });
  const regime = intel.regime === false ? undefined : detectRegime(intel.regime ?? {});
  return {
    fuseInput: (bars$, market$, intel$) => {
      const shared$ = bars$.pipe(share());
      const intelSignals$ = shared$.pipe(join(intel$ ?? NEVER));
      const regime$: Observable<Regime | undefined> = regime
        ? shared$.pipe(
            regime,
            map((r) => r.regime),
          )
        : shared$.pipe(map(() => undefined));
      return zip(market$, intelSignals$, regime$).pipe(
        map(([market, intelSignals, r]) => {
          const signals = [...market, ...intelSignals];
          return r === undefined ? signals : { signals, regime: r };
        }),
      );
    },
  };
}

/**
 * The live intelligence feed of a paper or live session: the config's providers polling within the
 * tier's budgets, each problem handed to `onProblem` (the session logs it) and still passed on.
 * Undefined without `intelligence.providers`. Values arrive as they are published, so bars the
 * session replays to warm up (before any answer came) see none — as a live decision would have.
 * @throws Error naming a missing API key variable, before the session starts.
 */
export function makeIntelFeed(
  config: PipelineConfig,
  options: {
    readonly scheduler: SchedulerLike;
    readonly onProblem: (problem: IntelProblem) => void;
    readonly env?: Readonly<Record<string, string | undefined>>;
  },
): Observable<IntelEvent> | undefined {
  const providers = config.intelligence?.providers;
  if (!providers || Object.values(providers).every((p) => p === undefined)) return undefined;
  return makeIntelSources({
    providers,
    tier: config.tier,
    scheduler: options.scheduler,
    ...(options.env ? { env: options.env } : {}),
  }).pipe(
    tap((e) => {
      if (e.kind === 'intel-problem') options.onProblem(e);
    }),
  );
}
