/**
 * Historical bars from CSV files in the format `run-pipeline download` writes:
 * `timestamp_ms,open,high,low,close,volume`, one bar per row, ascending, timestamp = bar open.
 */
import { readFileSync } from 'node:fs';
import { Observable, type SchedulerLike } from 'rxjs';
import { timeframeMs, type Bar, type Timeframe } from '../operators/types';

export const CSV_HEADER = 'timestamp_ms,open,high,low,close,volume';

export class CsvBarsError extends Error {
  readonly code = 'CSV_INVALID';
  readonly stage = 'source';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
    this.name = 'CsvBarsError';
  }
}

export interface ReadBarsCsvConfig {
  readonly venue: string;
  readonly symbol: string;
  readonly timeframe: Timeframe;
  /** Keep bars opening at or after this time (ms). */
  readonly from?: number;
  /** Keep bars opening before this time (ms). */
  readonly until?: number;
}

/**
 * Reads and validates a whole CSV file. Any malformed row fails the read with its line number and
 * what is wrong (a backtest on silently dropped rows would be a different backtest); the first
 * 20 problems are listed.
 */
export function readBarsCsv(file: string, config: ReadBarsCsvConfig): Bar[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CsvBarsError(file, [`cannot read: ${(err as Error).message}`]);
  }
  return parseBarsCsv(text, file, config);
}

export function parseBarsCsv(text: string, file: string, config: ReadBarsCsvConfig): Bar[] {
  const tf = timeframeMs(config.timeframe);
  const lines = text.split('\n');
  const problems: string[] = [];
  const bars: Bar[] = [];
  const header = (lines[0] ?? '').trim();
  if (header !== CSV_HEADER) {
    throw new CsvBarsError(file, [
      `line 1: expected header "${CSV_HEADER}", found ${JSON.stringify(header.slice(0, 80))}`,
    ]);
  }
  let previousOpen = -Infinity;
  for (let i = 1; i < lines.length && problems.length < 20; i++) {
    const line = lines[i]!;
    if (line.length === 0 || line === '\r') continue;
    const cells = line.split(',');
    const lineNo = i + 1;
    if (cells.length !== 6) {
      problems.push(`line ${lineNo}: expected 6 columns, found ${cells.length}`);
      continue;
    }
    const ts = Number(cells[0]);
    const open = Number(cells[1]);
    const high = Number(cells[2]);
    const low = Number(cells[3]);
    const close = Number(cells[4]);
    const volume = Number(cells[5]);
    if (!Number.isSafeInteger(ts) || ts < 0 || cells[0]!.trim() === '') {
      problems.push(`line ${lineNo}: column timestamp_ms: expected an integer (ms), found ${JSON.stringify(cells[0])}`);
      continue;
    }
    const bad = (['open', 'high', 'low', 'close', 'volume'] as const).find((_, j) => {
      const cell = cells[j + 1]!;
      const value = [open, high, low, close, volume][j]!;
      return cell.trim() === '' || !Number.isFinite(value) || value < 0;
    });
    if (bad) {
      const j = ['open', 'high', 'low', 'close', 'volume'].indexOf(bad) + 1;
      problems.push(`line ${lineNo}: column ${bad}: expected a non-negative number, found ${JSON.stringify(cells[j])}`);
      continue;
    }
    if (high < Math.max(open, close, low) || low > Math.min(open, close)) {
      problems.push(`line ${lineNo}: inconsistent prices open=${open} high=${high} low=${low} close=${close}`);
      continue;
    }
    if (ts % tf !== 0) {
      problems.push(
        `line ${lineNo}: timestamp ${ts} is not aligned to ${config.timeframe} bars (is the timeframe right?)`,
      );
      continue;
    }
    if (ts <= previousOpen) {
      problems.push(
        `line ${lineNo}: timestamp ${ts} is not after the previous row's ${previousOpen} (rows must ascend without duplicates)`,
      );
      continue;
    }
    previousOpen = ts;
    if ((config.from !== undefined && ts < config.from) || (config.until !== undefined && ts >= config.until)) continue;
    bars.push({
      kind: 'bar',
      venue: config.venue,
      symbol: config.symbol,
      timeframe: config.timeframe,
      tsOpen: ts,
      tsEvent: ts + tf,
      open,
      high,
      low,
      close,
      volume,
      trades: 0,
    });
  }
  if (problems.length > 0) throw new CsvBarsError(file, problems);
  return bars;
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
