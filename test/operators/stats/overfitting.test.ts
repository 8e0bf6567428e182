/**
 * Overfitting controls: the deflated Sharpe ratio against the worked example of Bailey & López de
 * Prado (2014), PBO by CSCV on cases whose answer is known, and the trade bootstrap.
 */
import { deepStrictEqual, equal, ok, throws } from 'node:assert/strict';
import { mulberry32 } from '../../../operators/random';
import {
  bootstrapTrades,
  deflatedSharpe,
  estimateSharpe,
  expectedMaxSharpe,
  probabilisticSharpe,
  probabilityOfBacktestOverfitting,
  StatsError,
} from '../../../operators/stats';

function gaussian(rand: () => number): number {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

describe('probabilistic and deflated Sharpe ratio', () => {
  // "The Deflated Sharpe Ratio" (2014), §4's example: annualised SR 2.5 over 5 years of daily
  // returns (T = 1 250), N = 100 trials whose annualised Sharpe ratios varied by V = 0.5,
  // skewness −3, kurtosis 10. The paper reports SR*₀ ≈ 0.1132 (daily) and DSR ≈ 0.9004.
  const daily = { sharpe: 2.5 / Math.sqrt(250), n: 1250, skewness: -3, kurtosis: 10 };

  it("reproduces the paper's benchmark SR*₀ and DSR for 100 trials", () => {
    const sr0 = expectedMaxSharpe(100, 0.5 / 250);
    ok(Math.abs(sr0 - 0.1132) < 5e-5, `SR*0=${sr0}`);
    const dsr = deflatedSharpe(daily, 100, 0.5 / 250);
    ok(Math.abs(dsr.deflatedSharpe - 0.9004) < 1e-3, `DSR=${dsr.deflatedSharpe}`);
    ok(dsr.probabilisticSharpe > 0.99);
  });

  it('deflates more as the number of trials grows, and not at all for one trial', () => {
    const values = [1, 10, 100, 1000].map((n) => deflatedSharpe(daily, n, 0.5 / 250).deflatedSharpe);
    equal(values[0], probabilisticSharpe(daily, 0));
    for (let i = 1; i < values.length; i++) ok(values[i]! < values[i - 1]!, `trials ${i}: ${values.join(', ')}`);
  });

  it('fat left tails lower the PSR of the same Sharpe ratio', () => {
    const normal = probabilisticSharpe({ ...daily, n: 250, skewness: 0, kurtosis: 3 }, 0.05);
    const fat = probabilisticSharpe({ ...daily, n: 250, skewness: -3, kurtosis: 10 }, 0.05);
    ok(fat < normal, `${fat} < ${normal}`);
  });

  it('estimates SR, skewness and kurtosis from returns, and the variance of the trials from their Sharpe ratios', () => {
    const est = estimateSharpe([0.01, -0.02, 0.03, 0.0, 0.01]);
    ok(Math.abs(est.sharpe - 0.006 / Math.sqrt(0.00033)) < 1e-12, `SR=${est.sharpe}`);
    const a = deflatedSharpe(est, 3, [0.1, 0.2, 0.3]);
    const b = deflatedSharpe(est, 3, 0.01);
    ok(Math.abs(a.benchmarkSharpe - b.benchmarkSharpe) < 1e-15);
  });

  it('refuses a trial count below one and constant returns', () => {
    throws(
      () => expectedMaxSharpe(0, 1),
      (e: unknown) => e instanceof StatsError && /trials must be an integer ≥ 1, found 0/.test(e.message),
    );
    throws(
      () => estimateSharpe([0.01, 0.01, 0.01]),
      (e: unknown) => e instanceof StatsError && e.code === 'STATS_DEGENERATE',
    );
  });
});

describe('probability of backtest overfitting (CSCV)', () => {
  it('two candidates that take turns winning: the in-sample pick always loses out of sample (PBO = 1)', () => {
    // Blocks of 3 periods: in block 0 A earns, B loses; in block 1 the reverse.
    const rows = [
      [0.02, -0.01],
      [0.01, -0.02],
      [0.03, -0.01],
      [-0.01, 0.02],
      [-0.02, 0.01],
      [-0.01, 0.03],
    ];
    const r = probabilityOfBacktestOverfitting(rows, { blocks: 2 });
    equal(r.splits, 2);
    equal(r.pbo, 1);
    equal(r.probabilityOfLoss, 1);
  });

  it('a candidate that wins in every block is never overfit (PBO = 0)', () => {
    const rows = [
      [0.02, -0.01],
      [0.03, -0.02],
      [0.01, 0.0],
      [0.02, -0.01],
      [0.03, 0.0],
      [0.01, -0.02],
    ];
    equal(probabilityOfBacktestOverfitting(rows, { blocks: 2 }).pbo, 0);
  });

  it('pure noise candidates: PBO at or above one half (halves are complementary); one real edge among them: PBO near zero', () => {
    const rand = mulberry32(7);
    const t = 1600;
    const noise = Array.from({ length: t }, () => Array.from({ length: 20 }, () => 0.01 * gaussian(rand)));
    const p = probabilityOfBacktestOverfitting(noise, { blocks: 10 });
    equal(p.splits, 252);
    // With a fixed total, a candidate that did well in the chosen half did worse in the other:
    // on noise CSCV leans above 0.5.
    ok(p.pbo >= 0.4, `noise PBO=${p.pbo}`);
    const edge = noise.map((row) => [...row.slice(1), 0.01 * gaussian(rand) + 0.003]);
    const q = probabilityOfBacktestOverfitting(edge, { blocks: 10 });
    ok(q.pbo < 0.05, `edge PBO=${q.pbo}`);
    ok(q.meanOutOfSampleSharpe > 0.15, `OOS Sharpe of the pick ${q.meanOutOfSampleSharpe}`);
  });

  it('refuses an odd block count, one candidate, and too few periods', () => {
    const isStats = (re: RegExp) => (e: unknown) => e instanceof StatsError && re.test(e.message);
    throws(() => probabilityOfBacktestOverfitting([[1, 2]], { blocks: 3 }), isStats(/blocks must be an even integer/));
    throws(() => probabilityOfBacktestOverfitting([[1], [2]]), isStats(/at least 2 candidates, found 1/));
    throws(
      () => probabilityOfBacktestOverfitting([[1, 2]], { blocks: 16 }),
      isStats(/1 periods cannot make 16 blocks/),
    );
  });
});

describe('bootstrap of trades', () => {
  const trades = [0.02, -0.01, 0.015, -0.005, 0.03, -0.02, 0.01, 0.005, -0.015, 0.02];

  it('is reproducible from its seed and brackets the actual result', () => {
    const a = bootstrapTrades(trades, { seed: 3, samples: 500 });
    const b = bootstrapTrades(trades, { seed: 3, samples: 500 });
    deepStrictEqual(a, b);
    const actual = trades.reduce((e, r) => e * (1 + r), 1) - 1;
    ok(Math.abs(a.totalReturn - actual) < 1e-12);
    ok(
      a.totalReturnInterval.low < actual && actual < a.totalReturnInterval.high,
      JSON.stringify(a.totalReturnInterval),
    );
    ok(a.maxDrawdownInterval.low <= a.maxDrawdown && a.maxDrawdown <= a.maxDrawdownInterval.high);
    ok(a.probabilityOfLoss > 0 && a.probabilityOfLoss < 0.5, `P(loss)=${a.probabilityOfLoss}`);
  });

  it('a sequence of winners cannot lose or draw down in any resample', () => {
    const r = bootstrapTrades([0.01, 0.02, 0.005], { samples: 200 });
    equal(r.probabilityOfLoss, 0);
    equal(r.maxDrawdownInterval.high, 0);
    ok(r.totalReturnInterval.low > 0);
  });

  it('refuses a trade that loses everything', () => {
    throws(
      () => bootstrapTrades([0.1, -1]),
      (e: unknown) => e instanceof StatsError && /trade 1 loses 100 % or more/.test(e.message),
    );
  });
});
