/**
 * `research evolve`: genomes map onto valid configs (rules dropped, never all), the elite keeps the
 * best score from one generation to the next, every distinct genome is counted as a trial in the
 * deflated Sharpe, and the evolved config loads with its provenance.
 */
import { equal, match, ok } from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../pipelines/config';
import { loadConfigWith } from '../../pipelines/researchConfig';
import { genomeOverrides, genomeSpace, pboOfReturns, runEvolve } from '../../pipelines/researchEvolve';
import { mulberry32 } from '../../operators/random';
import { repoRoot, requireSharedData } from '../support/sharedData';
import { tempDir } from '../support/tmp';

const SURVIVAL = path.join(repoRoot, 'config', 'survival.yaml');

describe('research evolve', function () {
  this.timeout(600_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('turns a genome into a config: rules switched off are dropped, but never every rule; feature periods change', () => {
    const space = genomeSpace(SURVIVAL);
    const rules = space.rules.length;
    ok(rules >= 2);
    const genome = space.genes.map((g) => (g.kind === 'bit' ? 0 : g.low));
    const none = loadConfigWith(SURVIVAL, genomeOverrides(space, genome));
    equal(none.signals.ta?.rules.length, 1, 'all rules off keeps the first one');
    genome[0] = 1;
    genome[2] = 1;
    const two = loadConfigWith(SURVIVAL, genomeOverrides(space, genome));
    equal(two.signals.ta?.rules.length, 2);
    equal(two.signals.ta?.threshold, 0.1);
    const ema = two.features.find((f) => f.id === 'ema48');
    equal(ema?.options?.[0], 24, 'the lowest period of ema48 is half of 48');
  });

  it('evolves on real candles: the elite never loses its score, all genomes count as trials, the best config loads', async function () {
    const data = requireSharedData(this, 'candles/binance_spot_BTCUSDT_5m_nfi.csv');
    const r = await runEvolve({
      configFile: SURVIVAL,
      dataFile: data,
      from: Date.parse('2021-02-01'),
      until: Date.parse('2021-02-15'),
      folds: 2,
      trainFraction: 0.4,
      population: 4,
      generations: 2,
      outDir: path.join(tmp.dir, 'evo'),
    });
    equal(r.generations.length, 3);
    for (let g = 1; g < r.generations.length; g++)
      ok(r.generations[g]!.best >= r.generations[g - 1]!.best, JSON.stringify(r.generations));
    ok(r.trials >= 4 && r.trials <= 12, `trials ${r.trials}`);
    equal(r.deflated.trials, r.trials);
    ok(r.deflated.deflatedSharpe <= r.deflated.probabilisticSharpe);
    const text = readFileSync(r.bestConfigFile, 'utf8');
    match(text, /^# Written by run-pipeline research evolve/);
    match(text, new RegExp(`counting ${r.trials} trials`));
    // The overfitting controls of every optimisation result: PBO over all genomes, bootstrap of the winner.
    ok(r.pbo, 'PBO computed over the genomes');
    equal(r.pbo.candidates, r.trials, 'CSCV over every valid genome the search scored');
    ok(r.pbo.pbo >= 0 && r.pbo.pbo <= 1);
    match(text, /Probability of backtest overfitting \d\.\d{3} \(CSCV/);
    if (r.bootstrap) {
      ok(r.bootstrap.trades >= 2);
      ok(r.bootstrap.totalReturnInterval.low <= r.bootstrap.totalReturnInterval.high);
    }
    const cfg = loadConfig(r.bestConfigFile);
    equal(cfg.signals.ta?.rules.length, (r.best.overrides['signals.ta.rules'] as unknown[]).length);
  });

  it('PBO of genomes: one genome that is better on every block is never overfit; genomes each fitted to one regime are overfit; too few rows or genomes give none', () => {
    const rand = mulberry32(7);
    const noise = (n: number) => Float64Array.from({ length: n }, () => (rand() - 0.5) * 0.01);
    const good = noise(400).map((v) => v + 0.01);
    const pbo = pboOfReturns([good, noise(400), noise(390), noise(400)]);
    ok(pbo);
    equal(pbo.pbo, 0, 'the in-sample best is also the out-of-sample best');
    equal(pbo.blocks, 16);
    // Each genome shines in its own quarter and loses elsewhere: whatever wins in sample is below par out of it.
    const quarters = [0, 1, 2, 3].map((q) =>
      Float64Array.from(
        { length: 400 },
        (_, t) => (Math.floor(t / 100) === q ? 0.01 : -0.004) + (rand() - 0.5) * 0.001,
      ),
    );
    const overfit = pboOfReturns(quarters);
    ok(overfit && overfit.pbo > 0.5, `regime-fitted genomes PBO ${overfit?.pbo}`);
    equal(pboOfReturns([good]), null);
    equal(pboOfReturns([good.subarray(0, 3), good]), null, 'fewer than 4 rows cannot make 2 blocks of 2');
  });
});
