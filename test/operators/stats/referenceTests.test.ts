/**
 * ADF, KPSS, Jarque–Bera, Ljung–Box and Hurst against statsmodels / scipy / nolds on real candles
 * (fixture made by scripts/stats_reference.py; no Python needed here), plus the behaviour a
 * reader relies on: a random walk keeps its unit root, a stationary AR(1) loses it, white noise
 * has H ≈ 0.5 and no Ljung–Box autocorrelation, and bad input is named in a StatsError.
 */
import { equal, ok, throws } from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { mulberry32 } from '../../../operators/random';
import {
  adfTest,
  adjacentLogReturns,
  hurstExponent,
  jarqueBeraTest,
  kpssTest,
  leastSquares,
  ljungBoxTest,
  logLevels,
  logMidWindows,
  StatsError,
} from '../../../operators/stats';
import type { Timeframe } from '../../../operators/types';
import { readBarsCsv } from '../../../sources/csvBars';
import { repoRoot, requireSharedData } from '../../support/sharedData';

interface Summary {
  n: number;
  sum: number;
  sumSquares: number;
}
interface LbRow {
  lag: number;
  statistic: number;
  pValue: number;
}
interface Case {
  name: string;
  dataFile: string;
  stepMs: number;
  levels: Summary;
  returns: Summary;
  adf: Record<
    'levels' | 'returns',
    {
      statistic: number;
      pValue: number;
      usedLag: number;
      nobs: number;
      criticalValues: Record<string, number>;
      icBest: number;
    }
  >;
  kpss: Record<'levels' | 'returns', { statistic: number; pValue: number; lags: number; pValueBound: string }>;
  jarqueBera: { statistic: number; pValue: number; skewness: number; kurtosis: number };
  ljungBox: Record<'returns' | 'squaredReturns', LbRow[]>;
  hurst: { hurst: number; windows: number[] };
}

const fixture = JSON.parse(
  readFileSync(path.join(repoRoot, 'test', 'operators', 'fixtures', 'stats_reference.json'), 'utf8'),
) as {
  cases: Case[];
};

function close(actual: number, expected: number, rel: number, what: string, abs = 0): void {
  const tol = Math.max(abs, rel * Math.abs(expected));
  ok(
    Math.abs(actual - expected) <= tol,
    `${what}: expected ${expected}, found ${actual} (|diff| ${Math.abs(actual - expected)} > ${tol})`,
  );
}

function summarize(x: Float64Array): Summary {
  let sum = 0;
  let sumSquares = 0;
  for (const v of x) {
    sum += v;
    sumSquares += v * v;
  }
  return { n: x.length, sum, sumSquares };
}

function timeframeOf(stepMs: number): Timeframe {
  return stepMs === 3_600_000 ? '1h' : '5m';
}

function gaussian(rand: () => number): number {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

describe('statistical tests against statsmodels / scipy / nolds on real candles', () => {
  for (const c of fixture.cases) {
    describe(c.name, () => {
      let levels: Float64Array;
      let returns: Float64Array;
      before(function () {
        const file = requireSharedData(this, c.dataFile);
        const bars = readBarsCsv(file, { venue: 'binance', symbol: 'X/USDT', timeframe: timeframeOf(c.stepMs) });
        levels = logLevels(bars);
        returns = adjacentLogReturns(bars);
      });

      it('derives the same level and return series as the reference script', () => {
        for (const [name, got, want] of [
          ['levels', summarize(levels), c.levels],
          ['returns', summarize(returns), c.returns],
        ] as const) {
          equal(got.n, want.n, `${name}: count`);
          close(got.sum, want.sum, 1e-9, `${name}: sum`, 1e-9);
          close(got.sumSquares, want.sumSquares, 1e-9, `${name}: sum of squares`);
        }
      });

      for (const series of ['levels', 'returns'] as const) {
        it(`ADF on ${series} matches adfuller(autolag='AIC'): lag, statistic, p-value, critical values`, () => {
          const want = c.adf[series];
          const got = adfTest(series === 'levels' ? levels : returns);
          equal(got.usedLag, want.usedLag, 'lag chosen by AIC');
          equal(got.nobs, want.nobs, 'observations');
          close(got.icBest ?? Number.NaN, want.icBest, 1e-9, 'best AIC');
          close(got.statistic, want.statistic, 1e-7, 'ADF statistic');
          close(got.pValue, want.pValue, 1e-6, 'p-value', 1e-12);
          for (const k of ['1%', '5%', '10%'] as const)
            close(got.criticalValues[k], want.criticalValues[k] as number, 1e-12, `critical ${k}`);
        });

        it(`KPSS on ${series} matches kpss(nlags='auto'): lags, statistic, p-value and its bound`, () => {
          const want = c.kpss[series];
          const got = kpssTest(series === 'levels' ? levels : returns);
          equal(got.lags, want.lags, 'automatic lags');
          close(got.statistic, want.statistic, 1e-9, 'KPSS statistic');
          close(got.pValue, want.pValue, 1e-9, 'p-value', 1e-12);
          equal(got.pValueBound, want.pValueBound, 'p-value bound');
        });
      }

      it('Jarque–Bera on returns matches scipy.stats.jarque_bera (statistic, p, skewness, kurtosis)', () => {
        const got = jarqueBeraTest(returns);
        close(got.statistic, c.jarqueBera.statistic, 1e-9, 'JB');
        close(got.pValue, c.jarqueBera.pValue, 1e-6, 'p-value', 1e-15);
        close(got.skewness, c.jarqueBera.skewness, 1e-9, 'skewness');
        close(got.kurtosis, c.jarqueBera.kurtosis, 1e-9, 'kurtosis');
      });

      for (const series of ['returns', 'squaredReturns'] as const) {
        it(`Ljung–Box on ${series} matches acorr_ljungbox(lags=[5, 10, 20])`, () => {
          const x = series === 'returns' ? returns : returns.map((r) => r * r);
          const want = c.ljungBox[series];
          const got = ljungBoxTest(
            x,
            want.map((r) => r.lag),
          );
          for (const [i, w] of want.entries()) {
            const g = got[i]!;
            equal(g.lag, w.lag);
            close(g.statistic, w.statistic, 1e-9, `Q(${w.lag})`);
            close(g.pValue, w.pValue, 1e-6, `p(${w.lag})`, 1e-14);
          }
        });
      }

      it('Hurst exponent on returns matches nolds.hurst_rs(fit="poly"), same window sizes', () => {
        const got = hurstExponent(returns);
        equal(JSON.stringify(logMidWindows(returns.length)), JSON.stringify(c.hurst.windows));
        equal(JSON.stringify(got.windows), JSON.stringify(c.hurst.windows));
        close(got.hurst, c.hurst.hurst, 1e-9, 'H');
      });
    });
  }
});

describe('statistical tests behave as their hypotheses say (seeded simulations)', () => {
  const n = 4000;
  const rand = mulberry32(20260101);
  const noise = Float64Array.from({ length: n }, () => gaussian(rand));
  const walk = new Float64Array(n);
  const ar1 = new Float64Array(n);
  for (let i = 1; i < n; i++) {
    walk[i] = (walk[i - 1] as number) + (noise[i] as number);
    ar1[i] = 0.5 * (ar1[i - 1] as number) + (noise[i] as number);
  }

  it('ADF keeps the unit root of a random walk and rejects it for a stationary AR(1)', () => {
    ok(adfTest(walk).pValue > 0.05, `random walk p=${adfTest(walk).pValue}`);
    ok(adfTest(ar1).pValue < 0.001, `AR(1) p=${adfTest(ar1).pValue}`);
  });

  it('KPSS rejects level stationarity of a random walk and keeps it for white noise', () => {
    const rw = kpssTest(walk);
    equal(rw.pValueBound, 'below');
    ok(kpssTest(noise).pValue > 0.05);
  });

  it('white noise: H near 0.5, Ljung–Box does not reject, Jarque–Bera does not reject', () => {
    const h = hurstExponent(noise).hurst;
    ok(Math.abs(h - 0.5) < 0.06, `H=${h}`);
    ok((ljungBoxTest(noise, [10])[0]?.pValue ?? 0) > 0.01);
    ok(jarqueBeraTest(noise).pValue > 0.01);
  });

  it('Ljung–Box finds the autocorrelation of an AR(1)', () => {
    ok((ljungBoxTest(ar1, [10])[0]?.pValue ?? 1) < 1e-10);
  });

  it('least squares: nested SSRs equal the SSRs of separate fits of the leading columns', () => {
    const x1 = Float64Array.from({ length: 50 }, (_, i) => i);
    const x2 = Float64Array.from({ length: 50 }, (_, i) => Math.sin(i));
    const one = new Float64Array(50).fill(1);
    const y = Float64Array.from({ length: 50 }, (_, i) => 2 + 0.3 * i + Math.cos(3 * i));
    const full = leastSquares([one, x1, x2], y);
    close(full.nestedSsr[1]!, leastSquares([one, x1], y).ssr, 1e-10, 'SSR of [1, x1]');
    close(full.nestedSsr[0]!, leastSquares([one], y).ssr, 1e-10, 'SSR of [1]');
    close(full.coefficients[1]!, 0.3, 0.05, 'slope');
  });
});

describe('statistical tests reject bad input with a StatsError naming it', () => {
  const isStats = (code: string, fragment: RegExp) => (e: unknown) =>
    e instanceof StatsError && e.code === code && e.stage === 'stats' && fragment.test(e.message);

  it('a NaN names the test and the position', () => {
    const x = Array.from({ length: 50 }, (_, i) => Math.sin(i));
    x[17] = Number.NaN;
    throws(() => adfTest(x), isStats('STATS_BAD_INPUT', /ADF test: value 17 is not a finite number/));
    throws(() => jarqueBeraTest(x), isStats('STATS_BAD_INPUT', /Jarque–Bera test: value 17/));
  });

  it('too few values, a constant series, and an impossible lag are refused', () => {
    throws(() => kpssTest([1, 2, 3]), isStats('STATS_TOO_SHORT', /KPSS test: needs at least 10 values, found 3/));
    throws(() => adfTest(new Array(40).fill(2)), isStats('STATS_DEGENERATE', /constant/));
    throws(
      () => ljungBoxTest([1, 2, 3, 4, 5], [9]),
      isStats('STATS_BAD_INPUT', /lag must be an integer in \[1, 4\], found 9/),
    );
    throws(
      () =>
        adfTest(
          Array.from({ length: 40 }, (_, i) => Math.sqrt(i)),
          { maxLag: 30 },
        ),
      isStats('STATS_BAD_INPUT', /maxLag must be an integer in \[0, 18\]/),
    );
  });
});
