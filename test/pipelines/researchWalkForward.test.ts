/**
 * Walk-forward on real candles: the folds' layout (purge and embargo respected, no overlap), the
 * choice in a fold depends only on its training bars (perturbing every later bar changes the test
 * results but not one training score), the stitched out-of-sample equity is the product of the
 * folds', and the overfitting controls come with it.
 */
import { deepStrictEqual, equal, notDeepStrictEqual, ok, rejects, throws } from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Bar } from '../../operators/types';
import { parameterGrid } from '../../pipelines/researchConfig';
import { layoutFolds, runWalkForward, type WalkForwardResult } from '../../pipelines/researchWalkForward';
import { readBarsCsv } from '../../sources/csvBars';
import { writeTestGrowthConfig } from '../support/growthConfig';
import { repoRoot, requireSharedData } from '../support/sharedData';
import { tempDir, writeBarsCsv } from '../support/tmp';

const SURVIVAL = path.join(repoRoot, 'config', 'survival.yaml');

describe('walk-forward fold layout', () => {
  it('rolling: equal test parts back to back, each after a gap of purge + embargo, training of fixed length before it', () => {
    const { layouts, trainBars, testBars } = layoutFolds(10_000, 4, 'rolling', 0.3, 50);
    equal(trainBars, 3000);
    equal(testBars, Math.floor((10_000 - 3000 - 50) / 4));
    for (const [i, l] of layouts.entries()) {
      equal(l.testStart - l.trainEnd, 50, 'gap');
      equal(l.trainEnd - l.trainStart, 3000);
      equal(l.testEnd - l.testStart, testBars);
      if (i > 0) equal(l.testStart, layouts[i - 1]!.testEnd, 'test parts are contiguous');
      ok(l.testEnd <= 10_000);
    }
  });

  it('anchored: every training part starts at the first bar', () => {
    const { layouts } = layoutFolds(10_000, 3, 'anchored', 0.25, 0);
    deepStrictEqual(
      layouts.map((l) => l.trainStart),
      [0, 0, 0],
    );
    ok(layouts[2]!.trainEnd > layouts[0]!.trainEnd);
  });

  it('refuses parts too short to measure anything', () => {
    throws(() => layoutFolds(500, 6, 'rolling', 0.3, 0), /each needs at least 100 — fewer folds or more data/);
  });

  it('expands --param specs into the grid of every combination, and refuses a malformed one', () => {
    deepStrictEqual(parameterGrid(['a=1,2', 'b.c=x']), [
      { a: 1, 'b.c': 'x' },
      { a: 2, 'b.c': 'x' },
    ]);
    throws(() => parameterGrid(['threshold']), /expected key=value1,value2,…, found "threshold"/);
  });
});

describe('walk-forward on real candles (survival config, two candidates)', function () {
  this.timeout(600_000);
  const tmp = tempDir();
  let original: WalkForwardResult;
  let perturbed: WalkForwardResult;
  let bars: Bar[];

  before(async function () {
    const file = requireSharedData(this, 'candles/binance_spot_BTCUSDT_5m_nfi.csv');
    bars = readBarsCsv(file, {
      venue: 'binance',
      symbol: 'BTC/USDT',
      timeframe: '5m',
      from: Date.parse('2021-02-01'),
      until: Date.parse('2021-02-22'),
    });
    const a = path.join(tmp.dir, 'a.csv');
    writeBarsCsv(a, bars);
    const common = {
      configFile: SURVIVAL,
      candidates: parameterGrid(['signals.ta.threshold=0.3,0.6']),
      folds: 2,
      trainFraction: 0.4,
      purgeBars: 12,
      embargoBars: 24,
    } as const;
    original = await runWalkForward({ ...common, dataFile: a, outDir: path.join(tmp.dir, 'wf-a') });
    // Every bar from the first test part on gets a steady trend added: a strategy that peeked
    // past its training part would choose differently.
    const firstTest = Math.floor(bars.length * 0.4) + 36;
    const b = path.join(tmp.dir, 'b.csv');
    writeBarsCsv(
      b,
      bars.map((bar, i) => {
        if (i < firstTest - 36) return bar;
        const f = 1 + 0.0004 * (i - firstTest + 36);
        return { ...bar, open: bar.open * f, high: bar.high * f, low: bar.low * f, close: bar.close * f };
      }),
    );
    perturbed = await runWalkForward({ ...common, dataFile: b, outDir: path.join(tmp.dir, 'wf-b') });
  });
  after(() => tmp.cleanup());

  it('trains each fold only on bars before its gap: later bars change the test, never a training score', () => {
    deepStrictEqual(perturbed.folds[0]!.trainScores, original.folds[0]!.trainScores);
    equal(perturbed.folds[0]!.chosen, original.folds[0]!.chosen);
    notDeepStrictEqual(
      perturbed.folds[0]!.testMetrics,
      original.folds[0]!.testMetrics,
      'the perturbation reached the test part',
    );
    ok(perturbed.folds[0]!.testMetrics.buyAndHoldReturn > original.folds[0]!.testMetrics.buyAndHoldReturn);
  });

  it('lays the folds out with the purge and embargo between training and test', () => {
    for (const f of original.folds) {
      const gapBars = (Date.parse(f.test.from) - Date.parse(f.train.to)) / 300_000;
      equal(gapBars, 36, `fold ${f.index}: ${f.train.to} → ${f.test.from}`);
    }
    equal(original.scheme.purgeBars + original.scheme.embargoBars, 36);
  });

  it('stitches the out-of-sample equity from the folds: its return is the product of theirs, next to buy-and-hold', () => {
    const r = original;
    equal(r.curve.equity.length, r.folds.length * r.scheme.testBars);
    const product = r.folds.reduce((p, f) => p * (1 + f.testMetrics.totalReturn), 1) - 1;
    ok(Math.abs(r.outOfSample.totalReturn - product) < 1e-6, `${r.outOfSample.totalReturn} vs ${product}`);
    const hold = r.folds.reduce((p, f) => p * (1 + f.testMetrics.buyAndHoldReturn), 1) - 1;
    ok(Math.abs(r.outOfSample.buyAndHoldReturn - hold) < 1e-9, `${r.outOfSample.buyAndHoldReturn} vs ${hold}`);
    equal(r.curve.buyAndHold.length, r.curve.equity.length);
  });

  it('statistics: false (optimize and evolve trials) skips the tests but keeps the same returns and moments', async () => {
    const a = path.join(tmp.dir, 'a.csv');
    const quick = await runWalkForward({
      configFile: SURVIVAL,
      candidates: parameterGrid(['signals.ta.threshold=0.3,0.6']),
      folds: 2,
      trainFraction: 0.4,
      purgeBars: 12,
      embargoBars: 24,
      dataFile: a,
      outDir: path.join(tmp.dir, 'wf-quick'),
      statistics: false,
    });
    equal(quick.statistics.length, 0);
    equal(original.statistics.length, 2);
    deepStrictEqual(quick.outOfSample, original.outOfSample);
    const jb = original.statistics.find((st) => st.series.startsWith('strategy'))!.jarqueBera;
    deepStrictEqual(original.outOfSample.moments, { skewness: jb.skewness, kurtosis: jb.kurtosis });
  });

  it('reports DSR counting both candidates, PBO over them, and provenance', () => {
    const r = original;
    equal(r.trials, 2);
    ok(r.outOfSample.deflated);
    ok(r.outOfSample.deflated.deflatedSharpe <= r.outOfSample.deflated.probabilisticSharpe);
    ok(r.outOfSample.pbo && r.outOfSample.pbo.pbo >= 0 && r.outOfSample.pbo.pbo <= 1);
    equal(r.candidates.length, 2);
    ok(r.candidates[0]!.hash !== r.candidates[1]!.hash, 'each candidate config has its own hash');
    ok(/^[0-9a-f]{64}$/.test(r.data.sha256));
  });
});

describe('walk-forward retrains the ML model in every fold (Growth test config)', function () {
  this.timeout(900_000);
  const tmp = tempDir();
  let original: WalkForwardResult;
  let perturbed: WalkForwardResult;
  let configFile: string;
  let a: string;
  const common = { folds: 2, mode: 'rolling', trainFraction: 0.4, purgeBars: 12, embargoBars: 24 } as const;

  before(async function () {
    const file = requireSharedData(this, 'candles/binance_spot_BTCUSDT_5m_nfi.csv');
    const bars = readBarsCsv(file, {
      venue: 'binance',
      symbol: 'BTC/USDT',
      timeframe: '5m',
      from: Date.parse('2021-02-01'),
      until: Date.parse('2021-02-22'),
    });
    // The model path points into an empty folder: retraining must not need (or read) a model file.
    configFile = writeTestGrowthConfig(tmp.dir);
    a = path.join(tmp.dir, 'a.csv');
    writeBarsCsv(a, bars);
    original = await runWalkForward({ ...common, configFile, dataFile: a, outDir: path.join(tmp.dir, 'wf-a') });
    // Bars from the first test part on move: fold 1's model must not change, fold 2's (rolling,
    // trained on fold 1's test part) must.
    const firstTest = Math.floor(bars.length * 0.4) + 36;
    const b = path.join(tmp.dir, 'b.csv');
    writeBarsCsv(
      b,
      bars.map((bar, i) => {
        if (i < firstTest) return bar;
        const f = 1 + 0.001 * Math.sin(i / 7);
        return {
          ...bar,
          open: bar.open * f,
          high: bar.high * f * 1.001,
          low: bar.low * f * 0.999,
          close: bar.close * f,
        };
      }),
    );
    perturbed = await runWalkForward({ ...common, configFile, dataFile: b, outDir: path.join(tmp.dir, 'wf-b') });
  });
  after(() => tmp.cleanup());

  it('trains a model per fold inside its training part and trades the test part with it', () => {
    for (const f of original.folds) {
      const m = f.model;
      ok(m, `fold ${f.index} has its model`);
      ok(Date.parse(m.trainedFrom) >= Date.parse(f.train.from), `${m.trainedFrom} vs ${f.train.from}`);
      ok(
        Date.parse(m.heldOutTo) <= Date.parse(f.train.to),
        `held-out slice ends ${m.heldOutTo}, training part ${f.train.to}`,
      );
      ok(Date.parse(m.heldOutTo) < Date.parse(f.test.from));
      ok(Number.isFinite(m.heldOutLogLoss));
      const header = JSON.parse(
        readFileSync(path.join(tmp.dir, 'wf-a', `fold-${f.index}-test`, 'journal.jsonl'), 'utf8').split('\n', 1)[0]!,
      ) as { model: string };
      equal(header.model, m.id, 'the test part traded with the fold’s model');
    }
    notDeepStrictEqual(original.folds[0]!.model!.id, original.folds[1]!.model!.id, 'each fold its own model');
  });

  it('no bar of a test part reaches the model trained before it: changing them changes only later folds’ models', () => {
    equal(perturbed.folds[0]!.model!.id, original.folds[0]!.model!.id);
    notDeepStrictEqual(perturbed.folds[1]!.model!.id, original.folds[1]!.model!.id, 'the perturbation was visible');
  });

  it('--no-retrain uses the config’s model file, and says so when there is none', async () => {
    await rejects(
      runWalkForward({ ...common, configFile, dataFile: a, outDir: path.join(tmp.dir, 'wf-c'), retrainModel: false }),
      /model file not found/,
    );
  });
});

describe('walk-forward over a universe (portfolio-7, 1h, seven files)', function () {
  this.timeout(900_000);
  const tmp = tempDir();
  let r: WalkForwardResult;
  let btc: string;
  after(() => tmp.cleanup());

  before(async function () {
    btc = requireSharedData(this, 'candles/binance_spot_BTCUSDT_1h_nfi.csv');
    r = await runWalkForward({
      configFile: path.join(repoRoot, 'config', 'portfolio-7.yaml'),
      dataFile: [path.dirname(btc)],
      from: Date.parse('2021-02-01'),
      until: Date.parse('2021-04-01'),
      folds: 2,
      trainFraction: 0.4,
      purgeBars: 6,
      embargoBars: 12,
      candidates: parameterGrid(['signals.ta.threshold=0.4,0.6']),
      outDir: path.join(tmp.dir, 'wf'),
    });
  });

  it('lays the folds out over bar times: every symbol’s bars of a time in one part, the gap in hours', () => {
    equal(r.data.symbol.split(', ').length, 7);
    equal(r.data.file.split(', ').length, 7);
    // Bar times, not bars: at most one per hour of the range (an hour no exchange recorded is missing).
    ok(r.data.bars <= 1416 && r.data.bars > 1400, `${r.data.bars} bar times`);
    equal(r.scheme.trainBars, Math.round(r.data.bars * 0.4));
    for (const f of r.folds) {
      equal((Date.parse(f.test.from) - Date.parse(f.train.to)) / 3_600_000, 18, `fold ${f.index}`);
      equal(f.test.bars, 7 * r.scheme.testBars, 'all seven symbols in each test part');
      const header = JSON.parse(
        readFileSync(path.join(tmp.dir, 'wf', `fold-${f.index}-test`, 'journal.jsonl'), 'utf8').split('\n', 1)[0]!,
      ) as { data: string };
      equal(header.data.split(', ').length, 7, 'the test part traded the whole universe');
    }
  });

  it('stitches the portfolio’s out-of-sample equity and the equal-weight buy-and-hold from the folds', () => {
    equal(r.curve.equity.length, r.folds.length * r.scheme.testBars);
    equal(r.curve.buyAndHold.length, r.curve.equity.length);
    equal(r.curve.close.length, r.curve.equity.length);
    const product = r.folds.reduce((p, f) => p * (1 + f.testMetrics.totalReturn), 1) - 1;
    ok(Math.abs(r.outOfSample.totalReturn - product) < 1e-6, `${r.outOfSample.totalReturn} vs ${product}`);
    const hold = r.folds.reduce((p, f) => p * (1 + f.testMetrics.buyAndHoldReturn), 1) - 1;
    ok(Math.abs(r.outOfSample.buyAndHoldReturn - hold) < 1e-9, `${r.outOfSample.buyAndHoldReturn} vs ${hold}`);
    const btcBars = readBarsCsv(btc, {
      venue: 'binance',
      symbol: 'BTC/USDT',
      timeframe: '1h',
      from: Date.parse('2021-02-01'),
    });
    const at = new Map(btcBars.map((b) => [b.tsEvent, b.close]));
    ok(
      r.curve.ts.every((t, k) => at.get(t) === r.curve.close[k]),
      'the price line is BTC’s close',
    );
    equal(r.trials, 2);
    ok(r.outOfSample.pbo);
  });

  it('refuses a universe missing a symbol’s file, naming the symbol', async () => {
    await rejects(
      runWalkForward({
        configFile: path.join(repoRoot, 'config', 'portfolio-7.yaml'),
        dataFile: [btc],
        folds: 2,
        outDir: path.join(tmp.dir, 'wf-missing'),
      }),
      /no 1h bars file for LTC\/USDT/,
    );
  });
});
