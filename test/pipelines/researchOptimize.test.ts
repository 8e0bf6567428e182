/**
 * `research optimize`: TPE finds the optimum of a known function; search bounds come from the
 * config schema and bad specs are named; a run on real candles is resumable (a second run continues
 * the trials file instead of starting over) and writes a best config that loads, with provenance
 * and the deflated Sharpe counting every trial.
 */
import { deepStrictEqual, equal, match, ok, throws } from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { proposeTpe, type TpeTrial } from '../../operators/stats';
import { loadConfig } from '../../pipelines/config';
import { parseDimension, runOptimize, schemaBounds } from '../../pipelines/researchOptimize';
import { runWalkForward } from '../../pipelines/researchWalkForward';
import { mulberry32 } from '../../operators/random';
import { repoRoot, requireSharedData } from '../support/sharedData';
import { tempDir } from '../support/tmp';

describe('TPE proposals', () => {
  const f = (x: readonly number[]) => -((x[0]! - 0.73) ** 2) - (x[1]! - 0.2) ** 2;

  it('converges on the optimum of a smooth function, closer than as many uniform draws', () => {
    const history: TpeTrial[] = [];
    for (let i = 0; i < 40; i++) {
      const x = proposeTpe({ dimensions: 2, seed: 5 }, history);
      history.push({ x, value: f(x) });
    }
    const best = history.reduce((a, b) => (b.value > a.value ? b : a));
    ok(Math.abs(best.x[0]! - 0.73) < 0.06 && Math.abs(best.x[1]! - 0.2) < 0.06, `best ${best.x}`);
    const rand = mulberry32(5);
    let bestRandom = -Infinity;
    for (let i = 0; i < 40; i++) bestRandom = Math.max(bestRandom, f([rand(), rand()]));
    ok(best.value > bestRandom, `TPE ${best.value} vs uniform ${bestRandom}`);
  });

  it('is deterministic: the same seed and history give the same proposal', () => {
    const h: TpeTrial[] = Array.from({ length: 10 }, (_, i) => ({ x: [i / 10, 1 - i / 10], value: i % 3 }));
    deepStrictEqual(proposeTpe({ dimensions: 2, seed: 9 }, h), proposeTpe({ dimensions: 2, seed: 9 }, h));
  });
});

describe('optimize search space', () => {
  it('takes the bounds of a key from the config schema', () => {
    deepStrictEqual(schemaBounds('signals.ta.threshold'), { min: 0, max: 1, integer: false });
    deepStrictEqual(parseDimension('sizing.kellyFraction'), {
      key: 'sizing.kellyFraction',
      low: 0,
      high: 1,
      integer: false,
    });
    deepStrictEqual(parseDimension('signals.ta.threshold=0.2:0.6'), {
      key: 'signals.ta.threshold',
      low: 0.2,
      high: 0.6,
      integer: false,
    });
  });

  it('names an unknown key, a non-number, bounds outside the schema, and a key without finite bounds', () => {
    throws(() => parseDimension('signals.ta.treshold'), /"treshold" is not a key of the config schema/);
    throws(() => parseDimension('name'), /not a number in the config schema/);
    throws(() => parseDimension('signals.ta.threshold=0.5:2'), /0\.5:2 is outside the schema's bounds \[0, 1\]/);
    throws(() => parseDimension('signals.ta.threshold=0.6:0.2'), /expected low:high with low < high/);
  });
});

describe('research optimize on real candles', function () {
  this.timeout(600_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('resumes from its trials file and writes a best config that loads, with provenance and DSR', async function () {
    const data = requireSharedData(this, 'candles/binance_spot_BTCUSDT_5m_nfi.csv');
    const common = {
      configFile: path.join(repoRoot, 'config', 'survival.yaml'),
      dataFile: data,
      from: Date.parse('2021-02-01'),
      until: Date.parse('2021-02-15'),
      folds: 2,
      trainFraction: 0.4,
      space: [parseDimension('signals.ta.threshold=0.2:0.6')],
      outDir: path.join(tmp.dir, 'opt'),
    };
    const first = await runOptimize({ ...common, trials: 2 });
    equal(first.trials.length, 2);
    equal(first.resumedFrom, 0);
    const second = await runOptimize({ ...common, trials: 3 });
    equal(second.resumedFrom, 2, 'the second run continues after the two recorded trials');
    equal(second.trials.length, 3);
    deepStrictEqual(second.trials.slice(0, 2), first.trials);
    equal(readFileSync(second.trialsFile, 'utf8').trim().split('\n').length, 4, 'header + 3 trials');
    equal(second.deflated.trials, 3);
    ok(second.pbo, 'PBO over the three trials');
    equal(second.pbo.candidates, 3);
    ok(second.pbo.pbo >= 0 && second.pbo.pbo <= 1);
    ok(second.deflated.deflatedSharpe <= second.deflated.probabilisticSharpe);

    const text = readFileSync(second.bestConfigFile, 'utf8');
    match(text, /^# Written by run-pipeline research optimize/);
    match(text, /sha256 [0-9a-f]{64}/);
    match(text, /Deflated Sharpe \d\.\d{3} counting 3 trials/);
    const cfg = loadConfig(second.bestConfigFile);
    equal(cfg.signals.ta?.threshold, second.best.overrides['signals.ta.threshold']);

    await runOptimize({ ...common, trials: 3, seed: 2 }).then(
      () => ok(false, 'a different search must not reuse the trials file'),
      (e: Error) => match(e.message, /belongs to a different search/),
    );
  });

  it('runs trials in worker processes: the same numbers as in this process, every trial recorded once', async function () {
    const data = requireSharedData(this, 'candles/binance_spot_BTCUSDT_5m_nfi.csv');
    const common = {
      configFile: path.join(repoRoot, 'config', 'survival.yaml'),
      dataFile: data,
      from: Date.parse('2021-02-01'),
      until: Date.parse('2021-02-15'),
      folds: 2,
      trainFraction: 0.4,
    };
    const r = await runOptimize({
      ...common,
      space: [parseDimension('signals.ta.threshold=0.2:0.6')],
      trials: 4,
      workers: 2,
      outDir: path.join(tmp.dir, 'opt-workers'),
    });
    deepStrictEqual(
      r.trials.map((t) => t.trial),
      [1, 2, 3, 4],
    );
    const probe = r.trials[1]!;
    const here = await runWalkForward({
      ...common,
      candidates: [probe.overrides],
      outDir: path.join(tmp.dir, 'probe'),
    });
    equal(probe.objective, here.outOfSample.sharpeAnnualised);
    equal(probe.outOfSampleReturn, here.outOfSample.totalReturn);
  });
});
