/**
 * Paper and live sessions end to end: `runSession` with the real ccxt.pro sources, the paper
 * exchange or the live ccxt venue, the journals, the kill switch (a process-signal emitter) — all
 * against the local Binance server (REST, WebSocket streams, signed order endpoints).
 */
import { equal, match, ok } from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { Subject } from 'rxjs';
import { runSession, SessionError, type SessionSummary } from '../../pipelines/session';
import { startBinanceServer, type BinanceServer, klineAround } from '../support/binanceServer';
import { mountBinanceOrders, type BinanceOrders } from '../support/binanceOrders';
import { eventually } from '../support/eventually';
import { tempDir } from '../support/tmp';
import { taSessionConfig } from '../support/sessionConfig';

const FIVE_MINUTES = 300_000;

/** A config that trades readily; every signal journaled: the tests read a bar's signal as the sign that it was decided. */
const CONFIG = taSessionConfig('session-test', { extra: 'journal: { level: all }' });

const kline = klineAround;

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
}

function journal(file: string): { kind: string; [k: string]: unknown }[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string });
}

describe('paper and live sessions against the local Binance server', function () {
  this.timeout(90_000);
  let server: BinanceServer;
  const tmp = tempDir();
  const configFile = path.join(tmp.dir, 'session.yaml');
  let now = 0;
  let bucket = 0;

  before(async () => {
    writeFileSync(configFile, CONFIG);
    server = await startBinanceServer({});
  });

  /**
   * History up to the current 5-minute bucket, set just before a session starts (a session asks
   * for the bars before its own start; a bucket boundary between the two would shift them).
   */
  async function freshMarket(): Promise<void> {
    await eventually(() => ok(Date.now() % FIVE_MINUTES < FIVE_MINUTES - 15_000, 'too close to a 5-minute boundary'), {
      timeoutMs: 20_000,
      intervalMs: 500,
    });
    now = Date.now();
    bucket = Math.floor(now / FIVE_MINUTES) * FIVE_MINUTES;
    server.setKlines(
      'BTCUSDT',
      '5m',
      Array.from({ length: 120 }, (_, i) => kline(bucket - (120 - i) * FIVE_MINUTES, 20_000 + Math.sin(i / 5) * 50)),
    );
    server.setBook('BTCUSDT', { lastUpdateId: 100, bids: [['19999.00', '5']], asks: [['20001.00', '5']] });
  }
  after(async () => {
    await server.close();
    tmp.cleanup();
  });

  /**
   * Live bars rising from 20,000 (the strategy goes long), one at a time as an exchange sends
   * them: the bar's last update and the next interval's first (which closes it on the stream),
   * then — once the session has decided on it — a book move and a trade after its close.
   */
  async function pushRally(
    journalFile: string,
    from: number,
    count: number,
    onTrade?: (price: number) => void,
  ): Promise<void> {
    for (let i = 0; i < count; i++) {
      const openTime = bucket + (from + i) * FIVE_MINUTES;
      const price = 20_000 + (from + i + 1) * 40;
      server.pushKline('BTCUSDT', '5m', kline(openTime, price), { final: true });
      server.pushKline('BTCUSDT', '5m', kline(openTime + FIVE_MINUTES, price), { final: false });
      await eventually(
        () =>
          ok(
            readFileSync(journalFile, 'utf8').includes(`"id":"BTC/USDT:5m:${openTime + FIVE_MINUTES}:fused"`),
            `no decision on the bar opening ${openTime}`,
          ),
        { timeoutMs: 20_000 },
      );
      const book = server.book('BTCUSDT');
      server.pushDepth('BTCUSDT', {
        b: [...book.bids.map(([p]) => [p, '0'] as const), [(price - 1).toFixed(2), '5']],
        a: [...book.asks.map(([p]) => [p, '0'] as const), [(price + 1).toFixed(2), '5']],
      });
      onTrade?.(price);
      server.pushTrade('BTCUSDT', {
        price: price.toFixed(2),
        qty: '0.01',
        buyerIsMaker: false,
        time: openTime + FIVE_MINUTES + 1,
      });
    }
  }

  it('paper: warms up on history, trades live bars against the simulator, obeys the kill switch, and ends with flushed journals', async () => {
    await freshMarket();
    const log = collect();
    const stop$ = new Subject<void>();
    const signals = new EventEmitter();
    const outDir = path.join(tmp.dir, 'paper');
    const running = runSession({
      mode: 'paper',
      configFile,
      outDir,
      apiUrl: server.url,
      wsUrl: server.url.replace(/^http/, 'ws'),
      warmupBars: 100,
      killSwitch: 'signal',
      signalEmitter: signals as unknown as NodeJS.Process,
      log: log.stream,
      stop$,
    });
    try {
      await eventually(() => match(log.text(), /warm-up done \(100 bars\)/), { timeoutMs: 30_000 });
      await eventually(
        () => ok(server.subscriberCount('btcusdt@trade') > 0 && server.subscriberCount('btcusdt@kline_5m') > 0),
        { timeoutMs: 30_000 },
      );
      const journalFile = path.join(outDir, 'journal.jsonl');
      await pushRally(journalFile, 0, 10);
      await eventually(() => match(log.text(), /fill: buy/), { timeoutMs: 30_000 });
      // The press: everything is flattened, nothing new goes out.
      signals.emit('SIGUSR2');
      await eventually(() => match(log.text(), /mode Normal → Emergency/), { timeoutMs: 10_000 });
      await pushRally(journalFile, 10, 2);
      await eventually(() => match(log.text(), /fill: sell/), { timeoutMs: 30_000 });
    } finally {
      // Stop the session whatever happened, so that a failure cannot leave sockets open.
      stop$.next();
    }
    const summary: SessionSummary = await running;

    equal(summary.mode, 'paper');
    equal(summary.warmupBars, 100);
    ok(summary.liveBars >= 12, `${summary.liveBars} live bars`);
    equal(summary.finalMode, 'Emergency');
    equal(Object.keys(summary.positions).length, 0, 'flat after the press');
    const events = journal(summary.journal);
    equal(events[0]!.kind, 'session');
    ok(events.some((e) => e.kind === 'feed-connected'));
    const press = events.findIndex((e) => e.kind === 'mode-changed');
    ok(press > 0);
    const afterPress = events.slice(press);
    for (const e of afterPress.filter((x) => x.kind === 'order-accepted')) match(String(e['signalId']), /^emergency:/);
    // Warm-up bars were never traded: every intent is on a live bar.
    for (const intent of events.filter((e) => e.kind === 'intent'))
      ok((intent['tsEvent'] as number) >= now - 1000, 'an intent on a warm-up bar');
    const audit = journal(summary.audit);
    ok(
      audit.some(
        (e) => e.kind === 'mode-changed' && e['to'] === 'Emergency' && String(e['reason']).includes('SIGUSR2'),
      ),
    );
    ok(!audit.some((e) => e.kind === 'signal'), 'the audit journal holds only the audit trail');
  });

  describe('live', () => {
    let orders: BinanceOrders;
    const apiKey = 'live-test-key-1234567890';
    const secret = 'live-test-secret-abcdefghij';

    before(() => {
      orders = mountBinanceOrders(server, {
        apiKey,
        secret,
        balances: { USDT: '10000', BTC: '0' },
        prices: { BTCUSDT: '20000' },
      });
    });

    it('refuses to start without --confirm-live, and without keys, before touching the exchange', async () => {
      const before = server.requests().length;
      const log = collect();
      await runSession({ mode: 'live', configFile, log: log.stream, apiUrl: server.url }).then(
        () => Promise.reject(new Error('started')),
        (err: unknown) => {
          ok(err instanceof SessionError);
          equal(err.code, 'LIVE_NOT_CONFIRMED');
        },
      );
      await runSession({ mode: 'live', configFile, log: log.stream, apiUrl: server.url, confirmLive: true }).then(
        () => Promise.reject(new Error('started')),
        (err: unknown) => {
          ok(err instanceof SessionError);
          equal(err.code, 'MISSING_CREDENTIALS');
          match(err.message, /BOT4_API_KEY/);
        },
      );
      equal(server.requests().length, before);
    });

    it('starts from the exchange account, sends the strategy’s orders to the exchange, and never writes the keys', async () => {
      await freshMarket();
      const log = collect();
      const stop$ = new Subject<void>();
      const outDir = path.join(tmp.dir, 'live');
      const running = runSession({
        mode: 'live',
        configFile,
        outDir,
        apiUrl: server.url,
        wsUrl: server.url.replace(/^http/, 'ws'),
        warmupBars: 100,
        killSwitch: 'none',
        credentials: { apiKey, secret },
        confirmLive: true,
        log: log.stream,
        stop$,
        ccxtOptions: { fetchCurrencies: false },
        // The account lock in this test's own folder: test runs in other checkouts use the same key.
        lockDir: path.join(tmp.dir, 'locks'),
      });
      try {
        await eventually(() => match(log.text(), /account: .*USDT 10000/), { timeoutMs: 30_000 });
        await eventually(() => match(log.text(), /warm-up done/), { timeoutMs: 30_000 });
        await eventually(() => ok(server.subscriberCount('btcusdt@kline_5m') > 0), { timeoutMs: 30_000 });
        await pushRally(path.join(outDir, 'journal.jsonl'), 0, 10, (price) =>
          orders.setPrice('BTCUSDT', price.toFixed(2)),
        );
        await eventually(() => match(log.text(), /fill: buy/), { timeoutMs: 30_000 });
      } finally {
        stop$.next();
      }
      const summary = await running;
      ok(summary.orders >= 1);
      ok(orders.trades().length >= 1, 'no trade on the exchange');
      const text = readFileSync(summary.journal, 'utf8') + readFileSync(summary.audit, 'utf8') + log.text();
      ok(!text.includes(apiKey) && !text.includes(secret), 'a key reached the journal or the log');
    });
  });
});
