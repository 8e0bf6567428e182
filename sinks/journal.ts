/**
 * The append-only journal: one JSON object per line, every signal, intent, risk decision, order
 * event and fill (and data problems), in the order they happened. Amounts (bigint units) are
 * written as exact decimal strings. State can be rebuilt from it, and two runs of the same
 * backtest produce byte-identical journals.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { Observable } from 'rxjs';
import { formatUnits } from '../operators/money';

export interface JournalSinkConfig {
  readonly file: string;
  /** Keep what the file has and add to it (live/paper); default false: start a new file (backtest). */
  readonly append?: boolean;
  /** Bytes buffered before a write. Default 256 KiB. Everything is flushed and fsynced on completion. */
  readonly bufferBytes?: number;
  /** fsync after every flush (live runs: at most one buffer is lost on power failure). Default false. */
  readonly syncEachFlush?: boolean;
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
      const fd = openSync(config.file, config.append ? 'a' : 'w');
      let open = true;
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
        if (config.syncEachFlush) fsyncSync(fd);
      };
      const close = (): void => {
        if (!open) return;
        open = false;
        try {
          flush();
          fsyncSync(fd);
        } finally {
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
