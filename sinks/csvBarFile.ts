/**
 * Bars appended to a CSV file, durably, in the format of bot4's candle files:
 *
 * ```
 * # exchange=binance symbol=BTC/USDT timeframe=5m source=ccxt.fetchOHLCV
 * timestamp_ms,open,high,low,close,volume
 * 1606780800000,19695.87,19720.0,19578.96,19607.03,794.500517
 * ```
 *
 * The first line, written when the sink is given `meta`, says what the file holds, so that a
 * backtest can refuse a file of another instrument or timeframe (see operators/barChecks).
 * `timestamp_ms` is the bar's open time; numbers are plain decimals (shortest form that reads back
 * as the same double, at least one decimal, never an exponent).
 *
 * ```
 * batches$: ──b₁────b₂──────|
 * result:   o─w₁────w₂──────|      o = csv-opened (resume point, cut tail), w = csv-written (after fsync)
 * ```
 *
 * Resume: an existing file is continued after its last complete row. A last line without its
 * newline (a crash mid-write) is cut off and reported in `csv-opened`; a corrupt complete row is an
 * error, never silently dropped. Each batch is one append followed by fdatasync, so a crash loses
 * at most the batch in flight. A batch that does not start after the file's last row is refused.
 */
import { formatBarFileMeta, parseBarFileMeta, type BarFileMeta } from '../operators/barChecks';
import { Bot4Error } from '../operators/errors';
import { constants as fsConstants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { Observable, concat, concatMap, defer, from, mergeMap, of } from 'rxjs';
import type { Bar, Timestamp } from '../operators/types';

const STAGE = 'csv-bar-file';

export const CSV_BAR_HEADER = 'timestamp_ms,open,high,low,close,volume';

export type CsvBarFileErrorCode = 'NOT_A_BAR_FILE' | 'CORRUPT_ROW' | 'OUT_OF_ORDER' | 'NOT_A_NUMBER';

export class CsvBarFileError extends Bot4Error<CsvBarFileErrorCode> {
  constructor(code: CsvBarFileErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(code, STAGE, message, options);
  }
}

/** The columns of one row. */
export type CsvBarRow = Pick<Bar, 'tsOpen' | 'open' | 'high' | 'low' | 'close' | 'volume'>;

/** Anything that carries bars to write, e.g. an `OhlcvPage`. */
export interface BarBatch {
  readonly bars: readonly CsvBarRow[];
}

export interface CsvBarFileConfig {
  /** File to create or continue. Its directory must exist. */
  readonly path: string;
  /** What the file holds, written as its first line when the file is created. */
  readonly meta?: BarFileMeta;
}

/** What a file holds at its end, as a resume needs it. */
export interface CsvBarFileTail {
  readonly path: string;
  readonly exists: boolean;
  /** Last complete row; null when the file has no row (absent, empty, header only). */
  readonly last: CsvBarRow | null;
  /** The complete row before `last`, null when there is none. */
  readonly previous: CsvBarRow | null;
  /** Bytes up to and including the last newline (0 when even the header is incomplete). */
  readonly completeBytes: number;
  /** Bytes after the last newline, i.e. an incomplete last line; null when the file ends cleanly. */
  readonly incompleteTail: string | null;
  /** What the file's first line says it holds; null when it has no such line. */
  readonly meta: BarFileMeta | null;
}

export interface CsvFileOpened {
  readonly kind: 'csv-opened';
  readonly path: string;
  /** True when the file did not exist (or was empty) and the header was written. */
  readonly created: boolean;
  /** Row the new bars continue after; null for a new file. */
  readonly last: CsvBarRow | null;
  /** The incomplete last line that was cut off, null when there was none. */
  readonly cutTail: string | null;
}

export interface CsvBatchWritten<B> {
  readonly kind: 'csv-written';
  readonly path: string;
  readonly batch: B;
  /** Rows of this batch, now on disk. */
  readonly rows: number;
  /** Rows written since this subscription opened the file. */
  readonly totalRows: number;
  /** Open time of the file's last row after this batch; null when the file has none. */
  readonly lastTsOpen: Timestamp | null;
}

export type CsvBarFileEvent<B> = CsvFileOpened | CsvBatchWritten<B>;

/**
 * A sink that appends each batch's bars to the file and emits, in order, `csv-opened` once and then
 * one `csv-written` per batch after the batch is on disk. Unsubscribing lets an append in flight
 * finish (and reach the disk) before the file is closed.
 *
 * @example
 * pages$.pipe(makeCsvBarFileSink({ path: 'btc-5m.csv' })).subscribe((event) => …);
 */
export function makeCsvBarFileSink(
  config: CsvBarFileConfig,
): <B extends BarBatch>(batches$: Observable<B>) => Observable<CsvBarFileEvent<B>> {
  return <B extends BarBatch>(batches$: Observable<B>): Observable<CsvBarFileEvent<B>> =>
    new Observable<CsvBarFileEvent<B>>((subscriber) => {
      const opening = CsvBarFileWriter.open(config.path, config.meta);
      const subscription = from(opening)
        .pipe(
          mergeMap((writer) =>
            concat(
              of<CsvBarFileEvent<B>>(writer.opened),
              batches$.pipe(concatMap((batch) => defer(() => writer.append(batch)))),
            ),
          ),
        )
        .subscribe(subscriber);
      return () => {
        subscription.unsubscribe();
        opening.then(
          (writer) => writer.close(),
          () => undefined,
        );
      };
    });
}

/** Appends to one file; appends are queued, and close waits for them. */
class CsvBarFileWriter {
  private queue: Promise<unknown> = Promise.resolve();
  private lastTsOpen: Timestamp | null;
  private totalRows = 0;

  private constructor(
    private readonly handle: FileHandle,
    readonly opened: CsvFileOpened,
  ) {
    this.lastTsOpen = opened.last?.tsOpen ?? null;
  }

  static async open(file: string, meta?: BarFileMeta): Promise<CsvBarFileWriter> {
    const existed = await fs.stat(file).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return false;
        throw error;
      },
    );
    const handle = await fs.open(file, fsConstants.O_RDWR | fsConstants.O_APPEND | fsConstants.O_CREAT, 0o644);
    try {
      const tail = await readTail(handle, file);
      if (tail.incompleteTail !== null) await handle.truncate(tail.completeBytes);
      const created = tail.completeBytes === 0;
      if (created) {
        await handle.write(`${meta ? `${formatBarFileMeta(meta)}\n` : ''}${CSV_BAR_HEADER}\n`);
        await handle.datasync();
      }
      if (!existed) await syncDirectory(path.dirname(file));
      return new CsvBarFileWriter(
        handle,
        Object.freeze({ kind: 'csv-opened', path: file, created, last: tail.last, cutTail: tail.incompleteTail }),
      );
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  append<B extends BarBatch>(batch: B): Promise<CsvBatchWritten<B>> {
    const result = this.queue.then(() => this.write(batch));
    this.queue = result.catch(() => undefined);
    return result;
  }

  close(): Promise<void> {
    return this.queue.then(() => this.handle.close());
  }

  private async write<B extends BarBatch>(batch: B): Promise<CsvBatchWritten<B>> {
    let previous = this.lastTsOpen;
    let text = '';
    for (const bar of batch.bars) {
      if (previous !== null && bar.tsOpen <= previous) {
        throw new CsvBarFileError(
          'OUT_OF_ORDER',
          `${this.opened.path}: bar ${new Date(bar.tsOpen).toISOString()} does not come after ${new Date(previous).toISOString()}, the last row; refusing a duplicate or out-of-order row`,
        );
      }
      text += formatBarRow(bar);
      previous = bar.tsOpen;
    }
    if (text !== '') {
      await this.handle.write(text);
      await this.handle.datasync();
    }
    this.lastTsOpen = previous;
    this.totalRows += batch.bars.length;
    return Object.freeze({
      kind: 'csv-written',
      path: this.opened.path,
      batch,
      rows: batch.bars.length,
      totalRows: this.totalRows,
      lastTsOpen: previous,
    });
  }
}

/** One CSV row with its newline. */
export function formatBarRow(bar: CsvBarRow): string {
  if (!Number.isSafeInteger(bar.tsOpen) || bar.tsOpen < 0) {
    throw new CsvBarFileError('NOT_A_NUMBER', `bar open time ${bar.tsOpen} is not a timestamp in ms`);
  }
  return `${bar.tsOpen},${formatDecimal(bar.open)},${formatDecimal(bar.high)},${formatDecimal(bar.low)},${formatDecimal(bar.close)},${formatDecimal(bar.volume)}\n`;
}

/**
 * A number as a plain decimal: the shortest digits that read back as the same double (as
 * `String(n)`), expanded when JavaScript would use an exponent, with `.0` for whole numbers
 * (`19720` → `19720.0`, `1e-8` → `0.00000001`).
 */
export function formatDecimal(value: number): string {
  if (!Number.isFinite(value)) throw new CsvBarFileError('NOT_A_NUMBER', `${value} cannot be written as a decimal`);
  let text = String(value === 0 ? 0 : value);
  if (text.includes('e')) text = expandExponent(text);
  return text.includes('.') ? text : `${text}.0`;
}

function expandExponent(text: string): string {
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!match) throw new CsvBarFileError('NOT_A_NUMBER', `unexpected number form ${text}`);
  const [, sign, first, rest = '', exponent] = match;
  const digits = first! + rest;
  const point = 1 + Number(exponent);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** Parses one data row (no newline); null when it is not a valid row. */
export function parseBarRow(line: string): CsvBarRow | null {
  const fields = line.split(',');
  if (fields.length !== 6 || !/^\d+$/.test(fields[0]!)) return null;
  const numbers = fields.map((field) => (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(field) ? Number(field) : Number.NaN));
  if (!numbers.every(Number.isFinite)) return null;
  const [tsOpen, open, high, low, close, volume] = numbers as [number, number, number, number, number, number];
  return { tsOpen, open, high, low, close, volume };
}

/**
 * Reads what a resume needs from the end of a bar CSV (without changing it): the last two complete
 * rows and an incomplete last line, if any. Reads only the end of the file, however long it is.
 * Throws {@link CsvBarFileError} when the file is not a bar CSV or its last complete row is corrupt.
 */
export async function readCsvBarFileTail(file: string): Promise<CsvBarFileTail> {
  let handle: FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return {
        path: file,
        exists: false,
        last: null,
        previous: null,
        completeBytes: 0,
        incompleteTail: null,
        meta: null,
      };
    }
    throw error;
  }
  try {
    return await readTail(handle, file);
  } finally {
    await handle.close();
  }
}

const CHUNK = 64 * 1024;

async function readTail(handle: FileHandle, file: string): Promise<CsvBarFileTail> {
  const { size } = await handle.stat();
  // An optional first line "# key=value …" saying what the file holds, then the column header.
  const first = Buffer.alloc(Math.min(size, 1024));
  await handle.read(first, 0, first.length, 0);
  const firstText = first.toString('utf8');
  let meta: BarFileMeta | null = null;
  let metaBytes = 0;
  if (firstText.startsWith('#')) {
    const end = firstText.indexOf('\n');
    if (end < 0) {
      // A header line cut short by a crash: start over.
      return {
        path: file,
        exists: true,
        last: null,
        previous: null,
        completeBytes: 0,
        incompleteTail: firstText,
        meta,
      };
    }
    const parsed = parseBarFileMeta(firstText.slice(0, end));
    if (typeof parsed === 'string')
      throw new CsvBarFileError('NOT_A_BAR_FILE', `${file}: line 1: ${parsed}; refusing to append to it`);
    meta = parsed;
    metaBytes = Buffer.byteLength(firstText.slice(0, end + 1));
  }
  const headerLine = `${CSV_BAR_HEADER}\n`;
  const head = Buffer.alloc(Math.max(0, Math.min(size - metaBytes, headerLine.length)));
  await handle.read(head, 0, head.length, metaBytes);
  const headText = head.toString('latin1');
  if (!headerLine.startsWith(headText) || (size - metaBytes >= headerLine.length && headText !== headerLine)) {
    throw new CsvBarFileError(
      'NOT_A_BAR_FILE',
      `${file}: does not start with the header ${CSV_BAR_HEADER} (found ${JSON.stringify(headText.split('\n')[0])}); refusing to append to it`,
    );
  }
  if (size - metaBytes < headerLine.length) {
    // Nothing, or a header cut short by a crash: start over with the header.
    return {
      path: file,
      exists: true,
      last: null,
      previous: null,
      completeBytes: 0,
      incompleteTail: size === 0 ? null : firstText,
      meta,
    };
  }
  // Walk back from the end until the last three newlines (or the header) are in hand.
  let start = size;
  let text = '';
  const newlines = (): number => (text.match(/\n/g) ?? []).length;
  while (start > 0 && newlines() < 3) {
    const from = Math.max(0, start - CHUNK);
    const buffer = Buffer.alloc(start - from);
    await handle.read(buffer, 0, buffer.length, from);
    text = buffer.toString('latin1') + text;
    start = from;
  }
  const lastNewline = text.lastIndexOf('\n');
  const completeBytes = start + lastNewline + 1;
  const incompleteTail = completeBytes < size ? text.slice(lastNewline + 1) : null;
  const lines = text.slice(0, lastNewline).split('\n');
  // With start > 0 the first element may be a partial line; only the last two are used.
  const dataLines = (start === 0 ? lines.slice(metaBytes > 0 ? 2 : 1) : lines).slice(-2);
  const rows = dataLines.map((line) => {
    const row = parseBarRow(line.endsWith('\r') ? line.slice(0, -1) : line);
    if (!row) {
      throw new CsvBarFileError(
        'CORRUPT_ROW',
        `${file}: complete row ${JSON.stringify(line)} is not timestamp_ms,open,high,low,close,volume; fix or remove it before resuming`,
      );
    }
    return row;
  });
  return {
    path: file,
    exists: true,
    last: rows[rows.length - 1] ?? null,
    previous: rows.length >= 2 ? rows[rows.length - 2]! : null,
    completeBytes,
    incompleteTail,
    meta,
  };
}

/** A new file's directory entry must reach the disk too, or a crash can lose the whole file. */
async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await fs.open(directory, 'r');
    await handle.sync();
  } catch {
    // Not every platform can fsync a directory (Windows); the data itself is synced either way.
  } finally {
    await handle?.close();
  }
}
