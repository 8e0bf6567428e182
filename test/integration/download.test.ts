/**
 * History download end to end: the real ccxt binance class, over HTTP, against the local Binance
 * server (test/support/binanceServer.ts), into a real file. Backoff waits run on a scheduler whose
 * clock jumps instead of waiting, so retries cost no wall time.
 */
import { strict as assert } from 'node:assert';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import {
  type Subscription,
  asyncScheduler,
  lastValueFrom,
  toArray,
  type SchedulerAction,
  type SchedulerLike,
} from 'rxjs';
import { runDownload, type DownloadOptions, type DownloadSummary } from '../../pipelines/download';
import { CSV_BAR_HEADER, formatDecimal, readCsvBarFileTail } from '../../sinks/csvBarFile';
import { OhlcvHistoryError, makeOhlcvHistorySource, type OhlcvPage } from '../../sources/ohlcvHistory';
import { startBinanceServer, type BinanceServer, type Kline } from '../support/binanceServer';
import { makeLocalProBinance } from '../support/ccxtLocal';
import { consistently, eventually } from '../support/eventually';
import { requireSharedData } from '../support/sharedData';

const FIVE_MINUTES = 300_000;
const JAN_1_2024 = Date.UTC(2024, 0, 1);
const KLINES = '/api/v3/klines';

/**
 * A scheduler for code that waits (backoff): a scheduled task runs on the next macrotask, and the
 * clock jumps forward by the task's delay, as if the time had passed. Records every delay asked for.
 */
class FastForwardScheduler implements SchedulerLike {
  readonly delays: number[] = [];
  constructor(private clock: number) {}

  now(): number {
    return this.clock;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    if (delay > 0) this.delays.push(delay);
    const advance = (): void => {
      this.clock += delay;
    };
    return asyncScheduler.schedule<T>(
      function (this: SchedulerAction<T>, s?: T) {
        advance();
        work.call(this, s);
      },
      0,
      state as T,
    );
  }
}

/** Deterministic 5m klines from 2024-01-01 with `missing` slots left out (an outage), as Binance strings. */
function generateKlines(slots: number, missing: ReadonlySet<number>): Kline[] {
  let seed = 20240101;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const price = (cents: number): string => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}000000`;
  const amount = (sats: number): string => `${Math.floor(sats / 1e8)}.${String(sats % 1e8).padStart(8, '0')}`;
  const klines: Kline[] = [];
  let close = 4_200_000; // cents
  for (let slot = 0; slot < slots; slot++) {
    const open = close;
    const flat = slot % 97 === 13; // zero-volume flat bars happen on real exchanges
    close = flat ? open : Math.max(100, open + Math.round((random() - 0.5) * 4_000));
    const high = flat ? open : Math.max(open, close) + Math.round(random() * 1_500);
    const low = flat ? open : Math.min(open, close) - Math.round(random() * 1_500);
    const volume = flat ? 0 : slot % 89 === 5 ? 1 : Math.round(random() * 5e9);
    if (missing.has(slot)) continue;
    klines.push({
      openTime: JAN_1_2024 + slot * FIVE_MINUTES,
      open: price(open),
      high: price(high),
      low: price(low),
      close: price(close),
      volume: amount(volume),
      trades: 100 + slot,
    });
  }
  return klines;
}

/** Binance's "42000.10000000" as the CSV writes it, "42000.1" (and "42000.0" for whole numbers). */
function plain(decimal: string): string {
  const [whole, fraction = ''] = decimal.split('.');
  const kept = fraction.replace(/0+$/, '');
  return `${whole}.${kept === '' ? '0' : kept}`;
}

function csvOf(klines: readonly Kline[]): string {
  const rows = klines.map((k) =>
    [k.openTime, plain(k.open), plain(k.high), plain(k.low), plain(k.close), plain(k.volume)].join(','),
  );
  return `${META_LINE}\n${CSV_BAR_HEADER}\n${rows.map((row) => `${row}\n`).join('')}`;
}

/** The first line download writes: what the file holds. */
const META_LINE = '# exchange=binance symbol=BTC/USDT timeframe=5m source=ccxt.fetchOHLCV';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  return { stream, text: () => chunks.join('') };
}

// 2,507 five-minute slots with an outage of 7 bars (slots 1300–1306): 2,500 bars, three 1000-bar pages.
const GAP_FIRST = 1300;
const GAP_BARS = 7;
const ALL = generateKlines(2_507, new Set(Array.from({ length: GAP_BARS }, (_, i) => GAP_FIRST + i)));
const LAST_OPEN = ALL[ALL.length - 1]!.openTime;
/** "Now" for the downloads: a minute after the last served bar closed. */
const NOW = LAST_OPEN + FIVE_MINUTES + 60_000;

describe('history download: real ccxt binance ↔ local Binance server → CSV', () => {
  let server: BinanceServer;
  let dir: string;
  let out: string;

  beforeEach(async () => {
    server = await startBinanceServer({ klines: { BTCUSDT: { '5m': ALL } } });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bot4-download-'));
    out = path.join(dir, 'btcusdt-5m.csv');
  });

  afterEach(async () => {
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const options = (extra: Partial<DownloadOptions> = {}): DownloadOptions => ({
    exchange: 'binance',
    symbol: 'BTC/USDT',
    timeframe: '5m',
    since: '2024-01-01',
    out,
    apiUrl: server.url,
    ...extra,
  });

  const klineStarts = (): number[] => server.requests(KLINES).map((r) => Number(r.query['startTime']));

  it('a full download over several pages writes exactly the served bars and reports the outage as a gap', async () => {
    const scheduler = new FastForwardScheduler(NOW);
    const progress = capture();

    const summary = await runDownload(options(), { progress: progress.stream, scheduler });

    assert.equal(await fs.readFile(out, 'utf8'), csvOf(ALL));
    assert.equal(summary.barsWritten, 2_500);
    assert.equal(summary.firstTsOpen, JAN_1_2024);
    assert.equal(summary.lastTsOpen, LAST_OPEN);
    assert.deepEqual(
      summary.gaps.map((g) => [g.from, g.to, g.missing]),
      [[JAN_1_2024 + GAP_FIRST * FIVE_MINUTES, JAN_1_2024 + (GAP_FIRST + GAP_BARS) * FIVE_MINUTES, GAP_BARS]],
    );
    assert.equal(summary.reachedUntil, true);
    assert.equal(summary.retries, 0);
    // loadMarkets asked only exchangeInfo; each page starts one bar after the previous page's last bar,
    // and the paging stopped at the first page with no newer bar.
    assert.deepEqual(
      server.requests().map((r) => r.path),
      ['/api/v3/exchangeInfo', KLINES, KLINES, KLINES, KLINES],
    );
    assert.deepEqual(klineStarts(), [
      JAN_1_2024,
      ALL[999]!.openTime + FIVE_MINUTES,
      ALL[1999]!.openTime + FIVE_MINUTES,
      LAST_OPEN + FIVE_MINUTES,
    ]);
    assert.ok(
      server
        .requests(KLINES)
        .every((r) => r.query['limit'] === '1000' && r.query['interval'] === '5m' && r.query['symbol'] === 'BTCUSDT'),
    );
    const lines = progress.text();
    assert.match(lines, /1000 bars written \(\+1000\), up to 2024-01-04T11:20:00Z, 39\.9%/);
    assert.match(lines, /done: 2500 bars written/);
    assert.match(lines, /1 gap, 7 bars missing/);
    assert.deepEqual(scheduler.delays, []);
  });

  it('a 500 and a 429 with Retry-After mid-download are retried after backing off, and the file is still exact', async () => {
    server.failNext(KLINES, 500, { skip: 1 }); // 2nd klines request
    server.failNext(KLINES, 429, { skip: 1, retryAfterSec: 3 }); // 4th: the page after the retried one
    const scheduler = new FastForwardScheduler(NOW);
    const progress = capture();

    const summary = await runDownload(options(), { progress: progress.stream, scheduler });

    assert.equal(await fs.readFile(out, 'utf8'), csvOf(ALL));
    assert.deepEqual(
      server.requests(KLINES).map((r) => [r.status, Number(r.query['startTime'])]),
      [
        [200, JAN_1_2024],
        [500, ALL[1000]!.openTime],
        [200, ALL[1000]!.openTime],
        [429, ALL[2000]!.openTime],
        [200, ALL[2000]!.openTime],
        [200, LAST_OPEN + FIVE_MINUTES],
      ],
    );
    // First backoff 1 s after the 500; the 429's Retry-After (3 s) is longer than the backoff, so it wins.
    assert.deepEqual(scheduler.delays, [1_000, 3_000]);
    assert.equal(summary.retries, 2);
    assert.match(progress.text(), /OperationFailed: binance \{"code":-1000.*retry 1 in 1\.0 s/);
    assert.match(progress.text(), /DDoSProtection: binance 429 .*retry 1 in 3\.0 s \(Retry-After\)/);
  });

  it('a proxy error page, a dropped connection and a request timeout are retried too, and the file is still exact', async () => {
    server.failNext(KLINES, 503, { rawBody: '<html><body>502 Bad Gateway</body></html>' });
    server.closeNext(KLINES, { skip: 1 });
    server.delayNext(KLINES, 10_000, { skip: 1 });
    const scheduler = new FastForwardScheduler(NOW);

    const summary = await runDownload(options({ timeoutMs: 1_000 }), { progress: capture().stream, scheduler });

    assert.equal(await fs.readFile(out, 'utf8'), csvOf(ALL));
    assert.deepEqual(
      server.requests(KLINES).map((r) => r.fault),
      ['status', null, 'close', null, 'delay', null, null],
    );
    assert.deepEqual(scheduler.delays, [1_000, 1_000, 1_000]);
    assert.equal(summary.retries, 3);
  });

  it('when retries run out the run fails naming exchange, symbol and page, keeps the pages written, and a second run completes the file', async () => {
    server.failNext(KLINES, 500, { skip: 1, times: 3 });
    const scheduler = new FastForwardScheduler(NOW);

    await assert.rejects(
      runDownload(options({ maxRetries: 2 }), { progress: capture().stream, scheduler }),
      (error: unknown) => {
        assert.ok(error instanceof OhlcvHistoryError);
        assert.equal(error.code, 'RETRIES_EXHAUSTED');
        assert.match(
          error.message,
          /^binance BTC\/USDT 5m: page since 2024-01-04T11:20:00\.000Z: still failing after 2 retries \(OperationFailed/,
        );
        return true;
      },
    );
    assert.deepEqual(scheduler.delays, [1_000, 2_000]);
    assert.equal(await fs.readFile(out, 'utf8'), csvOf(ALL.slice(0, 1000)));

    const before = server.requests(KLINES).length;
    const summary = await runDownload(options(), { progress: capture().stream, scheduler });

    assert.equal(await fs.readFile(out, 'utf8'), csvOf(ALL));
    assert.equal(summary.resumedAfter, ALL[999]!.openTime);
    assert.equal(summary.barsWritten, 1_500);
    assert.equal(Number(server.requests(KLINES)[before]!.query['startTime']), ALL[1000]!.openTime);
  });

  it('resuming a file whose last line was cut by a crash drops that line, says so, and continues with no duplicate and no hole', async () => {
    // First run ends right before the outage; then a crash leaves half a row behind.
    const untilGap = JAN_1_2024 + GAP_FIRST * FIVE_MINUTES;
    const scheduler = new FastForwardScheduler(NOW);
    await runDownload(options({ until: untilGap }), { progress: capture().stream, scheduler });
    assert.equal(await fs.readFile(out, 'utf8'), csvOf(ALL.slice(0, GAP_FIRST)));
    const halfRow = `${JAN_1_2024 + GAP_FIRST * FIVE_MINUTES},42017.5,420`;
    await fs.appendFile(out, halfRow);
    const progress = capture();

    const summary = await runDownload(options(), { progress: progress.stream, scheduler });

    assert.equal(await fs.readFile(out, 'utf8'), csvOf(ALL));
    assert.equal(summary.cutTail, halfRow);
    assert.equal(summary.resumedAfter, ALL[GAP_FIRST - 1]!.openTime);
    assert.equal(summary.barsWritten, ALL.length - GAP_FIRST);
    // The outage sits exactly at the resume point: still reported, across the two runs.
    assert.deepEqual(
      summary.gaps.map((g) => g.missing),
      [GAP_BARS],
    );
    assert.ok(
      progress.text().includes(`last line was incomplete ("${halfRow}", ${halfRow.length} bytes)`),
      progress.text(),
    );
    assert.match(
      progress.text(),
      /continuing from 2024-01-05T12:20:00Z \(since=2024-01-01T00:00:00Z only applies to a new file\)/,
    );
  });

  it('the bar still forming at "now" is not written; a later run adds it once it has closed', async () => {
    const scheduler = new FastForwardScheduler(LAST_OPEN + 120_000); // two minutes into the last bar

    const first = await runDownload(options(), { progress: capture().stream, scheduler });

    assert.equal(await fs.readFile(out, 'utf8'), csvOf(ALL.slice(0, -1)));
    assert.equal(first.reachedUntil, true);
    assert.equal(server.requests(KLINES).length, 3); // the forming bar ended the paging: no extra request

    const later = await runDownload(options(), {
      progress: capture().stream,
      scheduler: new FastForwardScheduler(NOW),
    });

    assert.equal(await fs.readFile(out, 'utf8'), csvOf(ALL));
    assert.equal(later.barsWritten, 1);
  });

  it('an unknown symbol fails with a message naming the exchange and the symbol, without asking for klines', async () => {
    await assert.rejects(
      runDownload(options({ symbol: 'DOGE/USDT' }), {
        progress: capture().stream,
        scheduler: new FastForwardScheduler(NOW),
      }),
      (error: unknown) => {
        assert.ok(error instanceof OhlcvHistoryError);
        assert.equal(error.code, 'UNKNOWN_SYMBOL');
        assert.match(
          error.message,
          /^binance DOGE\/USDT 5m: page since 2024-01-01T00:00:00\.000Z: unknown symbol DOGE\/USDT \(BadSymbol/,
        );
        return true;
      },
    );
    assert.equal(server.requests(KLINES).length, 0);
  });

  it('a non-transient exchange answer (400 Invalid symbol) is not retried and the error names the page', async () => {
    server.failNext(KLINES, 400, { skip: 1, code: -1121, msg: 'Invalid symbol.' });
    const scheduler = new FastForwardScheduler(NOW);

    await assert.rejects(runDownload(options(), { progress: capture().stream, scheduler }), (error: unknown) => {
      assert.ok(error instanceof OhlcvHistoryError);
      assert.equal(error.code, 'UNKNOWN_SYMBOL');
      assert.match(error.message, /page since 2024-01-04T11:20:00\.000Z/);
      return true;
    });
    assert.equal(server.requests(KLINES).length, 2);
    assert.deepEqual(scheduler.delays, []);
  });

  it('a Retry-After longer than the longest allowed wait fails instead of waiting', async () => {
    server.failNext(KLINES, 418, { retryAfterSec: 600 });

    await assert.rejects(
      runDownload(options({ maxRetryDelayMs: 60_000 }), {
        progress: capture().stream,
        scheduler: new FastForwardScheduler(NOW),
      }),
      (error: unknown) =>
        error instanceof OhlcvHistoryError &&
        error.code === 'RETRY_AFTER_TOO_LONG' &&
        /600000 ms \(Retry-After\)/.test(error.message),
    );
    assert.equal(server.requests(KLINES).length, 1);
  });

  it("an exchange that repeats the previous page's last bar, sends a row twice and unsorted still yields each bar once, in order", async () => {
    server.inject(
      KLINES,
      {
        kind: 'quirk',
        // Start one bar early (the previous page's last bar again), list a row twice, newest first.
        alterQuery: (query) => ({ ...query, startTime: String(Number(query['startTime']) - FIVE_MINUTES) }),
        alterBody: (body) => {
          const rows = body as unknown[];
          return rows.length === 0 ? rows : [rows[rows.length - 1], ...rows].reverse();
        },
      },
      { times: 100 },
    );

    const pages = await lastValueFrom(
      makeOhlcvHistorySource(
        { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m', since: JAN_1_2024, apiUrl: server.url },
        { scheduler: new FastForwardScheduler(NOW) },
      ).pipe(toArray()),
    );

    const opens = pages.flatMap((page) => page.bars.map((bar) => bar.tsOpen));
    assert.deepEqual(
      opens,
      ALL.map((k) => k.openTime),
    );
    assert.ok(pages.every((page) => page.bars.every((bar) => bar.tsEvent === bar.tsOpen + FIVE_MINUTES)));
    // ccxt itself drops rows before `since` and trims a page to `limit`; the doubled rows left are ours to drop.
    assert.ok(pages[pages.length - 1]!.progress.duplicates > 0);
  });

  it('unsubscribing while a page is in flight stops the paging: no request follows', async () => {
    server.holdNext(KLINES, { skip: 1 });
    const pages: OhlcvPage[] = [];
    const subscription = makeOhlcvHistorySource(
      { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '5m', since: JAN_1_2024, apiUrl: server.url },
      { scheduler: new FastForwardScheduler(NOW) },
    ).subscribe({ next: (page) => pages.push(page) });
    await eventually(() => assert.equal(server.requests(KLINES).length, 2));
    assert.equal(pages.length, 1);

    subscription.unsubscribe();
    assert.equal(server.release(), 1);

    await eventually(() => assert.equal(server.requests(KLINES)[1]!.status, 200));
    // Longer than ccxt's rate-limit spacing: a next page would have been asked for by now.
    await consistently(() => assert.equal(server.requests(KLINES).length, 2), { durationMs: 300 });
    assert.equal(pages.length, 1);
  });

  it('aborting a download keeps exactly the pages already written and reports aborted', async () => {
    server.holdNext(KLINES, { skip: 1 });
    const controller = new AbortController();
    const running = runDownload(options(), {
      progress: capture().stream,
      scheduler: new FastForwardScheduler(NOW),
      signal: controller.signal,
    });
    await eventually(async () => assert.equal((await readCsvBarFileTail(out)).last?.tsOpen, ALL[999]!.openTime));

    controller.abort();
    const summary: DownloadSummary = await running;
    server.release();

    assert.equal(summary.aborted, true);
    assert.equal(summary.barsWritten, 1_000);
    assert.equal(await fs.readFile(out, 'utf8'), csvOf(ALL.slice(0, 1000)));
  });

  it('broken options fail before any request, naming the key, what was expected and what was found', async () => {
    await assert.rejects(
      runDownload(options({ exchange: 'binanse' }), { progress: capture().stream }),
      /exchange: expected a ccxt exchange id .*found "binanse"/,
    );
    await assert.rejects(
      runDownload(options({ since: '2024-02-30' }), { progress: capture().stream }),
      /since: expected an ISO date .*found "2024-02-30"/,
    );
    await assert.rejects(
      runDownload(options({ timeframe: '7m' }), { progress: capture().stream }),
      /timeframe: expected one of .*found "7m"/,
    );
    await assert.rejects(
      runDownload(options({ since: '2024-01-02', until: '2024-01-01' }), { progress: capture().stream }),
      /until: expected a time after since/,
    );
    assert.equal(server.requests().length, 0);
  });

  it('a file of another timeframe is refused rather than extended', async () => {
    await fs.writeFile(
      out,
      `${CSV_BAR_HEADER}\n${JAN_1_2024},1.0,1.0,1.0,1.0,1.0\n${JAN_1_2024 + 3_600_000},1.0,1.0,1.0,1.0,1.0\n`,
    );
    await assert.rejects(
      runDownload(options({ timeframe: '4h' }), {
        progress: capture().stream,
        scheduler: new FastForwardScheduler(NOW),
      }),
      /are not 4h bars/,
    );
  });

  it('writes what the file holds on its first line, and refuses to extend a file of another symbol', async () => {
    await fs.writeFile(
      out,
      `# exchange=binance symbol=ETH/USDT timeframe=5m\n${CSV_BAR_HEADER}\n${JAN_1_2024},1.0,1.0,1.0,1.0,1.0\n`,
    );
    await assert.rejects(
      runDownload(options({}), { progress: capture().stream }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'FILE_MISMATCH');
        assert.match(error.message, /holds symbol ETH\/USDT \(its first line\), but this download is symbol BTC\/USDT/);
        return true;
      },
    );
    const tail = await readCsvBarFileTail(out);
    assert.deepEqual(tail.meta, { exchange: 'binance', symbol: 'ETH/USDT', timeframe: '5m' });
    assert.equal(tail.last?.tsOpen, JAN_1_2024);
  });

  it('real Binance candles with real outages and zero-volume bars come back byte for byte (shared data)', async function () {
    const file = requireSharedData(this, 'candles/binance_spot_BTCUSDT_5m_nfi.csv');
    const lines = readFileSync(file, 'utf8').split('\n').slice(5_000, 7_001); // two outages, flat bars
    const toBinance = (field: string): string => {
      const [whole, fraction = ''] = field.split('.');
      return `${whole}.${fraction.padEnd(8, '0')}`;
    };
    const real: Kline[] = lines.map((line) => {
      const [ts, open, high, low, close, volume] = line.split(',') as [string, string, string, string, string, string];
      return {
        openTime: Number(ts),
        open: toBinance(open),
        high: toBinance(high),
        low: toBinance(low),
        close: toBinance(close),
        volume: toBinance(volume),
      };
    });
    server.setKlines('BTCUSDT', '5m', real);
    const last = real[real.length - 1]!.openTime;

    const summary = await runDownload(options({ since: real[0]!.openTime, until: last + FIVE_MINUTES }), {
      progress: capture().stream,
      scheduler: new FastForwardScheduler(last + 10 * FIVE_MINUTES),
    });

    assert.equal(await fs.readFile(out, 'utf8'), `${META_LINE}\n${CSV_BAR_HEADER}\n${lines.join('\n')}\n`);
    assert.deepEqual(
      summary.gaps.map((g) => g.missing),
      [46, 12],
    );
  });
});

describe('local Binance server, as ccxt sees it', () => {
  let server: BinanceServer;

  beforeEach(async () => {
    server = await startBinanceServer({ klines: { BTCUSDT: { '5m': ALL } } });
  });

  afterEach(async () => {
    await server.close();
  });

  it('loadMarkets with the local options asks only exchangeInfo, and the filters become market limits and precision', async () => {
    const exchange = makeLocalProBinance(server.url);
    try {
      await exchange.loadMarkets();
      const btc = exchange.market('BTC/USDT');
      assert.deepEqual([btc.limits.amount?.min, btc.limits.price?.min, btc.limits.cost?.min], [0.00001, 0.01, 5]);
      assert.deepEqual([btc.precision.amount, btc.precision.price], [0.00001, 0.01]);
      assert.equal(exchange.market('ETH/BTC').limits.cost?.min, 0.0001); // legacy MIN_NOTIONAL filter
      assert.deepEqual(
        server.requests().map((r) => r.path),
        ['/api/v3/exchangeInfo'],
      );
    } finally {
      await exchange.close();
    }
  });

  it('klines follow Binance: from startTime ascending, endTime inclusive, only endTime gives the latest, limit over 1000 is refused', async () => {
    const exchange = makeLocalProBinance(server.url);
    const raw = (params: Record<string, string | number>): Promise<unknown> =>
      (exchange as unknown as { publicGetKlines(p: object): Promise<unknown> }).publicGetKlines(params);
    try {
      const opens = (rows: unknown): number[] => (rows as [number][]).map((row) => row[0]);
      const t = (i: number): number => ALL[i]!.openTime;
      assert.deepEqual(opens(await raw({ symbol: 'BTCUSDT', interval: '5m', startTime: t(10) + 1, limit: 3 })), [
        t(11),
        t(12),
        t(13),
      ]);
      assert.deepEqual(
        opens(await raw({ symbol: 'BTCUSDT', interval: '5m', startTime: t(10), endTime: t(12), limit: 10 })),
        [t(10), t(11), t(12)],
      );
      assert.deepEqual(opens(await raw({ symbol: 'BTCUSDT', interval: '5m', endTime: t(20), limit: 2 })), [
        t(19),
        t(20),
      ]);
      assert.equal(((await raw({ symbol: 'BTCUSDT', interval: '5m' })) as unknown[]).length, 500);
      const row = (await raw({ symbol: 'BTCUSDT', interval: '5m', startTime: t(0), limit: 1 })) as unknown[][];
      assert.deepEqual(row[0]!.slice(0, 7), [
        t(0),
        ALL[0]!.open,
        ALL[0]!.high,
        ALL[0]!.low,
        ALL[0]!.close,
        ALL[0]!.volume,
        t(0) + FIVE_MINUTES - 1,
      ]);
      await assert.rejects(raw({ symbol: 'BTCUSDT', interval: '5m', limit: 1001 }), /-1130/);
      await assert.rejects(raw({ symbol: 'BTCUSDT', interval: '7m' }), /Invalid interval/);
    } finally {
      await exchange.close();
    }
  });
});

describe('CSV number format', () => {
  it('writes the shortest decimal that reads back the same, never an exponent, at least one decimal', () => {
    assert.deepEqual([19720, 28511.78, 0, -0, 1e-8, 1.5e-7, 0.1 + 0.2, 1e21, 794.500517].map(formatDecimal), [
      '19720.0',
      '28511.78',
      '0.0',
      '0.0',
      '0.00000001',
      '0.00000015',
      '0.30000000000000004',
      '1000000000000000000000.0',
      '794.500517',
    ]);
  });
});
