/**
 * The shipped Growth config, adapted for tests: the model goes to a temporary folder and trains
 * in a few iterations, and the label and forecast horizons are shortened for short generated data.
 * Everything else (features, rules, costs, brackets, risk) is the real config.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './sharedData';

export function writeTestGrowthConfig(dir: string, edit: (text: string) => string = (t) => t): string {
  const text = readFileSync(path.join(repoRoot, 'config', 'growth.yaml'), 'utf8')
    .replace(/model: models\/growth-btc-5m\.json/, `model: ${JSON.stringify(path.join(dir, 'model.json'))}`)
    .replace(/iterations: \d+/, 'iterations: 5')
    // Generated test data is short: a shorter label horizon and gap leave room for the
    // training, calibration and test slices.
    .replace(/horizon: 288\b/, 'horizon: 12\n      gapBars: 20')
    // …and a shorter forecast horizon and warm-up, so the decisions start within 4,000 bars.
    .replace(/horizonBars: 288/, 'horizonBars: 24')
    .replace(/minSamples: 300/, 'minSamples: 50')
    .replace(/shrinkage: 300/, 'shrinkage: 0\n    halfLife: 100')
    .replace(/costMargin: 2\b/, 'costMargin: 1');
  const file = path.join(dir, 'growth.yaml');
  writeFileSync(file, edit(text));
  return file;
}

/**
 * The Growth config's text without its higher timeframes (the `signals.timeframes` block and the
 * rules reading them), for tests that add timeframes of their own.
 */
export function withoutTimeframes(text: string): string {
  const out = text
    .replace(/ {2}# Higher timeframes rolled up[\s\S]*?\n {2}timeframes:\n(?: {4}- \{ timeframe:.*\n)+/, '')
    .replace(/ {6}- \{ kind: cross, group: trend, fast: [0-9]+[mhd]\.close, slow: [0-9]+[mhd]\.\w+ \}\n/g, '');
  if (/timeframes:|\b[14]h\./.test(out)) throw new Error('withoutTimeframes: the Growth config changed shape');
  return out;
}
