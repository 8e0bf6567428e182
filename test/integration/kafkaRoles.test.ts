/**
 * The pipeline split into roles over a real Apache Kafka broker (test/support/kafkaServer.ts): the
 * driver pieces (keys, headers, exact amounts, commit after handling, dead letters), then whole runs
 * over real multi-symbol data — undisturbed, a decision worker killed, the broker killed and
 * restarted, malformed messages injected — each compared with the single-process backtest on the
 * same data: the same orders (client order ids, quantities, signals) and the same fills, 0 lost
 * and 0 duplicated in the executor's journal and at the venue.
 */
import * as assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { filter, lastValueFrom, take, tap, toArray } from 'rxjs';
import { toUnits } from '../../operators/money';
import { runBacktest } from '../../pipelines/backtest';
import {
  compareWithBacktest,
  runDecisionWorker,
  runExecutor,
  runIngest,
  type ExecutorResult,
} from '../../pipelines/roles';
import { ensureTopics, kafkaTopics, makeKafkaClient, parseBrokers } from '../../pipelines/rolesKafka';
import { readJournal, type JournalRecord } from '../../sinks/journal';
import { KAFKA_HEADERS, makeKafkaSink } from '../../sinks/kafkaSink';
import { traceIdOf } from '../../sinks/orderTraces';
import { parseBarMessage, parseDecisionMessage, parseVenueStepMessage } from '../../sources/kafkaMessages';
import { decodeKafkaValue, makeKafkaSource, type KafkaMessageIn } from '../../sources/kafkaSource';
import { eventually } from '../support/eventually';
import { kafkaBroker, type KafkaBroker } from '../support/kafkaServer';
import { repoRoot, requireSharedData } from '../support/sharedData';
import { tempDir } from '../support/tmp';

const CLI = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');
const FROM = Date.parse('2021-01-01T00:00:00Z');
const UNTIL = Date.parse('2021-01-22T00:00:00Z');

describe('Kafka messages (checks, no broker)', () => {
  it('a bar message that is not JSON, lacks a field or has a float amount is refused with the field named', () => {
    const notJson = parseBarMessage('{oops');
    assert.equal(notJson.ok, false);
    assert.match((notJson as { reason: string }).reason, /^not JSON/);
    const bar = {
      kind: 'bar',
      venue: 'binance',
      symbol: 'BTC/USDT',
      timeframe: '1h',
      tsOpen: 0,
      tsEvent: 3_600_000,
      open: 1,
      high: 2,
      low: 0.5,
      close: 1.5,
      volume: 3,
      trades: 0,
    };
    assert.equal(parseBarMessage(JSON.stringify(bar)).ok, true);
    const badClose = parseBarMessage(JSON.stringify({ ...bar, close: 'abc' }));
    assert.deepEqual(badClose, { ok: false, reason: 'bar.close: expected a finite number, found "abc"' });
    const badTf = parseBarMessage(JSON.stringify({ ...bar, timeframe: '7m' }));
    assert.match((badTf as { reason: string }).reason, /bar\.timeframe: expected a timeframe like 1h, found "7m"/);
    const order = {
      kind: 'order',
      clientOrderId: 'a',
      intentId: 'i',
      signalId: 's',
      symbol: 'BTC/USDT',
      configHash: 'h',
      side: 'buy',
      type: 'market',
      qty: 5,
      refPrice: 1,
      tsEvent: 1,
      reducesRisk: false,
    };
    const floatQty = parseDecisionMessage(
      JSON.stringify({
        kind: 'decision',
        account: 'paper',
        seq: 1,
        symbol: 'BTC/USDT',
        tsEvent: 1,
        worker: 'w',
        commands: [order],
      }),
    );
    assert.deepEqual(floatQty, {
      ok: false,
      reason: 'decision.commands[0].qty: expected an exact amount ({"$bigint":…}), found 5',
    });
    const exact = parseDecisionMessage(
      JSON.stringify({
        kind: 'decision',
        account: 'paper',
        seq: 1,
        symbol: 'BTC/USDT',
        tsEvent: 1,
        worker: 'w',
        commands: [{ ...order, qty: { $bigint: '5' } }],
      }),
    );
    assert.equal(exact.ok, true);
    assert.equal((exact as unknown as { value: { commands: { qty: bigint }[] } }).value.commands[0]!.qty, 5n);
    const step = parseVenueStepMessage(
      JSON.stringify({
        kind: 'venue-step',
        account: 'paper',
        seq: 0,
        bar: null,
        commandEvents: [],
        barEvents: [],
        end: true,
      }),
    );
    assert.deepEqual(step, { ok: false, reason: 'venue step.seq: expected a whole number ≥ 1, found 0' });
  });

  it('a bad --brokers or --topic-prefix is refused naming what was found', () => {
    assert.deepEqual(parseBrokers('127.0.0.1:9092, localhost:9093'), ['127.0.0.1:9092', 'localhost:9093']);
    assert.throws(() => parseBrokers(''), {
      code: 'BAD_ROLE_OPTION',
      message: /--brokers: expected host:port\[,host:port…\], found ""/,
    });
    assert.throws(() => parseBrokers('localhost'), /--brokers: expected host:port, found "localhost" in "localhost"/);
    assert.throws(() => kafkaTopics('a b'), /--topic-prefix "a b": expected letters, digits/);
    assert.equal(kafkaTopics('x').deadLetters, 'x.dead-letters');
  });

  it('exact amounts survive the round trip; a forged $bigint is refused', () => {
    assert.deepEqual(decodeKafkaValue('{"a":{"$bigint":"-123456789012345678901"},"b":"7"}'), {
      a: -123456789012345678901n,
      b: '7',
    });
    assert.throws(() => decodeKafkaValue('{"a":{"$bigint":"1.5"}}'), /bad \$bigint "1.5"/);
  });
});

describe('Kafka roles against a real broker', function () {
  this.timeout(600_000);
  let broker: KafkaBroker;
  let dataDir: string;
  let tmp: ReturnType<typeof tempDir>;
  let configFile: string;
  let reference: { orders: JournalRecord[]; fills: JournalRecord[] };
  let backtestJournal: string;

  before(async function () {
    this.timeout(600_000);
    dataDir = path.dirname(requireSharedData(this, 'candles/binance_spot_BTCUSDT_1h_nfi.csv'));
    broker = await kafkaBroker();
    tmp = tempDir('bot4-kafka-roles-');
    // The shipped seven-symbol portfolio config, cut to three symbols so a run takes seconds.
    configFile = path.join(tmp.dir, 'portfolio-3.yaml');
    writeFileSync(
      configFile,
      readFileSync(path.join(repoRoot, 'config', 'portfolio-7.yaml'), 'utf8')
        .split('\n')
        .filter((line) => !/symbol: (LTC|XRP|DOT|LINK)\/USDT/.test(line))
        .join('\n')
        .replace(/^name: portfolio-7/m, 'name: portfolio-3'),
    );
    const backtest = await runBacktest({
      configFile,
      dataFile: [dataDir],
      from: FROM,
      until: UNTIL,
      outDir: path.join(tmp.dir, 'backtest'),
    });
    backtestJournal = backtest.journalFile;
    const records = readJournal(backtest.journalFile).records;
    reference = {
      orders: records.filter((r) => r.kind === 'approved').map((r) => r['order'] as JournalRecord),
      fills: records.filter((r) => r.kind === 'fill'),
    };
    // Otherwise the comparison could pass on two empty lists.
    assert.ok(reference.orders.length >= 10, `the backtest sent ${reference.orders.length} orders`);
    assert.equal(reference.fills.length, reference.orders.length);
  });

  after(() => tmp?.cleanup());

  /** The run's orders and fills, checked against the backtest's and for loss and duplication. */
  function checkAgainstBacktest(result: ExecutorResult): void {
    const compared = compareWithBacktest(result.journalFile, backtestJournal);
    assert.ok(compared.identical, compared.difference);
    assert.deepEqual(compared.orders, [reference.orders.length, reference.orders.length]);
    const records = readJournal(result.journalFile).records;
    const sent = records.filter((r) => r.kind === 'order-sent').map((r) => r['order'] as JournalRecord);
    const orders = sent.filter((o) => o.kind === 'order');
    const strip = (r: JournalRecord): Record<string, unknown> => {
      const { line: _line, seq: _seq, ...rest } = r as JournalRecord & { seq?: number };
      return rest;
    };
    const fills = records.filter((r) => r.kind === 'fill').map(strip);
    const ids = orders.map((o) => o['clientOrderId'] as string);
    assert.equal(new Set(ids).size, ids.length, 'an order was sent to the venue twice');
    assert.deepEqual(
      orders.map((o) => strip(o)),
      reference.orders.map((o) => strip(o)),
      'the orders differ from the single-process backtest',
    );
    assert.deepEqual(fills, reference.fills.map(strip), 'the fills differ from the single-process backtest');
    // The venue's side: every order answered exactly once (accepted or rejected), none unknown.
    const answers = new Map<string, number>();
    for (const r of records)
      if (r.kind === 'order-accepted' || r.kind === 'order-rejected')
        answers.set(r['clientOrderId'] as string, (answers.get(r['clientOrderId'] as string) ?? 0) + 1);
    for (const id of ids) assert.equal(answers.get(id), 1, `venue answers for ${id}`);
    assert.equal(answers.size, ids.length);
  }

  /** `wait`, unless one of the roles fails first: then its error (not a timeout that hides it). */
  async function unlessFailed<T>(wait: Promise<T>, ...roles: Promise<unknown>[]): Promise<T> {
    return Promise.race([wait, ...roles.map((role) => role.then(() => new Promise<never>(() => undefined)))]);
  }

  interface Run {
    readonly prefix: string;
    readonly outDir: string;
    readonly steps: () => number;
    readonly executor: Promise<ExecutorResult>;
  }

  function startRun(name: string, ingestSplit = true, journalDir?: string): Run {
    // Fresh topics and groups each run, also on a KAFKA_BROKERS cluster that outlives the tests.
    const prefix = `${name}-${randomUUID().slice(0, 8)}`;
    const outDir = journalDir ?? path.join(tmp.dir, prefix);
    let steps = 0;
    const common = { configFile, brokers: broker.brokers, topicPrefix: prefix };
    const executor = runExecutor({ ...common, outDir, onStep: (seq) => (steps = seq) });
    const ingest = ingestSplit
      ? Promise.all([
          runIngest({ ...common, data: [dataDir], from: FROM, until: UNTIL, symbols: ['BTC/USDT'] }),
          runIngest({ ...common, data: [dataDir], from: FROM, until: UNTIL, symbols: ['SOL/USDT', 'ADA/USDT'] }),
        ])
      : runIngest({ ...common, data: [dataDir], from: FROM, until: UNTIL });
    return {
      prefix,
      outDir,
      steps: () => steps,
      executor: Promise.all([executor, ingest]).then(([result]) => result),
    };
  }

  function spawnWorker(
    prefix: string,
    worker: string,
    outDir: string,
  ): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
    const child = spawn(
      process.execPath,
      [
        CLI,
        'run',
        '--role',
        'decide',
        '-c',
        configFile,
        '--brokers',
        broker.brokers.join(','),
        '--topic-prefix',
        prefix,
        '--worker',
        worker,
        '-o',
        outDir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout!.resume();
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, stderr: () => err, exit };
  }

  it('sends keyed records with headers and exact amounts, and a consumer commits only what it handled', async () => {
    const kafka = makeKafkaClient(broker.brokers, 'bot4-test-driver');
    const topics = kafkaTopics(`t-driver-${randomUUID().slice(0, 8)}`);
    await ensureTopics(kafka, topics, 3);
    const sink = await makeKafkaSink({ kafka });
    await sink.send(
      Array.from({ length: 10 }, (_, i) => ({
        topic: topics.bars,
        key: 'SOL/USDT',
        partition: 2,
        value: { n: i, qty: 10n ** 18n + BigInt(i) },
        headers: { [KAFKA_HEADERS.configHash]: 'abc123', [KAFKA_HEADERS.signalId]: `SOL/USDT:1h:${i}:fused` },
      })),
    );
    await sink.disconnect();
    const first = makeKafkaSource({ kafka, groupId: `${topics.bars}.group`, topics: [topics.bars] });
    const messages = await lastValueFrom(
      first.events$.pipe(
        filter((m): m is KafkaMessageIn => m.kind === 'kafka-message'),
        // Handle (commit) the first four only.
        tap((m) => {
          if (Number(m.offset) < 4) m.commit();
        }),
        take(10),
        toArray(),
      ),
    );
    assert.equal(messages.length, 10);
    assert.deepEqual(
      messages.map((m) => [m.partition, m.key, m.headers[KAFKA_HEADERS.configHash], m.headers[KAFKA_HEADERS.signalId]]),
      Array.from({ length: 10 }, (_, i) => [2, 'SOL/USDT', 'abc123', `SOL/USDT:1h:${i}:fused`]),
    );
    assert.deepEqual(decodeKafkaValue(messages[9]!.value!), { n: 9, qty: 10n ** 18n + 9n });
    await first.whenClosed();
    // The same group again: delivery resumes at the first message not handled.
    const second = makeKafkaSource({ kafka, groupId: `${topics.bars}.group`, topics: [topics.bars] });
    const again = await lastValueFrom(
      second.events$.pipe(
        filter((m): m is KafkaMessageIn => m.kind === 'kafka-message'),
        take(1),
        toArray(),
      ),
    );
    await second.whenClosed();
    assert.equal(again[0]!.offset, '4');
    assert.deepEqual(decodeKafkaValue(again[0]!.value!), { n: 4, qty: 10n ** 18n + 4n });
  });

  it("two ingest workers, two decision workers and one executor give the backtest's orders and fills", async () => {
    const run = startRun('t-plain');
    const common = { configFile, brokers: broker.brokers, topicPrefix: run.prefix, outDir: run.outDir };
    const workers = Promise.all([
      runDecisionWorker({ ...common, workerId: 'w1' }),
      runDecisionWorker({ ...common, workerId: 'w2' }),
    ]);
    const [result, [w1, w2]] = await Promise.all([run.executor, workers]);
    checkAgainstBacktest(result);
    assert.equal(result.duplicateOrders, 0);
    assert.equal(result.deadLetters, 0);
    // Both workers decided (the symbols were shared), and together exactly once per step at least.
    assert.ok(w1.published > 0 && w2.published > 0, `published ${w1.published} and ${w2.published}`);
    assert.ok(w1.published + w2.published >= result.steps - 1);
    // A decision with orders names their signals and the traces of those signals in its headers.
    const kafka = makeKafkaClient(broker.brokers, 'bot4-test-reader');
    const reader = makeKafkaSource({
      kafka,
      groupId: `${run.prefix}.reader`,
      topics: [kafkaTopics(run.prefix).orders],
    });
    const [withOrders] = await lastValueFrom(
      reader.events$.pipe(
        filter(
          (m): m is KafkaMessageIn => m.kind === 'kafka-message' && m.headers[KAFKA_HEADERS.signalId] !== undefined,
        ),
        take(1),
        toArray(),
      ),
    );
    await reader.whenClosed();
    const signalIds = withOrders!.headers[KAFKA_HEADERS.signalId]!.split(',');
    assert.equal(withOrders!.headers[KAFKA_HEADERS.traceId], signalIds.map(traceIdOf).join(','));
  });

  it('a decision worker killed mid-run: its symbols move to the other, it restarts and rebuilds its state from the log, and no order is lost or sent twice', async () => {
    const run = startRun('t-kill-worker', false);
    const a = spawnWorker(run.prefix, 'wa', run.outDir);
    const b = spawnWorker(run.prefix, 'wb', run.outDir);
    let restarted: ReturnType<typeof spawnWorker> | undefined;
    try {
      await eventually(() => assert.ok(run.steps() >= 400, `step ${run.steps()}`), {
        timeoutMs: 300_000,
        intervalMs: 50,
      });
      // The worker to kill holds symbols at that moment (so the kill takes decisions away).
      const lastAssignment = (log: string): string => [...log.matchAll(/owns (.*)/g)].at(-1)?.[1] ?? 'nothing';
      assert.notEqual(lastAssignment(a.stderr()), 'nothing', a.stderr());
      a.child.kill('SIGKILL');
      await a.exit;
      // The survivor is given every symbol (after the group's session timeout)…
      await eventually(() => assert.equal(lastAssignment(b.stderr()), 'BTC/USDT, SOL/USDT, ADA/USDT'), {
        timeoutMs: 120_000,
        intervalMs: 50,
      });
      // …and the killed worker comes back: it folds the venue-event log from the start and joins.
      restarted = spawnWorker(run.prefix, 'wa', run.outDir);
      const result = await run.executor;
      assert.equal(await b.exit, 0, b.stderr());
      assert.equal(await restarted.exit, 0, restarted.stderr());
      checkAgainstBacktest(result);
    } finally {
      a.child.kill('SIGKILL');
      b.child.kill('SIGKILL');
      restarted?.child.kill('SIGKILL');
    }
  });

  it('the broker killed and restarted mid-run: the run completes with the same orders and fills', async function () {
    if (!broker.owned) this.skip(); // KAFKA_BROKERS: not ours to kill
    const run = startRun('t-kill-broker');
    const common = { configFile, brokers: broker.brokers, topicPrefix: run.prefix, outDir: run.outDir };
    const workers = Promise.all([
      runDecisionWorker({ ...common, workerId: 'w1' }),
      runDecisionWorker({ ...common, workerId: 'w2' }),
    ]);
    await unlessFailed(
      eventually(() => assert.ok(run.steps() >= 400, `step ${run.steps()}`), { timeoutMs: 300_000, intervalMs: 50 }),
      run.executor,
      workers,
    );
    const before = run.steps();
    await broker.kill();
    await broker.restart();
    const [result] = await Promise.all([run.executor, workers]);
    assert.ok(result.steps > before);
    checkAgainstBacktest(result);
  });

  it('malformed messages and a replayed decision: dead-lettered with the reason, dropped, and the result unchanged', async () => {
    const run = startRun('t-malformed');
    const topics = kafkaTopics(run.prefix);
    const common = { configFile, brokers: broker.brokers, topicPrefix: run.prefix, outDir: run.outDir };
    const workers = Promise.all([
      runDecisionWorker({ ...common, workerId: 'w1' }),
      runDecisionWorker({ ...common, workerId: 'w2' }),
    ]);
    const kafka = makeKafkaClient(broker.brokers, 'bot4-test-injector');
    const sink = await makeKafkaSink({ kafka });
    // Wait for an applied order: its decision is replayed below.
    const journal = path.join(run.outDir, 'executor.jsonl');
    const sentOrder = await unlessFailed(
      eventually(
        () => {
          const found = readJournal(journal).records.find((r) => r.kind === 'order-sent');
          assert.ok(
            found && run.steps() > (found['seq'] as number) + 1,
            `step ${run.steps()}, first order ${found?.['seq']}`,
          );
          return found;
        },
        { timeoutMs: 300_000, intervalMs: 100 },
      ),
      run.executor,
      workers,
    );
    const order = sentOrder['order'] as Record<string, unknown>;
    await sink.send([
      { topic: topics.bars, key: 'BTC/USDT', partition: 0, value: 'not a bar' },
      {
        topic: topics.bars,
        key: 'BTC/USDT',
        partition: 0,
        value: {
          kind: 'bar',
          venue: 'binance',
          symbol: 'BTC/USDT',
          timeframe: '1h',
          tsOpen: 0,
          tsEvent: 1,
          open: 1,
          high: 1,
          low: 1,
          close: 'abc',
          volume: 1,
          trades: 0,
        },
      },
      // A well-formed bar out of order (a restarted ingest): refused before the venue, no step.
      {
        topic: topics.bars,
        key: 'BTC/USDT',
        partition: 0,
        value: {
          kind: 'bar',
          venue: 'binance',
          symbol: 'BTC/USDT',
          timeframe: '1h',
          tsOpen: FROM,
          tsEvent: FROM + 3_600_000,
          open: 29_000,
          high: 29_100,
          low: 28_900,
          close: 29_050,
          volume: 100,
          trades: 0,
        },
      },
      { topic: topics.orders, key: 'paper', value: { kind: 'decision', account: 'paper' } },
      {
        topic: topics.orders,
        key: 'paper',
        value: {
          kind: 'decision',
          account: 'paper',
          seq: sentOrder['seq'],
          symbol: order['symbol'],
          tsEvent: order['tsEvent'],
          worker: 'replayer',
          commands: [{ ...order, qty: toUnits(order['qty'] as string) }],
        },
      },
    ]);
    await sink.disconnect();
    const [result] = await Promise.all([run.executor, workers]);
    checkAgainstBacktest(result);
    assert.ok(result.duplicateDecisions >= 1, `duplicate decisions ${result.duplicateDecisions}`);
    assert.equal(result.deadLetters, 4);
    const dlq = makeKafkaSource({ kafka, groupId: `${run.prefix}.test-reader`, topics: [topics.deadLetters] });
    const letters = await lastValueFrom(
      dlq.events$.pipe(
        filter((m): m is KafkaMessageIn => m.kind === 'kafka-message'),
        take(4),
        toArray(),
      ),
    );
    await dlq.whenClosed();
    const reasons = letters.map((m) => (decodeKafkaValue(m.value!) as { reason: string }).reason).sort();
    assert.equal(reasons.length, 4);
    assert.match(reasons.join('\n'), /out-of-order BTC\/USDT 1h bar at 1609459200000/);
    assert.match(reasons.join('\n'), /bars\[0\]@\d+: bar message: expected an object, found "not a bar"/);
    assert.match(reasons.join('\n'), /bars\[0\]@\d+: bar\.close: expected a finite number, found "abc"/);
    assert.match(reasons.join('\n'), /orders@\d+: decision\.seq: expected a finite number, found nothing/);
    for (const m of letters) assert.ok(m.headers[KAFKA_HEADERS.reason]);
  });

  it('an executor started again on its journal never sends an order id it already sent, even when the decision comes again', async () => {
    const first = startRun('t-journal-a');
    const common = { configFile, brokers: broker.brokers, outDir: first.outDir };
    const [result] = await Promise.all([
      first.executor,
      runDecisionWorker({ ...common, topicPrefix: first.prefix, workerId: 'w1' }),
    ]);
    checkAgainstBacktest(result);
    // The same decisions again (a fresh set of topics replays the same data), into the same journal.
    const again = startRun('t-journal-b', true, first.outDir);
    const [second] = await Promise.all([
      again.executor,
      runDecisionWorker({ ...common, topicPrefix: again.prefix, workerId: 'w1' }),
    ]);
    // Until the first order the second run decides exactly as the first: that order comes again
    // and is dropped (the state then differs: the venue never saw it, so later decisions may too).
    assert.ok(second.duplicateOrders >= 1, `duplicate orders ${second.duplicateOrders}`);
    const ids = readJournal(path.join(first.outDir, 'executor.jsonl'))
      .records.filter((r) => r.kind === 'order-sent' && (r['order'] as { kind: string }).kind === 'order')
      .map((r) => (r['order'] as { clientOrderId: string }).clientOrderId);
    assert.equal(ids.length, reference.orders.length + second.orders);
    assert.equal(new Set(ids).size, ids.length);
  });
});
