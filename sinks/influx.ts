/**
 * The InfluxDB sink: pipeline events → points (see `influxPoints.ts` for the schema) → the v2
 * write API (`/api/v2/write`, which InfluxDB 1.8+ and 2.x serve), in batches.
 *
 * Delivery:
 * - Taking an event costs an array push; events are encoded to line protocol on the next turn
 *   of the event loop once `batchSize` are waiting (or when the flush timer fires), so encoding
 *   never runs inside the decision that emitted them.
 * - One write request in flight at a time. A failed write (server down, timeout, 5xx, 429, 404 of a
 *   missing database) is retried with exponential backoff (`retryMinMs` → `retryMaxMs`) for as
 *   long as it takes: nothing is dropped because the server is away. A 400/413/422 answer means
 *   the server will never take those lines: they are counted as rejected and reported.
 * - Memory is bounded: past `maxBufferLines` unsent lines, further lines are appended to the
 *   spill file on disk, and sent from there once memory has been sent. On completion of the
 *   input everything still unsent is written to the spill file before the sink waits (up to
 *   `drainTimeoutMs`) for delivery; what is still undelivered then stays in the spill file, and
 *   the next sink with the same spill file delivers it first.
 * - Points carry event time and a per-series sequence, so a line written twice (a retry after a
 *   lost answer, a spill replayed after a crash) is the same point: InfluxDB keeps it once.
 *
 * The token is sent as an HTTP header and never appears in a report or error message.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { InfluxDB, HttpError } from '@influxdata/influxdb-client';
import { Observable, asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { Bot4Error } from '../operators/errors';
import { PointEncoder, type ObservedEvent, type RunTags } from './influxPoints';

export interface InfluxSinkConfig {
  /** Server origin, e.g. `http://127.0.0.1:8086`. */
  readonly url: string;
  /** API token (any string when the server has auth off, e.g. InfluxDB 1.8 by default). */
  readonly token: string;
  /** Organisation ('' for InfluxDB 1.8). */
  readonly org: string;
  /** Bucket (`<database>/<retention policy>` for InfluxDB 1.8, e.g. `bot4/autogen`). */
  readonly bucket: string;
  /** Tags of the run, on every point. */
  readonly tags: RunTags;
  /** Lines per write request. Default 5,000. */
  readonly batchSize?: number;
  /** Longest wait before a partial batch is sent, ms. Default 1,000. */
  readonly flushIntervalMs?: number;
  /** Unsent lines kept in memory; past it lines go to the spill file. Default 200,000 (≈ 40 MB). */
  readonly maxBufferLines?: number;
  /** Spill file (line protocol). Required: where undelivered points survive an outage or a restart. */
  readonly spillFile: string;
  /** First retry delay, ms (doubles up to `retryMaxMs`). Default 200. */
  readonly retryMinMs?: number;
  /** Longest retry delay, ms. Default 5,000. */
  readonly retryMaxMs?: number;
  /** Timeout of one write request, ms. Default 10,000. */
  readonly requestTimeoutMs?: number;
  /** After the input completes, how long to keep trying to deliver before leaving the rest spilled, ms. Default 30,000. */
  readonly drainTimeoutMs?: number;
  /** Timers (flush, retry). Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
}

export interface InfluxSinkStats {
  readonly kind: 'influx-stats';
  /** Lines the server acknowledged (204). */
  readonly written: number;
  /** Lines the server refused for good (400/413/422), with the last answer. */
  readonly rejected: number;
  /** Write attempts that failed and were retried. */
  readonly retries: number;
  /** Lines not yet acknowledged: in memory plus in the spill file. */
  readonly pending: number;
  /** Lines that ever went to the spill file. */
  readonly spilled: number;
  /** The last failure, without secrets. */
  readonly lastError?: string;
  /** True once the input completed and the sink has finished (delivered, or left the rest spilled). */
  readonly done: boolean;
}

export class InfluxSinkError extends Bot4Error<'INFLUX_CONFIG' | 'INFLUX_SPILL'> {
  constructor(code: 'INFLUX_CONFIG' | 'INFLUX_SPILL', message: string, cause?: unknown) {
    super(code, 'influx', message, cause === undefined ? undefined : { cause });
  }
}

/**
 * The sink: subscribe the returned observable to write `events$`. It emits stats after every
 * write attempt and a last time (with `done: true`) before it completes, once the input has
 * completed and everything is delivered or spilled.
 *
 * @example
 * makeInfluxSink({ url, token, org: '', bucket: 'bot4/autogen', tags, spillFile })(events$).subscribe();
 */
export function makeInfluxSink(
  config: InfluxSinkConfig,
): (events$: Observable<ObservedEvent>) => Observable<InfluxSinkStats> {
  const batchSize = positive(config.batchSize ?? 5_000, 'batchSize');
  const flushIntervalMs = positive(config.flushIntervalMs ?? 1_000, 'flushIntervalMs');
  const maxBufferLines = positive(config.maxBufferLines ?? 200_000, 'maxBufferLines');
  const retryMinMs = positive(config.retryMinMs ?? 200, 'retryMinMs');
  const retryMaxMs = positive(config.retryMaxMs ?? 5_000, 'retryMaxMs');
  const drainTimeoutMs = config.drainTimeoutMs ?? 30_000;
  const scheduler = config.scheduler ?? asyncScheduler;
  let origin: URL;
  try {
    origin = new URL(config.url);
  } catch (err) {
    throw new InfluxSinkError(
      'INFLUX_CONFIG',
      `INFLUX_URL: expected an http(s) URL, found "${redactUrl(config.url)}"`,
      err,
    );
  }
  if (origin.protocol !== 'http:' && origin.protocol !== 'https:')
    throw new InfluxSinkError(
      'INFLUX_CONFIG',
      `INFLUX_URL: expected an http(s) URL, found protocol "${origin.protocol}"`,
    );
  if (config.bucket.length === 0)
    throw new InfluxSinkError('INFLUX_CONFIG', 'INFLUX_BUCKET: expected a bucket name, found ""');
  const writePath = `/api/v2/write?org=${encodeURIComponent(config.org)}&bucket=${encodeURIComponent(config.bucket)}&precision=ns`;

  return (events$) =>
    new Observable<InfluxSinkStats>((subscriber) => {
      const transport = new InfluxDB({
        url: config.url,
        token: config.token,
        timeout: config.requestTimeoutMs ?? 10_000,
      }).transport;
      const encoder = new PointEncoder(config.tags);
      const spill = new SpillFile(config.spillFile);
      let raw: ObservedEvent[] = [];
      let memory: string[] = [];
      let inFlight: { lines: string[]; fromSpill: number } | undefined;
      let written = 0;
      let rejected = 0;
      let retries = 0;
      let spilled = 0;
      let lastError: string | undefined;
      let delay = retryMinMs;
      let inputDone = false;
      let finished = false;
      let timer: Subscription | undefined;
      let soon: Subscription | undefined;
      let drainTimer: Subscription | undefined;

      const stats = (): InfluxSinkStats => ({
        kind: 'influx-stats',
        written,
        rejected,
        retries,
        pending: memory.length + spill.lines + (inFlight?.lines.length ?? 0) + raw.length,
        spilled,
        ...(lastError !== undefined ? { lastError } : {}),
        done: finished,
      });

      const encode = (): void => {
        if (raw.length === 0) return;
        const events = raw;
        raw = [];
        const lines: string[] = [];
        for (const event of events) encoder.encode(event, lines);
        const room = Math.max(0, maxBufferLines - memory.length);
        // Once anything is on disk, new lines go there too, so memory never holds more than the bound.
        if (spill.lines === 0 && lines.length <= room) {
          for (const line of lines) memory.push(line);
        } else {
          const keep = spill.lines === 0 ? lines.slice(0, room) : [];
          for (const line of keep) memory.push(line);
          const rest = spill.lines === 0 ? lines.slice(room) : lines;
          spill.append(rest);
          spilled += rest.length;
        }
      };

      const finish = (): void => {
        if (finished) return;
        finished = true;
        timer?.unsubscribe();
        soon?.unsubscribe();
        drainTimer?.unsubscribe();
        // What is still unsent survives on disk for the next run.
        if (memory.length > 0) {
          spill.append(memory);
          spilled += memory.length;
          memory = [];
        }
        if (inFlight && inFlight.fromSpill === 0) {
          spill.append(inFlight.lines);
          spilled += inFlight.lines.length;
        }
        inFlight = undefined;
        spill.close();
        subscriber.next(stats());
        subscriber.complete();
      };

      const send = (): void => {
        if (inFlight || finished) return;
        let batch: { lines: string[]; fromSpill: number };
        if (memory.length > 0) {
          batch = { lines: memory.splice(0, batchSize), fromSpill: 0 };
        } else if (spill.lines > 0) {
          const read = spill.read(batchSize);
          batch = { lines: read.lines, fromSpill: read.bytes };
        } else {
          if (inputDone && raw.length === 0) finish();
          return;
        }
        if (batch.lines.length === 0) return;
        inFlight = batch;
        transport
          .request(writePath, batch.lines.join('\n'), {
            method: 'POST',
            headers: { 'content-type': 'text/plain; charset=utf-8' },
          })
          .then(
            () => {
              if (inFlight !== batch) return;
              inFlight = undefined;
              written += batch.lines.length;
              if (batch.fromSpill > 0) spill.consumed(batch.fromSpill, batch.lines.length);
              delay = retryMinMs;
              subscriber.next(stats());
              send();
            },
            (err: unknown) => {
              if (inFlight !== batch) return;
              inFlight = undefined;
              const status = err instanceof HttpError ? err.statusCode : undefined;
              lastError = describe(err);
              if (status === 400 || status === 413 || status === 422) {
                rejected += batch.lines.length;
                if (batch.fromSpill > 0) spill.consumed(batch.fromSpill, batch.lines.length);
                subscriber.next(stats());
                send();
                return;
              }
              retries++;
              // Put the batch back where it came from and try again later.
              if (batch.fromSpill === 0) memory = batch.lines.concat(memory);
              subscriber.next(stats());
              const wait = delay;
              delay = Math.min(retryMaxMs, delay * 2);
              scheduler.schedule(() => send(), wait);
            },
          );
      };

      const tick = (): void => {
        encode();
        send();
      };
      timer = scheduler.schedule(function () {
        tick();
        this.schedule(undefined, flushIntervalMs);
      }, flushIntervalMs);
      // A spill left by an earlier run goes first.
      if (spill.lines > 0) send();

      const subscription = events$.subscribe({
        next: (event) => {
          raw.push(event);
          // Encoding waits for the next turn of the event loop, off the decision that emitted
          // the event; only a backlog as large as the memory bound is encoded on the spot.
          if (raw.length >= maxBufferLines) tick();
          else if (raw.length >= batchSize && soon === undefined)
            soon = scheduler.schedule(() => {
              soon = undefined;
              tick();
            });
        },
        error: (err: unknown) => {
          try {
            encode();
            finish();
          } finally {
            subscriber.error(err);
          }
        },
        complete: () => {
          inputDone = true;
          try {
            encode();
          } catch (err) {
            subscriber.error(err);
            return;
          }
          drainTimer = scheduler.schedule(() => finish(), drainTimeoutMs);
          send();
          if (!inFlight && memory.length === 0 && spill.lines === 0) finish();
        },
      });
      return () => {
        subscription.unsubscribe();
        if (!finished) {
          encode();
          finished = true;
          timer?.unsubscribe();
          soon?.unsubscribe();
          drainTimer?.unsubscribe();
          if (memory.length > 0) spill.append(memory);
          if (inFlight && inFlight.fromSpill === 0) spill.append(inFlight.lines);
          spill.close();
        }
      };
    });
}

/** Reads the sink's settings from the environment (`INFLUX_URL`, `INFLUX_TOKEN`, `INFLUX_ORG`, `INFLUX_BUCKET`). */
export function influxFromEnv(
  env: NodeJS.ProcessEnv,
): { readonly url: string; readonly token: string; readonly org: string; readonly bucket: string } | undefined {
  const url = env.INFLUX_URL;
  if (url === undefined || url.length === 0) return undefined;
  return {
    url,
    token: env.INFLUX_TOKEN ?? 'bot4',
    org: env.INFLUX_ORG ?? '',
    bucket: env.INFLUX_BUCKET ?? 'bot4/autogen',
  };
}

/** A URL for messages: any user:password part replaced. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//***@');
}

function positive(value: number, key: string): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new InfluxSinkError('INFLUX_CONFIG', `influx sink: key "${key}": expected a positive number, found ${value}`);
  return value;
}

function describe(err: unknown): string {
  if (err instanceof HttpError) return `HTTP ${err.statusCode}: ${(err.body ?? err.message).slice(0, 200)}`;
  const e = err as { code?: string; message?: string };
  return `${e.code ?? 'error'}: ${e.message ?? String(err)}`.slice(0, 200);
}

/**
 * An append-only file of line-protocol lines not yet delivered, read from the front. Sent bytes
 * are skipped by an offset; once all is sent the file is emptied.
 */
class SpillFile {
  private fd: number | undefined;
  private readOffset = 0;
  private size = 0;
  lines = 0;

  constructor(private readonly file: string) {
    if (existsSync(file)) {
      this.open();
      this.size = fstatSync(this.fd!).size;
      if (this.size > 0) {
        const text = Buffer.alloc(this.size);
        readSync(this.fd!, text, 0, this.size, 0);
        for (let i = 0; i < text.length; i++) if (text[i] === 10) this.lines++;
      }
    }
  }

  append(lines: readonly string[]): void {
    if (lines.length === 0) return;
    this.open();
    const chunk = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    let offset = 0;
    try {
      while (offset < chunk.length)
        offset += writeSync(this.fd!, chunk, offset, chunk.length - offset, this.size + offset);
    } catch (err) {
      throw new InfluxSinkError('INFLUX_SPILL', `spill file ${this.file}: ${(err as Error).message}`, err);
    }
    this.size += chunk.length;
    this.lines += lines.length;
  }

  /** Up to `max` whole lines from the front (not yet consumed), and their size in bytes. */
  read(max: number): { lines: string[]; bytes: number } {
    this.open();
    const remaining = this.size - this.readOffset;
    // Lines are ~150–300 bytes: read about what `max` of them take (more if one line is longer).
    for (let want = Math.min(remaining, Math.max(64 * 1024, max * 512)); ; want = Math.min(remaining, want * 2)) {
      const buffer = Buffer.alloc(want);
      readSync(this.fd!, buffer, 0, want, this.readOffset);
      const lines: string[] = [];
      let start = 0;
      for (let i = 0; i < buffer.length && lines.length < max; i++) {
        if (buffer[i] === 10) {
          lines.push(buffer.toString('utf8', start, i));
          start = i + 1;
        }
      }
      if (lines.length > 0 || want >= remaining) return { lines, bytes: start };
    }
  }

  consumed(bytes: number, lines: number): void {
    this.readOffset += bytes;
    this.lines -= lines;
    if (this.readOffset >= this.size) {
      ftruncateSync(this.fd!, 0);
      this.readOffset = 0;
      this.size = 0;
      this.lines = 0;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): void {
    if (this.fd !== undefined) return;
    mkdirSync(path.dirname(path.resolve(this.file)), { recursive: true });
    this.fd = openSync(this.file, existsSync(this.file) ? 'r+' : 'w+');
  }
}
