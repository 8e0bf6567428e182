/**
 * Historical bars from CSV files in the format `run-pipeline download` writes: an optional first
 * line saying what the file holds (`# exchange=binance symbol=BTC/USDT timeframe=5m
 * source=ccxt.fetchOHLCV`), the header `timestamp_ms,open,high,low,close,volume`, then one bar per
 * row, ascending, timestamp = bar open.
 *
 * Reading refuses what would make a backtest lie: a malformed or impossible row (line and
 * column), a bad tick (a robust outlier, unless kept on purpose), rows whose spacing is not the
 * config's timeframe, a header naming another symbol, exchange or timeframe than the config.
 */
import { readFileSync } from 'node:fs';
import { Observable, type SchedulerLike } from 'rxjs';
import {
  OutlierDetector,
  barValueProblem,
  describeSpacing,
  inferTimeframe,
  parseBarFileMeta,
  priceScaleWarning,
  type BarFileMeta,
} from '../operators/barChecks';
import { timeframeMs, type Bar, type Timeframe } from '../operators/types';

export const CSV_HEADER = 'timestamp_ms,open,high,low,close,volume';

export type CsvBarsErrorCode = 'CSV_INVALID' | 'DATA_MISMATCH';

export class CsvBarsError extends Error {
  readonly stage = 'source';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
    readonly code: CsvBarsErrorCode = 'CSV_INVALID',
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
    this.name = 'CsvBarsError';
  }
}

export interface ReadBarsCsvConfig {
  /** The exchange the config trades on; a file header naming another one is refused. */
  readonly venue: string;
  /** The config's symbol; a file header (or `statedSymbol`) naming another one is refused. */
  readonly symbol: string;
  /** The config's timeframe; rows spaced otherwise (or a header saying otherwise) are refused. */
  readonly timeframe: Timeframe;
  /** Keep bars opening at or after this time (ms). */
  readonly from?: number;
  /** Keep bars opening before this time (ms). */
  readonly until?: number;
  /** What the user says the file holds (`--symbol`), for files without a header line. */
  readonly statedSymbol?: string;
  /** What the user says the file's timeframe is (`--timeframe`). */
  readonly statedTimeframe?: string;
  /** Keep outlier rows (bad ticks) instead of refusing the file (`--keep-outliers`). Default false. */
  readonly keepOutliers?: boolean;
  /**
   * Refuse a file that says nothing about what it holds: no header line, no `statedSymbol`, and a
   * name that does not name the symbol (`…BTCUSDT_5m…`). Default false: a warning only (library use).
   */
  readonly requireIdentity?: boolean;
}

/** The file's name names the symbol: one of its `_`/`-`/`.`-separated words is BASEQUOTE. */
export function fileNameNamesSymbol(file: string, symbol: string): boolean {
  const compact = symbol.split(':')[0]!.replace('/', '').toUpperCase();
  const base = file.split(/[\\/]/).pop() ?? file;
  return base.toUpperCase().split(/[_.-]/).includes(compact);
}

/** A validated bar file. */
export interface BarFile {
  readonly file: string;
  readonly bars: Bar[];
  /** What the file's header line says it holds (empty when it has none). */
  readonly meta: BarFileMeta;
  /** The timeframe inferred from the rows' spacing (undefined with fewer than two rows). */
  readonly inferredTimeframe?: Timeframe;
  /** Outlier rows kept because of `keepOutliers`, as "line N: …". */
  readonly outliersKept: readonly string[];
  /** Things worth saying that do not stop the run (no header line, a suspicious price scale). */
  readonly warnings: readonly string[];
}

/**
 * Reads and validates a whole CSV file. Any malformed row fails the read with its line number and
 * what is wrong (a backtest on silently dropped rows would be a different backtest); the first
 * 20 problems are listed.
 */
export function readBarsCsv(file: string, config: ReadBarsCsvConfig): Bar[] {
  return readBarFile(file, config).bars;
}

/** {@link readBarsCsv} with what the file says about itself, and the warnings to show. */
export function readBarFile(file: string, config: ReadBarsCsvConfig): BarFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CsvBarsError(file, [`cannot read the bars file: ${e.code === 'ENOENT' ? 'no such file' : e.message}`]);
  }
  return parseBarFile(text, file, config);
}

export function parseBarsCsv(text: string, file: string, config: ReadBarsCsvConfig): Bar[] {
  return parseBarFile(text, file, config).bars;
}

const COLUMNS = ['timestamp_ms', 'open', 'high', 'low', 'close', 'volume'] as const;

export function parseBarFile(text: string, file: string, config: ReadBarsCsvConfig): BarFile {
  const tf = timeframeMs(config.timeframe);
  const lines = text.split('\n');
  const problems: string[] = [];
  const bars: Bar[] = [];
  let first = 0;
  let meta: BarFileMeta = {};
  if ((lines[0] ?? '').startsWith('#')) {
    const parsed = parseBarFileMeta(lines[0]!.replace(/\r$/, ''));
    if (typeof parsed === 'string') throw new CsvBarsError(file, [`line 1: ${parsed}`]);
    meta = parsed;
    first = 1;
  }
  const header = (lines[first] ?? '').trim();
  if (header !== CSV_HEADER) {
    throw new CsvBarsError(file, [
      `line ${first + 1}: expected header "${CSV_HEADER}", found ${JSON.stringify(header.slice(0, 80))}`,
    ]);
  }
  const mismatches = describeMismatches(meta, config);
  if (mismatches.length > 0) throw new CsvBarsError(file, mismatches, 'DATA_MISMATCH');

  const outliers = new OutlierDetector();
  const outliersKept: string[] = [];
  const openTimes: number[] = [];
  const lineOf: number[] = [];
  let previousOpen = -Infinity;
  for (let i = first + 1; i < lines.length && problems.length < 20; i++) {
    const line = lines[i]!;
    if (line.length === 0 || line === '\r') continue;
    const cells = line.replace(/\r$/, '').split(',');
    const lineNo = i + 1;
    if (cells.length !== 6) {
      problems.push(`line ${lineNo}: expected 6 columns (${CSV_HEADER}), found ${cells.length}`);
      continue;
    }
    const numbers = cells.map((cell) => (cell.trim() === '' ? Number.NaN : Number(cell)));
    const ts = numbers[0]!;
    if (!Number.isSafeInteger(ts) || ts < 0) {
      problems.push(`line ${lineNo}, column timestamp_ms: expected an integer (ms), found ${JSON.stringify(cells[0])}`);
      continue;
    }
    const notNumber = numbers.findIndex((n, j) => j > 0 && !Number.isFinite(n));
    if (notNumber > 0) {
      problems.push(
        `line ${lineNo}, column ${COLUMNS[notNumber]}: expected a number, found ${JSON.stringify(cells[notNumber])}`,
      );
      continue;
    }
    const values = { open: numbers[1]!, high: numbers[2]!, low: numbers[3]!, close: numbers[4]!, volume: numbers[5]! };
    const impossible = barValueProblem(values);
    if (impossible) {
      problems.push(
        `line ${lineNo}, column ${impossible.column}: expected ${impossible.expected}, found ${impossible.found}`,
      );
      continue;
    }
    if (ts <= previousOpen) {
      problems.push(
        `line ${lineNo}, column timestamp_ms: expected a time after the previous row's ${previousOpen} (rows ascend without duplicates), found ${ts}`,
      );
      continue;
    }
    const outlier = outliers.check(values);
    if (outlier) {
      const what = `line ${lineNo}, column ${outlier.column}: outlier: expected ${outlier.expected}, found ${outlier.found}`;
      if (config.keepOutliers) outliersKept.push(what);
      else {
        problems.push(`${what} (a bad tick? --keep-outliers keeps such rows)`);
        continue;
      }
    }
    previousOpen = ts;
    openTimes.push(ts);
    lineOf.push(lineNo);
    if ((config.from !== undefined && ts < config.from) || (config.until !== undefined && ts >= config.until)) continue;
    bars.push({
      kind: 'bar',
      venue: config.venue,
      symbol: config.symbol,
      timeframe: config.timeframe,
      tsOpen: ts,
      tsEvent: ts + tf,
      open: values.open,
      high: values.high,
      low: values.low,
      close: values.close,
      volume: values.volume,
      trades: 0,
    });
  }
  if (problems.length > 0) throw new CsvBarsError(file, problems);

  // The spacing of the rows says what the file holds, whatever its name or header says.
  const inferred = inferTimeframe(openTimes);
  if (inferred && inferred.spacingMs !== tf) {
    throw new CsvBarsError(
      file,
      [
        `the rows are ${describeSpacing(inferred.spacingMs)} bars (inferred from the most common spacing between rows), ` +
          `but the config's timeframe is ${config.timeframe}; use data of the config's timeframe or a config for ${describeSpacing(inferred.spacingMs)}`,
      ],
      'DATA_MISMATCH',
    );
  }
  const misaligned = openTimes.findIndex((ts) => ts % tf !== 0);
  if (misaligned >= 0) {
    throw new CsvBarsError(file, [
      `line ${lineOf[misaligned]}, column timestamp_ms: expected a ${config.timeframe} bar open (a multiple of ${tf} ms), found ${openTimes[misaligned]}`,
    ]);
  }

  if (bars.length === 0 && openTimes.length > 0 && (config.from !== undefined || config.until !== undefined)) {
    const iso = (ms: number | undefined): string => (ms === undefined ? '…' : new Date(ms).toISOString());
    throw new CsvBarsError(file, [
      `no bars in the selected range ${iso(config.from)} → ${iso(config.until)} (--from/--until): ` +
        `the file holds ${iso(openTimes[0])} → ${iso(openTimes[openTimes.length - 1])}`,
    ]);
  }
  const warnings: string[] = [];
  if (meta.symbol === undefined && config.statedSymbol === undefined && config.requireIdentity) {
    if (!fileNameNamesSymbol(file, config.symbol))
      throw new CsvBarsError(
        file,
        [
          `the file does not say which instrument it holds (no "# exchange=… symbol=… timeframe=…" line, and its name does not name ${config.symbol.split(':')[0]!.replace('/', '')}): ` +
            `state it with --symbol ${config.symbol} --timeframe ${config.timeframe}, or use a file \`run-pipeline download\` wrote`,
        ],
        'DATA_MISMATCH',
      );
    warnings.push(
      `${file} has no "# exchange=… symbol=… timeframe=…" line: taking it as ${config.symbol} from its name; confirm with --symbol ${config.symbol}`,
    );
  } else if (meta.symbol === undefined && config.statedSymbol === undefined) {
    warnings.push(
      `${file} does not say which instrument it holds (no "# exchange=… symbol=… timeframe=…" line): assuming ${config.symbol}; confirm with --symbol ${config.symbol}`,
    );
  }
  const scale = priceScaleWarning(
    config.symbol,
    bars.map((b) => b.close),
  );
  if (scale) warnings.push(`${file}: ${scale}`);
  if (outliersKept.length > 0)
    warnings.push(
      `${file}: kept ${outliersKept.length} outlier row(s) (--keep-outliers): ${outliersKept.slice(0, 3).join('; ')}`,
    );
  return {
    file,
    bars,
    meta,
    ...(inferred?.timeframe ? { inferredTimeframe: inferred.timeframe } : {}),
    outliersKept,
    warnings,
  };
}

/** Header line and stated values against the config: each disagreement named with both sides. */
function describeMismatches(meta: BarFileMeta, config: ReadBarsCsvConfig): string[] {
  const problems: string[] = [];
  const check = (what: string, said: string | undefined, by: string, expected: string): void => {
    if (said !== undefined && said !== expected)
      problems.push(`${what}: ${by} says ${said}, but the config trades ${expected}`);
  };
  check('symbol', meta.symbol, 'the file header', config.symbol);
  check('exchange', meta.exchange, 'the file header', config.venue);
  check('timeframe', meta.timeframe, 'the file header', config.timeframe);
  check('symbol', config.statedSymbol, '--symbol', config.symbol);
  check('timeframe', config.statedTimeframe, '--timeframe', config.timeframe);
  if (meta.symbol !== undefined && config.statedSymbol !== undefined && meta.symbol !== config.statedSymbol)
    problems.push(`symbol: the file header says ${meta.symbol}, --symbol says ${config.statedSymbol}`);
  return problems;
}

export interface BarReplayConfig {
  readonly bars: readonly Bar[];
  /**
   * Clock to replay on. Each bar is emitted when the scheduler's clock reaches its `tsEvent`
   * (its close): with a `VirtualTimeScheduler` whose frame starts at the first bar's time, a
   * backtest runs in virtual time as fast as the CPU allows, with `scheduler.now()` equal to
   * the event time of the bar being processed.
   */
  readonly scheduler: SchedulerLike;
}

/**
 * Replays bars in event time on a scheduler. Scheduling is one bar at a time (the next bar is
 * scheduled when the current one has been handled), so the scheduler's queue stays O(1) however
 * long the file.
 */
export function makeBarReplaySource(config: BarReplayConfig): Observable<Bar> {
  const { bars, scheduler } = config;
  return new Observable<Bar>((subscriber) => {
    let index = 0;
    // Each bar is a fresh action on the scheduler rather than a reschedule of the previous one:
    // a virtual-time action that reschedules itself keeps its predecessor as parent, and a
    // year of bars would become a chain too deep to tear down.
    const emitNext = (): void => {
      const bar = bars[index++]!;
      subscriber.next(bar);
      const next = bars[index];
      if (next === undefined) subscriber.complete();
      else if (!subscriber.closed) pending = scheduler.schedule(emitNext, Math.max(0, next.tsEvent - bar.tsEvent));
    };
    if (bars.length === 0) {
      subscriber.complete();
      return;
    }
    let pending = scheduler.schedule(emitNext, Math.max(0, bars[0]!.tsEvent - scheduler.now()));
    return () => pending.unsubscribe();
  });
}
