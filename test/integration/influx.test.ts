import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Subject, from, lastValueFrom, toArray } from 'rxjs';
import { toUnits } from '../../operators/money';
import type { Bar, Fill, Signal } from '../../operators/types';
import { makeInfluxSink, type InfluxSinkStats } from '../../sinks/influx';
import { PointEncoder, type ObservedEvent, type RunTags } from '../../sinks/influxPoints';
import { eventually } from '../support/eventually';
import { randomWalkBars, signal } from '../support/fixtures';
import { startInfluxServer, type InfluxServer } from '../support/influxServer';
import { tempDir } from '../support/tmp';
import { runBacktest } from '../../pipelines/backtest';
import { loadConfig } from '../../pipelines/config';
import { startObservability } from '../../pipelines/observability';
import { computeFeatures } from '../../operators/computeFeatures';
import { readBarsCsv } from '../../sources/csvBars';
import { repoRoot, requireSharedData } from '../support/sharedData';

const TAGS: RunTags = {
  venue: 'binance',
  symbol: 'BTC/USDT',
  timeframe: '5m',
  tier: 'growth',
  config: 'abc123',
  run: 'backtest',
};

function fill(tsEvent: number, n: number): Fill {
  return {
    kind: 'fill',
    clientOrderId: `g-${tsEvent}-${n}`,
    signalId: `BTC/USDT:5m:${tsEvent}:fused`,
    symbol: 'BTC/USDT',
    side: n % 2 === 0 ? 'buy' : 'sell',
    qty: toUnits('0.00123'),
    price: toUnits('20000.5'),
    notional: toUnits('24.600615'),
    fee: toUnits('0.02460062'),
    liquidity: 'taker',
    leavesQty: 0n,
    tsEvent,
  };
}

/** Bars, a fused signal per bar and two fills in the same millisecond every 10th bar. */
function history(bars: readonly Bar[]): ObservedEvent[] {
  const events: ObservedEvent[] = [];
  bars.forEach((b, i) => {
    events.push(b);
    const s: Signal = signal({
      source: 'fused',
      tsEvent: b.tsEvent,
      price: b.close,
      direction: i % 3 === 0 ? 1 : 0,
      strength: i / bars.length,
      timeframe: '5m',
    });
    events.push(s);
    if (i % 10 === 0) events.push(fill(b.tsEvent, 0), fill(b.tsEvent, 1));
  });
  return events;
}

describe('InfluxDB point encoding', () => {
  it('writes two points of one series in the same millisecond 1 ns apart, so neither overwrites the other', () => {
    const encoder = new PointEncoder(TAGS);
    const lines: string[] = [];
    encoder.encode(fill(1_700_000_000_000, 0), lines);
    encoder.encode(fill(1_700_000_000_000, 2), lines);
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, / 1700000000000000000$/);
    assert.match(lines[1]!, / 1700000000000000001$/);
  });

  it('keeps ids and free text out of the tags and escapes tag values', () => {
    const encoder = new PointEncoder({ ...TAGS, config: 'a b,c' });
    const lines: string[] = [];
    encoder.encode(fill(1_000, 0), lines);
    const [series, fields] = lines[0]!.split(/(?<!\\) /);
    assert.equal(
      series,
      'fill,config=a\\ b\\,c,liquidity=taker,run=backtest,side=buy,symbol=BTC/USDT,tier=growth,timeframe=5m,venue=binance',
    );
    assert.match(fields!, /client_order_id="g-1000-0"/);
    assert.match(fields!, /qty=0.00123,price=20000.5/);
  });

  it('ignores kinds it does not store', () => {
    const lines: string[] = [];
    new PointEncoder(TAGS).encode({ kind: 'market-risk', tsEvent: 1 }, lines);
    assert.deepEqual(lines, []);
  });
});

describe('InfluxDB sink configuration', () => {
  it('refuses a URL that is not http(s), naming INFLUX_URL without echoing a password', () => {
    assert.throws(
      () =>
        makeInfluxSink({ url: 'ftp://user:s3cret@host', token: 't', org: '', bucket: 'b', tags: TAGS, spillFile: 'x' }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'INFLUX_CONFIG');
        assert.match(err.message, /INFLUX_URL: expected an http\(s\) URL/);
        assert.doesNotMatch(err.message, /s3cret/);
        return true;
      },
    );
  });

  it('a config with monitoring.influx.enabled and no INFLUX_URL fails before anything starts, saying what to set', async () => {
    const tmp = tempDir('bot4-influx-config-');
    try {
      const file = path.join(tmp.dir, 'growth.yaml');
      writeFileSync(
        file,
        `${readFileSync(path.join(repoRoot, 'config', 'growth.yaml'), 'utf8')}\nmonitoring:\n  influx: { enabled: true }\n`,
      );
      await assert.rejects(
        startObservability(loadConfig(file), { run: 'backtest', outDir: tmp.dir, env: {} }),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'INFLUX_NOT_CONFIGURED');
          assert.match(err.message, /monitoring\.influx\.enabled is true but INFLUX_URL is not set/);
          return true;
        },
      );
    } finally {
      tmp.cleanup();
    }
  });
});

describe('InfluxDB sink against a real InfluxDB 1.8', function () {
  this.timeout(15 * 60_000);
  let server: InfluxServer;
  const tmp = tempDir('bot4-influx-');

  before(async () => {
    server = await startInfluxServer(path.join(tmp.dir, 'server'));
  });
  after(async () => {
    await server?.stop();
    tmp.cleanup();
  });

  it('writes bars, signals and fills, and reads back exactly what was written', async () => {
    const bucket = await server.createDatabase('bot4_exact');
    const bars = randomWalkBars(3_000, { seed: 7 });
    const stats = await lastValueFrom(
      makeInfluxSink({
        url: server.url,
        token: 'test',
        org: '',
        bucket,
        tags: TAGS,
        batchSize: 1_000,
        spillFile: path.join(tmp.dir, 'exact.spill'),
      })(from(history(bars))).pipe(toArray()),
    );
    const last = stats[stats.length - 1]!;
    assert.equal(last.done, true);
    assert.equal(last.pending, 0);
    assert.equal(last.written, 3_000 + 3_000 + 600);

    const closes = await server.query('bot4_exact', 'SELECT close, volume FROM bar ORDER BY time');
    assert.deepEqual(
      closes[0]!.values,
      bars.map((b) => [b.tsEvent * 1e6, b.close, b.volume]),
    );
    const fills = await server.query('bot4_exact', 'SELECT count(qty) FROM fill GROUP BY side');
    assert.deepEqual(
      fills.map((s) => [s.tags!.side, s.values[0]![1]]),
      [
        ['buy', 300],
        ['sell', 300],
      ],
    );
    const fillValues = await server.query('bot4_exact', 'SELECT qty, price, fee, client_order_id FROM fill LIMIT 2');
    assert.deepEqual(
      fillValues[0]!.values.map((v) => v.slice(1)),
      [
        [0.00123, 20000.5, 0.02460062, `g-${bars[0]!.tsEvent}-0`],
        [0.00123, 20000.5, 0.02460062, `g-${bars[0]!.tsEvent}-1`],
      ],
    );
    const tags = await server.query('bot4_exact', 'SHOW TAG VALUES FROM signal WITH KEY = "source"');
    assert.deepEqual(tags[0]!.values, [['source', 'fused']]);
  });

  it('keeps writing through a server outage: memory stays bounded, the excess spills to disk, and after the restart every point is there exactly once', async function () {
    if (!server.owned) this.skip(); // an INFLUX_URL server is not ours to kill
    const bucket = await server.createDatabase('bot4_outage');
    const bars = randomWalkBars(6_000, { seed: 11 });
    const events = history(bars);
    const half = Math.floor(events.length / 2);
    const spillFile = path.join(tmp.dir, 'outage.spill');
    const input$ = new Subject<ObservedEvent>();
    const done = lastValueFrom(
      makeInfluxSink({
        url: server.url,
        token: 'test',
        org: '',
        bucket,
        tags: TAGS,
        batchSize: 500,
        flushIntervalMs: 20,
        maxBufferLines: 1_000,
        retryMinMs: 20,
        retryMaxMs: 200,
        requestTimeoutMs: 2_000,
        spillFile,
      })(input$).pipe(toArray()),
    );
    for (const e of events.slice(0, half)) input$.next(e);
    const firstHalfLines = countLines(events.slice(0, half));
    await eventually(
      async () => {
        const rows = await server.query('bot4_outage', 'SELECT count(close) FROM bar');
        assert.ok(rows.length > 0);
      },
      { timeoutMs: 30_000 },
    );
    await server.kill();
    for (const e of events.slice(half)) input$.next(e);
    // While the server is down the excess is on disk, not in memory.
    await eventually(() => assert.ok(existsSync(spillFile) && statSync(spillFile).size > 0), { timeoutMs: 30_000 });
    await server.restart();
    input$.complete();
    const stats: InfluxSinkStats[] = await done;
    const last = stats[stats.length - 1]!;
    assert.equal(last.pending, 0, `undelivered: ${JSON.stringify(last)}`);
    assert.ok(last.retries > 0, 'the outage was seen by the sink');
    assert.ok(last.spilled > 0, 'lines went to disk past the memory bound');
    assert.ok(firstHalfLines > 0);
    const counts = await server.query('bot4_outage', 'SELECT count(close) FROM bar');
    assert.equal(counts[0]!.values[0]![1], bars.length);
    const signals = await server.query('bot4_outage', 'SELECT count(strength) FROM signal');
    assert.equal(signals[0]!.values[0]![1], bars.length);
    const fills = await server.query('bot4_outage', 'SELECT count(qty) FROM fill');
    assert.equal(fills[0]!.values[0]![1], 2 * Math.ceil(bars.length / 10));
    const closes = await server.query('bot4_outage', 'SELECT close FROM bar ORDER BY time');
    assert.deepEqual(
      closes[0]!.values,
      bars.map((b) => [b.tsEvent * 1e6, b.close]),
    );
    assert.equal(statSync(spillFile).size, 0, 'the spill file is emptied once delivered');
  });

  it('a backtest with monitoring.influx on writes every bar, signal, decision and fill of its journal, equal to the journal', async function () {
    const data = requireSharedData(this, 'candles/binance_spot_BTCUSDT_5m_nfi.csv');
    const bucket = await server.createDatabase('bot4_backtest');
    const configFile = path.join(tmp.dir, 'growth-influx.yaml');
    writeFileSync(
      configFile,
      `${readFileSync(path.join(repoRoot, 'config', 'growth.yaml'), 'utf8').replace(
        'model: models/growth-btc-5m.json',
        `model: ${JSON.stringify(path.join(repoRoot, 'config', 'models', 'growth-btc-5m.json'))}`,
      )}\nmonitoring:\n  influx:\n    enabled: true\n    batchSize: 2000\n    features: true\n`,
    );
    const saved = { ...process.env };
    Object.assign(process.env, { INFLUX_URL: server.url, INFLUX_TOKEN: 'test', INFLUX_ORG: '', INFLUX_BUCKET: bucket });
    let result: Awaited<ReturnType<typeof runBacktest>>;
    try {
      result = await runBacktest({
        configFile,
        dataFile: data,
        outDir: path.join(tmp.dir, 'backtest'),
        from: Date.UTC(2021, 3, 1),
        until: Date.UTC(2021, 3, 15),
        journalLevel: 'all',
      });
    } finally {
      for (const key of ['INFLUX_URL', 'INFLUX_TOKEN', 'INFLUX_ORG', 'INFLUX_BUCKET']) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
    const journal = readFileSync(result.journalFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown> & { kind: string });
    const count = async (q: string): Promise<number> => {
      const rows = await server.query('bot4_backtest', q);
      return rows.length === 0 ? 0 : (rows[0]!.values[0]![1] as number);
    };
    assert.equal(await count('SELECT count(close) FROM bar'), result.report.bars);
    assert.equal(await count('SELECT count(equity) FROM equity'), result.report.bars);
    assert.equal(
      await count(`SELECT count(strength) FROM signal WHERE source = 'fused'`),
      journal.filter((e) => e.kind === 'signal').length,
    );
    assert.equal(
      await count(`SELECT count(qty) FROM decision WHERE outcome = 'denied'`),
      journal.filter((e) => e.kind === 'denied').length,
    );
    const fills = journal.filter((e) => e.kind === 'fill') as unknown as {
      qty: string;
      price: string;
      fee: string;
      clientOrderId: string;
      tsEvent: number;
    }[];
    assert.ok(fills.length > 0, 'the period has trades');
    const rows = await server.query('bot4_backtest', 'SELECT qty, price, fee, client_order_id FROM fill ORDER BY time');
    assert.deepEqual(
      rows[0]!.values.map(([t, qty, price, fee, id]) => [Math.floor((t as number) / 1e6), qty, price, fee, id]),
      fills.map((f) => [f.tsEvent, Number(f.qty), Number(f.price), Number(f.fee), f.clientOrderId]),
    );
    assert.ok((await count('SELECT count(seconds) FROM latency')) > 0, 'stage latencies are written');
    // Features: what computeFeatures gives on the same bars, every value.
    const config = loadConfig(configFile);
    const bars = readBarsCsv(data, {
      venue: 'binance',
      symbol: 'BTC/USDT',
      timeframe: '5m',
      from: Date.UTC(2021, 3, 1),
      until: Date.UTC(2021, 3, 15),
    });
    const features = await lastValueFrom(from(bars).pipe(computeFeatures({ features: config.features }), toArray()));
    const stored = await server.query(
      'bot4_backtest',
      'SELECT "rsi14", "macd.macd_histogram", "bb.bbands_upper" FROM features ORDER BY time',
    );
    const want = features
      .map((f) => [f.tsEvent * 1e6, f.values['rsi14'], f.values['macd.macd_histogram'], f.values['bb.bbands_upper']])
      .filter((row) => row.slice(1).some((v) => v !== null));
    assert.ok(want.length > 3_000);
    assert.deepEqual(stored[0]!.values, want);
    const tags = await server.query('bot4_backtest', 'SHOW TAG VALUES FROM bar WITH KEY IN ("config", "tier", "run")');
    assert.deepEqual(tags[0]!.values, [
      ['config', result.report.config.hash],
      ['run', 'backtest'],
      ['tier', 'growth'],
    ]);
  });

  it('leaves what it could not deliver in the spill file, and the next sink delivers it first', async () => {
    const bucket = await server.createDatabase('bot4_spill');
    const bars = randomWalkBars(500, { seed: 3 });
    const spillFile = path.join(tmp.dir, 'restart.spill');
    // A port nothing listens on: the first sink cannot deliver anything.
    const down = await lastValueFrom(
      makeInfluxSink({
        url: 'http://127.0.0.1:9',
        token: 'test',
        org: '',
        bucket,
        tags: TAGS,
        retryMinMs: 10,
        retryMaxMs: 20,
        drainTimeoutMs: 200,
        spillFile,
      })(from(bars)),
    );
    assert.equal(down.written, 0);
    assert.equal(down.pending, bars.length);
    assert.equal(readFileSync(spillFile, 'utf8').trim().split('\n').length, bars.length);
    // The next run (no events of its own) delivers the spill.
    const up = await lastValueFrom(
      makeInfluxSink({ url: server.url, token: 'test', org: '', bucket, tags: TAGS, spillFile })(from([] as Bar[])),
    );
    assert.equal(up.written, bars.length);
    assert.equal(up.pending, 0);
    const counts = await server.query('bot4_spill', 'SELECT count(close) FROM bar');
    assert.equal(counts[0]!.values[0]![1], bars.length);
  });
});

function countLines(events: readonly ObservedEvent[]): number {
  const lines: string[] = [];
  const encoder = new PointEncoder(TAGS);
  for (const e of events) encoder.encode(e, lines);
  return lines.length;
}
