/**
 * The whole pipeline with multi-timeframe confirmation (1h, 4h) and candlestick patterns voting:
 * changing bar N+1 and later never changes a decision at or before bar N, on any timeframe.
 */
import { deepStrictEqual, notDeepStrictEqual, ok } from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { backtestBars } from '../../pipelines/backtest';
import { loadConfig } from '../../pipelines/config';
import { loadModelFor, saveModel } from '../../pipelines/model';
import { trainModel } from '../../pipelines/train';
import type { Bar } from '../../operators/types';
import { randomWalkBars } from '../support/fixtures';
import { withoutTimeframes, writeTestGrowthConfig } from '../support/growthConfig';
import { tempDir } from '../support/tmp';

interface Line {
  kind: string;
  tsEvent: number;
  [key: string]: unknown;
}

describe('backtest with higher timeframes and candlestick patterns (lookahead)', function () {
  this.timeout(300_000);
  const tmp = tempDir();
  const bars = randomWalkBars(3000, { seed: 21 });
  let configFile: string;

  before(async () => {
    configFile = writeTestGrowthConfig(tmp.dir, (text) =>
      withoutTimeframes(text)
        .replace(
          '  forecast:',
          [
            '  patterns: true',
            '  timeframes:',
            '    - { timeframe: 1h, features: [{ id: ema6, indicator: ema, options: [6] }], trend: { fast: close, slow: ema6 } }',
            '    - { timeframe: 4h, features: [{ id: ema3, indicator: ema, options: [3] }], trend: { fast: close, slow: ema3 } }',
            '  forecast:',
          ].join('\n'),
        )
        .replace(
          /\n {2}ml:/,
          [
            '',
            '      - { kind: cross, group: trend, fast: 1h.close, slow: 1h.ema6 }',
            '      - { kind: sign, group: trend, feature: mtf.confluence }',
            '      - { kind: sign, group: momentum, feature: cdl.engulfing }',
            '  ml:',
          ].join('\n'),
        ),
    );
    const config = loadConfig(configFile);
    saveModel(config.modelPath!, await trainModel(config, bars.slice(0, 1500), { dataFile: 'g', dataSha256: '0' }));
  });
  after(() => tmp.cleanup());

  async function run(input: readonly Bar[], name: string): Promise<Line[]> {
    const config = loadConfig(configFile);
    const result = await backtestBars(config, input, {
      dataFile: 'generated.csv',
      outDir: path.join(tmp.dir, name),
      journalLevel: 'all',
      model: loadModelFor(config),
    });
    return readFileSync(result.journalFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
  }

  it('never lets bar N+1 and later alter a signal, intent or risk decision at or before bar N', async () => {
    const baseline = await run(bars, 'base');
    const signals = baseline.filter((e) => e.kind === 'signal');
    // the higher-timeframe rules did vote: their votes are not all "_" (not warm)
    ok(
      signals.some((s) =>
        String((s['components'] as { detail: { votes: string } }[])[0]!.detail.votes)
          .slice(-3)
          .includes('+'),
      ),
      'the 1h/4h/pattern rules never voted: the test would prove nothing',
    );
    const decisions = (journal: Line[], until: number): Line[] =>
      journal.filter((e) => ['signal', 'intent', 'approved', 'denied'].includes(e.kind) && e.tsEvent <= until);
    // cuts inside a 4h bar, right before an hour closes, and right at one
    for (const n of [1234, 1451, 2015]) {
      const cut = bars[n]!.tsEvent;
      const perturbed = bars.map((b, i) =>
        i <= n ? b : { ...b, open: b.open * 1.3, high: b.high * 1.4, low: b.low * 1.2, close: b.close * 1.3 },
      );
      const changed = await run(perturbed, `cut-${n}`);
      deepStrictEqual(decisions(changed, cut), decisions(baseline, cut), `a decision at or before bar ${n} changed`);
      notDeepStrictEqual(
        changed.filter((e) => e.kind === 'signal' && e.tsEvent > cut + 4 * 3_600_000),
        baseline.filter((e) => e.kind === 'signal' && e.tsEvent > cut + 4 * 3_600_000),
        'the perturbation must be visible later',
      );
    }
  });
});
