import { equal, ok } from 'node:assert/strict';
import { Subject, map } from 'rxjs';
import { varCvarT, type GarchTParams, type MarketRiskEstimate } from '../../operators/garch';
import { MarketRiskInputError, rollMarketRisk, type MarketRiskRolled } from '../../operators/rollMarketRisk';
import type { Bar } from '../../operators/types';
import { bar } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';

const H = 3_600_000;
const PARAMS: GarchTParams = { mu: 0.0001, omega: 2e-6, alpha: 0.08, beta: 0.9, nu: 5 };

function fitAt(b: Bar, sigmaBar: number): MarketRiskEstimate {
  const risk = varCvarT({ params: PARAMS, nextVariance: sigmaBar * sigmaBar }, 0.99, 24);
  return {
    kind: 'market-risk',
    venue: b.venue,
    symbol: b.symbol,
    timeframe: b.timeframe,
    tsEvent: b.tsEvent,
    returnsUsed: 1000,
    params: PARAMS,
    logLikelihood: 0,
    converged: true,
    refit: true,
    iterations: 10,
    sigmaBar,
    sigmaDay: risk.sigma,
    horizonBars: 24,
    confidence: 0.99,
    var: risk.var,
    cvar: risk.cvar,
    includesMean: false,
  };
}

const b = (i: number, close: number, symbol = 'BTC/USDT'): Bar => bar(i * H, { o: close, c: close }, '1h', symbol);

function run(events: readonly (Bar | MarketRiskEstimate)[]): MarketRiskRolled[] {
  const out: MarketRiskRolled[] = [];
  const in$ = new Subject<Bar | MarketRiskEstimate>();
  in$.pipe(rollMarketRisk()).subscribe((r) => out.push(r));
  for (const e of events) in$.next(e);
  return out;
}

describe('rollMarketRisk', () => {
  it('rolls the fitted variance through each bar’s return: σ² ← ω + α(r − μ)² + βσ², VaR as the fit computes it', () => {
    const a0 = b(0, 100);
    const out = run([a0, fitAt(a0, 0.01), b(1, 103), b(2, 101)]);
    equal(out.length, 2);
    let v = 0.01 * 0.01;
    const r1 = Math.log(103 / 100) - PARAMS.mu;
    v = PARAMS.omega + PARAMS.alpha * r1 * r1 + PARAMS.beta * v;
    ok(Math.abs(out[0]!.sigmaBar - Math.sqrt(v)) < 1e-15);
    equal(out[0]!.var, varCvarT({ params: PARAMS, nextVariance: v }, 0.99, 24).var);
    const r2 = Math.log(101 / 103) - PARAMS.mu;
    v = PARAMS.omega + PARAMS.alpha * r2 * r2 + PARAMS.beta * v;
    ok(Math.abs(out[1]!.sigmaBar - Math.sqrt(v)) < 1e-15);
    equal(out[1]!.fittedAt, a0.tsEvent);
    // A 3 % move raises the VaR above the fit's; a calm bar lets it decay.
    ok(out[0]!.var > fitAt(a0, 0.01).var);
    const calm = run([a0, fitAt(a0, 0.01), b(1, 100.01)]);
    ok(calm[0]!.var < fitAt(a0, 0.01).var);
  });

  it('emits nothing before a symbol’s first fit and keeps symbols apart', () => {
    const a0 = b(0, 100);
    const out = run([a0, b(0, 5, 'SOL/USDT'), fitAt(a0, 0.01), b(1, 6, 'SOL/USDT'), b(1, 101)]);
    equal(out.length, 1);
    equal(out[0]!.symbol, 'BTC/USDT');
  });

  it('across a gap moves the variance by its expectation, one step per bar, ignoring the jump', () => {
    const a0 = b(0, 100);
    const out = run([a0, fitAt(a0, 0.01), b(3, 150)]);
    let v = 0.01 * 0.01;
    for (let k = 0; k < 3; k++) v = PARAMS.omega + (PARAMS.alpha + PARAMS.beta) * v;
    ok(Math.abs(out[0]!.sigmaBar - Math.sqrt(v)) < 1e-15);
  });

  it('ignores a fit for a bar it has not seen last (a stale fit does not rewind the variance)', () => {
    const a0 = b(0, 100);
    const out = run([a0, b(1, 101), fitAt(a0, 0.01), b(2, 102)]);
    equal(out.length, 0);
  });

  it('sends a bar with a NaN close to the error channel and unsubscribes; passes errors, completion, unsubscribe', () => {
    const varOf = map((r: MarketRiskRolled) => r.symbol);
    makeTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a0 = b(0, 100);
      const source = cold<Bar | MarketRiskEstimate>('(af)-b-n-c|', {
        a: a0,
        f: fitAt(a0, 0.01),
        b: b(1, 101),
        n: { ...b(2, 1), close: Number.NaN },
        c: b(3, 101),
      });
      expectObservable(source.pipe(rollMarketRisk(), varOf)).toBe(
        '-----b-#',
        { b: 'BTC/USDT' },
        new MarketRiskInputError('rollMarketRisk: BTC/USDT bar at 10800000 with close NaN: no return can be taken'),
      );
      expectSubscriptions(source.subscriptions).toBe('^------!');
      expectObservable(cold<Bar>('-#').pipe(rollMarketRisk())).toBe('-#');
      expectObservable(cold<Bar>('--|').pipe(rollMarketRisk())).toBe('--|');
      const live = hot<Bar>('-a-b-|', { a: a0, b: b(1, 101) });
      expectObservable(live.pipe(rollMarketRisk()), '^--!').toBe('----');
      expectSubscriptions(live.subscriptions).toBe('^--!');
    });
  });
});
