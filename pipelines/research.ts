/**
 * `run-pipeline research …`: the commands that tell whether a result is skill or an accident of
 * the data or the search. Each prints progress on stderr and writes a JSON result.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type * as M0 from './report';
import type * as M1 from './reportData';
import type * as M2 from './researchConfig';
import type * as M3 from './researchData';
import type * as M4 from './researchEvolve';
import { cpus } from 'node:os';
import type * as M5 from './researchOptimize';
import type * as M6 from './researchStats';
import type * as M7 from './researchWalkForward';
import type { Objective } from './researchWalkForward';
import type * as M8 from './reportWalkForward';

// Each research module (statistics, charts, workers) loads when its command runs: `--help` stays fast.
const writeReportHtml = ((...args: unknown[]) =>
  ((require('./report') as typeof M0).writeReportHtml as (...a: unknown[]) => unknown)(
    ...args,
  )) as typeof M0.writeReportHtml;
const backtestReport = ((...args: unknown[]) =>
  ((require('./reportData') as typeof M1).backtestReport as (...a: unknown[]) => unknown)(
    ...args,
  )) as typeof M1.backtestReport;
const walkForwardReport = ((...args: unknown[]) =>
  ((require('./reportWalkForward') as typeof M8).walkForwardReport as (...a: unknown[]) => unknown)(
    ...args,
  )) as typeof M8.walkForwardReport;
const parameterGrid = ((...args: unknown[]) =>
  ((require('./researchConfig') as typeof M2).parameterGrid as (...a: unknown[]) => unknown)(
    ...args,
  )) as typeof M2.parameterGrid;
const readBacktestRun = ((...args: unknown[]) =>
  ((require('./researchData') as typeof M3).readBacktestRun as (...a: unknown[]) => unknown)(
    ...args,
  )) as typeof M3.readBacktestRun;
const runEvolve = ((...args: unknown[]) =>
  ((require('./researchEvolve') as typeof M4).runEvolve as (...a: unknown[]) => unknown)(
    ...args,
  )) as typeof M4.runEvolve;
const parseDimension = ((...args: unknown[]) =>
  ((require('./researchOptimize') as typeof M5).parseDimension as (...a: unknown[]) => unknown)(
    ...args,
  )) as typeof M5.parseDimension;
const runOptimize = ((...args: unknown[]) =>
  ((require('./researchOptimize') as typeof M5).runOptimize as (...a: unknown[]) => unknown)(
    ...args,
  )) as typeof M5.runOptimize;
const formatStats = ((...args: unknown[]) =>
  ((require('./researchStats') as typeof M6).formatStats as (...a: unknown[]) => unknown)(
    ...args,
  )) as typeof M6.formatStats;
const runResearchStats = ((...args: unknown[]) =>
  ((require('./researchStats') as typeof M6).runResearchStats as (...a: unknown[]) => unknown)(
    ...args,
  )) as typeof M6.runResearchStats;
const formatWalkForward = ((...args: unknown[]) =>
  ((require('./researchWalkForward') as typeof M7).formatWalkForward as (...a: unknown[]) => unknown)(
    ...args,
  )) as typeof M7.formatWalkForward;
const runWalkForward = ((...args: unknown[]) =>
  ((require('./researchWalkForward') as typeof M7).runWalkForward as (...a: unknown[]) => unknown)(
    ...args,
  )) as typeof M7.runWalkForward;

function writeJson(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function integer(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name}: expected a whole number ≥ 0, found "${value}"`);
    return n;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
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

  research
    .command('walk-forward')
    .description(
      'choose among candidate configs on each training part, trade the next part unseen (purge + embargo between them); stitched out-of-sample equity, per-fold metrics, PSR/DSR, PBO, trade bootstrap',
    )
    .requiredOption('-c, --config <file>', 'pipeline config (YAML or JSON)')
    .requiredOption(
      '-d, --data <file>',
      'bars CSV of the config’s symbol and timeframe; for a universe, repeat it or give a folder (files matched by name, as in backtest)',
      collect,
      [],
    )
    .option(
      '-p, --param <key=v1,v2,…>',
      'a config key and the values to try (repeatable: the grid of all combinations); e.g. signals.ta.threshold=0.3,0.5,0.7',
      collect,
      [],
    )
    .option('--folds <n>', 'number of test parts', integer('--folds'), 6)
    .option(
      '--mode <mode>',
      'rolling (fixed-length training window) or anchored (training grows from the first bar)',
      'rolling',
    )
    .option('--train-fraction <x>', 'share of the bars in the first training part', Number, 1 / 3)
    .option(
      '--train-until <time>',
      'instead of --train-fraction: the first training part ends before this time',
      parseTime,
    )
    .option(
      '--purge <bars>',
      'bars dropped between training and test (label horizon / indicator look-back)',
      integer('--purge'),
      0,
    )
    .option(
      '--embargo <bars>',
      'further bars dropped between training and test (default ⌈1 % of the bars⌉)',
      integer('--embargo'),
    )
    .option('--objective <name>', 'training score that chooses a candidate: sharpe or return', 'sharpe')
    .option('--from <time>', 'first bar to use (ISO date or epoch ms)', parseTime)
    .option('--until <time>', 'stop before this time (ISO date or epoch ms)', parseTime)
    .option(
      '-o, --out <dir>',
      'folder for result.json, report.html and the folds’ journals',
      'out/research/walk-forward',
    )
    .option('--json', 'print the JSON result on stdout instead of the summary')
    .option(
      '--no-retrain',
      'trade every fold with the model file the config names, instead of training the ML model on each fold’s training part (the default when the config has signals.ml.training)',
    )
    .action(
      async (opts: {
        config: string;
        data: string[];
        param: string[];
        folds: number;
        mode: string;
        trainFraction: number;
        trainUntil?: number;
        purge: number;
        embargo?: number;
        objective: string;
        from?: number;
        until?: number;
        out: string;
        json?: boolean;
        retrain: boolean;
      }) => {
        if (opts.mode !== 'rolling' && opts.mode !== 'anchored')
          throw new InvalidArgumentError(`--mode: expected rolling or anchored, found "${opts.mode}"`);
        if (opts.objective !== 'sharpe' && opts.objective !== 'return')
          throw new InvalidArgumentError(`--objective: expected sharpe or return, found "${opts.objective}"`);
        if (opts.data.length === 0) throw new InvalidArgumentError('--data: give the bars file(s) or a folder');
        const result = await runWalkForward({
          configFile: opts.config,
          dataFile: opts.data.length === 1 ? (opts.data[0] as string) : opts.data,
          candidates: parameterGrid(opts.param),
          folds: opts.folds,
          mode: opts.mode,
          trainFraction: opts.trainFraction,
          ...(opts.trainUntil !== undefined ? { trainUntil: opts.trainUntil } : {}),
          purgeBars: opts.purge,
          ...(opts.embargo !== undefined ? { embargoBars: opts.embargo } : {}),
          objective: opts.objective as Objective,
          ...(opts.retrain === false ? { retrainModel: false } : {}),
          ...(opts.from !== undefined ? { from: opts.from } : {}),
          ...(opts.until !== undefined ? { until: opts.until } : {}),
          outDir: opts.out,
          onProgress: (m) => process.stderr.write(`  ${m}\n`),
        });
        const file = path.join(opts.out, 'result.json');
        writeJson(file, result);
        const html = path.join(opts.out, 'report.html');
        writeReportHtml(html, walkForwardReport(result));
        process.stdout.write(
          opts.json
            ? `${JSON.stringify(result, null, 2)}\n`
            : `${formatWalkForward(result)}\n  result: ${file}\n  report: ${html}\n`,
        );
      },
    );

  research
    .command('report')
    .description(
      'write report.html for a backtest output folder: equity and drawdown vs buy & hold, trades on the price, statistics',
    )
    .argument('<dir>', 'a backtest --out folder (report.json + journal.jsonl)')
    .action((dir: string) => {
      const html = path.join(dir, 'report.html');
      writeReportHtml(html, backtestReport(readBacktestRun(dir)));
      process.stdout.write(`report: ${html}\n`);
    });

  research
    .command('optimize')
    .description(
      'Bayesian optimisation (TPE) of numeric config keys; each trial scored by the out-of-sample Sharpe of a walk-forward; resumable; writes the best config with its provenance and deflated Sharpe',
    )
    .requiredOption('-c, --config <file>', 'pipeline config (YAML or JSON)')
    .requiredOption('-d, --data <file>', 'bars CSV of the config’s symbol and timeframe')
    .requiredOption(
      '-p, --param <key[=low:high[:int]]>',
      'a numeric config key to search (repeatable); bounds default to the schema’s, e.g. signals.ta.threshold or sizing.kellyFraction=0.1:0.5',
      collect,
      [],
    )
    .option(
      '--trials <n>',
      'total trials (a resumed run counts the ones already in trials.jsonl)',
      integer('--trials'),
      30,
    )
    .option('--seed <n>', 'seed of the search', integer('--seed'), 1)
    .option(
      '--workers <n>',
      'trials run at once on worker threads (default: one per core)',
      integer('--workers'),
      Math.max(1, cpus().length),
    )
    .option('--folds <n>', 'walk-forward test parts per trial', integer('--folds'), 4)
    .option('--mode <mode>', 'rolling or anchored', 'rolling')
    .option('--train-fraction <x>', 'share of the bars in the first training part', Number, 1 / 3)
    .option(
      '--train-until <time>',
      'instead of --train-fraction: the first training part ends before this time',
      parseTime,
    )
    .option('--purge <bars>', 'bars dropped between training and test', integer('--purge'), 0)
    .option(
      '--embargo <bars>',
      'further bars dropped between training and test (default ⌈1 % of the bars⌉)',
      integer('--embargo'),
    )
    .option('--from <time>', 'first bar to use (ISO date or epoch ms)', parseTime)
    .option('--until <time>', 'stop before this time (ISO date or epoch ms)', parseTime)
    .option(
      '-o, --out <dir>',
      'folder for trials.jsonl (resume by running again) and the best config',
      'out/research/optimize',
    )
    .action(
      async (opts: {
        config: string;
        data: string;
        param: string[];
        trials: number;
        seed: number;
        workers: number;
        folds: number;
        mode: string;
        trainFraction: number;
        trainUntil?: number;
        purge: number;
        embargo?: number;
        from?: number;
        until?: number;
        out: string;
      }) => {
        if (opts.mode !== 'rolling' && opts.mode !== 'anchored')
          throw new InvalidArgumentError(`--mode: expected rolling or anchored, found "${opts.mode}"`);
        const started = process.hrtime.bigint();
        const result = await runOptimize({
          configFile: opts.config,
          dataFile: opts.data,
          space: opts.param.map(parseDimension),
          trials: opts.trials,
          seed: opts.seed,
          workers: opts.workers,
          folds: opts.folds,
          mode: opts.mode,
          trainFraction: opts.trainFraction,
          ...(opts.trainUntil !== undefined ? { trainUntil: opts.trainUntil } : {}),
          purgeBars: opts.purge,
          ...(opts.embargo !== undefined ? { embargoBars: opts.embargo } : {}),
          ...(opts.from !== undefined ? { from: opts.from } : {}),
          ...(opts.until !== undefined ? { until: opts.until } : {}),
          outDir: opts.out,
          onProgress: (m) => process.stderr.write(`  ${m}\n`),
        });
        const minutes = Number(process.hrtime.bigint() - started) / 6e10;
        const ran = result.trials.length - result.resumedFrom;
        const b = result.best;
        const d = result.deflated;
        const summary = {
          best: b,
          deflatedSharpe: d,
          pbo: result.pbo,
          bootstrap: result.bootstrap,
          trials: result.trials.length,
          trialsPerMinute: ran > 0 ? ran / minutes : null,
          bestConfigFile: result.bestConfigFile,
          trialsFile: result.trialsFile,
        };
        writeJson(path.join(opts.out, 'result.json'), summary);
        process.stdout.write(
          `optimize: best of ${result.trials.length} trials is ${JSON.stringify(b.overrides)} (trial ${b.trial})\n` +
            `  out of sample: Sharpe ${b.objective.toFixed(3)}, return ${(b.outOfSampleReturn * 100).toFixed(2)} % vs buy & hold ${(b.buyAndHoldReturn * 100).toFixed(2)} %, max drawdown ${(b.maxDrawdown * 100).toFixed(2)} %\n` +
            `  probabilistic Sharpe ${d.probabilisticSharpe.toFixed(3)}, deflated Sharpe ${d.deflatedSharpe.toFixed(3)} (counting ${d.trials} trials)\n` +
            `  ${result.pbo ? `PBO ${result.pbo.pbo.toFixed(3)} over ${result.pbo.splits} CSCV splits of the ${result.pbo.candidates} trials` : 'PBO: needs at least 2 trials'}\n` +
            `  ${result.bootstrap ? `best trial's ${result.bootstrap.trades} round trips: 95 % bootstrap CI of return ${(result.bootstrap.totalReturnInterval.low * 100).toFixed(2)} % … ${(result.bootstrap.totalReturnInterval.high * 100).toFixed(2)} %, of max drawdown ${(result.bootstrap.maxDrawdownInterval.low * 100).toFixed(2)} % … ${(result.bootstrap.maxDrawdownInterval.high * 100).toFixed(2)} %` : 'too few round trips to bootstrap'}\n` +
            `  ${ran} trial(s) run at ${ran > 0 ? (ran / minutes).toFixed(2) : '-'} trials/minute\n` +
            `  best config: ${result.bestConfigFile}\n  trials: ${result.trialsFile}\n`,
        );
      },
    );

  research
    .command('evolve')
    .description(
      'genetic algorithm over the TA rule set (which rules, weights, threshold, feature parameters); each genome scored by the out-of-sample Sharpe of a walk-forward; writes the best config with the deflated Sharpe over all genomes',
    )
    .requiredOption('-c, --config <file>', 'pipeline config whose signals.ta.rules and features seed the search')
    .requiredOption('-d, --data <file>', 'bars CSV of the config’s symbol and timeframe')
    .option('--population <n>', 'genomes per generation', integer('--population'), 8)
    .option('--generations <n>', 'generations after the first', integer('--generations'), 4)
    .option('--seed <n>', 'seed of the search', integer('--seed'), 1)
    .option('--folds <n>', 'walk-forward test parts per genome', integer('--folds'), 4)
    .option('--mode <mode>', 'rolling or anchored', 'rolling')
    .option('--train-fraction <x>', 'share of the bars in the first training part', Number, 1 / 3)
    .option(
      '--train-until <time>',
      'instead of --train-fraction: the first training part ends before this time',
      parseTime,
    )
    .option('--from <time>', 'first bar to use (ISO date or epoch ms)', parseTime)
    .option('--until <time>', 'stop before this time (ISO date or epoch ms)', parseTime)
    .option('-o, --out <dir>', 'folder for result.json and the evolved config', 'out/research/evolve')
    .action(
      async (opts: {
        config: string;
        data: string;
        population: number;
        generations: number;
        seed: number;
        folds: number;
        mode: string;
        trainFraction: number;
        trainUntil?: number;
        from?: number;
        until?: number;
        out: string;
      }) => {
        if (opts.mode !== 'rolling' && opts.mode !== 'anchored')
          throw new InvalidArgumentError(`--mode: expected rolling or anchored, found "${opts.mode}"`);
        const result = await runEvolve({
          configFile: opts.config,
          dataFile: opts.data,
          population: opts.population,
          generations: opts.generations,
          seed: opts.seed,
          folds: opts.folds,
          mode: opts.mode,
          trainFraction: opts.trainFraction,
          ...(opts.trainUntil !== undefined ? { trainUntil: opts.trainUntil } : {}),
          ...(opts.from !== undefined ? { from: opts.from } : {}),
          ...(opts.until !== undefined ? { until: opts.until } : {}),
          outDir: opts.out,
          onProgress: (m) => process.stderr.write(`  ${m}\n`),
        });
        writeJson(path.join(opts.out, 'result.json'), result);
        const b = result.best;
        const d = result.deflated;
        process.stdout.write(
          `evolve: best of ${result.trials} genomes: ${(b.overrides['signals.ta.rules'] as unknown[]).length} rules, threshold ${String(b.overrides['signals.ta.threshold'])}\n` +
            `  out of sample: Sharpe ${b.objective.toFixed(3)}, return ${(b.outOfSampleReturn * 100).toFixed(2)} % vs buy & hold ${(b.buyAndHoldReturn * 100).toFixed(2)} %\n` +
            `  probabilistic Sharpe ${d.probabilisticSharpe.toFixed(3)}, deflated Sharpe ${d.deflatedSharpe.toFixed(3)} (counting ${d.trials} trials)\n` +
            `  ${result.pbo ? `PBO ${result.pbo.pbo.toFixed(3)} over ${result.pbo.splits} CSCV splits of the ${result.pbo.candidates} genomes` : 'PBO: needs at least 2 valid genomes'}\n` +
            `  ${result.bootstrap ? `best genome's ${result.bootstrap.trades} round trips: 95 % bootstrap CI of return ${(result.bootstrap.totalReturnInterval.low * 100).toFixed(2)} % … ${(result.bootstrap.totalReturnInterval.high * 100).toFixed(2)} %, of max drawdown ${(result.bootstrap.maxDrawdownInterval.low * 100).toFixed(2)} % … ${(result.bootstrap.maxDrawdownInterval.high * 100).toFixed(2)} %` : 'too few round trips to bootstrap'}\n` +
            `  best config: ${result.bestConfigFile}\n`,
        );
      },
    );
}
