/**
 * Backtest mode: the trading pipeline over historical bars, in virtual time, against the paper
 * venue. Writes a JSONL journal of every decision and a JSON report.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  NEVER,
  VirtualTimeScheduler,
  concat,
  filter,
  fromEvent,
  lastValueFrom,
  map,
  of,
  takeUntil,
  tap,
  timer,
} from 'rxjs';
import { buildLayout } from '../operators/computeFeatures';
import { ruleLabel } from '../operators/taSignal';
import { ReportBuilder, type BacktestReport } from '../operators/backtestReport';
import { executeOrders } from '../operators/executeOrders';
import type { Bar } from '../operators/types';
import { makeBarReplaySource, readBarFile } from '../sources/csvBars';
import { makeJournalSink } from '../sinks/journal';
import { loadConfig, type PipelineConfig } from './config';
import { loadModelFor } from './model';
import { RunFiles, RunOutputError, ensureOutputDir, flushInSlices } from './runOutput';
import { acceptingBooks, tradingPipeline, type PipelineEvent } from './tradingPipeline';

export interface BacktestOptions {
  readonly configFile: string;
  readonly dataFile: string;
  /** Folder for journal.jsonl and report.json. Default `out/<config name>`. */
  readonly outDir?: string;
  /** Only bars opening at or after this time (ms). */
  readonly from?: number;
  /** Only bars opening before this time (ms). */
  readonly until?: number;
  /**
   * Simulate a kill-switch press at this event time (ms): a fire drill. The run must end flat with
   * no risk-increasing order after the press.
   */
  readonly killAt?: number;
  /** Called about every 5 % of the bars with the share done (0..1). */
  readonly onProgress?: (done: number, bar: Bar) => void;
  /** What the user says the data file holds (`--symbol`, `--timeframe`), checked against file and config. */
  readonly statedSymbol?: string;
  readonly statedTimeframe?: string;
  /** Keep outlier rows instead of refusing the data (`--keep-outliers`). */
  readonly keepOutliers?: boolean;
  /** Warnings about the data that do not stop the run (no header line, price scale). */
  readonly onWarning?: (message: string) => void;
  /**
   * Aborting stops the run between slices of bars; the run then rejects with a RunOutputError
   * `INTERRUPTED` saying what the output folder still holds (the previous run's files).
   */
  readonly signal?: AbortSignal;
}

export interface BacktestResult {
  readonly report: BacktestReport & {
    readonly config: { readonly file: string; readonly name: string; readonly hash: string; readonly tier: string };
    readonly data: { readonly file: string; readonly symbol: string; readonly timeframe: string };
    readonly model: { readonly id: string; readonly trainedUntil: string; readonly oosAccuracy: number } | null;
    readonly journal: { readonly file: string; readonly lines: number };
  };
  readonly reportFile: string;
  readonly journalFile: string;
}

export async function runBacktest(options: BacktestOptions): Promise<BacktestResult> {
  const config = loadConfig(options.configFile);
  const model = config.signals.ml ? loadModelFor(config) : undefined;
  const { bars, warnings } = readBarFile(options.dataFile, {
    venue: config.instrument.venue,
    symbol: config.instrument.symbol,
    timeframe: config.timeframe,
    ...(options.from !== undefined ? { from: options.from } : {}),
    ...(options.until !== undefined ? { until: options.until } : {}),
    ...(options.statedSymbol !== undefined ? { statedSymbol: options.statedSymbol } : {}),
    ...(options.statedTimeframe !== undefined ? { statedTimeframe: options.statedTimeframe } : {}),
    ...(options.keepOutliers ? { keepOutliers: true } : {}),
  });
  for (const warning of warnings) options.onWarning?.(warning);
  if (bars.length === 0) throw new Error(`${options.dataFile}: no bars in the selected range`);
  return backtestBars(config, bars, { ...options, ...(model ? { model } : {}) });
}

/** The backtest proper, for callers that already hold a config and bars (tests, benchmarks). */
export async function backtestBars(
  config: PipelineConfig,
  bars: readonly Bar[],
  options: Omit<BacktestOptions, 'configFile'> & {
    readonly model?: ReturnType<typeof loadModelFor>;
    /** The config path as the user gave it, for the report. Default: the resolved path. */
    readonly configFile?: string;
  },
): Promise<BacktestResult> {
  const outDir = options.outDir ?? path.join('out', config.name);
  ensureOutputDir(outDir, options.outDir !== undefined ? '--out' : 'output folder');
  // Written under temporary names and renamed at the end: an interrupted run keeps the last one.
  const files = new RunFiles(outDir, ['journal.jsonl', 'report.json']);
  const journalFile = files.finalPath('journal.jsonl');
  const reportFile = files.finalPath('report.json');

  const scheduler = new VirtualTimeScheduler();
  const venue = acceptingBooks(
    executeOrders({
      instruments: [config.instrument],
      initialCash: config.initialCash,
      quote: config.instrument.quote,
      ...(config.execution.takerFeeBps !== undefined ? { takerFeeBps: config.execution.takerFeeBps } : {}),
      ...(config.execution.slippageBps !== undefined ? { slippageBps: config.execution.slippageBps } : {}),
      allowShort: config.sizing?.allowShort ?? false,
    }),
  );
  const pipeline = tradingPipeline(config, { venue, scheduler, ...(options.model ? { model: options.model } : {}) });
  const report = new ReportBuilder(config.timeframe, config.initialCash, config.instrument.quote);
  const byTime = new Map<number, Bar>();
  const progressEvery = Math.max(1, Math.floor(bars.length / 20));
  let seen = 0;

  const barsBySymbol = makeBarReplaySource({ bars, scheduler }).pipe(
    tap((bar) => {
      byTime.set(bar.tsEvent, bar);
      seen++;
      if (options.onProgress && seen % progressEvery === 0) options.onProgress(seen / bars.length, bar);
    }),
  );
  const kill$ =
    options.killAt !== undefined
      ? timer(new Date(options.killAt), scheduler).pipe(
          map(() => ({
            reason: `simulated kill switch press at ${new Date(options.killAt!).toISOString()} (--kill-at)`,
          })),
        )
      : undefined;
  const events$ = pipeline({ bars$: barsBySymbol, ...(kill$ ? { kill$ } : {}) }).pipe(
    tap((event: PipelineEvent) => {
      switch (event.kind) {
        case 'portfolio': {
          const bar = byTime.get(event.tsEvent);
          if (bar) {
            report.addBar(event, bar.open, bar.close);
            byTime.delete(event.tsEvent);
          }
          break;
        }
        case 'fill':
          report.addFill(event);
          break;
        case 'approved':
        case 'denied':
          report.addDecision(event);
          break;
        case 'gap':
          report.addGap(event.missing);
          break;
        case 'dead-letter':
          report.addDeadLetter();
          break;
        case 'mode-changed':
          report.addModeChange(event.to);
          break;
        case 'order-halted':
          report.addHalted();
          break;
        case 'signal':
          if (event.source === 'fused') report.addSignalDirection(event.direction);
          break;
        default:
          break;
      }
    }),
    filter(
      (event: PipelineEvent): event is Exclude<PipelineEvent, { kind: 'portfolio' }> => event.kind !== 'portfolio',
    ),
    takeUntil(options.signal ? fromEvent(options.signal, 'abort') : NEVER),
  );
  const header = {
    kind: 'run-started',
    mode: 'backtest',
    // No path here: the journal of the same run is byte-identical from any working directory.
    config: {
      name: config.name,
      hash: config.hash,
      tier: config.tier,
    },
    data: path.basename(options.dataFile ?? ''),
    model: options.model ? options.model.file.id : null,
    features: buildLayout(config.features).names,
    taRules: (config.signals.ta?.rules ?? []).map(ruleLabel),
    tsEvent: bars[0]?.tsOpen ?? 0,
  };
  const done = lastValueFrom(makeJournalSink({ file: files.tempPath('journal.jsonl') })(concat(of(header), events$)));
  let finished: boolean;
  let journal: Awaited<typeof done>;
  try {
    finished = await flushInSlices(scheduler, 2000 * (bars[1] ? bars[1].tsOpen - bars[0]!.tsOpen : 1), options.signal);
    journal = await done;
  } catch (err) {
    files.discard();
    throw err;
  }
  if (!finished) {
    throw new RunOutputError('INTERRUPTED', `interrupted after ${seen} of ${bars.length} bars: ${files.discard()}`);
  }

  const result = {
    config: { file: options.configFile ?? config.file, name: config.name, hash: config.hash, tier: config.tier },
    data: { file: options.dataFile, symbol: config.instrument.symbol, timeframe: config.timeframe },
    model: options.model
      ? {
          id: options.model.file.id,
          trainedUntil: new Date(options.model.file.training.to).toISOString(),
          oosAccuracy: options.model.file.metrics.oosAccuracy,
        }
      : null,
    ...report.build(),
    journal: { file: journalFile, lines: journal.lines },
  };
  writeFileSync(files.tempPath('report.json'), `${JSON.stringify(result, null, 2)}\n`);
  files.commit();
  return { report: result, reportFile, journalFile };
}
