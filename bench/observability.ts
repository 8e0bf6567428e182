/**
 * Observability numbers for `npm run bench` (`--only observability`):
 * - points/s into a real InfluxDB 1.8 (started on loopback like the tests; INFLUX_URL for another),
 *   from the first event handed to the sink to the server's last acknowledgement;
 * - overhead of the metrics and the Influx sink on the per-bar decision: the real events each bar
 *   of a Growth backtest produces (real BTC/USDT 5m bars) replayed through the taps the pipeline
 *   wears (`startObservability` with both sinks on), timed per bar;
 * - `/metrics` scrape time with 7 symbols' sources and breakers registered, under HTTP;
 * - dashboard update latency: a line appended to the journal → the state pushed over SSE
 *   arriving at a client.
 */
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Subject, VirtualTimeScheduler, from, lastValueFrom, tap } from 'rxjs';
import { paperExchangeFor } from '../pipelines/paperVenue';
import type { Bar } from '../operators/types';
import { loadConfig, parseConfig } from '../pipelines/config';
import { loadModelFor } from '../pipelines/model';
import { startObservability } from '../pipelines/observability';
import {
  acceptingBooks,
  tradingPipeline,
  type PipelineEvent,
  type PipelineObserver,
} from '../pipelines/tradingPipeline';
import { serveDashboard } from '../sinks/dashboard';
import { makeInfluxSink } from '../sinks/influx';
import type { ObservedEvent } from '../sinks/influxPoints';
import { makeMetricsSink, serveMetrics } from '../sinks/metrics';
import { readBarsCsv } from '../sources/csvBars';
import { randomWalkBars } from '../test/support/fixtures';
import { startInfluxServer } from '../test/support/influxServer';
import { repoRoot, sharedDataPath } from '../test/support/sharedData';

type Result = Record<string, number | string>;

function line(label: string, value: string): void {
  process.stdout.write(`  ${label.padEnd(44)} ${value}\n`);
}

function pct(sorted: Float64Array | number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function realBars(): { bars: Bar[]; source: string } {
  const file = sharedDataPath('candles/binance_spot_BTCUSDT_5m_nfi.csv');
  if (file)
    return {
      bars: readBarsCsv(file, { venue: 'binance', symbol: 'BTC/USDT', timeframe: '5m' }),
      source: path.basename(file),
    };
  return { bars: randomWalkBars(65_741), source: 'generated random walk (../shared/data not found)' };
}

/** The events each bar of a Growth backtest produces, in order (index = bar). */
function eventsPerBar(bars: readonly Bar[]): PipelineEvent[][] {
  const config = loadConfig(path.join(repoRoot, 'config', 'growth.yaml'));
  const model = loadModelFor(config);
  const scheduler = new VirtualTimeScheduler();
  const venue = acceptingBooks(paperExchangeFor(config, scheduler));
  const pipeline = tradingPipeline(config, { venue, scheduler, model });
  const perBar: PipelineEvent[][] = [];
  const bars$ = from(bars).pipe(tap(() => perBar.push([])));
  pipeline({ bars$ }).subscribe((e) => perBar[perBar.length - 1]?.push(e));
  scheduler.flush();
  return perBar;
}

export async function benchObservability(): Promise<Result> {
  const result: Result = {};
  const work = path.join(tmpdir(), `bot4-bench-observability-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const { bars, source } = realBars();
  const influx = await startInfluxServer(path.join(work, 'influx'));
  try {
    // 1. Points/s into InfluxDB.
    process.stdout.write('InfluxDB sink → real InfluxDB 1.8 on loopback (v2 write API)\n');
    const bucket = await influx.createDatabase(`bench_${process.pid}`);
    const tags = {
      venue: 'binance',
      symbol: 'BTC/USDT',
      timeframe: '5m',
      tier: 'growth',
      config: 'bench',
      run: 'backtest',
    };
    const start = process.hrtime.bigint();
    const stats = await lastValueFrom(
      makeInfluxSink({
        url: influx.url,
        token: 'bench',
        org: '',
        bucket,
        tags,
        spillFile: path.join(work, 'spill.lp'),
      })(from(bars as ObservedEvent[])),
    );
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    line('points', `${stats.written.toLocaleString('en')} bars (${source}), ${stats.pending} pending`);
    line(
      'throughput, hand-over → last acknowledgement',
      `${Math.round(stats.written / seconds).toLocaleString('en')} points/s`,
    );
    result['influxPointsPerSecond'] = Math.round(stats.written / seconds);

    // 2. Overhead per decision.
    process.stdout.write('overhead of metrics + Influx sink on the per-bar decision (the taps, timed per bar)\n');
    const perBar = eventsPerBar(bars);
    const eventsTotal = perBar.reduce((n, e) => n + e.length, 0);
    const config = parseConfig(
      `${readFileSync(path.join(repoRoot, 'config', 'growth.yaml'), 'utf8')}\nmonitoring:\n  influx: { enabled: true }\n  metrics: { enabled: true, port: 0 }\n`,
      path.join(repoRoot, 'config', 'growth.yaml'),
    );
    const bucket2 = await influx.createDatabase(`bench_overhead_${process.pid}`);
    const observe = await startObservability(config, {
      run: 'backtest',
      outDir: path.join(work, 'overhead'),
      env: { INFLUX_URL: influx.url, INFLUX_TOKEN: 'bench', INFLUX_ORG: '', INFLUX_BUCKET: bucket2 },
    });
    /** Per-bar time of handing the bar and its events through the taps (identity taps: the baseline). */
    const timeTaps = async (taps: {
      bars: typeof observe.bars;
      events: typeof observe.events;
      pipeline?: PipelineObserver;
    }): Promise<Float64Array> => {
      const barsIn$ = new Subject<Bar>();
      const eventsIn$ = new Subject<PipelineEvent>();
      barsIn$.pipe(taps.bars).subscribe();
      eventsIn$.pipe(taps.events).subscribe();
      const times = new Float64Array(bars.length);
      for (let i = 0; i < bars.length; i++) {
        const t0 = process.hrtime.bigint();
        barsIn$.next(bars[i]!);
        // The stage ends the pipeline reports through its observer (features, ta, ml), as it would.
        const stage = taps.pipeline?.stage;
        if (stage) {
          const ts = bars[i]!.tsEvent;
          stage('features', ts);
          stage('ta', ts);
          stage('ml', ts);
        }
        for (const e of perBar[i]!) eventsIn$.next(e);
        times[i] = Number(process.hrtime.bigint() - t0) / 1000;
        // As in a session, the event loop turns between bars (the sink encodes and sends there).
        await new Promise((resolve) => setImmediate(resolve));
      }
      return times.slice(1000).sort();
    };
    const cpuSeconds = (since: NodeJS.CpuUsage): number => {
      const used = process.cpuUsage(since);
      return (used.user + used.system) / 1e6;
    };
    let cpu = process.cpuUsage();
    const baseline = await timeTaps({ bars: (b$) => b$, events: (e$) => e$ });
    const baselineCpu = cpuSeconds(cpu);
    cpu = process.cpuUsage();
    const warm = await timeTaps(observe);
    const closed = await observe.close();
    // CPU time is immune to the other processes on the machine; it includes the encoding and
    // sending done between bars and at close.
    const tapsCpu = cpuSeconds(cpu);
    const addedCpuUs = ((tapsCpu - baselineCpu) / bars.length) * 1e6;
    line(
      'bars · events',
      `${bars.length.toLocaleString('en')} · ${eventsTotal.toLocaleString('en')} (${(eventsTotal / bars.length).toFixed(1)} per bar)`,
    );
    line(
      'per bar without / with taps, p50',
      `${pct(baseline, 0.5).toFixed(2)} / ${pct(warm, 0.5).toFixed(2)} µs (added ${(pct(warm, 0.5) - pct(baseline, 0.5)).toFixed(2)} µs)`,
    );
    line(
      'per bar without / with taps, p99',
      `${pct(baseline, 0.99).toFixed(2)} / ${pct(warm, 0.99).toFixed(2)} µs (added ${(pct(warm, 0.99) - pct(baseline, 0.99)).toFixed(2)} µs)   target ≤ 2 µs`,
    );
    line('with taps p99.9', `${pct(warm, 0.999).toFixed(2)} µs`);
    line('CPU added per bar, mean (encode + send included)', `${addedCpuUs.toFixed(2)} µs`);
    line(
      'points delivered afterwards',
      `${closed.influx?.written.toLocaleString('en')} (${closed.influx?.pending} pending)`,
    );
    result['overheadAddedP50us'] = pct(warm, 0.5) - pct(baseline, 0.5);
    result['overheadAddedP99us'] = pct(warm, 0.99) - pct(baseline, 0.99);
    result['withTapsP99us'] = pct(warm, 0.99);
    result['cpuAddedPerBarUs'] = addedCpuUs;
    result['withTapsP999us'] = pct(warm, 0.999);
  } finally {
    await influx.stop();
  }

  // 3. Scrape time with 7 symbols.
  process.stdout.write(
    '/metrics scrape over HTTP, 7 symbols (feeds, staleness, breakers per symbol) + default metrics\n',
  );
  const sink = makeMetricsSink({ labels: { strategy: 'bench', config: 'bench', run: 'paper', tier: 'growth' } });
  const symbols = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'BNB/USDT', 'XRP/USDT', 'ADA/USDT', 'DOGE/USDT'];
  for (const symbol of symbols) {
    for (const stream of ['trades', 'ohlcv', 'book']) {
      sink.seen(`feed:${stream}:${symbol}`, Date.now());
      sink.observe({
        kind: 'feed-connected',
        stream: `${stream}:${symbol}`,
        session: 2,
        tsInit: 0,
      } as unknown as ObservedEvent);
      sink.observe({
        kind: 'breaker-state-changed',
        component: `feed:${stream}:${symbol}`,
        from: 'closed',
        to: 'closed',
        reason: '',
        tsEvent: 0,
      });
    }
  }
  for (const stage of ['portfolio', 'signal', 'decision'])
    for (let i = 0; i < 1000; i++) sink.observe({ kind: 'stage-latency', stage, seconds: i * 1e-6, tsEvent: 0 });
  const server = await serveMetrics(sink, { port: 0 });
  const scrapes: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 300; i++) {
    const t0 = process.hrtime.bigint();
    const text = await (await fetch(server.url)).text();
    scrapes.push(Number(process.hrtime.bigint() - t0) / 1e6);
    bytes = text.length;
  }
  await server.close();
  const scrapesSorted = scrapes.slice(50).sort((a, b) => a - b);
  line(
    'scrape p50 / p99',
    `${pct(scrapesSorted, 0.5).toFixed(2)} / ${pct(scrapesSorted, 0.99).toFixed(2)} ms (${bytes.toLocaleString('en')} bytes)`,
  );
  result['scrapeP50ms'] = pct(scrapesSorted, 0.5);
  result['scrapeP99ms'] = pct(scrapesSorted, 0.99);

  // 4. Dashboard update latency.
  process.stdout.write('dashboard: journal line appended → state pushed over SSE received by a client\n');
  const dir = path.join(work, 'dashboard');
  mkdirSync(dir, { recursive: true });
  const journal = path.join(dir, 'journal.jsonl');
  writeFileSync(
    journal,
    `${JSON.stringify({ kind: 'session', event: 'started', mode: 'paper', config: { name: 'bench', hash: 'b' }, initialEquity: 10_000, tsEvent: 0 })}\n`,
  );
  const dashboard = await serveDashboard({ dir, port: 0 });
  const updates: number[] = [];
  await new Promise<void>((resolve, reject) => {
    const request = http.get(`${dashboard.url}api/events`, (response) => {
      let buffer = '';
      let sentAt = 0n;
      let i = 0;
      const next = (): void => {
        if (i === 300) {
          request.destroy();
          resolve();
          return;
        }
        i++;
        sentAt = process.hrtime.bigint();
        appendFileSync(
          journal,
          `${JSON.stringify({ kind: 'fill', clientOrderId: `c${i}`, signalId: 's', symbol: 'BTC/USDT', side: 'buy', qty: '0.001', price: '20000', notional: '20', fee: '0.02', leavesQty: '0', tsEvent: i * 1000 })}\n`,
        );
      };
      response.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const state = JSON.parse(message.replace(/^data: /, '')) as { counts: { fills: number } };
          if (state.counts.fills === i && i > 0) updates.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
          if (state.counts.fills === i) setImmediate(next);
          end = buffer.indexOf('\n\n');
        }
      });
      response.on('error', reject);
    });
    request.on('error', (err) => (updates.length >= 300 ? resolve() : reject(err)));
  });
  await dashboard.close();
  const updatesSorted = updates.sort((a, b) => a - b);
  line(
    'update latency p50 / p99 / max',
    `${pct(updatesSorted, 0.5).toFixed(2)} / ${pct(updatesSorted, 0.99).toFixed(2)} / ${updatesSorted[updatesSorted.length - 1]!.toFixed(2)} ms (${updates.length} updates)`,
  );
  result['dashboardUpdateP50ms'] = pct(updatesSorted, 0.5);
  result['dashboardUpdateP99ms'] = pct(updatesSorted, 0.99);
  rmSync(work, { recursive: true, force: true });
  return result;
}
