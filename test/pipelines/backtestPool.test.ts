import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { runBacktest, type BacktestResult } from '../../pipelines/backtest';
import { BacktestJobError, runBacktests, type BacktestJob } from '../../pipelines/backtestPool';
import { randomWalkBars } from '../support/fixtures';
import { repoRoot } from '../support/sharedData';
import { tempDir, writeBarsCsv } from '../support/tmp';

/** What must not depend on the thread a backtest ran on: the report (less its file paths) and the journal's bytes. */
function outcome(result: BacktestResult): { report: unknown; journal: string } {
  const { journal: _journal, ...report } = result.report;
  return { report, journal: readFileSync(result.journalFile, 'utf8') };
}

describe('runBacktests (worker processes)', function () {
  this.timeout(120_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());
  // The peer benchmark's crossover: no ML model needed, trades often enough on a random walk.
  const configFile = path.join(repoRoot, 'bench', 'peers', 'crossover.yaml');
  const jobs: BacktestJob[] = [11, 12, 13].map((seed) => {
    const dataFile = path.join(tmp.dir, `bars-${seed}.csv`);
    writeBarsCsv(dataFile, randomWalkBars(3000, { seed }));
    return { configFile, dataFile, outDir: path.join(tmp.dir, `pool-${seed}`), journalLevel: 'all' };
  });

  it('gives every job the report and the byte-identical journal it gets when run alone in the main process', async () => {
    const completed: number[] = [];
    const pooled = await runBacktests(jobs, { workers: 2, onResult: (i) => completed.push(i) });
    equal(pooled.length, jobs.length);
    deepStrictEqual([...completed].sort(), [0, 1, 2]);
    for (let i = 0; i < jobs.length; i++) {
      const alone = await runBacktest({ ...jobs[i]!, outDir: path.join(tmp.dir, `alone-${i}`) });
      ok(alone.report.trades > 0, `job ${i} made no trade: the comparison would be empty`);
      deepStrictEqual(outcome(pooled[i]!), outcome(alone), `job ${i}`);
      equal(path.dirname(pooled[i]!.journalFile), jobs[i]!.outDir, 'each job writes into its own folder');
    }
    // The jobs differ (different data): a pool that ran one job three times would fail above.
    ok(outcome(pooled[0]!).journal !== outcome(pooled[1]!).journal);
  });

  it('rejects with the failing job, its files and the reason, and runs no job after it', async () => {
    const missing = path.join(tmp.dir, 'missing.csv');
    const after = { ...jobs[1]!, outDir: path.join(tmp.dir, 'after-failure') };
    const err = await runBacktests([{ ...jobs[0]!, dataFile: missing, outDir: path.join(tmp.dir, 'bad') }, after], {
      workers: 1,
    }).catch((e: unknown) => e);
    ok(err instanceof BacktestJobError, String(err));
    equal(err.index, 0);
    equal(err.code, 'BACKTEST_JOB_FAILED');
    ok(err.message.includes(missing) && /cannot read/.test(err.message), err.message);
    ok(!existsSync(after.outDir), 'a job after the failure ran');
  });

  it('refuses a worker count that is not a positive integer, and returns at once for no job', async () => {
    await rejects(runBacktests(jobs, { workers: 0 }), /workers must be an integer ≥ 1, found 0/);
    deepStrictEqual(await runBacktests([]), []);
  });
});
