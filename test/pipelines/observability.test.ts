/**
 * Observability inside the pipeline (issue 12): the features exported are the ones the pipeline
 * computed, handed over by its observer (not computed a second time), and every stage of a bar's
 * decision has a latency — features, ta, signal, sizing, decision and order for the crossover.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { VirtualTimeScheduler, lastValueFrom, toArray } from 'rxjs';
import { computeFeatures } from '../../operators/computeFeatures';
import type { Features } from '../../operators/types';
import { loadConfig } from '../../pipelines/config';
import { startObservability } from '../../pipelines/observability';
import { paperExchangeFor } from '../../pipelines/paperVenue';
import { tradingPipeline } from '../../pipelines/tradingPipeline';
import { makeBarReplaySource } from '../../sources/csvBars';
import { STAGES } from '../../sinks/metrics';
import { randomWalkBars } from '../support/fixtures';
import { repoRoot } from '../support/sharedData';
import { tempDir } from '../support/tmp';

describe('observability inside the pipeline', function () {
  this.timeout(60_000);
  const tmp = tempDir('bot4-observe-');
  after(() => tmp.cleanup());

  it('the pipeline hands its own features to its observer, and every stage of the crossover gets a latency', async () => {
    const config = loadConfig(path.join(repoRoot, 'bench', 'peers', 'crossover.yaml'));
    const bars = randomWalkBars(2_000, { seed: 12, price: 20_000 });
    const observe = await startObservability(config, { run: 'backtest', outDir: tmp.dir, metricsPort: 0 });
    assert.ok(observe.pipeline, 'an observer when metrics are on');
    const seen: Features[] = [];
    const scheduler = new VirtualTimeScheduler();
    const pipeline = tradingPipeline(config, {
      venue: paperExchangeFor(config, scheduler),
      scheduler,
      observe: {
        ...observe.pipeline,
        features: (f) => {
          seen.push(f);
          observe.pipeline?.features?.(f);
        },
      },
    });
    const events = lastValueFrom(
      pipeline({ bars$: makeBarReplaySource({ bars, scheduler }).pipe(observe.bars) }).pipe(observe.events, toArray()),
    );
    scheduler.flush();
    const out = await events;
    try {
      assert.ok(
        out.some((e) => e.kind === 'fill'),
        'the random walk trades',
      );
      // One features event per bar, equal to what the operator computes alone from the same bars.
      const alone = new VirtualTimeScheduler();
      const computed = lastValueFrom(
        makeBarReplaySource({ bars, scheduler: alone }).pipe(computeFeatures({ features: config.features }), toArray()),
      );
      alone.flush();
      const expected = await computed;
      assert.equal(seen.length, bars.length);
      assert.deepEqual(
        seen.map((f) => [f.tsEvent, f.values]),
        expected.map((f) => [f.tsEvent, f.values]),
      );
      const text = await (await fetch(observe.metricsUrl!)).text();
      const count = (stage: string): number => {
        const line = text
          .split('\n')
          .find((l) => l.startsWith('bot4_stage_latency_seconds_count{') && l.includes(`stage="${stage}"`));
        return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
      };
      // Every bar ends features and ta; signal once warm; sizing, decision and order on a trade's bar.
      for (const stage of ['features', 'ta'] as const) assert.equal(count(stage), bars.length, stage);
      const barsWith = (kind: string): number =>
        new Set(out.filter((e) => e.kind === kind).map((e) => (e as { tsEvent?: number }).tsEvent)).size;
      assert.equal(count('signal'), barsWith('signal'));
      const intents = out.filter((e) => e.kind === 'intent').length;
      assert.ok(intents > 0);
      assert.equal(count('sizing'), barsWith('intent'));
      assert.ok(count('decision') > 0 && count('order') > 0, 'decision and order stages');
      assert.equal(count('ml'), 0, 'no ML in the crossover');
      assert.ok(STAGES.every((s) => text.includes(`stage="${s}"`) || s === 'ml' || s === 'market-risk'));
    } finally {
      await observe.close();
    }
  });
});
