/**
 * The shipped Growth config, adapted for tests: the model goes to a temporary folder and trains
 * in a few iterations. Everything else (features, rules, sizing, risk) is the real config.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './sharedData';

export function writeTestGrowthConfig(dir: string, edit: (text: string) => string = (t) => t): string {
  const text = readFileSync(path.join(repoRoot, 'config', 'growth.yaml'), 'utf8')
    .replace(/model: models\/growth-btc-5m\.json/, `model: ${JSON.stringify(path.join(dir, 'model.json'))}`)
    .replace(/iterations: \d+/, 'iterations: 5');
  const file = path.join(dir, 'growth.yaml');
  writeFileSync(file, edit(text));
  return file;
}
