/**
 * A paper session with intelligence providers: the real ccxt.pro feed from the local Binance
 * server, Fear & Greed and FRED from the local intelligence server. Sentiment joins the live bars'
 * decisions as of their close (never the warm-up bars', replayed before any answer came); FRED
 * answers 429 and the session logs it and trades on with the confidence it has.
 */
import { equal, match, ok } from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { Subject } from 'rxjs';
import { runSession } from '../../pipelines/session';
import { startBinanceServer, type BinanceServer, klineAround } from '../support/binanceServer';
import { eventually } from '../support/eventually';
import { fearGreedBody, startIntelServer, type IntelServer } from '../support/intelServer';
import { taSessionConfig } from '../support/sessionConfig';
import { tempDir } from '../support/tmp';

const FIVE_MINUTES = 300_000;

const kline = klineAround;

describe('a paper session with intelligence providers (local Binance and provider servers)', function () {
  this.timeout(90_000);
  let binance: BinanceServer;
  let intel: IntelServer;
  const tmp = tempDir();
  const keyBefore = process.env['FRED_API_KEY'];

  before(async () => {
    binance = await startBinanceServer({});
    intel = await startIntelServer();
    process.env['FRED_API_KEY'] = 'fred-session-key';
  });
  after(async () => {
    if (keyBefore === undefined) delete process.env['FRED_API_KEY'];
    else process.env['FRED_API_KEY'] = keyBefore;
    await binance.close();
    await intel.close();
    tmp.cleanup();
  });

  it('joins sentiment into live decisions only, logs a failing provider and keeps trading on the rest', async () => {
    await eventually(() => ok(Date.now() % FIVE_MINUTES < FIVE_MINUTES - 15_000, 'too close to a 5-minute boundary'), {
      timeoutMs: 20_000,
      intervalMs: 500,
    });
    const started = Date.now();
    const bucket = Math.floor(started / FIVE_MINUTES) * FIVE_MINUTES;
    binance.setKlines(
      'BTCUSDT',
      '5m',
      Array.from({ length: 120 }, (_, i) => kline(bucket - (120 - i) * FIVE_MINUTES, 20_000 + Math.sin(i / 5) * 50)),
    );
    binance.setBook('BTCUSDT', { lastUpdateId: 100, bids: [['19999.00', '5']], asks: [['20001.00', '5']] });
    // Greed of 80, stamped a second from now: it can only be known once received.
    intel.script('/fng/', { body: fearGreedBody([{ value: 80, timestamp: Math.ceil(started / 1000) + 1 }]) });
    intel.script('/fred/series/observations', { status: 429, headers: { 'retry-after': '7200' }, body: '{}' });
    const configFile = path.join(tmp.dir, 'intel-session.yaml');
    writeFileSync(
      configFile,
      taSessionConfig('intel-session', {
        extra: `journal: { level: all }
intelligence:
  sources: [sentiment, macro]
  providers:
    fearGreed: { baseUrl: "${intel.url}" }
    fred: { baseUrl: "${intel.url}", series: [{ id: DFF, sign: -1, scale: 0.25 }] }
`,
      }).replace(
        'fuse: { weights: { ta: 1 }, minScore: 0.5, minConfidence: 0.5 }',
        'fuse: { weights: { ta: 0.7, sentiment: 0.2, macro: 0.1 }, minScore: 0.4, minConfidence: 0.4 }',
      ),
    );
    const out = new PassThrough();
    let logText = '';
    out.on('data', (chunk: Buffer) => (logText += chunk.toString()));
    const stop$ = new Subject<void>();
    const outDir = path.join(tmp.dir, 'paper');
    const running = runSession({
      mode: 'paper',
      configFile,
      outDir,
      apiUrl: binance.url,
      wsUrl: binance.url.replace(/^http/, 'ws'),
      warmupBars: 100,
      killSwitch: 'none',
      log: out,
      stop$,
    });
    const journalFile = path.join(outDir, 'journal.jsonl');
    try {
      await eventually(() => match(logText, /warm-up done \(100 bars\)/), { timeoutMs: 30_000 });
      await eventually(
        () => ok(binance.subscriberCount('btcusdt@kline_5m') > 0 && binance.subscriberCount('btcusdt@trade') > 0),
        {
          timeoutMs: 30_000,
        },
      );
      await eventually(() => ok(intel.seen.some((r) => r.path === '/fng/')), { timeoutMs: 10_000 });
      for (let i = 0; i < 8; i++) {
        const openTime = bucket + i * FIVE_MINUTES;
        const price = 20_000 + (i + 1) * 40;
        binance.pushKline('BTCUSDT', '5m', kline(openTime, price), { final: true });
        binance.pushKline('BTCUSDT', '5m', kline(openTime + FIVE_MINUTES, price), { final: false });
        await eventually(
          () => ok(readFileSync(journalFile, 'utf8').includes(`"id":"BTC/USDT:5m:${openTime + FIVE_MINUTES}:fused"`)),
          { timeoutMs: 20_000 },
        );
        binance.pushTrade('BTCUSDT', {
          price: price.toFixed(2),
          qty: '0.01',
          buyerIsMaker: false,
          time: openTime + FIVE_MINUTES + 1,
        });
      }
      await eventually(() => match(logText, /fill: buy/), { timeoutMs: 30_000 });
      match(
        logText,
        /intelligence fred HTTP_429: fred http:\/\/127\.0\.0\.1:\d+\/fred\/series\/observations\?series_id=DFF&api_key=\*\*\*/,
      );
      ok(!logText.includes('fred-session-key'), 'the key is never logged');
    } finally {
      stop$.next();
    }
    await running;
    const signals = readFileSync(journalFile, 'utf8')
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            kind: string;
            tsEvent: number;
            confidence?: number;
            components?: { source: string; available: boolean; direction: number }[];
          },
      )
      .filter((e) => e.kind === 'signal');
    const part = (s: (typeof signals)[number], source: string) => s.components!.find((c) => c.source === source)!;
    const warmup = signals.filter((s) => s.tsEvent <= started);
    const live = signals.filter((s) => s.tsEvent > started);
    ok(warmup.length >= 90 && live.length >= 8, `${warmup.length} warm-up and ${live.length} live signals`);
    ok(
      warmup.every((s) => !part(s, 'sentiment').available),
      'a warm-up bar saw a value published after it',
    );
    ok(
      live.every((s) => part(s, 'sentiment').available && part(s, 'sentiment').direction === 1),
      'greed on every live bar',
    );
    ok(
      signals.every((s) => !part(s, 'macro').available),
      'FRED never answered',
    );
    ok(
      live.every((s) => (s.confidence ?? 1) <= 0.9 + 1e-9),
      'macro’s share of the confidence is missing',
    );
    equal(
      intel.seen.filter((r) => r.path === '/fred/series/observations').length,
      1,
      'a Retry-After of two hours is not waited for',
    );
  });
});
