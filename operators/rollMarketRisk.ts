import { Observable, type OperatorFunction } from 'rxjs';
import { Bot4Error } from './errors';
import { varCvarT, type GarchTParams, type MarketRiskEstimate } from './garch';
import type { Bar, Symbol, Timeframe, VenueId } from './types';

/** A symbol's 1-day VaR after a bar, from the last GARCH-t fit rolled forward through that bar's return. */
export interface MarketRiskRolled {
  readonly kind: 'market-risk-rolled';
  readonly venue: VenueId;
  readonly symbol: Symbol;
  readonly timeframe: Timeframe;
  /** The bar whose return the variance now includes. */
  readonly tsEvent: number;
  /** √σ²_{t+1}: volatility of the next bar's log return. */
  readonly sigmaBar: number;
  /** Volatility of the next day's summed log return. */
  readonly sigmaDay: number;
  /** 1-day VaR at the fit's confidence, positive loss fraction (log-return units). */
  readonly var: number;
  /** tsEvent of the fit the parameters come from. */
  readonly fittedAt: number;
}

/** A bar or fit the roll cannot use (a non-finite close or time). */
export class MarketRiskInputError extends Bot4Error<'MARKET_RISK_INPUT_INVALID'> {
  constructor(message: string) {
    super('MARKET_RISK_INPUT_INVALID', 'rollMarketRisk', message);
  }
}

interface SeriesState {
  lastTs: number;
  lastClose: number;
  fit?: {
    readonly params: GarchTParams;
    readonly confidence: number;
    readonly horizonBars: number;
    readonly includeMean: boolean;
    readonly fittedAt: number;
    /** σ²_{t+1}: the variance forecast for the bar after `lastTs` (return² per bar). */
    variance: number;
  };
}

/**
 * Rolls each symbol's GARCH(1,1)-t variance forward on every bar between refits, so VaR follows
 * the market bar by bar instead of jumping once a day: with the fitted ω, α, β, μ,
 *
 *     σ²_{t+1} = ω + α·(r_t − μ)² + β·σ²_t
 *
 * then the 1-day VaR from σ²_{t+1} exactly as the fit computes it (`varCvarT`). A fit
 * ({@link MarketRiskEstimate}, emitted after the bar it was fitted through) replaces the
 * parameters and the variance; bars before a symbol's first fit emit nothing. Across a gap no
 * return is observed: the variance moves by its expectation, σ² ← ω + (α+β)·σ², once per bar.
 *
 * ```
 * input:  --a--F--b--c--|     a, b, c bars of one symbol · F a fit through a
 * output: --------B--C--|     B: VaR after b's return, C: after c's
 * ```
 */
export function rollMarketRisk(): OperatorFunction<Bar | MarketRiskEstimate, MarketRiskRolled> {
  return (source) =>
    new Observable<MarketRiskRolled>((subscriber) => {
      const series = new Map<string, SeriesState>();
      return source.subscribe({
        next: (event) => {
          try {
            const out = event.kind === 'bar' ? onBar(series, event) : onFit(series, event);
            if (out) subscriber.next(out);
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}

function onFit(series: Map<string, SeriesState>, fit: MarketRiskEstimate): undefined {
  if (!Number.isFinite(fit.sigmaBar) || !Number.isFinite(fit.tsEvent))
    throw new MarketRiskInputError(`rollMarketRisk: ${fit.symbol} fit with sigmaBar ${fit.sigmaBar} at ${fit.tsEvent}`);
  const state = series.get(`${fit.venue}|${fit.symbol}|${fit.timeframe}`);
  // A fit is always of bars this operator has seen (it is emitted after its last bar).
  if (!state || state.lastTs !== fit.tsEvent) return undefined;
  state.fit = {
    params: fit.params,
    confidence: fit.confidence,
    horizonBars: fit.horizonBars,
    includeMean: fit.includesMean,
    fittedAt: fit.tsEvent,
    variance: fit.sigmaBar * fit.sigmaBar,
  };
  return undefined;
}

function onBar(series: Map<string, SeriesState>, bar: Bar): MarketRiskRolled | undefined {
  if (!(Number.isFinite(bar.close) && bar.close > 0) || !Number.isFinite(bar.tsEvent))
    throw new MarketRiskInputError(
      `rollMarketRisk: ${bar.symbol} bar at ${bar.tsEvent} with close ${bar.close}: no return can be taken`,
    );
  const key = `${bar.venue}|${bar.symbol}|${bar.timeframe}`;
  const state = series.get(key);
  if (!state) {
    series.set(key, { lastTs: bar.tsEvent, lastClose: bar.close });
    return undefined;
  }
  if (bar.tsEvent <= state.lastTs) return undefined; // a repeated or older bar: nothing new
  const fit = state.fit;
  if (fit) {
    const { mu, omega, alpha, beta } = fit.params;
    if (bar.tsOpen === state.lastTs) {
      const shock = Math.log(bar.close / state.lastClose) - mu;
      fit.variance = omega + alpha * shock * shock + beta * fit.variance;
    } else {
      const step = bar.tsEvent - bar.tsOpen;
      const bars = Math.max(1, Math.round((bar.tsEvent - state.lastTs) / step));
      for (let k = 0; k < bars; k++) fit.variance = omega + (alpha + beta) * fit.variance;
    }
  }
  state.lastTs = bar.tsEvent;
  state.lastClose = bar.close;
  if (!fit) return undefined;
  const risk = varCvarT({ params: fit.params, nextVariance: fit.variance }, fit.confidence, fit.horizonBars, {
    includeMean: fit.includeMean,
  });
  return {
    kind: 'market-risk-rolled',
    venue: bar.venue,
    symbol: bar.symbol,
    timeframe: bar.timeframe,
    tsEvent: bar.tsEvent,
    sigmaBar: Math.sqrt(fit.variance),
    sigmaDay: risk.sigma,
    var: risk.var,
    fittedAt: fit.fittedAt,
  };
}
