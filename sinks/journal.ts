/**
 * The append-only journal: one JSON object per line, every signal, intent, risk decision, order
 * event and fill (and data problems), in the order they happened. Amounts (bigint units) are
 * written as exact decimal strings. State can be rebuilt from it, and two runs of the same
 * backtest produce byte-identical journals.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from 'node:fs';
import * as path from 'node:path';
import { Observable } from 'rxjs';
import { Bot4Error } from '../operators/errors';
import { formatUnits } from '../operators/money';

export interface JournalSinkConfig {
  readonly file: string;
  /** Keep what the file has and add to it (live/paper); default false: start a new file (backtest). */
  readonly append?: boolean;
  /** Bytes buffered before a write. Default 256 KiB. Everything is flushed and fsynced on completion. */
  readonly bufferBytes?: number;
  /** fsync after every flush (live runs: at most one buffer is lost on power failure). Default false. */
  readonly syncEachFlush?: boolean;
  /**
   * With `syncEachFlush`: `'turn'` fsyncs once at the end of the current event-loop turn, for
   * everything written in it (group commit), instead of after each write. Every line is still
   * written to the file at once, so a process crash (`kill -9`) loses nothing; a power failure
   * loses at most one turn's lines. It keeps fsync off the path from a kill-switch press to the
   * flatten order. Default `'flush'`.
   */
  readonly syncTiming?: 'flush' | 'turn';
}

export interface JournalStats {
  readonly file: string;
  readonly lines: number;
  readonly bytes: number;
}

/** Values that are journaled: the events' own shapes, with bigint amounts. */
export type Journaled = { readonly kind: string };

/**
 * A journal sink: subscribe the returned observable to write `events$`; it emits the stats and
 * completes once the input has completed and the file is flushed, fsynced and closed. On an input
 * error the buffered lines are still written before the error is passed on.
 */
export function makeJournalSink(
  config: JournalSinkConfig,
): (events$: Observable<Journaled>) => Observable<JournalStats> {
  const limit = config.bufferBytes ?? 256 * 1024;
  return (events$) =>
    new Observable<JournalStats>((subscriber) => {
      mkdirSync(path.dirname(path.resolve(config.file)), { recursive: true });
      const fd = openSync(config.file, config.append ? 'a+' : 'w');
      let open = true;
      // A crash can leave a torn last line (no newline). Appending after it would glue the next
      // record onto it; ending it here keeps it on a line of its own, where readJournal reports it.
      if (config.append && endsTorn(fd)) {
        writeSync(fd, '\n');
        fsyncSync(fd);
      }
      let syncPending: NodeJS.Immediate | undefined;
      let buffer = '';
      let lines = 0;
      let bytes = 0;
      const flush = (): void => {
        if (buffer.length === 0) return;
        const chunk = Buffer.from(buffer, 'utf8');
        let offset = 0;
        while (offset < chunk.length) offset += writeSync(fd, chunk, offset, chunk.length - offset);
        bytes += chunk.length;
        buffer = '';
        if (!config.syncEachFlush) return;
        if (config.syncTiming !== 'turn') fsyncSync(fd);
        else if (!syncPending) {
          syncPending = setImmediate(() => {
            syncPending = undefined;
            if (open) fsyncSync(fd);
          });
        }
      };
      const close = (): void => {
        if (!open) return;
        open = false;
        try {
          flush();
          fsyncSync(fd);
        } finally {
          if (syncPending) clearImmediate(syncPending);
          closeSync(fd);
        }
      };
      const subscription = events$.subscribe({
        next: (event) => {
          buffer += serializeEvent(event);
          buffer += '\n';
          lines++;
          if (buffer.length >= limit) flush();
        },
        error: (err: unknown) => {
          try {
            close();
          } finally {
            subscriber.error(err);
          }
        },
        complete: () => {
          try {
            close();
          } catch (err) {
            subscriber.error(err);
            return;
          }
          subscriber.next({ file: config.file, lines, bytes });
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        close();
      };
    });
}

/**
 * One journal line (without the newline): JSON with bigint amounts as decimal strings. A fused
 * signal's components are written without the fields they share with it (symbol, timeframe,
 * time, price are in the fused signal and its id), which halves the size of a backtest journal.
 */
export function serializeEvent(event: unknown): string {
  return JSON.stringify(event, bigintReplacer);
}

interface ComponentLike {
  readonly source: string;
  readonly direction: number;
  readonly strength: number;
  readonly confidence: number;
  readonly available: boolean;
  readonly detail: unknown;
}

function bigintReplacer(key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return formatUnits(value);
  if (key === 'components' && Array.isArray(value)) {
    return (value as ComponentLike[]).map((c) => ({
      source: c.source,
      direction: c.direction,
      strength: c.strength,
      confidence: c.confidence,
      available: c.available,
      detail: c.detail,
    }));
  }
  return value;
}

/** True when the file open on `fd` is non-empty and does not end with a newline. */
function endsTorn(fd: number): boolean {
  const size = fstatSync(fd).size;
  if (size === 0) return false;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  return last[0] !== 0x0a;
}

/** A line of a journal that is not a complete JSON record: what a crash mid-write leaves. */
export interface TornLine {
  /** 1-based line number in the file. */
  readonly line: number;
  /** The first 200 characters of the line. */
  readonly text: string;
  /** Why it is not a record. */
  readonly reason: string;
}

/** A journal as read back: the records in order (amounts still decimal strings), and the torn lines. */
export interface JournalContents {
  readonly file: string;
  readonly records: readonly JournalRecord[];
  readonly torn: readonly TornLine[];
}

/** A record as read back from a journal: the JSON object, with `kind` and its 1-based line number. */
export type JournalRecord = { readonly kind: string; readonly line: number; readonly [key: string]: unknown };

export class JournalReadError extends Bot4Error<'JOURNAL_CORRUPT'> {
  constructor(message: string) {
    super('JOURNAL_CORRUPT', 'journal', message);
  }
}

/**
 * Reads a journal back. A line that is not a JSON object with a `kind` is torn: it is reported in
 * `torn` and left out of `records`. A crash can only tear the line it was writing, so a torn line
 * is accepted where a writer ended — the file's last line, or a line followed by a new writer's
 * first record (a `session` header, an operator's `mode-reset`); anywhere else it means the file was damaged, and reading fails with a
 * {@link JournalReadError} naming the line rather than rebuilding state from a journal with a hole.
 * A missing file reads as empty.
 */
export function readJournal(file: string): JournalContents {
  if (!existsSync(file)) return { file, records: [], torn: [] };
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const records: JournalRecord[] = [];
  const torn: TornLine[] = [];
  let pendingTorn: TornLine | undefined;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    let value: unknown;
    let reason: string | undefined;
    if (text.length === 0) reason = 'empty line';
    else {
      try {
        value = JSON.parse(text);
        if (typeof value !== 'object' || value === null || typeof (value as { kind?: unknown }).kind !== 'string')
          reason = 'not a JSON object with a kind';
      } catch (err) {
        reason = `not JSON (${(err as Error).message})`;
      }
    }
    if (reason !== undefined) {
      if (pendingTorn) throw corrupt(file, pendingTorn);
      pendingTorn = { line: i + 1, text: text.slice(0, 200), reason };
      torn.push(pendingTorn);
      continue;
    }
    const record = { ...(value as { kind: string }), line: i + 1 };
    if (pendingTorn) {
      if (!OPENING_KINDS.has(record.kind)) throw corrupt(file, pendingTorn);
      pendingTorn = undefined;
    }
    records.push(record);
  }
  return { file, records, torn };
}

/**
 * Kinds a writer appends first when it opens a journal (a session's header, an operator's reset):
 * a torn line just before one of them is where an earlier writer died.
 */
const OPENING_KINDS = new Set(['session', 'mode-reset']);

function corrupt(file: string, torn: TornLine): JournalReadError {
  return new JournalReadError(
    `${file}:${torn.line}: ${torn.reason}, and the next line is not a new session's header: the journal was damaged in the middle, not torn by a crash; refusing to rebuild state from it (found ${JSON.stringify(torn.text.slice(0, 80))})`,
  );
}

/**
 * Appends one record to a journal and fsyncs it (an operator's command between sessions, e.g. the
 * audited `mode-reset`). A torn last line is ended first, as the sink does.
 */
export function appendJournalRecord(file: string, record: Journaled): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const fd = openSync(file, 'a+');
  try {
    const line = `${endsTorn(fd) ? '\n' : ''}${serializeEvent(record)}\n`;
    writeSync(fd, line);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
