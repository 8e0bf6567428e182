/**
 * `run-pipeline research …`: the commands that tell whether a result is skill or an accident of
 * the data or the search. Each prints progress on stderr and writes a JSON result.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { formatStats, runResearchStats } from './researchStats';

function writeJson(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

export function registerResearch(program: Command, parseTime: (value: string) => number): void {
  const research = program
    .command('research')
    .description(
      'statistics, walk-forward validation and overfitting controls (run-pipeline research <command> --help)',
    );

  research
    .command('stats')
    .description(
      'ADF and KPSS (stationarity), Jarque–Bera (normality), Ljung–Box on returns and squared returns (autocorrelation, ARCH effects), Hurst exponent; with --backtest also the strategy’s returns, probabilistic Sharpe and a bootstrap of its trades',
    )
    .requiredOption('-d, --data <file>', 'bars CSV: timestamp_ms,open,high,low,close,volume (timeframe inferred)')
    .option('--from <time>', 'first bar to use (ISO date or epoch ms)', parseTime)
    .option('--until <time>', 'stop before this time (ISO date or epoch ms)', parseTime)
    .option(
      '-b, --backtest <dir>',
      'a backtest output folder (report.json + journal.jsonl) to test the strategy’s returns too',
    )
    .option('-o, --out <file>', 'JSON result file', 'out/research/stats.json')
    .option('--json', 'print the JSON result on stdout instead of the summary')
    .action((opts: { data: string; from?: number; until?: number; backtest?: string; out: string; json?: boolean }) => {
      const report = runResearchStats({
        dataFile: opts.data,
        ...(opts.from !== undefined ? { from: opts.from } : {}),
        ...(opts.until !== undefined ? { until: opts.until } : {}),
        ...(opts.backtest ? { backtestDir: opts.backtest } : {}),
        onProgress: (m) => process.stderr.write(`  ${m}\n`),
      });
      writeJson(opts.out, report);
      process.stdout.write(
        opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatStats(report)}\n  result: ${opts.out}\n`,
      );
    });
}
