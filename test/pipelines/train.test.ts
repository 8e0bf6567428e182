/**
 * `train` with purged k-fold cross-validation: every fold is scored by a network that never saw
 * it nor the bars its labels and look-back share with it, and the shipped network is unchanged
 * by the validation (same id as without it).
 */
import { equal, notEqual, ok } from 'node:assert/strict';
import { NeuralNetwork } from 'brain.js';
import { applyPlatt, compileModel } from '../../operators/mlModel';
import { loadConfig } from '../../pipelines/config';
import { trainModel } from '../../pipelines/train';
import { randomWalkBars } from '../support/fixtures';
import { writeTestGrowthConfig } from '../support/growthConfig';
import { tempDir } from '../support/tmp';

describe('train: purged k-fold cross-validation, ensembles, the drift config', function () {
  this.timeout(300_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const bars = randomWalkBars(1500, { seed: 11 });

  it('scores 3 folds out of fold, purging and embargoing around each, and ships the same network as without it', async () => {
    const plain = loadConfig(writeTestGrowthConfig(tmp.dir));
    const withCv = loadConfig(
      writeTestGrowthConfig(tmp.dir, (t) => t.replace('gapBars: 20', 'gapBars: 20\n      cvFolds: 3')),
    );
    equal(withCv.signals.ml?.training?.cvFolds, 3);
    const a = await trainModel(plain, bars, { dataFile: 'generated', dataSha256: '0' });
    const lines: string[] = [];
    const b = await trainModel(withCv, bars, {
      dataFile: 'generated',
      dataSha256: '0',
      onProgress: (m) => lines.push(m),
    });
    equal(a.metrics.cv, undefined);
    equal(b.id, a.id, 'cross-validation does not change the network that ships');
    const cv = b.metrics.cv!;
    equal(cv.folds, 3);
    equal(cv.horizon, 12);
    equal(cv.embargoBars, 20);
    equal(cv.perFold.length, 3);
    equal(
      cv.perFold.reduce((n, f) => n + f.testSamples, 0),
      b.training.trainSamples,
      'the folds cover the training part',
    );
    for (let k = 1; k < 3; k++) ok(cv.perFold[k]!.from > cv.perFold[k - 1]!.to, 'folds in time order, apart');
    ok(
      cv.perFold[0]!.from >= b.training.from && cv.perFold[2]!.to <= b.training.to,
      'no test-slice sample in the folds',
    );
    // The middle fold has neighbours on both sides: labels reaching into it are purged, the look-back after it embargoed.
    equal(cv.perFold[1]!.purged, 2 * 12);
    equal(cv.perFold[1]!.embargoed, 20);
    equal(cv.perFold[0]!.purged, 12, 'the first fold purges only after itself');
    for (const f of cv.perFold) {
      ok(Number.isFinite(f.logLoss) && f.logLoss > 0);
      ok(Number.isFinite(f.baseLogLoss) && f.baseLogLoss > 0);
      equal(f.trainSamples + f.testSamples + f.purged + f.embargoed, b.training.trainSamples);
    }
    ok(
      lines.some((l) => /purged 3-fold cross-validation: out-of-fold log loss/.test(l)),
      lines.join('\n'),
    );
  });

  it('refuses a fold count the schema does not allow, naming the key', () => {
    let message = '';
    try {
      loadConfig(writeTestGrowthConfig(tmp.dir, (t) => t.replace('gapBars: 20', 'gapBars: 20\n      cvFolds: 1')));
    } catch (err) {
      message = (err as Error).message;
    }
    ok(/cvFolds/.test(message), message);
  });

  it('signals.ml.drift: parsed into the ML signal’s config; a weight outside 0..1 is refused by key', () => {
    const cfg = loadConfig(
      writeTestGrowthConfig(tmp.dir, (t) =>
        t.replace('    band: 0.02', '    band: 0.02\n    drift: { threshold: 8, weightAfterDrift: 0.5 }'),
      ),
    );
    equal(cfg.signals.ml?.drift?.threshold, 8);
    equal(cfg.signals.ml?.drift?.weightAfterDrift, 0.5);
    let message = '';
    try {
      loadConfig(
        writeTestGrowthConfig(tmp.dir, (t) =>
          t.replace('    band: 0.02', '    band: 0.02\n    drift: { weightAfterDrift: 2 }'),
        ),
      );
    } catch (err) {
      message = (err as Error).message;
    }
    ok(/weightAfterDrift/.test(message), message);
  });

  it('an ensemble of 3 seeds: weights from the calibration slice sum to 1, the model averages its members before the calibration', async () => {
    const cfg = loadConfig(
      writeTestGrowthConfig(tmp.dir, (t) => t.replace('gapBars: 20', 'gapBars: 20\n      ensemble: 3')),
    );
    const single = await trainModel(loadConfig(writeTestGrowthConfig(tmp.dir)), bars, {
      dataFile: 'generated',
      dataSha256: '0',
    });
    const m = await trainModel(cfg, bars, { dataFile: 'generated', dataSha256: '0' });
    const e = m.ensemble!;
    equal(e.networks.length, 3);
    equal(e.seeds.join(','), '1,2,3');
    ok(Math.abs(e.weights.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    ok(e.weights.every((w) => w >= 0));
    notEqual(m.id, single.id);
    equal(
      JSON.stringify(m.ensemble!.networks[0]),
      JSON.stringify(single.network),
      'member 1 is the single model’s network',
    );
    const compiled = compileModel(m);
    const nets = e.networks.map((n) => new NeuralNetwork().fromJSON(n));
    const x = Float64Array.from(m.normalization.mean, (mu, i) => mu + 0.5 * m.normalization.std[i]!);
    const z = Array.from(x, (v, i) => (v - m.normalization.mean[i]!) / m.normalization.std[i]!);
    const mix = nets.reduce((a, n, k) => a + e.weights[k]! * n.run(z)[0]!, 0);
    const want = m.calibration ? applyPlatt(m.calibration, mix) : mix;
    ok(Math.abs(compiled.predict(x) - want) < 1e-12, `${compiled.predict(x)} vs ${want}`);
  });

  it('an ensemble without a calibration slice is refused, naming the keys', async () => {
    const cfg = loadConfig(
      writeTestGrowthConfig(tmp.dir, (t) =>
        t
          .replace('gapBars: 20', 'gapBars: 20\n      ensemble: 2')
          .replace(/calibrationFraction: 0\.2/, 'calibrationFraction: 0'),
      ),
    );
    let message = '';
    try {
      await trainModel(cfg, bars, { dataFile: 'generated', dataSha256: '0' });
    } catch (err) {
      message = (err as Error).message;
    }
    ok(/ensemble .*calibrationFraction > 0/.test(message), message);
  });
});
