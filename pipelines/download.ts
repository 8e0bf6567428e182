/**
 * `run-pipeline download`: historical bars from an exchange (ccxt) into a CSV file, resumable.
 *
 * ```
 * makeOhlcvHistorySource ──pages──▶ makeCsvBarFileSink ──written──▶ progress lines, gaps, summary
 * ```
 *
 * A file that already holds bars is continued after its last complete row (an incomplete last
 * line is cut off first), so an interrupted download is resumed by running the same command again.
 * Gaps between bars (exchange outages) are reported, never filled.
 */
import { Bot4Error } from '../operators/errors';
import type { Writable } from 'node:stream';
import { Observable, asyncScheduler, fromEvent, takeUntil, type SchedulerLike } from 'rxjs';
import { z } from 'zod';
import { timeframeMs, isTimeframe, type BarGap, type Timeframe, type Timestamp } from '../operators/types';
import {
  makeOhlcvHistorySource,
  parseOhlcvHistoryConfig,
  type OhlcvHistoryConfig,
  type OhlcvRetry,
} from '../sources/ohlcvHistory';
import { makeCsvBarFileSink, readCsvBarFileTail, type CsvBarRow } from '../sinks/csvBarFile';

export const DownloadOptionsSchema = z.strictObject({
  /** ccxt exchange id, e.g. `binance`. */
  exchange: z.string().min(1),
  /** Unified symbol, e.g. `BTC/USDT`. */
  symbol: z.string().min(1),
  /** Bar timeframe, e.g. `5m`. */
  timeframe: z.string().min(1),
  /** First bar wanted: ISO date/time (UTC unless it says otherwise) or ms since the epoch. Ignored when `out` already holds bars. */
  since: z.union([z.string().min(1), z.number()]),
  /** End of the range, exclusive: ISO date/time or ms. Default: now (the scheduler's clock). */
  until: z.union([z.string().min(1), z.number()]).optional(),
  /** CSV file to create or continue. */
  out: z.string().min(1),
  /** Bars per request. Default: the exchange's maximum. */
  limit: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
  /** REST base URL replacing the exchange's (testnet, proxy, local server), e.g. `https://testnet.binance.vision`. */
  apiUrl: z.string().min(1).optional(),
  /** Per-request timeout, ms. Default 10000. */
  timeoutMs: z.number().int().positive().optional(),
  /** Retries per request on transient errors. Default 5. */
  maxRetries: z.number().int().min(0).optional(),
  /** First backoff wait, ms (doubles per retry). Default 1000. */
  initialRetryDelayMs: z.number().int().min(0).optional(),
  /** Longest backoff / Retry-After honoured, ms. Default 120000. */
  maxRetryDelayMs: z.number().int().min(0).optional(),
});

/** Options of `run-pipeline download`, as given on the command line or in code. */
export type DownloadOptions = z.input<typeof DownloadOptionsSchema>;

export interface DownloadIo {
  /** Where progress lines and the summary go (e.g. `process.stderr`). */
  readonly progress: Writable;
  /** Clock (default `until`) and backoff timers. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Aborting stops after the write in flight; the summary then has `aborted: true`. */
  readonly signal?: AbortSignal;
}

export interface DownloadSummary {
  readonly kind: 'download-summary';
  readonly exchange: string;
  readonly symbol: string;
  readonly timeframe: Timeframe;
  readonly out: string;
  /** Start of the range asked of the exchange in this run (after a resume: the bar after the file's last). */
  readonly since: Timestamp;
  /** End of the range, exclusive. */
  readonly until: Timestamp;
  /** Open time of the file's last row before this run; null for a new file. */
  readonly resumedAfter: Timestamp | null;
  /** Incomplete last line cut off the file before resuming, if any. */
  readonly cutTail: string | null;
  readonly barsWritten: number;
  readonly pages: number;
  readonly requests: number;
  readonly retries: number;
  /** Open times of the first and last bar written in this run. */
  readonly firstTsOpen: Timestamp | null;
  readonly lastTsOpen: Timestamp | null;
  /** Missing bars between consecutive rows of the file (including the row it resumed after). */
  readonly gaps: readonly BarGap[];
  readonly missingBars: number;
  /** True when the file now holds every bar the exchange has up to `until`, i.e. no whole bar fits after the last one. */
  readonly reachedUntil: boolean;
  readonly aborted: boolean;
}

export type DownloadErrorCode = 'INVALID_OPTION' | 'FILE_MISMATCH';

export class DownloadError extends Bot4Error<DownloadErrorCode> {
  constructor(code: DownloadErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(code, 'download', message, options);
  }
}

/**
 * Downloads, writes and reports; resolves with the summary once everything written is on disk.
 * Rejects on invalid options (before any I/O), on a file that is not a bar CSV of this timeframe, and
 * on an exchange error that retries could not overcome; bars written before the error stay in the
 * file and the next run resumes after them.
 */
export async function runDownload(options: DownloadOptions, io: DownloadIo): Promise<DownloadSummary> {
  const scheduler = io.scheduler ?? asyncScheduler;
  const parsed = DownloadOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new DownloadError(
      'INVALID_OPTION',
      parsed.error.issues.map((issue) => describeOptionIssue(issue, options)).join('; '),
    );
  }
  const o = parsed.data;
  if (!isTimeframe(o.timeframe)) {
    throw new DownloadError(
      'INVALID_OPTION',
      `download: timeframe: expected one of 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, found ${JSON.stringify(o.timeframe)}`,
    );
  }
  const timeframe = o.timeframe;
  const step = timeframeMs(timeframe);
  const requestedSince = parseTime(o.since, 'since');
  const until = o.until === undefined ? Math.floor(scheduler.now()) : parseTime(o.until, 'until');
  if (until <= requestedSince) {
    throw new DownloadError(
      'INVALID_OPTION',
      `download: until: expected a time after since (${iso(requestedSince)}), found ${iso(until)}`,
    );
  }

  // The source's own checks (exchange id, symbol form, timeframe offered…) before touching the file.
  parseOhlcvHistoryConfig(sourceConfigFor(o, timeframe, requestedSince, until), 'download');

  const tail = await readCsvBarFileTail(o.out);
  checkTimeframe(o.out, tail.last, tail.previous, timeframe);
  const meta = { exchange: o.exchange, symbol: o.symbol, timeframe, source: 'ccxt.fetchOHLCV' };
  checkMeta(o.out, tail.meta, meta);
  const resumedAfter = tail.last?.tsOpen ?? null;
  const since = resumedAfter === null ? requestedSince : resumedAfter + step;
  const label = `${o.exchange} ${o.symbol} ${timeframe}`;
  const write = (line: string): void => {
    io.progress.write(`${line}\n`);
  };

  if (tail.incompleteTail !== null) {
    write(
      `${o.out}: last line was incomplete (${JSON.stringify(truncate(tail.incompleteTail, 60))}, ${tail.incompleteTail.length} bytes), probably from an interrupted run; cutting it off`,
    );
  }
  if (resumedAfter !== null) {
    const note = since !== requestedSince ? ` (since=${iso(requestedSince)} only applies to a new file)` : '';
    write(`${o.out}: ends with the bar of ${iso(resumedAfter)}; continuing from ${iso(since)}${note}`);
  }

  const sourceConfig = sourceConfigFor(o, timeframe, since, until);

  const gaps: BarGap[] = [];
  let previousTsOpen = resumedAfter;
  let firstTsOpen: Timestamp | null = null;
  let barsWritten = 0;
  let pages = 0;
  let requests = 0;
  let retries = 0;

  const summary = (aborted: boolean): DownloadSummary => {
    const lastTsOpen = previousTsOpen;
    return Object.freeze({
      kind: 'download-summary',
      exchange: o.exchange,
      symbol: o.symbol,
      timeframe,
      out: o.out,
      since,
      until,
      resumedAfter,
      cutTail: tail.incompleteTail,
      barsWritten,
      pages,
      requests,
      retries,
      firstTsOpen,
      lastTsOpen: barsWritten === 0 ? null : lastTsOpen,
      gaps: Object.freeze([...gaps]),
      missingBars: gaps.reduce((sum, gap) => sum + gap.missing, 0),
      reachedUntil: (lastTsOpen ?? since - step) + 2 * step > until,
      aborted,
    });
  };

  if (since >= until) {
    const done = summary(false);
    write(`${label}: nothing to download, ${o.out} already reaches ${iso(until)}`);
    return done;
  }

  const source$ = makeOhlcvHistorySource(sourceConfig, {
    scheduler,
    onRetry: (retry: OhlcvRetry) =>
      write(
        `${label}: ${retry.request === 'markets' ? 'loading markets' : `page since ${iso(retry.request)}`}: ${retry.reason}` +
          ` — retry ${retry.attempt} in ${(retry.delayMs / 1000).toFixed(1)} s${retry.retryAfterMs !== null ? ' (Retry-After)' : ''}`,
      ),
  });
  const abort$ = io.signal ? fromEvent(io.signal, 'abort') : new Observable<never>();
  const aborted = (): boolean => io.signal?.aborted === true;

  return new Promise<DownloadSummary>((resolve, reject) => {
    if (aborted()) {
      resolve(summary(true));
      return;
    }
    source$.pipe(takeUntil(abort$), makeCsvBarFileSink({ path: o.out, meta })).subscribe({
      next: (event) => {
        if (event.kind === 'csv-opened') return;
        const page = event.batch;
        for (const bar of page.bars) {
          if (previousTsOpen !== null && bar.tsOpen - previousTsOpen > step) {
            const from = previousTsOpen + step;
            gaps.push(
              Object.freeze({
                kind: 'gap',
                venue: page.venue,
                symbol: page.symbol,
                timeframe,
                from,
                to: bar.tsOpen,
                missing: Math.round((bar.tsOpen - from) / step),
                tsEvent: bar.tsEvent,
              }),
            );
          }
          firstTsOpen ??= bar.tsOpen;
          previousTsOpen = bar.tsOpen;
        }
        barsWritten += event.rows;
        pages = page.progress.pages;
        requests = page.progress.requests;
        retries = page.progress.retries;
        write(
          `${label}: ${barsWritten} bars written (+${event.rows}), up to ${iso(page.progress.reached)}, ` +
            `${(100 * fractionOf(page.progress.reached, since, until)).toFixed(1)}%`,
        );
      },
      error: (error: unknown) => {
        write(`${label}: stopped after ${barsWritten} bars written to ${o.out}; run again to resume`);
        reject(error);
      },
      complete: () => {
        const result = summary(aborted());
        for (const line of describeSummary(result)) write(line);
        resolve(result);
      },
    });
  });
}

const EXPECTED: Readonly<Record<string, string>> = {
  since: 'an ISO date (2024-01-01), date-time (2024-01-01T12:00Z) or ms since the epoch',
  until: 'an ISO date (2024-01-01), date-time (2024-01-01T12:00Z) or ms since the epoch',
  limit: 'a whole number of bars per request',
};

function describeOptionIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const key = issue.path.join('.') || '(options)';
  if (issue.code === 'unrecognized_keys') {
    return `download: ${issue.message} (known options: ${Object.keys(DownloadOptionsSchema.shape).join(', ')})`;
  }
  const found = issue.path.reduce<unknown>(
    (value, k) =>
      typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[String(k)] : undefined,
    input,
  );
  const expected = EXPECTED[key] ?? (issue.code === 'invalid_type' ? issue.expected : issue.message);
  return `download: ${key}: expected ${expected}, found ${found === undefined ? 'nothing' : JSON.stringify(found)}`;
}

function sourceConfigFor(
  o: z.output<typeof DownloadOptionsSchema>,
  timeframe: Timeframe,
  since: Timestamp,
  until: Timestamp,
): OhlcvHistoryConfig {
  return {
    exchange: o.exchange,
    symbol: o.symbol,
    timeframe,
    since,
    until,
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
    ...(o.apiUrl !== undefined ? { apiUrl: o.apiUrl } : {}),
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    retry: {
      ...(o.maxRetries !== undefined ? { maxRetries: o.maxRetries } : {}),
      ...(o.initialRetryDelayMs !== undefined ? { initialDelayMs: o.initialRetryDelayMs } : {}),
      ...(o.maxRetryDelayMs !== undefined ? { maxDelayMs: o.maxRetryDelayMs } : {}),
    },
  };
}

function fractionOf(reached: Timestamp, since: Timestamp, until: Timestamp): number {
  return Math.min(1, Math.max(0, (reached - since) / (until - since)));
}

/** The closing lines printed after a download. */
export function describeSummary(s: DownloadSummary): string[] {
  const label = `${s.exchange} ${s.symbol} ${s.timeframe}`;
  const lines: string[] = [];
  const how = s.aborted ? 'aborted' : 'done';
  if (s.barsWritten === 0) {
    lines.push(`${label}: ${how}: no new closed bar between ${iso(s.since)} and ${iso(s.until)}; ${s.out} unchanged`);
  } else {
    lines.push(
      `${label}: ${how}: ${s.barsWritten} bars written to ${s.out}, ${iso(s.firstTsOpen!)} … ${iso(s.lastTsOpen!)} ` +
        `(${s.pages} pages, ${s.requests} requests, ${s.retries} ${s.retries === 1 ? 'retry' : 'retries'})`,
    );
  }
  if (s.gaps.length === 0) {
    if (s.barsWritten > 0) lines.push(`${label}: no gaps`);
  } else {
    lines.push(
      `${label}: ${s.gaps.length} gap${s.gaps.length === 1 ? '' : 's'}, ${s.missingBars} bars missing (not filled):`,
    );
    for (const gap of s.gaps.slice(0, 20)) {
      lines.push(`  ${iso(gap.from)} → ${iso(gap.to)}: ${gap.missing} bar${gap.missing === 1 ? '' : 's'} missing`);
    }
    if (s.gaps.length > 20) lines.push(`  … and ${s.gaps.length - 20} more`);
  }
  if (!s.aborted && !s.reachedUntil && s.barsWritten > 0) {
    lines.push(`${label}: the exchange had no closed bar after ${iso(s.lastTsOpen!)} before ${iso(s.until)}`);
  }
  return lines;
}

/**
 * A time option: ms since the epoch (a number, or a string of at least 12 digits), or an ISO date
 * `2024-01-01` / date-time `2024-01-01T12:30[:00[.000]]` read as UTC unless it carries `Z` or an offset.
 */
export function parseTime(value: string | number, option: string): Timestamp {
  const fail = (): never => {
    throw new DownloadError(
      'INVALID_OPTION',
      `download: ${option}: expected an ISO date (2024-01-01), date-time (2024-01-01T12:00Z) or ms since the epoch, found ${JSON.stringify(value)}`,
    );
  };
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : fail();
  const text = value.trim();
  if (/^\d{12,}$/.test(text)) return Number.isSafeInteger(Number(text)) ? Number(text) : fail();
  const match =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(text);
  if (!match) return fail();
  const [, y, mo, d, h = '0', mi = '0', s = '0', ms = '0', zone] = match;
  const local = Date.UTC(
    Number(y),
    Number(mo) - 1,
    Number(d),
    Number(h),
    Number(mi),
    Number(s),
    Number(ms.padEnd(3, '0')),
  );
  const check = new Date(local);
  if (
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    check.getUTCHours() !== Number(h) ||
    check.getUTCMinutes() !== Number(mi) ||
    check.getUTCSeconds() !== Number(s)
  ) {
    return fail();
  }
  if (zone === undefined || zone === 'Z') return local;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const offsetMs = (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  return local - sign * offsetMs;
}

/** Refuses to extend a file whose first line says it holds another exchange, symbol or timeframe. */
function checkMeta(
  out: string,
  found: { readonly exchange?: string; readonly symbol?: string; readonly timeframe?: string } | null,
  wanted: { readonly exchange: string; readonly symbol: string; readonly timeframe: string },
): void {
  if (!found) return;
  const differences = (['exchange', 'symbol', 'timeframe'] as const).filter(
    (key) => found[key] !== undefined && found[key] !== wanted[key],
  );
  if (differences.length > 0) {
    throw new DownloadError(
      'FILE_MISMATCH',
      `${out}: holds ${differences.map((k) => `${k} ${found[k]}`).join(', ')} (its first line), but this download is ${differences.map((k) => `${k} ${wanted[k]}`).join(', ')}; use another --out`,
    );
  }
}

/** Refuses to extend a file whose rows are not on this timeframe's grid (e.g. a 1h file resumed as 5m). */
function checkTimeframe(out: string, last: CsvBarRow | null, previous: CsvBarRow | null, timeframe: Timeframe): void {
  if (!last) return;
  const step = timeframeMs(timeframe);
  const onGrid = last.tsOpen % step === 0;
  const spacing = previous === null ? step : last.tsOpen - previous.tsOpen;
  if (!onGrid || spacing <= 0 || spacing % step !== 0) {
    throw new DownloadError(
      'FILE_MISMATCH',
      `${out}: its last rows (${previous ? `${iso(previous.tsOpen)}, ` : ''}${iso(last.tsOpen)}) are not ${timeframe} bars; use another --out or the file's timeframe`,
    );
  }
}

function iso(ts: Timestamp): string {
  return new Date(ts).toISOString().replace('.000Z', 'Z');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
