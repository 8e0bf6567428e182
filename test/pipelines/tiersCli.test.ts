import { deepStrictEqual, equal, match } from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from '../support/sharedData';

const CLI = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'tiers', ...args], { encoding: 'utf8' });

describe('run-pipeline tiers', function () {
  this.timeout(60_000);
  it('--json: the tier an equity selects, with and without the current tier’s hysteresis', () => {
    const fresh = JSON.parse(run('18000', '--json').stdout) as { tier: string; belowMinimum: boolean };
    equal(fresh.tier, 'growth');
    const sticky = JSON.parse(run('18000', '--current', 'acceleration', '--json').stdout) as {
      tier: string;
      changed: boolean;
    };
    deepStrictEqual([sticky.tier, sticky.changed], ['acceleration', false]);
    const down = JSON.parse(run('15000', '--current', 'acceleration', '--json').stdout) as {
      tier: string;
      reason: string;
    };
    deepStrictEqual([down.tier, down.reason], ['growth', 'equity 15000 < acceleration floor 20000 − 20 % = 16000']);
    equal((JSON.parse(run('1500', '--json').stdout) as { belowMinimum: boolean }).belowMinimum, true);
  });

  it('prints the table with the selected tier marked; bad input names the argument', () => {
    match(run('250000').stdout, /▶ institutional +100000 – 1000000/);
    const bad = run('-5');
    equal(bad.status, 1);
    match(bad.stderr, /<equity>: expected a number ≥ 0, found "-5"/);
    match(
      run('1', '--current', 'huge').stderr,
      /--current: expected one of survival, growth, acceleration, institutional, whale, found "huge"/,
    );
  });
});
