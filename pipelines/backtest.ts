/**
 * Backtest mode: the trading pipeline over historical bars, in virtual time, against the paper
 * exchange paper sessions use (configured by the config's `execution` section). Writes a JSONL journal of every decision and a JSON report.
 */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
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
import { isTimeframe, timeframeMs, type Bar, type Portfolio } from '../operators/types';
import { makeBarReplaySource, readBarFile } from '../sources/csvBars';
import { makeJournalSink, type JournalLevel } from '../sinks/journal';
import { loadConfig, type PipelineConfig } from './config';
import { loadModelFor } from './model';
import { paperExchangeFor } from './paperVenue';
import { RunFiles, RunOutputError, ensureOutputDir, flushInSlices } from './runOutput';
import { tradingPipeline, type PipelineEvent } from './tradingPipeline';
import { startObservability } from './observability';
import { startTelemetry } from './telemetry';

export interface BacktestOptions {
  readonly configFile: string;
  /**
   * Bars CSVs or folders of them. One file for a one-symbol config; otherwise each file is matched
   * to an instrument of the universe by its name (`…BTCUSDT_5m…`), or given as `BTC/USDT=file.csv`.
   */
  readonly dataFile: string | readonly string[];
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
  /** Journal level, overriding the config's `journal.level` (default `decisions`). */
  readonly journalLevel?: JournalLevel;
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
    readonly data: {
      readonly file: string;
      readonly symbol: string;
      readonly timeframe: string;
      /** Each symbol's file, bars and gaps. */
      readonly series: readonly DataSeries[];
    };
    readonly model: { readonly id: string; readonly trainedUntil: string; readonly oosAccuracy: number } | null;
    readonly journal: { readonly file: string; readonly lines: number };
  };
  readonly reportFile: string;
  readonly journalFile: string;
}

export interface DataSeries {
  readonly symbol: string;
  readonly file: string;
  readonly bars: number;
  readonly gaps: number;
  readonly missingBars: number;
}

export async function runBacktest(options: BacktestOptions): Promise<BacktestResult> {
  const config = loadConfig(options.configFile);
  const model = config.signals.ml ? loadModelFor(config) : undefined;
  const files = resolveDataFiles(config, typeof options.dataFile === 'string' ? [options.dataFile] : options.dataFile);
  const series = config.instruments.map((instrument) => {
    const file = files.get(instrument.symbol)!;
    const { bars, warnings } = readBarFile(file, {
      venue: instrument.venue,
      symbol: instrument.symbol,
      timeframe: config.timeframe,
      ...(options.from !== undefined ? { from: options.from } : {}),
      ...(options.until !== undefined ? { until: options.until } : {}),
      ...(options.statedSymbol !== undefined && config.instruments.length === 1
        ? { statedSymbol: options.statedSymbol }
        : {}),
      ...(options.statedTimeframe !== undefined ? { statedTimeframe: options.statedTimeframe } : {}),
      ...(options.keepOutliers ? { keepOutliers: true } : {}),
    });
    for (const warning of warnings) options.onWarning?.(warning);
    if (bars.length === 0) throw new Error(`${file}: no ${instrument.symbol} bars in the selected range`);
    return bars;
  });
  const bars = mergeByEventTime(series);
  return backtestBars(config, bars, {
    ...options,
    dataFile: config.instruments.map((i) => files.get(i.symbol)!),
    ...(model ? { model } : {}),
  });
}

/**
 * Which CSV holds which symbol. Arguments are files, folders (every `.csv` inside) or
 * `SYMBOL=file`. A one-symbol config takes a single file whatever its name; otherwise a file
 * belongs to the instrument whose `BASEQUOTE` is one of the `_`/`-`/`.`-separated words of its
 * name and, when the name holds a timeframe word, the config's timeframe. Every instrument needs
 * exactly one file, and a file named explicitly must belong to one.
 */
export function resolveDataFiles(config: PipelineConfig, args: readonly string[]): Map<string, string> {
  if (args.length === 0) throw new Error('no bars data given (--data <file or folder>)');
  const out = new Map<string, string>();
  const assign = (symbol: string, file: string): void => {
    const before = out.get(symbol);
    if (before !== undefined && path.resolve(before) !== path.resolve(file))
      throw new Error(`two data files for ${symbol}: ${before} and ${file}; give one (or SYMBOL=file)`);
    out.set(symbol, file);
  };
  const symbols = new Set(config.instruments.map((i) => i.symbol));
  const candidates: { file: string; explicit: boolean }[] = [];
  for (const arg of args) {
    const named = /^([A-Z0-9]+\/[A-Z0-9]+)=(.+)$/.exec(arg);
    if (named) {
      if (!symbols.has(named[1]!))
        throw new Error(`--data ${arg}: ${named[1]} is not in the config's universe (${[...symbols].join(', ')})`);
      assign(named[1]!, named[2]!);
      continue;
    }
    let isDir: boolean;
    try {
      isDir = statSync(arg).isDirectory();
    } catch (err) {
      throw new Error(`--data ${arg}: cannot read (${(err as Error).message})`);
    }
    if (isDir) {
      for (const name of readdirSync(arg).sort())
        if (name.endsWith('.csv')) candidates.push({ file: path.join(arg, name), explicit: false });
    } else candidates.push({ file: arg, explicit: true });
  }
  if (config.instruments.length === 1 && candidates.length === 1 && candidates[0]!.explicit && out.size === 0) {
    out.set(config.instrument.symbol, candidates[0]!.file);
    return out;
  }
  for (const { file, explicit } of candidates) {
    const words = path
      .basename(file, '.csv')
      .toUpperCase()
      .split(/[_.\-\s]+/);
    const timeframes = words.filter((w) => isTimeframe(w.toLowerCase()));
    const timeframeOk = timeframes.length === 0 || timeframes.some((w) => w.toLowerCase() === config.timeframe);
    const instrument = config.instruments.find((i) => words.includes(`${i.base}${i.quote}`));
    if (instrument && timeframeOk) assign(instrument.symbol, file);
    else if (explicit)
      throw new Error(
        `--data ${file}: its name matches no ${config.timeframe} instrument of the universe (${[...symbols].join(', ')}); name it like BTCUSDT_${config.timeframe}.csv or pass SYMBOL=${file}`,
      );
  }
  const missing = config.instruments.filter((i) => !out.has(i.symbol));
  if (missing.length > 0)
    throw new Error(
      `no ${config.timeframe} bars file for ${missing.map((i) => `${i.symbol} (a name with ${i.base}${i.quote})`).join(', ')} in ${args.join(', ')}`,
    );
  return out;
}

/**
 * Several symbols' bars as one stream in event time: by `tsEvent`, ties in the order the series
 * are given (the universe's order). A symbol missing bars (an outage) simply has none in that
 * stretch; the others go on.
 */
export function mergeByEventTime(series: readonly (readonly Bar[])[]): Bar[] {
  if (series.length === 1) return [...series[0]!];
  const all: Bar[] = [];
  for (const bars of series) for (const bar of bars) all.push(bar);
  // Array.prototype.sort is stable: equal times keep the series order.
  return all.sort((a, b) => a.tsEvent - b.tsEvent);
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
  const dataFiles = typeof options.dataFile === 'string' ? [options.dataFile] : [...(options.dataFile ?? [])];
  ensureOutputDir(outDir, options.outDir !== undefined ? '--out' : 'output folder');
  // Written under temporary names and renamed at the end: an interrupted run keeps the last one.
  const files = new RunFiles(outDir, ['journal.jsonl', 'report.json']);
  const journalFile = files.finalPath('journal.jsonl');
  const reportFile = files.finalPath('report.json');

  const scheduler = new VirtualTimeScheduler();
  const venue = paperExchangeFor(config, scheduler);
  const pipeline = tradingPipeline(config, { venue, scheduler, ...(options.model ? { model: options.model } : {}) });
  const report = new ReportBuilder(config.timeframe, config.initialCash, config.instrument.quote);
  const progressEvery = Math.max(1, Math.floor(bars.length / 20));
  let seen = 0;
  const series = new Map<string, { bars: number; gaps: number; missingBars: number }>(
    config.instruments.map((i) => [i.symbol, { bars: 0, gaps: 0, missingBars: 0 }]),
  );
  // The portfolio is emitted after every symbol's bar; the report takes the last one of each bar
  // time (every symbol marked at that time's close).
  let atTime: Portfolio | undefined;
  const closeBarTime = (): void => {
    if (atTime) report.addBar(atTime);
    atTime = undefined;
  };

  // Observability (InfluxDB, Prometheus) when the config turns it on: two taps, one close.
  const observe = await startObservability(config, { run: 'backtest', outDir });
  // Structured logs and order-flow traces when the config (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) turns them on.
  const telemetry = await startTelemetry(config, {
    run: 'backtest',
    human: (line) => process.stderr.write(`${line}\n`),
  }).catch(async (err: unknown) => {
    await observe.close();
    throw err;
  });
  const barsBySymbol = makeBarReplaySource({ bars, scheduler }).pipe(
    observe.bars,
    tap((bar) => {
      report.addPrice(bar.symbol, bar.open, bar.close);
      const s = series.get(bar.symbol);
      if (s) s.bars++;
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
    observe.events,
    telemetry.events,
    tap((event: PipelineEvent) => {
      switch (event.kind) {
        case 'portfolio':
          if (atTime && atTime.tsEvent !== event.tsEvent) closeBarTime();
          atTime = event;
          break;
        case 'fill':
          report.addFill(event);
          break;
        case 'approved':
        case 'denied':
          report.addDecision(event);
          break;
        case 'gap': {
          report.addGap(event.missing);
          const s = series.get(event.symbol);
          if (s) {
            s.gaps++;
            s.missingBars += event.missing;
          }
          break;
        }
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
    data: dataFiles.map((f) => path.basename(f)).join(', '),
    model: options.model ? options.model.file.id : null,
    features: buildLayout(config.features).names,
    taRules: (config.signals.ta?.rules ?? []).map(ruleLabel),
    tsEvent: bars[0]?.tsOpen ?? 0,
  };
  const done = lastValueFrom(
    makeJournalSink({
      file: files.tempPath('journal.jsonl'),
      level: options.journalLevel ?? config.journal?.level ?? 'decisions',
    })(concat(of(header), events$)),
  );
  let finished: boolean;
  let journal: Awaited<typeof done>;
  try {
    finished = await flushInSlices(scheduler, 2000 * timeframeMs(config.timeframe), options.signal);
    journal = await done.finally(() => Promise.all([observe.close(), telemetry.close()]));
  } catch (err) {
    files.discard();
    throw err;
  }
  if (!finished) {
    throw new RunOutputError('INTERRUPTED', `interrupted after ${seen} of ${bars.length} bars: ${files.discard()}`);
  }
  closeBarTime();

  const result = {
    config: { file: options.configFile ?? config.file, name: config.name, hash: config.hash, tier: config.tier },
    data: {
      file: dataFiles.join(', '),
      symbol: config.instruments.map((i) => i.symbol).join(', '),
      timeframe: config.timeframe,
      series: config.instruments.map((i, k) => ({
        symbol: i.symbol,
        file: dataFiles[k] ?? dataFiles[0] ?? '',
        ...series.get(i.symbol)!,
      })),
    },
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
  writeFileSync(files.tempPath('report.json'), `${JSON.stringify(result, null, 2)}\n`, { mode: 0o640 });
  files.commit();
  return { report: result, reportFile, journalFile };
}
