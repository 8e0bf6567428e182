/**
 * The append-only journal: one JSON object per line, every intent, risk decision, order event and
 * fill, mode and audit event, data problem — and signals, as many as the level asks for — in the
 * order they happened. Amounts (bigint units) are written as exact decimal strings. State can be
 * rebuilt from it, and two runs of the same backtest produce byte-identical journals.
 *
 * Levels (`journal.level` in the config, `--journal-level` on the command line):
 * - `decisions` (default): every event except signals that repeat the previous signal's
 *   direction and market-risk estimates rolled forward between refits. A signal that changed direction, and a signal that caused an intent or order, are
 *   written as their headline (the signal without `detail` and `components`), so every order
 *   still traces to its signal. About 1 % of the bytes of `all` on a 5m backtest.
 * - `all`: every signal of every bar, with its evidence and its components, and every
 *   market-risk estimate.
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
import { Observable, type Subscription } from 'rxjs';
import { Bot4Error } from '../operators/errors';
import { formatUnits } from '../operators/money';

/** What the journal keeps; see the module comment. */
/**
 * Journals are created owner read/write, group read (0640), never world-readable: they hold the
 * account's trading history. Folders created for them are 0750. (The process umask can only
 * remove bits.)
 */
export const JOURNAL_FILE_MODE = 0o640;

export type JournalLevel = 'decisions' | 'all';
export const JOURNAL_LEVELS: readonly JournalLevel[] = ['decisions', 'all'];

export interface JournalSinkConfig {
  readonly file: string;
  /** Which signals are written. Default `decisions`. Every other event is written at every level. */
  readonly level?: JournalLevel;
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
  const level = config.level ?? 'decisions';
  if (!JOURNAL_LEVELS.includes(level))
    throw new Error(`journal level: expected one of ${JOURNAL_LEVELS.join(', ')}, found ${JSON.stringify(level)}`);
  return (events$) =>
    new Observable<JournalStats>((subscriber) => {
      mkdirSync(path.dirname(path.resolve(config.file)), { recursive: true, mode: 0o750 });
      const fd = openSync(config.file, config.append ? 'a+' : 'w', JOURNAL_FILE_MODE);
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
      const keep = level === 'all' ? undefined : keepDecisions();
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
      // Declared before subscribing: a synchronous source calls next before subscribe returns.
      let subscription: Subscription | undefined;
      subscription = events$.subscribe({
        next: (event) => {
          if (!open) return; // after a failed write (a synchronous source keeps pushing)
          try {
            if (keep) {
              const held = keep(event);
              if (held === null) return;
              if (held !== undefined) {
                buffer += serializeSignalHeadline(held);
                buffer += '\n';
                lines++;
              }
            }
            buffer +=
              keep && event.kind === 'signal' ? serializeSignalHeadline(event as SignalLike) : serializeEvent(event);
            buffer += '\n';
            lines++;
            if (buffer.length >= limit) flush();
          } catch (err) {
            // An event that cannot be written (a cycle, a failing disk) ends the journal with an
            // error: what was buffered before it is still written.
            subscription?.unsubscribe();
            try {
              close();
            } finally {
              subscriber.error(err);
            }
          }
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
        subscription?.unsubscribe();
        close();
      };
    });
}

/**
 * The `decisions` level's filter, with its state (one per subscription). Called with each event:
 * returns `null` to drop it, `undefined` to write it, or a held signal headline to write before it.
 * A signal is written when its direction differs from the previous signal of the same symbol,
 * timeframe and source; otherwise it is held until the next signal replaces it, and written after
 * all if an event arrives that names it (`signalId`: the intent, order, fill it caused).
 */
function keepDecisions(): (event: Journaled) => SignalLike | null | undefined {
  const directions = new Map<string, number>();
  let held: SignalLike | undefined;
  // The key of the last signal's series, reused while the series does not change (one symbol:
  // every bar), so that a bar costs no string building.
  let lastSignal: SignalLike | undefined;
  let lastKey = '';
  return (event) => {
    // A market-risk estimate rolled forward between refits (one per bar) is derived state: the
    // refit it comes from and the bars give it back.
    if (event.kind === 'market-risk' && (event as { refit?: unknown }).refit === false) return null;
    if (event.kind === 'signal') {
      const signal = event as SignalLike;
      const key =
        lastSignal !== undefined &&
        lastSignal.symbol === signal.symbol &&
        lastSignal.timeframe === signal.timeframe &&
        lastSignal.source === signal.source
          ? lastKey
          : `${signal.symbol}|${signal.timeframe}|${signal.source}`;
      lastSignal = signal;
      lastKey = key;
      if (directions.get(key) === signal.direction) {
        held = signal;
        return null;
      }
      directions.set(key, signal.direction);
      held = undefined;
      return undefined;
    }
    const signalId = (event as { signalId?: unknown }).signalId;
    if (held !== undefined && signalId === held.id) {
      const signal = held;
      held = undefined;
      return signal;
    }
    return undefined;
  };
}

interface SignalLike {
  readonly kind: 'signal';
  readonly id: string;
  readonly source: string;
  readonly symbol: string;
  readonly timeframe: string;
  readonly direction: number;
  readonly components?: readonly ComponentLike[];
}

/**
 * One journal line (without the newline): JSON with bigint amounts as decimal strings. A fused
 * signal's components are written without the fields they share with it (symbol, timeframe,
 * time, price are in the fused signal and its id), which halves the size of a backtest journal.
 *
 * Fast path: the events' shapes hold no bigint except in amounts of orders and fills, so most
 * lines (signals) go through the native `JSON.stringify` without a replacer callback, which is
 * several times faster; an event with a bigint inside falls back to the replacer.
 */
export function serializeEvent(event: unknown): string {
  const e = event as { kind?: unknown; components?: unknown };
  if (e.kind === 'signal') {
    if (Array.isArray(e.components)) {
      try {
        return JSON.stringify({ ...e, components: (e.components as ComponentLike[]).map(componentOf) });
      } catch {
        // a bigint somewhere: the general path below
      }
    }
  }
  return JSON.stringify(event, bigintReplacer);
}

/** A signal without its evidence (`detail`) and components: what the `decisions` level keeps. */
export function serializeSignalHeadline(signal: SignalLike): string {
  const { detail: _detail, components: _components, ...headline } = signal as SignalLike & { detail?: unknown };
  try {
    return JSON.stringify(headline);
  } catch {
    return JSON.stringify(headline, bigintReplacer); // a bigint somewhere
  }
}

interface ComponentLike {
  readonly source: string;
  readonly direction: number;
  readonly strength: number;
  readonly confidence: number;
  readonly available: boolean;
  readonly detail: unknown;
}

function componentOf(c: ComponentLike): ComponentLike {
  return {
    source: c.source,
    direction: c.direction,
    strength: c.strength,
    confidence: c.confidence,
    available: c.available,
    detail: c.detail,
  };
}

function bigintReplacer(key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return formatUnits(value);
  if (key === 'components' && Array.isArray(value)) return (value as ComponentLike[]).map(componentOf);
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
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o750 });
  const fd = openSync(file, 'a+', JOURNAL_FILE_MODE);
  try {
    const line = `${endsTorn(fd) ? '\n' : ''}${serializeEvent(record)}\n`;
    writeSync(fd, line);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
