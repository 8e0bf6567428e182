#!/usr/bin/env node
/**
 * `run-pipeline`: bot4's command line. Every command validates its inputs before it starts and
 * exits non-zero with a message naming what was wrong.
 */
// First: arms the kill switch's signal before the slow modules load (see earlySignal.ts).
import './earlySignal';
import { Command, InvalidArgumentError } from 'commander';
import * as path from 'node:path';
// Every command loads its modules when it runs, so `--help` loads only commander, a backtest
// never loads ccxt (~0.2 s) and only `train` loads brain.js's trainer.
import type * as WatchdogModule from '../hardware/watchdog';
import type * as BacktestModule from './backtest';
import type * as SelectTierModule from '../operators/selectTier';
import type { Tier } from '../operators/selectTier';
// `seal`, `backup` and `keys` register their commands here; they load only node built-ins up front.
import { registerSealCommand, SEALED_SUFFIX } from './sealCommand';
import { registerBackupCommands } from './backup';
import { registerRecordCommand } from './recordCommand';
import { loadCredentials, registerKeysCommand } from './keys';
import { ensureOutputDir } from './runOutput';
import { makeProgress, type ProgressStream } from './progress';
import type * as ValidateModule from './validate';
import type * as ConfigDocsModule from './configDocs';
import type * as ConfigModule from './config';
import type * as SealAuditModule from './sealAudit';
import { existsSync, readFileSync } from 'node:fs';
import type * as DashboardModule from './dashboard';
import { registerResearch } from './research';
import { registerRolesCommand } from './rolesCommand';
import type * as DoctorModule from './doctor';
import type * as DownloadModule from './download';
import type * as SessionModule from './session';
import type * as TrainModule from './train';
import type * as Rxjs from 'rxjs';
import type { KillSwitchKind, SessionMode } from './session';
import type { BacktestReport } from '../operators/backtestReport';
import { armSignal } from '../hardware/armSignal';
import { earlySignal } from './earlySignal';

const TIME_EXPECTED = 'expected an ISO date (2024-01-31), date-time (2024-01-31T12:00:00Z) or epoch ms (13 digits)';
import type { JournalLevel } from '../sinks/journal';

const JOURNAL_LEVELS: readonly JournalLevel[] = ['decisions', 'all'];

function parseJournalLevel(value: string): JournalLevel {
  if (!(JOURNAL_LEVELS as readonly string[]).includes(value))
    throw new InvalidArgumentError(`expected one of ${JOURNAL_LEVELS.join(', ')}, found "${value}"`);
  return value as JournalLevel;
}

function parseTime(value: string): number {
  if (/^\d{12,}$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value);
  if (/^\d{9,11}$/.test(value))
    throw new InvalidArgumentError(
      `${TIME_EXPECTED}, found ${value}, which looks like epoch seconds (${new Date(Number(value) * 1000).toISOString()}); write ${value}000 or the date`,
    );
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)
    ? Date.parse(
        /^\d{4}-\d{2}-\d{2}$/.test(value)
          ? `${value}T00:00:00Z`
          : /Z|[+-]\d{2}:?\d{2}$/.test(value)
            ? value
            : `${value}Z`,
      )
    : Number.NaN;
  if (!Number.isFinite(ms)) throw new InvalidArgumentError(`${TIME_EXPECTED}, found "${value}"`);
  return ms;
}

/** A whole number ≥ `min`, for options counted in units (bars, seconds). */
function wholeNumber(min: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value.trim()) || Number(value) < min)
      throw new InvalidArgumentError(`expected a whole number ≥ ${min}, found "${value}"`);
    return Number(value);
  };
}

/** Refuses a --from that is not before --until, naming both. */
function checkRange(from: number | undefined, until: number | undefined): void {
  if (from !== undefined && until !== undefined && from >= until)
    throw new InvalidArgumentError(
      `--from ${new Date(from).toISOString()} is not before --until ${new Date(until).toISOString()}: expected --from earlier than --until`,
    );
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)} %`;
}

export function formatReport(report: BacktestReport): string {
  const denied = Object.entries(report.ordersDenied);
  const rows: [string, string][] = [
    ['period', `${report.from ?? '-'} → ${report.to ?? '-'} (${report.bars} bars)`],
    ['equity', `${report.initialEquity.toFixed(2)} → ${report.finalEquity.toFixed(2)}`],
    ['return', pct(report.totalReturn)],
    ['buy & hold', pct(report.buyAndHoldReturn)],
    ['max drawdown', pct(report.maxDrawdown)],
    ['sharpe (annualised)', report.sharpe.toFixed(3)],
    ['trades (fills)', String(report.trades)],
    ['round trips', `${report.roundTrips}, win rate ${pct(report.winRate)}`],
    ['fees', report.fees],
    ['realized PnL (gross)', report.realizedPnl],
    ['exposure', pct(report.exposure)],
    ['signals', `long ${report.signals.long}, short ${report.signals.short}, flat ${report.signals.flat}`],
    ['orders denied by risk', denied.length ? denied.map(([k, v]) => `${k}×${v}`).join(', ') : 'none'],
    ['data', `${report.gaps} gaps (${report.missingBars} bars missing), ${report.deadLetters} bad rows/messages`],
    [
      'mode',
      `${report.mode.final} at the end (${report.mode.changes} changes)${report.ordersHalted ? `, ${report.ordersHalted} orders halted by the kill switch` : ''}`,
    ],
    [
      'open positions',
      Object.keys(report.finalPositions).length
        ? Object.entries(report.finalPositions)
            .map(([s, q]) => `${s} ${q}`)
            .join(', ')
        : 'none (flat)',
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
}

/** A backtest's report.json: the report with the run's config, data and model. */
type RunReport = BacktestModule.BacktestResult['report'];

/** Exit codes of every command (README "Exit codes"). */
export const EXIT_CODES = Object.freeze({
  /** Done as asked (validate: every config valid; doctor: no check failed). */
  ok: 0,
  /** Refused or failed: bad input (option, config, data, output folder), a problem found, or an error; the message says which. */
  failure: 1,
  /** Interrupted (SIGINT/SIGTERM) before the end: the message says what was kept. */
  interrupted: 130,
});

const EXIT_CODES_HELP = `
Exit codes: 0 done · 1 refused or failed (the message, or the JSON "error", says what and where) · 130 interrupted (what was kept is said).
Every command takes --json: one JSON document on stdout ({"ok": true, …} or {"ok": false, "error": {…}}); progress bars go to stderr, only on a terminal.`;

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}

/** What a backtest prints, and `report` prints again from the run's report.json. */
function printBacktest(report: RunReport, reportFile: string, journalFile: string): void {
  process.stdout.write(
    `backtest ${report.config.name} (config ${report.config.hash}) on ${report.data.series.map((d) => path.basename(d.file)).join(', ')}\n`,
  );
  if (report.model) {
    process.stdout.write(
      `  ML model ${report.model.id}: out-of-sample accuracy ${pct(report.model.oosAccuracy)}, trained until ${report.model.trainedUntil} (earlier bars get no ML signal)\n`,
    );
  }
  process.stdout.write(`${formatReport(report)}\n`);
  process.stdout.write(`  report: ${reportFile}\n  journal: ${journalFile} (${report.journal.lines} lines)\n`);
}

/** A past backtest's report.json, checked to be one before it is printed. */
export function readBacktestReport(dir: string): { report: RunReport; reportFile: string; journalFile: string } {
  const reportFile = path.resolve(dir, 'report.json');
  let text: string;
  try {
    text = readFileSync(reportFile, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(
      `<out-dir> ${dir}: expected a backtest output folder holding report.json, found ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no report.json' : (err as Error).message}`,
    );
  }
  let report: RunReport;
  try {
    report = JSON.parse(text) as RunReport;
  } catch (err) {
    throw new InvalidArgumentError(`${reportFile}: expected JSON, found ${(err as Error).message}`);
  }
  const missing = ['config', 'data', 'bars', 'initialEquity', 'finalEquity', 'journal'].filter(
    (key) => !(report && typeof report === 'object' && key in report),
  );
  if (missing.length > 0)
    throw new InvalidArgumentError(
      `${reportFile}: expected a backtest report (keys config, data, bars, initialEquity, finalEquity, journal), found none of ${missing.join(', ')}`,
    );
  return { report, reportFile, journalFile: path.resolve(dir, 'journal.jsonl') };
}

export function buildCli(): Command {
  const program = new Command('run-pipeline')
    .description('bot4: backtest, paper-trade or trade the pipeline; train its ML model; download history')
    .helpOption('-h, --help', 'show help for a command: run-pipeline <command> --help')
    .showHelpAfterError()
    .addHelpText('after', EXIT_CODES_HELP)
    .configureOutput({ outputError: (text, write) => write(text) });

  program
    .command('backtest')
    .description('replay historical bars through the pipeline in virtual time against the paper venue')
    .requiredOption('-c, --config <file>', 'pipeline config (YAML or JSON), e.g. config/growth.yaml')
    .requiredOption(
      '-d, --data <file>',
      'bars CSV: timestamp_ms,open,high,low,close,volume (see `download`); repeat it, or give a folder, for a universe (files matched by name, e.g. BTCUSDT_5m, or SYMBOL=file)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option(
      '-o, --out <dir>',
      'folder for journal.jsonl and report.json (default: out/<config name>); written when the run ends, so an interrupted run keeps the previous one',
    )
    .option('--from <time>', 'first bar to use (ISO date or epoch ms)', parseTime)
    .option('--until <time>', 'stop before this time (ISO date or epoch ms)', parseTime)
    .option(
      '--symbol <symbol>',
      "what the data file holds, for a file without a header line (must be the config's symbol)",
    )
    .option('--timeframe <tf>', "the data file's timeframe, for a file without a header line (must be the config's)")
    .option(
      '--keep-outliers',
      "run on data with outlier rows (bad ticks) instead of refusing it; they are listed as warnings, and the pipeline treats them as a live feed's bad ticks (dead letters, counted in the report)",
    )
    .option(
      '--kill-at <time>',
      'fire drill: simulate a kill-switch press at this time; the run must end flat',
      parseTime,
    )
    .option(
      '--journal-level <level>',
      "decisions: orders, fills, risk and mode events, signals that changed direction; all: every signal (default: the config's journal.level, else decisions)",
      parseJournalLevel,
    )
    .option(
      '--intel <file>',
      'intelligence recorded by `record` (JSONL), replayed as of each bar; repeat for several files',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option('-q, --quiet', 'no progress bar')
    .option('--json', 'print the result (the report, file paths, seconds) as JSON on stdout')
    .action(
      async (opts: {
        json?: boolean;
        config: string;
        data: string[];
        intel?: string[];
        out?: string;
        from?: number;
        until?: number;
        killAt?: number;
        journalLevel?: JournalLevel;
        quiet?: boolean;
        symbol?: string;
        timeframe?: string;
        keepOutliers?: boolean;
      }) => {
        checkRange(opts.from, opts.until);
        const started = process.hrtime.bigint();
        const abort = new AbortController();
        const onSignal = (): void => abort.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const { runBacktest } = require('./backtest') as typeof BacktestModule;
        const progress = makeProgress({
          stream: opts.quiet || opts.json ? ({} as ProgressStream) : process.stderr,
          label: 'backtest',
        });
        const result = await runBacktest({
          configFile: opts.config,
          dataFile: opts.data,
          signal: abort.signal,
          onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
          requireDataIdentity: true,
          ...(opts.symbol !== undefined ? { statedSymbol: opts.symbol } : {}),
          ...(opts.timeframe !== undefined ? { statedTimeframe: opts.timeframe } : {}),
          ...(opts.keepOutliers ? { keepOutliers: true } : {}),
          ...(opts.intel ? { intelFiles: opts.intel } : {}),
          ...(opts.out ? { outDir: opts.out } : {}),
          ...(opts.from !== undefined ? { from: opts.from } : {}),
          ...(opts.until !== undefined ? { until: opts.until } : {}),
          ...(opts.killAt !== undefined ? { killAt: opts.killAt } : {}),
          ...(opts.journalLevel !== undefined ? { journalLevel: opts.journalLevel } : {}),
          onProgress: (done: number, bar: { tsEvent: number }) =>
            progress.update(done, new Date(bar.tsEvent).toISOString().slice(0, 16)),
        }).finally(() => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          progress.done();
        });
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        if (opts.json) {
          printJson({
            ok: true,
            command: 'backtest',
            report: result.report,
            reportFile: result.reportFile,
            journalFile: result.journalFile,
            seconds,
          });
          return;
        }
        printBacktest(result.report, result.reportFile, result.journalFile);
        if (result.htmlFile) process.stdout.write(`  page: ${result.htmlFile}\n`);
        process.stdout.write(`  took ${seconds.toFixed(2)} s\n`);
      },
    );

  registerRecordCommand(program);

  program
    .command('report')
    .description('print a past backtest again from its output folder (report.json), as the backtest printed it')
    .argument('<out-dir>', 'a backtest --out folder (default folders are out/<config name>)')
    .option('--json', 'print report.json as JSON')
    .action((dir: string, opts: { json?: boolean }) => {
      const { report, reportFile, journalFile } = readBacktestReport(dir);
      if (opts.json) {
        printJson({ ok: true, command: 'report', report, reportFile, journalFile });
        return;
      }
      printBacktest(report, reportFile, journalFile);
      const page = path.resolve(dir, 'report.html');
      if (existsSync(page)) process.stdout.write(`  page: ${page}\n`);
    });

  program
    .command('validate')
    .description(
      'check configs without running anything: every problem at once, each with file:line, the key, what was expected and what was found',
    )
    .argument('<config...>', 'pipeline configs (YAML, JSON, or sealed with BOT4_SEAL_KEY set)')
    .option('--json', 'print the results as JSON')
    .action((files: string[], opts: { json?: boolean }) => {
      const { validateConfigs, formatValidation } = require('./validate') as typeof ValidateModule;
      const results = validateConfigs(files);
      const ok = results.every((r: ValidateModule.ValidationResult) => r.ok);
      if (opts.json) printJson({ ok, command: 'validate', results });
      else process.stdout.write(`${formatValidation(results)}\n`);
      if (!ok) process.exitCode = EXIT_CODES.failure;
    });

  program
    .command('train')
    .description('train the ML signal model on historical bars (time-ordered split) and save a versioned model file')
    .requiredOption('-c, --config <file>', 'pipeline config whose signals.ml.training describes the model')
    .requiredOption('-d, --data <file>', 'bars CSV to learn from')
    .option('-o, --out <file>', "model file to write (default: the config's signals.ml.model)")
    .option('--until <time>', 'use only bars before this time, keeping later ones unseen for backtests', parseTime)
    .option('--json', 'print the model file, its id, metrics and training range as JSON')
    .option(
      '--symbol <symbol>',
      "what the data file holds, for a file without a header line whose name does not say (must be the config's symbol)",
    )
    .option('--timeframe <tf>', "the data file's timeframe, for a file without a header line (must be the config's)")
    .option(
      '--keep-outliers',
      'train on data with outlier rows (bad ticks) instead of refusing it; the rows are listed as warnings and trained on as they are',
    )
    .action(
      async (opts: {
        config: string;
        data: string;
        out?: string;
        until?: number;
        json?: boolean;
        symbol?: string;
        timeframe?: string;
        keepOutliers?: boolean;
      }) => {
        // A clear error for an unusable folder, before hours of training (and no recursive-mkdir hang).
        if (opts.out !== undefined)
          ensureOutputDir(path.dirname(path.resolve(opts.out)), `--out ${opts.out}: its folder`);
        const { runTrain } = require('./train') as typeof TrainModule;
        const result = await runTrain({
          configFile: opts.config,
          dataFile: opts.data,
          ...(opts.out ? { out: opts.out } : {}),
          ...(opts.until !== undefined ? { until: opts.until } : {}),
          ...(opts.symbol !== undefined ? { statedSymbol: opts.symbol } : {}),
          ...(opts.timeframe !== undefined ? { statedTimeframe: opts.timeframe } : {}),
          ...(opts.keepOutliers ? { keepOutliers: true } : {}),
          requireDataIdentity: true,
          onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
          onProgress: (message) => process.stderr.write(`  ${message}\n`),
        });
        const { model } = result;
        if (opts.json) {
          printJson({
            ok: true,
            command: 'train',
            file: result.file,
            previous: result.previous ?? null,
            id: model.id,
            metrics: model.metrics,
            training: model.training,
          });
          return;
        }
        process.stdout.write(
          `model ${model.id} written to ${result.file}${result.previous ? ` (previous model kept as ${result.previous})` : ''}\n` +
            `  out-of-sample accuracy ${pct(model.metrics.oosAccuracy)} on ${model.training.testSamples} samples ` +
            `(share of up moves ${pct(model.metrics.oosBaseRate)}; log loss ${model.metrics.oosLogLoss.toFixed(4)})\n` +
            `  trained on ${new Date(model.training.from).toISOString()} → ${new Date(model.training.to).toISOString()}; ` +
            `backtests before ${new Date(model.training.to).toISOString()} get no ML signal unless signals.ml.allowInSample\n`,
        );
      },
    );

  for (const mode of ['paper', 'live'] as const) {
    const command = program
      .command(mode)
      .description(
        mode === 'paper'
          ? 'trade live market data (ccxt.pro) against the paper exchange simulator: no real orders'
          : 'trade for real through ccxt: needs BOT4_API_KEY / BOT4_API_SECRET in the environment and --confirm-live',
      )
      .requiredOption('-c, --config <file>', 'pipeline config (YAML or JSON)')
      .option('-o, --out <dir>', `folder for journal.jsonl and audit.jsonl (default: out/<config name>/${mode})`)
      .option('--kill-switch <kind>', 'gpio (button on BCM17), signal (SIGUSR2), both, none', 'signal')
      .option('--leds', 'drive the status LEDs on BCM22/23/24')
      .option(
        '--warmup-bars <n>',
        'recent bars to warm up on before trading (default: what the config needs)',
        wholeNumber(0),
      )
      .option('--status-every <seconds>', 'status line period', wholeNumber(1), 60)
      .option('--api-url <url>', "REST origin replacing the exchange's (testnet, proxy)")
      .option('--ws-url <url>', "WebSocket origin replacing the exchange's")
      .option('--ccxt-options <json>', 'extra ccxt options, as JSON (advanced)')
      .option(
        '--lock-dir <dir>',
        'folder of the per-account locks (one live session per exchange account); default $BOT4_LOCK_DIR or <tmpdir>/bot4-locks',
      )
      .option('--metrics-port <port>', 'serve Prometheus /metrics on this port (0: a free one)', parsePort)
      .option('--metrics-host <address>', 'address for /metrics (default 127.0.0.1: this machine only)')
      .option('--dashboard [port]', 'serve the read-only dashboard on 127.0.0.1 (default port 8464; 0: a free one)')
      .option('--json', "print the session's summary as JSON on stdout when it ends (the log stays on stderr)");
    if (mode === 'live') {
      command
        .option('--confirm-live', 'I understand this sends real orders with real money')
        .option(
          '--allow-unsealed',
          'accept a config that is not sealed (testnets, tests); recorded in the audit journal',
        );
    }
    command.action(
      async (opts: {
        config: string;
        out?: string;
        killSwitch: string;
        leds?: boolean;
        warmupBars?: number;
        statusEvery: number;
        apiUrl?: string;
        wsUrl?: string;
        ccxtOptions?: string;
        confirmLive?: boolean;
        lockDir?: string;
        allowUnsealed?: boolean;
        metricsPort?: number;
        metricsHost?: string;
        dashboard?: boolean | string;
        json?: boolean;
      }) => {
        // Live trades only a sealed config (spec §3.6) unless told otherwise, out loud.
        // (After --confirm-live: the session says first that live trading needs it.)
        if (mode === 'live' && opts.confirmLive && !opts.config.endsWith(SEALED_SUFFIX)) {
          if (!opts.allowUnsealed) {
            throw new InvalidArgumentError(
              `--config ${opts.config}: live sessions run sealed configs only — seal it with \`run-pipeline seal ${opts.config}\` (BOT4_SEAL_KEY), wait out its cooldown, and pass ${opts.config}${SEALED_SUFFIX}; --allow-unsealed overrides this for testnets`,
            );
          }
          process.stderr.write(
            `warning: live session on an unsealed config (${opts.config}), as --allow-unsealed asked\n`,
          );
        }
        const dashboardPort =
          opts.dashboard === undefined ? undefined : opts.dashboard === true ? 8464 : parsePort(String(opts.dashboard));
        const kinds = ['gpio', 'signal', 'both', 'none'];
        if (!kinds.includes(opts.killSwitch))
          throw new InvalidArgumentError(
            `--kill-switch: expected one of ${kinds.join(', ')}, found "${opts.killSwitch}"`,
          );
        let ccxtOptions: Record<string, unknown> | undefined;
        if (opts.ccxtOptions !== undefined) {
          try {
            ccxtOptions = JSON.parse(opts.ccxtOptions) as Record<string, unknown>;
          } catch (err) {
            throw new InvalidArgumentError(
              `--ccxt-options: expected JSON, found ${JSON.stringify(opts.ccxtOptions)} (${(err as Error).message})`,
            );
          }
        }
        // The kill switch's signal is armed before anything slow (loading ccxt, locks, warm-up):
        // a press from now on is latched and the session starts in Emergency. Without a switch,
        // SIGUSR2 is absorbed and reported, never node's default (terminate).
        const usr2 = earlySignal ?? armSignal('SIGUSR2');
        const armed = opts.killSwitch === 'signal' || opts.killSwitch === 'both' ? usr2 : undefined;
        const ignoreUsr2 = (): void => {
          process.stderr.write(
            `SIGUSR2 ignored: --kill-switch ${opts.killSwitch} (no software kill switch in this session)\n`,
          );
        };
        if (!armed) usr2.on('SIGUSR2', ignoreUsr2);
        const { Subject } = require('rxjs') as typeof Rxjs;
        // The appliance's watchdog (config/systemd/bot4.service sets it): a hung event loop aborts.
        const watchdogMs = process.env['BOT4_WATCHDOG_MS'];
        if (watchdogMs !== undefined && !(Number(watchdogMs) > 0)) {
          throw new InvalidArgumentError(`BOT4_WATCHDOG_MS: expected a positive number of ms, found "${watchdogMs}"`);
        }
        const watchdog = watchdogMs
          ? (require('../hardware/watchdog') as typeof WatchdogModule).startWatchdog({ timeoutMs: Number(watchdogMs) })
          : undefined;
        const stop$ = new Subject<void>();
        const onStop = (signal: string) => () => {
          process.stderr.write(`\n${signal}: stopping — settling orders in flight, flushing the journals\n`);
          stop$.next();
        };
        const onInt = onStop('SIGINT');
        const onTerm = onStop('SIGTERM');
        const onHup = onStop('SIGHUP');
        process.once('SIGINT', onInt);
        process.once('SIGTERM', onTerm);
        process.once('SIGHUP', onHup);
        // Credentials: the environment first, else the keystore (BOT4_KEYSTORE); never logged.
        const credentials =
          mode === 'live'
            ? await loadCredentials({ warn: (line) => process.stderr.write(`${line}\n`) })
            : ({} as Awaited<ReturnType<typeof loadCredentials>>);
        const apiKey = credentials.BOT4_API_KEY;
        const secret = credentials.BOT4_API_SECRET;
        const password = credentials.BOT4_API_PASSWORD;
        try {
          // The session's folder is checked before anything starts, given or not (the default is
          // out/<config name>/<mode>): a clear error for an unusable path, never a raw errno or a hang.
          const loaded = (require('./config') as typeof ConfigModule).loadConfig(opts.config);
          const outDir = opts.out ?? path.join('out', loaded.name, mode);
          ensureOutputDir(outDir, opts.out !== undefined ? '--out' : `the default --out (out/<config name>/${mode})`);
          // Every change of the config this folder's sessions run, and every unsealed live run, is audited.
          const sealed = opts.config.endsWith(SEALED_SUFFIX);
          const sealHeader = sealed
            ? (JSON.parse(readFileSync(opts.config, 'utf8')) as { sealedAt?: string; activeFrom?: string })
            : {};
          const inForce = (require('./sealAudit') as typeof SealAuditModule).auditConfigInForce(
            outDir,
            {
              mode,
              name: loaded.name,
              hash: loaded.hash,
              file: opts.config,
              sealed,
              ...(sealHeader.sealedAt ? { sealedAt: sealHeader.sealedAt, activeFrom: sealHeader.activeFrom } : {}),
              ...(mode === 'live' && !sealed && opts.allowUnsealed ? { allowUnsealed: true } : {}),
            },
            Date.now(),
          );
          if (inForce)
            process.stderr.write(
              `audit: config ${inForce.name} (${inForce.hash}${inForce.sealed ? `, sealed ${inForce.sealedAt}` : ', not sealed'}) in force${inForce.previousHash ? ` (was ${inForce.previousHash})` : ''}\n`,
            );
          const { runSession } = require('./session') as typeof SessionModule;
          const summary = await runSession({
            mode: mode as SessionMode,
            configFile: opts.config,
            log: process.stderr,
            stop$,
            outDir,
            killSwitch: opts.killSwitch as KillSwitchKind,
            leds: opts.leds === true,
            statusEveryMs: opts.statusEvery * 1000,
            ...(opts.warmupBars !== undefined ? { warmupBars: opts.warmupBars } : {}),
            ...(opts.apiUrl !== undefined ? { apiUrl: opts.apiUrl } : {}),
            ...(opts.wsUrl !== undefined ? { wsUrl: opts.wsUrl } : {}),
            ...(ccxtOptions ? { ccxtOptions } : {}),
            ...(opts.metricsPort !== undefined ? { metricsPort: opts.metricsPort } : {}),
            ...(opts.metricsHost !== undefined ? { metricsHost: opts.metricsHost } : {}),
            ...(dashboardPort !== undefined ? { dashboardPort } : {}),
            ...(mode === 'live' ? { confirmLive: opts.confirmLive === true } : {}),
            ...(armed ? { signalEmitter: armed } : {}),
            ...((opts.lockDir ?? process.env['BOT4_LOCK_DIR'])
              ? { lockDir: opts.lockDir ?? process.env['BOT4_LOCK_DIR'] }
              : {}),
            ...(mode === 'live' && apiKey && secret
              ? { credentials: { apiKey, secret, ...(password ? { password } : {}) } }
              : {}),
          });
          if (opts.json) {
            printJson({ ok: true, command: mode, summary });
            return;
          }
          process.stdout.write(
            `${mode} session ${summary.config.name} ended: ${summary.warmupBars} warm-up bars, ${summary.liveBars} live bars, ` +
              `${summary.orders} orders, ${summary.fills} fills, ${summary.denied} denied by risk; mode ${summary.finalMode}; ` +
              `equity ${summary.equity.toFixed(2)}; positions ${
                Object.keys(summary.positions).length
                  ? Object.entries(summary.positions)
                      .map(([k, v]) => `${k} ${v}${summary.dust[k] !== undefined ? ` (dust ${summary.dust[k]})` : ''}`)
                      .join(', ')
                  : 'none'
              }\n` +
              `  journal: ${summary.journal}\n  audit: ${summary.audit}\n` +
              `  previous session: ${summary.previous}` +
              (summary.restartToFirstDecisionMs !== undefined
                ? `; first live decision ${(summary.restartToFirstDecisionMs / 1000).toFixed(2)} s after start`
                : '') +
              (summary.pressToFlattenMs !== undefined
                ? `; flatten ${summary.pressToFlattenMs.toFixed(3)} ms after the kill-switch press`
                : '') +
              '\n',
          );
        } finally {
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
          process.off('SIGHUP', onHup);
          usr2.disarm();
          await watchdog?.stop();
        }
      },
    );
  }

  program
    .command('mode-reset')
    .description(
      "leave a latched Emergency (kill switch, emergency stop): audited in the session's journals; only while the switch is released and no session runs on --out",
    )
    .requiredOption('-o, --out <dir>', 'the session folder (the --out of the paper/live session)')
    .requiredOption('-r, --reason <text>', 'why it is safe to trade again (written to the audit journal)')
    .option('--kill-switch <kind>', 'the switch to check is released: gpio (BCM17), signal, both, none', 'signal')
    .option('--json', 'print the result as JSON')
    .action((opts: { out: string; reason: string; killSwitch: string; json?: boolean }) => {
      const kinds = ['gpio', 'signal', 'both', 'none'];
      if (!kinds.includes(opts.killSwitch))
        throw new InvalidArgumentError(
          `--kill-switch: expected one of ${kinds.join(', ')}, found "${opts.killSwitch}"`,
        );
      const { resetMode } = require('./session') as typeof SessionModule;
      const result = resetMode({
        outDir: opts.out,
        reason: opts.reason,
        killSwitch: opts.killSwitch as KillSwitchKind,
      });
      if (opts.json) printJson({ ok: true, command: 'mode-reset', ...result });
      else process.stdout.write(`${result.message}\n`);
    });

  program
    .command('dashboard')
    .description("serve a session's read-only dashboard (PnL, positions, risk, mode, breakers, audit) on 127.0.0.1")
    .requiredOption('-o, --out <dir>', 'the session folder (holds journal.jsonl and audit.jsonl)')
    .option('--port <port>', 'port (0: a free one)', parsePort, 8464)
    .option('--host <address>', 'address to bind (default 127.0.0.1: this machine only)')
    .action(async (opts: { out: string; port: number; host?: string }) => {
      const { Subject } = require('rxjs') as typeof Rxjs;
      const stop$ = new Subject<void>();
      const stop = (): void => stop$.next();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const { runDashboard } = require('./dashboard') as typeof DashboardModule;
        await runDashboard({
          outDir: opts.out,
          port: opts.port,
          ...(opts.host !== undefined ? { host: opts.host } : {}),
          stop$,
          log: (line) => process.stderr.write(`${line}\n`),
        });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });

  program
    .command('download')
    .description(
      'download historical bars with ccxt fetchOHLCV (paged, resumable, with progress) into a CSV for backtest/train',
    )
    .requiredOption('-e, --exchange <id>', 'ccxt exchange id, e.g. binance, kraken, coinbase, bybit, okx')
    .requiredOption('-s, --symbol <symbol>', 'unified symbol, e.g. BTC/USDT')
    .requiredOption('-t, --timeframe <tf>', 'bar timeframe: 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d')
    .requiredOption(
      '--since <time>',
      'first bar (ISO date/time, UTC, or epoch ms); ignored when --out already holds bars (resume)',
    )
    .requiredOption('-o, --out <file>', 'CSV to create, or to continue after its last complete row')
    .option('--until <time>', 'end of the range, exclusive (default: now)')
    .option('--limit <n>', "bars per request (default: the exchange's maximum)")
    .option('--api-url <url>', "REST base URL replacing the exchange's (testnet, proxy)")
    .option('--json', 'print the summary as JSON on stdout (progress lines stay on stderr)')
    .action(
      async (opts: {
        json?: boolean;
        exchange: string;
        symbol: string;
        timeframe: string;
        since: string;
        out: string;
        until?: string;
        limit?: string;
        apiUrl?: string;
      }) => {
        const abort = new AbortController();
        const onSignal = (): void => abort.abort();
        process.once('SIGINT', onSignal);
        try {
          ensureOutputDir(path.dirname(path.resolve(opts.out)), `--out ${opts.out}: its folder`);
          const { runDownload } = require('./download') as typeof DownloadModule;
          const summary = await runDownload(
            {
              exchange: opts.exchange,
              symbol: opts.symbol,
              timeframe: opts.timeframe,
              since: opts.since,
              out: opts.out,
              ...(opts.until !== undefined ? { until: opts.until } : {}),
              ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
              ...(opts.apiUrl !== undefined ? { apiUrl: opts.apiUrl } : {}),
            },
            { progress: process.stderr, signal: abort.signal },
          );
          if (opts.json) printJson({ ok: !summary.aborted, command: 'download', summary });
          if (summary.aborted) process.exitCode = EXIT_CODES.interrupted;
        } finally {
          process.off('SIGINT', onSignal);
        }
      },
    );

  program
    .command('doctor')
    .description(
      'check what a session needs before it starts: config, GPIO, button, LEDs, clock (NTP), disk, keys, exchange',
    )
    .option('-c, --config <file>', 'pipeline config to validate (its venue and symbol are checked too)')
    .option('--mode <mode>', 'the session to prepare for: paper or live (live also needs API keys)', 'paper')
    .option('-o, --out <dir>', 'where the session will write its journals (disk space is checked there)', 'out')
    .option('--min-free-mb <n>', 'free disk space required, MiB', '1024')
    .option('--exchange <id>', "ccxt exchange id (default: the config's venue, else binance)")
    .option('--api-url <url>', "REST base URL replacing the exchange's (testnet, local server)")
    .option('--ntp-server <host[:port]>', 'NTP server for the clock check, or none', 'pool.ntp.org')
    .option('--max-clock-offset <ms>', 'largest clock offset accepted, ms', '1000')
    .option('--timeout <ms>', 'network timeout per check, ms', '5000')
    .option('--yes', 'answer yes to the LED questions (the pins are still read back)')
    .option('--skip-leds', 'skip the LED self-test')
    .option('--gpio-mock <board>', 'use rpio mock mode with this board (e.g. raspi-3) instead of real GPIO')
    .option('--json', 'print the results as JSON on stdout')
    .action(
      async (opts: {
        config?: string;
        mode: string;
        out: string;
        minFreeMb: string;
        exchange?: string;
        apiUrl?: string;
        ntpServer: string;
        maxClockOffset: string;
        timeout: string;
        yes?: boolean;
        skipLeds?: boolean;
        gpioMock?: string;
        json?: boolean;
      }) => {
        if (opts.mode !== 'paper' && opts.mode !== 'live') {
          throw new InvalidArgumentError(`--mode: expected paper or live, found "${opts.mode}"`);
        }
        const number = (option: string, value: string): number => {
          const n = Number(value);
          if (!Number.isFinite(n) || n <= 0) {
            throw new InvalidArgumentError(`${option}: expected a positive number, found "${value}"`);
          }
          return n;
        };
        const { runDoctor, formatDoctor } = require('./doctor') as typeof DoctorModule;
        const results = await runDoctor({
          mode: opts.mode,
          out: opts.out,
          minFreeMb: number('--min-free-mb', opts.minFreeMb),
          ntpServer: opts.ntpServer,
          maxClockOffsetMs: number('--max-clock-offset', opts.maxClockOffset),
          timeoutMs: number('--timeout', opts.timeout),
          yes: opts.yes === true,
          skipLeds: opts.skipLeds === true,
          ...(opts.config !== undefined ? { config: opts.config } : {}),
          ...(opts.exchange !== undefined ? { exchange: opts.exchange } : {}),
          ...(opts.apiUrl !== undefined ? { apiUrl: opts.apiUrl } : {}),
          ...(opts.gpioMock !== undefined
            ? { gpioMock: opts.gpioMock as DoctorModule.DoctorOptions['gpioMock'] & string }
            : {}),
          log: () => undefined,
        });
        process.stdout.write(
          opts.json
            ? `${JSON.stringify({ ok: !results.some((r) => r.status === 'fail'), results }, null, 2)}\n`
            : `${formatDoctor(results)}\n`,
        );
        if (results.some((r) => r.status === 'fail')) process.exitCode = 1;
      },
    );

  program
    .command('tiers')
    .description('show which capital tier an equity selects (spec §3.5: floors and 20 % hysteresis)')
    .argument('<equity>', 'account equity in the quote currency, e.g. 12000')
    // The names as in operators/selectTier's TIERS, written out: that module loads rxjs.
    .option(
      '--current <tier>',
      'the tier in force now (survival, growth, acceleration, institutional, whale): applies the hysteresis',
    )
    .option('--json', 'print JSON')
    .action((equityText: string, opts: { current?: string; json?: boolean }) => {
      const { nextTier, SPEC_TIER_FLOORS, SURVIVAL_MINIMUM, TIERS, tierFor } =
        require('../operators/selectTier') as typeof SelectTierModule;
      const equity = Number(equityText);
      if (!Number.isFinite(equity) || equity < 0) {
        throw new InvalidArgumentError(`<equity>: expected a number ≥ 0, found "${equityText}"`);
      }
      if (opts.current !== undefined && !TIERS.includes(opts.current as Tier)) {
        throw new InvalidArgumentError(`--current: expected one of ${TIERS.join(', ')}, found "${opts.current}"`);
      }
      const step = opts.current ? nextTier(opts.current as Tier, equity) : { tier: tierFor(equity), reason: '' };
      const result = {
        equity,
        tier: step.tier,
        ...(opts.current ? { current: opts.current, changed: step.tier !== opts.current } : {}),
        reason: step.reason || `equity ${equity} selects ${step.tier}`,
        belowMinimum: equity < SURVIVAL_MINIMUM,
        floors: SPEC_TIER_FLOORS,
      };
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      const rows = TIERS.map((t, i) => {
        const next = TIERS[i + 1];
        const range = next ? `${SPEC_TIER_FLOORS[t]} – ${SPEC_TIER_FLOORS[next]}` : `≥ ${SPEC_TIER_FLOORS[t]}`;
        return `  ${t === step.tier ? '▶' : ' '} ${t.padEnd(13)} ${range}${t === opts.current && t !== step.tier ? '  (current)' : ''}`;
      });
      process.stdout.write(
        `${rows.join('\n')}\n${opts.current && step.tier === opts.current ? `stays ${step.tier} (inside the 20 % band)` : result.reason}${result.belowMinimum ? `; below the ${SURVIVAL_MINIMUM} minimum of the Survival tier` : ''}\n`,
      );
    });

  program
    .command('config-keys')
    .description(
      "print every config key with its type, bounds and description, generated from the schema (the README's table)",
    )
    .option('--readme <file>', 'rewrite the table in this README between its config-keys markers')
    .option('--json', 'print the keys as JSON')
    .action((opts: { readme?: string; json?: boolean }) => {
      const { runConfigKeys } = require('./configDocs') as typeof ConfigDocsModule;
      const result = runConfigKeys({
        repoRoot: path.resolve(__dirname, '..', '..'),
        ...(opts.readme !== undefined ? { readme: opts.readme } : {}),
      });
      if (opts.json)
        printJson({ ok: true, command: 'config-keys', keys: result.docs, written: result.written ?? null });
      else
        process.stdout.write(
          result.written ? `${result.docs.length} keys written to ${result.written}\n` : `${result.markdown}\n`,
        );
    });

  registerKeysCommand(program);
  registerSealCommand(program);
  registerBackupCommands(program);

  registerResearch(program, parseTime);
  registerRolesCommand(program, parseTime);
  return program;
}

async function main(): Promise<void> {
  try {
    await buildCli().parseAsync(process.argv);
  } catch (err) {
    const e = err as Error & { code?: string; problems?: unknown; file?: string };
    process.stderr.write(`run-pipeline: ${e.message}\n`);
    process.exitCode =
      e.code === 'commander.helpDisplayed' || e.code === 'commander.version'
        ? EXIT_CODES.ok
        : e.code === 'INTERRUPTED'
          ? EXIT_CODES.interrupted
          : EXIT_CODES.failure;
    // A script asked for JSON: the failure is JSON on stdout too (the message stays on stderr).
    if (process.argv.includes('--json') && process.exitCode !== EXIT_CODES.ok)
      printJson({
        ok: false,
        error: {
          code: e.code ?? e.name,
          message: e.message,
          ...(e.file !== undefined ? { file: e.file } : {}),
          ...(e.problems !== undefined ? { problems: e.problems } : {}),
        },
      });
  }
}

if (require.main === module) void main();

/** A TCP port, 0 (any free one) to 65535. */
function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError(`expected a port number 0..65535, found "${value}"`);
  return port;
}
