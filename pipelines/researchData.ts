/**
 * What the research commands read: candles (timeframe inferred from the file), and a backtest's
 * output folder rebuilt into an equity curve with its round trips.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { rebuildEquity, type EquityCurve, type EquityFill } from '../operators/stats';
import { TIMEFRAMES, timeframeMs, type Bar, type Timeframe } from '../operators/types';
import { readBarsCsv } from '../sources/csvBars';
import { loadConfig } from './config';

export class ResearchInputError extends Error {
  readonly code = 'RESEARCH_BAD_INPUT';
  readonly stage = 'research';
}

/** The bar step of a candle file: the smallest gap between its first 200 timestamps. */
export function inferTimeframe(file: string): Timeframe {
  if (!existsSync(file)) throw new ResearchInputError(`${file}: no such file`);
  const lines = readFileSync(file, 'utf8').split('\n', 202).slice(1).filter(Boolean);
  const ts = lines.map((l) => Number(l.split(',', 1)[0]));
  let step = Infinity;
  for (let i = 1; i < ts.length; i++)
    if ((ts[i] as number) > (ts[i - 1] as number)) step = Math.min(step, (ts[i] as number) - (ts[i - 1] as number));
  const tf = TIMEFRAMES.find((t) => timeframeMs(t) === step);
  if (!tf)
    throw new ResearchInputError(
      `${file}: cannot tell the timeframe (smallest step between rows ${step} ms is not one of ${TIMEFRAMES.join(', ')})`,
    );
  return tf;
}

export function readCandles(file: string, options: { from?: number; until?: number; symbol?: string } = {}): Bar[] {
  const timeframe = inferTimeframe(file);
  return readBarsCsv(file, {
    venue: 'file',
    symbol: options.symbol ?? path.basename(file, '.csv'),
    timeframe,
    ...(options.from !== undefined ? { from: options.from } : {}),
    ...(options.until !== undefined ? { until: options.until } : {}),
  });
}

/** sha256 of a file: provenance of every research result. */
export function fileSha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The `fill` events of a journal.jsonl as numbers. */
export function readJournalFills(journalFile: string): EquityFill[] {
  const fills: EquityFill[] = [];
  const text = readFileSync(journalFile, 'utf8');
  let line = 0;
  for (const raw of text.split('\n')) {
    line++;
    if (!raw.includes('"kind":"fill"')) continue;
    let e: {
      kind?: string;
      symbol?: string;
      side?: string;
      qty?: string;
      price?: string;
      fee?: string;
      tsEvent?: number;
    };
    try {
      e = JSON.parse(raw) as typeof e;
    } catch (err) {
      throw new ResearchInputError(`${journalFile}:${line}: not JSON (${(err as Error).message})`);
    }
    if (e.kind !== 'fill') continue;
    if ((e.side !== 'buy' && e.side !== 'sell') || typeof e.symbol !== 'string' || typeof e.tsEvent !== 'number')
      throw new ResearchInputError(`${journalFile}:${line}: fill without symbol, side or tsEvent`);
    fills.push({
      symbol: e.symbol,
      side: e.side,
      qty: Number(e.qty),
      price: Number(e.price),
      fee: Number(e.fee ?? 0),
      tsEvent: e.tsEvent,
    });
  }
  return fills;
}

export interface BacktestRun {
  readonly dir: string;
  readonly report: {
    initialEquity: number;
    finalEquity: number;
    data: { file: string; symbol: string; series?: readonly { symbol: string; file: string }[] };
    totalReturn: number;
    buyAndHoldReturn: number;
  };
  /** Every symbol's bars of the run, merged in event time (ties in universe order). */
  readonly bars: Bar[];
  /** The first symbol: the one the price chart and buy-and-hold curve show. */
  readonly symbol: string;
  readonly curve: EquityCurve;
}

/**
 * A backtest's `--out` folder (report.json + journal.jsonl) and its bars, as an equity curve.
 * `bars` (the run's merged bars, as the backtest replayed them) saves reading the data files
 * again; without it each symbol's file named in the report is read.
 */
export function readBacktestRun(dir: string, bars?: readonly Bar[]): BacktestRun {
  const reportFile = path.join(dir, 'report.json');
  const journalFile = path.join(dir, 'journal.jsonl');
  for (const f of [reportFile, journalFile])
    if (!existsSync(f)) throw new ResearchInputError(`${dir}: not a backtest output folder (no ${path.basename(f)})`);
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as BacktestRun['report'] & {
    from: string | null;
    to: string | null;
  };
  const series =
    report.data.series && report.data.series.length > 0
      ? report.data.series
      : [{ symbol: report.data.symbol, file: report.data.file }];
  const all =
    bars ??
    series
      .flatMap((s) => readCandles(s.file, { symbol: s.symbol }))
      // stable: equal times keep the universe order, as the backtest merged them
      .sort((a, b) => a.tsEvent - b.tsEvent);
  const until = report.to ? Date.parse(report.to) : Infinity;
  const from = report.from ? Date.parse(report.from) : -Infinity;
  const runBars = all.filter((b) => b.tsEvent <= until && b.tsEvent >= from);
  const curve = rebuildEquity(
    runBars.map((b) => ({ symbol: b.symbol, tsEvent: b.tsEvent, close: b.close })),
    readJournalFills(journalFile),
    report.initialEquity,
  );
  return { dir, report, bars: runBars, symbol: runBars[0]?.symbol ?? series[0]!.symbol, curve };
}

/** The ML model's errors in a backtest: label (close `horizon` bars later above the close) − p(up). */
export interface ModelResiduals {
  readonly modelId: string;
  readonly horizon: number;
  readonly residuals: Float64Array;
  /** Mean squared error of p against the 0/1 label. */
  readonly brier: number;
  /** Brier score of always saying the base rate (the bar p must beat). */
  readonly brierBaseRate: number;
}

/**
 * Residuals of every available ML signal in a backtest's journal whose label is known (the bar
 * `horizon` steps later is in the data, with no gap in between). Undefined when the run had no model.
 */
export function readModelResiduals(run: BacktestRun): ModelResiduals | undefined {
  const report = run.report as BacktestRun['report'] & { config?: { file: string }; model?: { id: string } | null };
  if (!report.model || !report.config) return undefined;
  const config = loadConfig(report.config.file);
  if (!config.modelPath || !existsSync(config.modelPath)) return undefined;
  const horizon = (JSON.parse(readFileSync(config.modelPath, 'utf8')) as { horizon: number }).horizon;
  const step = timeframeMs(run.bars[0]?.timeframe ?? config.timeframe);
  const closeAt = new Map<number, number>();
  for (const b of run.bars) if (b.symbol === run.symbol) closeAt.set(b.tsEvent, b.close);
  const oneSymbol = !run.bars.some((b) => b.symbol !== run.symbol);
  const out: number[] = [];
  const labels: number[] = [];
  for (const raw of readFileSync(path.join(run.dir, 'journal.jsonl'), 'utf8').split('\n')) {
    if (!raw.includes('"source":"fused"')) continue;
    const e = JSON.parse(raw) as {
      kind?: string;
      tsEvent?: number;
      symbol?: string;
      components?: { source: string; available: boolean; detail?: { p?: number } }[];
    };
    if (e.kind !== 'signal' || e.tsEvent === undefined) continue;
    if (!oneSymbol && e.symbol !== run.symbol) continue;
    const ml = e.components?.find((c) => c.source === 'ml');
    const p = ml?.available ? ml.detail?.p : undefined;
    if (p === undefined) continue;
    const now = closeAt.get(e.tsEvent);
    let later: number | undefined;
    for (let k = 1; k <= horizon; k++) {
      later = closeAt.get(e.tsEvent + k * step);
      if (later === undefined) break;
    }
    if (now === undefined || later === undefined) continue;
    const label = later > now ? 1 : 0;
    labels.push(label);
    out.push(label - p);
  }
  const n = out.length;
  const base = n ? labels.reduce((a, b) => a + b, 0) / n : 0;
  return {
    modelId: report.model.id,
    horizon,
    residuals: Float64Array.from(out),
    brier: n ? out.reduce((a, r) => a + r * r, 0) / n : Number.NaN,
    brierBaseRate: n ? labels.reduce((a, l) => a + (l - base) ** 2, 0) / n : Number.NaN,
  };
}
