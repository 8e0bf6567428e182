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
  // Lines are found by position, not split into an array: one string fewer per row.
  const lineEnd = (from: number): number => {
    const nl = text.indexOf('\n', from);
    return nl < 0 ? text.length : nl;
  };
  const lines = [text.slice(0, lineEnd(0))];
  if (lineEnd(0) < text.length) lines.push(text.slice(lineEnd(0) + 1, lineEnd(lineEnd(0) + 1)));
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
  const cells: number[] = [0, 0, 0, 0, 0, 0];
  let pos = 0;
  for (let k = 0; k <= first; k++) pos = lineEnd(pos) + 1;
  for (let lineNo = first + 2; pos < text.length && problems.length < 20; lineNo++) {
    const start = pos;
    const stop = lineEnd(start);
    pos = stop + 1;
    const end = stop > start && text.charCodeAt(stop - 1) === 13 ? stop - 1 : stop;
    if (end === start) continue; // an empty line (or a lone \r)
    // The six cells as numbers, without splitting the line into an array of strings. A
    // blank cell is NaN (Number('') would be 0); the messages below cut the line into cells.
    const count = parseCells(text, start, end, cells);
    if (count !== 6) {
      problems.push(`line ${lineNo}: expected 6 columns (${CSV_HEADER}), found ${count}`);
      continue;
    }
    const ts = cells[0]!;
    if (!Number.isSafeInteger(ts) || ts < 0) {
      problems.push(
        `line ${lineNo}, column timestamp_ms: expected an integer (ms), found ${JSON.stringify(cellText(text, start, stop, 0))}`,
      );
      continue;
    }
    let notNumber = 0;
    for (let j = 1; j < 6; j++) {
      if (!Number.isFinite(cells[j]!)) {
        notNumber = j;
        break;
      }
    }
    if (notNumber > 0) {
      problems.push(
        `line ${lineNo}, column ${COLUMNS[notNumber]}: expected a number, found ${JSON.stringify(cellText(text, start, stop, notNumber))}`,
      );
      continue;
    }
    // The bar itself is what the checks read: one object per row.
    const bar: Bar = {
      kind: 'bar',
      venue: config.venue,
      symbol: config.symbol,
      timeframe: config.timeframe,
      tsOpen: ts,
      tsEvent: ts + tf,
      open: cells[1]!,
      high: cells[2]!,
      low: cells[3]!,
      close: cells[4]!,
      volume: cells[5]!,
      trades: 0,
    };
    const impossible = barValueProblem(bar);
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
    const outlier = outliers.check(bar);
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
    bars.push(bar);
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

/** 10^k for k = 0..22: exactly representable doubles. */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/**
 * Parses the comma-separated cells of `text[start, end)` (one row without its line end) into `out`
 * (the first six) and returns how many cells the row has. A cell is exactly `Number(cell)` (which
 * ignores surrounding blanks), and NaN when blank.
 */
function parseCells(text: string, start: number, end: number, out: number[]): number {
  let count = 0;
  let from = start;
  for (;;) {
    let comma = text.indexOf(',', from);
    if (comma < 0 || comma > end) comma = end;
    if (count < 6) out[count] = parseCell(text, from, comma);
    count++;
    if (comma >= end) return count;
    from = comma + 1;
  }
}

/**
 * `Number(text.slice(from, to))` (NaN for a blank cell) without making the string, for the usual
 * cell of at most 15 digits with an optional decimal point: its digits as an integer m < 2^53
 * and its decimals k ≤ 22 are both exact doubles, so m / 10^k is the correctly rounded value of
 * the decimal — the same double `Number` returns. Anything else (signs, exponents, blanks) goes
 * through `Number`.
 */
function parseCell(text: string, from: number, to: number): number {
  let mantissa = 0;
  let digits = 0;
  let decimals = -1;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
      if (decimals >= 0) decimals++;
    } else if (c === 46 && decimals < 0) decimals = 0;
    else return slowCell(text.slice(from, to));
  }
  if (digits === 0 || digits > 15) return slowCell(text.slice(from, to));
  return decimals > 0 ? mantissa / POW10[decimals]! : mantissa;
}

function slowCell(cell: string): number {
  const value = Number(cell);
  return value === 0 && cell.trim() === '' ? Number.NaN : value;
}

/** The `index`th cell of the row `text[start, stop)` as written, for messages. */
function cellText(text: string, start: number, stop: number, index: number): string {
  return text.slice(start, stop).replace(/\r$/, '').split(',')[index] ?? '';
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
