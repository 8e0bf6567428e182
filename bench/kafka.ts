/**
 * Kafka numbers for `npm run bench` (`--only kafka`), through a real broker (started on loopback
 * like the tests; `KAFKA_BROKERS` for another):
 * - produce and consume throughput (messages/s) of bars and of decisions (order commands), with
 *   the idempotent producer (`acks: -1`) and the commit-after-handled consumer;
 * - the three roles as separate processes over the seven-symbol portfolio on real 1h bars
 *   (January 2021): steps/s, the executor's step → decision round trip and bar → order → venue
 *   event latency (p50/p99), with one and with two decision workers, and each role's peak RSS.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { filter, lastValueFrom, take, tap } from 'rxjs';
import { toUnits } from '../operators/money';
import type { Bar, Order } from '../operators/types';
import { ensureTopics, kafkaTopics, makeKafkaClient } from '../pipelines/rolesKafka';
import { makeKafkaSink, type KafkaRecordOut } from '../sinks/kafkaSink';
import { readBarsCsv } from '../sources/csvBars';
import { makeKafkaSource, type KafkaMessageIn } from '../sources/kafkaSource';
import { parseBarMessage, parseDecisionMessage } from '../sources/kafkaMessages';
import { kafkaBroker } from '../test/support/kafkaServer';
import { repoRoot, sharedDataDir, sharedDataPath } from '../test/support/sharedData';

type Result = Record<string, number | string>;

function line(label: string, value: string): void {
  process.stdout.write(`  ${label.padEnd(44)} ${value}\n`);
}

async function throughput(
  brokers: string[],
  name: string,
  count: number,
  record: (i: number, topic: string) => KafkaRecordOut,
  parse: (text: string | null) => { ok: boolean },
): Promise<{ produce: number; consume: number }> {
  const kafka = makeKafkaClient(brokers, `bot4-bench-${name}`);
  const topics = kafkaTopics(`bench-${name}-${randomUUID().slice(0, 8)}`);
  await ensureTopics(kafka, topics, 1);
  const sink = await makeKafkaSink({ kafka });
  const batch = 1000;
  let t0 = performance.now();
  for (let i = 0; i < count; i += batch)
    await sink.send(Array.from({ length: Math.min(batch, count - i) }, (_, k) => record(i + k, topics.bars)));
  const produce = count / ((performance.now() - t0) / 1000);
  await sink.disconnect();
  const source = makeKafkaSource({ kafka, groupId: `${topics.bars}.bench`, topics: [topics.bars] });
  let bad = 0;
  t0 = performance.now();
  await lastValueFrom(
    source.events$.pipe(
      filter((m): m is KafkaMessageIn => m.kind === 'kafka-message'),
      tap((m) => {
        if (!parse(m.value).ok) bad++;
        m.commit();
      }),
      take(count),
    ),
  );
  const consume = count / ((performance.now() - t0) / 1000);
  await source.whenClosed();
  if (bad > 0) throw new Error(`${bad} ${name} messages did not parse`);
  return { produce, consume };
}

interface Proc {
  readonly child: ChildProcess;
  peakRssMb: number;
  stdout: string;
  readonly exit: Promise<number | null>;
}

function startRole(args: string[]): Proc {
  const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'pipelines', 'cli.js'), 'run', '-q', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const proc: Proc = {
    child,
    peakRssMb: 0,
    stdout: '',
    exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  child.stdout!.on('data', (chunk: Buffer) => (proc.stdout += chunk.toString()));
  const timer = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      proc.peakRssMb = Math.max(proc.peakRssMb, kb / 1024);
    } catch {
      // exited
    }
  }, 100);
  void proc.exit.then(() => clearInterval(timer));
  return proc;
}

async function rolesRun(brokers: string[], workers: number, dataDir: string): Promise<Result> {
  const out = mkdtempSync(path.join(tmpdir(), 'bot4-bench-kafka-'));
  const prefix = `bench-roles-${randomUUID().slice(0, 8)}`;
  const config = path.join(repoRoot, 'config', 'portfolio-7.yaml');
  const common = ['-c', config, '--brokers', brokers.join(','), '--topic-prefix', prefix, '-o', out];
  try {
    const t0 = performance.now();
    const executor = startRole(['--role', 'execute', ...common]);
    const deciders = Array.from({ length: workers }, (_, i) =>
      startRole(['--role', 'decide', '--worker', `w${i + 1}`, ...common]),
    );
    const ingest = startRole([
      '--role',
      'ingest',
      ...common,
      '-d',
      dataDir,
      '--from',
      '2021-01-01',
      '--until',
      '2021-02-01',
    ]);
    const codes = await Promise.all([executor.exit, ingest.exit, ...deciders.map((d) => d.exit)]);
    const seconds = (performance.now() - t0) / 1000;
    if (codes.some((c) => c !== 0)) throw new Error(`a role exited with ${codes.join(', ')}`);
    const steps = Number(/(\d+) steps/.exec(executor.stdout)?.[1] ?? Number.NaN);
    const m =
      /round trip p50 ([\d.]+) ms, p99 ([\d.]+) ms; bar → order → venue event p50 ([\d.]+) ms, p99 ([\d.]+) ms/.exec(
        executor.stdout,
      );
    return {
      workers,
      steps,
      seconds: Number(seconds.toFixed(1)),
      stepsPerSecond: Number((steps / seconds).toFixed(1)),
      roundTripP50ms: Number(m?.[1]),
      roundTripP99ms: Number(m?.[2]),
      barToVenueEventP50ms: Number(m?.[3]),
      barToVenueEventP99ms: Number(m?.[4]),
      executorPeakRssMb: Math.round(executor.peakRssMb),
      ingestPeakRssMb: Math.round(ingest.peakRssMb),
      deciderPeakRssMb: Math.round(Math.max(...deciders.map((d) => d.peakRssMb))),
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export async function benchKafka(): Promise<Result | undefined> {
  const dataDir = sharedDataDir();
  const btc = sharedDataPath('candles/binance_spot_BTCUSDT_5m_nfi.csv');
  if (!dataDir || !btc) {
    process.stdout.write('kafka: skipped (no ../shared/data)\n');
    return undefined;
  }
  process.stdout.write('kafka (real broker on loopback; idempotent producer, acks -1; commit after handling)\n');
  const broker = await kafkaBroker();
  const bars: Bar[] = readBarsCsv(btc, { venue: 'binance', symbol: 'BTC/USDT', timeframe: '5m' });
  const count = 50_000;
  const barRate = await throughput(
    broker.brokers,
    'bars',
    count,
    (i, topic) => ({ topic, key: 'BTC/USDT', partition: 0, value: bars[i % bars.length]! }),
    parseBarMessage,
  );
  line(
    'bars produced',
    `${Math.round(barRate.produce).toLocaleString('en-US')} msg/s (${count.toLocaleString('en-US')} messages)`,
  );
  line('bars consumed (parsed, committed)', `${Math.round(barRate.consume).toLocaleString('en-US')} msg/s`);
  const order = (i: number): Order => ({
    kind: 'order',
    clientOrderId: `bench-${i}`,
    intentId: `intent-${i}`,
    signalId: `BTC/USDT:1h:${i}:fused`,
    symbol: 'BTC/USDT',
    side: 'buy',
    type: 'market',
    qty: toUnits('0.01'),
    refPrice: 30_000,
    reducesRisk: false,
    configHash: 'bench',
    tsEvent: i,
  });
  const orderRate = await throughput(
    broker.brokers,
    'orders',
    count,
    (i, topic) => ({
      topic,
      key: 'paper',
      value: {
        kind: 'decision',
        account: 'paper',
        seq: i + 1,
        symbol: 'BTC/USDT',
        tsEvent: i,
        worker: 'bench',
        commands: [order(i)],
      },
    }),
    parseDecisionMessage,
  );
  line('order commands produced', `${Math.round(orderRate.produce).toLocaleString('en-US')} msg/s`);
  line('order commands consumed (parsed, committed)', `${Math.round(orderRate.consume).toLocaleString('en-US')} msg/s`);

  process.stdout.write('  roles as processes: portfolio-7 (7 symbols, 1h), 2021-01 — 5,208 bars\n');
  const runs: Result[] = [];
  for (const workers of [1, 2]) {
    const r = await rolesRun(broker.brokers, workers, path.join(dataDir, 'candles'));
    runs.push(r);
    line(
      `${workers} decision worker${workers > 1 ? 's' : ''}`,
      `${r['stepsPerSecond']} steps/s (${r['steps']} steps in ${r['seconds']} s); round trip p50 ${r['roundTripP50ms']} ms, p99 ${r['roundTripP99ms']} ms; bar → order → venue event p50 ${r['barToVenueEventP50ms']} ms, p99 ${r['barToVenueEventP99ms']} ms`,
    );
    line(
      '  peak RSS',
      `executor ${r['executorPeakRssMb']} MB, ingest ${r['ingestPeakRssMb']} MB, decision worker ${r['deciderPeakRssMb']} MB`,
    );
  }
  return {
    barsProducedPerSecond: Math.round(barRate.produce),
    barsConsumedPerSecond: Math.round(barRate.consume),
    ordersProducedPerSecond: Math.round(orderRate.produce),
    ordersConsumedPerSecond: Math.round(orderRate.consume),
    ...Object.fromEntries(runs.flatMap((r) => Object.entries(r).map(([k, v]) => [`roles${r['workers']}.${k}`, v]))),
  };
}
