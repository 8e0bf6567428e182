/**
 * Backtest mode: the trading pipeline over historical bars, in virtual time, against the paper
 * venue. Writes a JSONL journal of every decision and a JSON report.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { VirtualTimeScheduler, concat, filter, lastValueFrom, map, of, tap, timer } from 'rxjs';
import { buildLayout } from '../operators/computeFeatures';
import { ruleLabel } from '../operators/taSignal';
import { ReportBuilder, type BacktestReport } from '../operators/backtestReport';
import { executeOrders } from '../operators/executeOrders';
import type { Bar } from '../operators/types';
import { makeBarReplaySource, readBarsCsv } from '../sources/csvBars';
import { makeJournalSink } from '../sinks/journal';
import { loadConfig, type PipelineConfig } from './config';
import { loadModelFor } from './model';
import { startObservability } from './observability';
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
  const bars = readBarsCsv(options.dataFile, {
    venue: config.instrument.venue,
    symbol: config.instrument.symbol,
    timeframe: config.timeframe,
    ...(options.from !== undefined ? { from: options.from } : {}),
    ...(options.until !== undefined ? { until: options.until } : {}),
  });
  if (bars.length === 0) throw new Error(`${options.dataFile}: no bars in the selected range`);
  return backtestBars(config, bars, { ...options, ...(model ? { model } : {}) });
}

/** The backtest proper, for callers that already hold a config and bars (tests, benchmarks). */
export async function backtestBars(
  config: PipelineConfig,
  bars: readonly Bar[],
  options: Omit<BacktestOptions, 'configFile'> & { readonly model?: ReturnType<typeof loadModelFor> },
): Promise<BacktestResult> {
  const outDir = options.outDir ?? path.join('out', config.name);
  mkdirSync(outDir, { recursive: true });
  const journalFile = path.join(outDir, 'journal.jsonl');
  const reportFile = path.join(outDir, 'report.json');

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

  // Observability (InfluxDB, Prometheus) when the config turns it on: two taps, one close.
  const observe = await startObservability(config, { run: 'backtest', outDir });
  const barsBySymbol = makeBarReplaySource({ bars, scheduler }).pipe(
    observe.bars,
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
    observe.events,
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
  );
  const header = {
    kind: 'run-started',
    mode: 'backtest',
    config: {
      file: path.relative(process.cwd(), config.file),
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
  const done = lastValueFrom(makeJournalSink({ file: journalFile })(concat(of(header), events$)));
  scheduler.flush();
  const journal = await done.finally(() => observe.close());

  const result = {
    config: { file: config.file, name: config.name, hash: config.hash, tier: config.tier },
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
  writeFileSync(reportFile, `${JSON.stringify(result, null, 2)}\n`);
  return { report: result, reportFile, journalFile };
}
