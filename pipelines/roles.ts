/**
 * The pipeline split into roles over Apache Kafka (`run-pipeline run --role …`):
 *
 * ```
 *  ingest ×n ──bars (key symbol, partition = symbol)──▶ executor ──venue-events (key account)──▶ decide ×m
 *                                                        ▲                                         │
 *                                                        └──────── orders (key account) ◀──────────┘
 * ```
 *
 * - **ingest** publishes each symbol's bars to that symbol's partition, then an end-of-data marker.
 * - **execute** (one per account) is the venue's side: it merges the bar partitions in event time
 *   (the universe's order on ties, as the single-process backtest does), runs the paper exchange
 *   over them in virtual time, and publishes one *step* per bar: what the venue did with the
 *   previous step's commands, then what it did at this bar (fills), then the bar. It feeds the
 *   venue the next bar only after the decision on this one has arrived, so the venue sees bars and
 *   commands in exactly the order the single-process pipeline gives them.
 * - **decide** workers share the symbols through a consumer group on the bars topic: the member
 *   holding a symbol's partition publishes the decisions on that symbol's bars. Every worker folds
 *   the whole venue-event stream into the same `tradingPipeline` the backtest runs (portfolio,
 *   market statistics, VaR, mode, the risk gate see every symbol), so when a worker dies and its
 *   partitions move, the next owner already holds the state and publishes the same decision.
 *
 * Exactly-once where money is: decisions carry the executor step they answer, client order ids
 * are deterministic (the same intent gives the same id), and the executor drops a decision whose
 * step it already applied and any order whose client order id its journal already holds; the paper
 * venue refuses a reused client order id as well. Consumers commit an offset only after handling
 * the message, so everything is at-least-once on the wire and exactly-once at the venue.
 */
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  NEVER,
  Observable,
  Subject,
  VirtualTimeScheduler,
  concat,
  lastValueFrom,
  of,
  share,
  type Subscription,
} from 'rxjs';
import { sequenceBars } from '../operators/sequenceBars';
import type { Bar, BarGap, DeadLetter, OrderCommand, VenueInput, VenueOutput } from '../operators/types';
import { makeJournalSink, readJournal, type Journaled } from '../sinks/journal';
import { KAFKA_HEADERS, makeKafkaSink, type KafkaRecordOut, type KafkaSink } from '../sinks/kafkaSink';
import { traceIdOf } from '../sinks/orderTraces';
import { readBarFile } from '../sources/csvBars';
import {
  parseBarMessage,
  parseDecisionMessage,
  parseVenueStepMessage,
  type DecisionMessage,
  type VenueStepMessage,
} from '../sources/kafkaMessages';
import { makeKafkaSource, type KafkaMessageIn } from '../sources/kafkaSource';
import { resolveDataFiles } from './backtest';
import { loadConfig, type PipelineConfig } from './config';
import { loadModelFor } from './model';
import { paperExchangeFor } from './paperVenue';
import {
  deadLetter,
  ensureTopics,
  KafkaRoleError,
  kafkaTopics,
  makeKafkaClient,
  waitForCluster,
  type KafkaTopics,
} from './rolesKafka';
import { tradingPipeline, type PipelineEvent, type PipelineVenue, type PipelineVenueOutput } from './tradingPipeline';

/** A journal record of the roles' own (steps, drops, dead letters). */
type JournalLine = Journaled & { readonly [key: string]: unknown };

export type Role = 'ingest' | 'decide' | 'execute';
export const ROLES: readonly Role[] = ['ingest', 'decide', 'execute'];

export interface RoleCommon {
  readonly configFile: string;
  readonly brokers: readonly string[];
  /** Topic names start with this. Default `bot4`. */
  readonly topicPrefix?: string;
  /** The account the orders are for (one executor each). Default `paper`. */
  readonly account?: string;
  /** Lines for the operator (retries, assignments, progress). */
  readonly log?: (line: string) => void;
}

async function connect(
  options: RoleCommon,
  clientId: string,
): Promise<{
  config: PipelineConfig;
  topics: KafkaTopics;
  kafka: ReturnType<typeof makeKafkaClient>;
  sink: KafkaSink;
}> {
  const config = loadConfig(options.configFile);
  const topics = kafkaTopics(options.topicPrefix ?? 'bot4');
  const kafka = makeKafkaClient(options.brokers, clientId);
  await waitForCluster(kafka);
  await ensureTopics(kafka, topics, config.instruments.length);
  const sink = await makeKafkaSink({
    kafka,
    onRetry: (error, attempt) => options.log?.(`kafka send failed (attempt ${attempt}), retrying: ${error.message}`),
  });
  return { config, topics, kafka, sink };
}

// ─── ingest ────────────────────────────────────────────────────────────────────────────────────

export interface IngestOptions extends RoleCommon {
  /** Bars CSVs or folders, as for the backtest (`--data`). */
  readonly data: readonly string[];
  /** Only these symbols of the universe (another ingest worker publishes the rest). Default all. */
  readonly symbols?: readonly string[];
  readonly from?: number;
  readonly until?: number;
}

export interface IngestResult {
  readonly symbols: readonly string[];
  readonly bars: number;
}

/** Publishes the symbols' bars (replayed from files) to their partitions, then end-of-data markers. */
export async function runIngest(options: IngestOptions): Promise<IngestResult> {
  const { config, topics, sink } = await connect(options, 'bot4-ingest');
  try {
    const universe = config.instruments.map((i) => i.symbol);
    const symbols = options.symbols ?? universe;
    for (const s of symbols)
      if (!universe.includes(s))
        throw new KafkaRoleError(
          'BAD_ROLE_OPTION',
          `--symbols: ${s} is not in the universe of ${config.file} (${universe.join(', ')})`,
        );
    const files = resolveDataFiles(config, options.data);
    const headers = { [KAFKA_HEADERS.configHash]: config.hash };
    let total = 0;
    const series = symbols.map((symbol) => {
      const instrument = config.instruments.find((i) => i.symbol === symbol)!;
      const { bars } = readBarFile(files.get(symbol)!, {
        venue: instrument.venue,
        symbol,
        timeframe: config.timeframe,
        ...(options.from !== undefined ? { from: options.from } : {}),
        ...(options.until !== undefined ? { until: options.until } : {}),
      });
      return { symbol, partition: universe.indexOf(symbol), bars };
    });
    // Round-robin in slices of time, so the executor can start before the last symbol is published.
    const slice = 500;
    const longest = Math.max(...series.map((s) => s.bars.length));
    for (let start = 0; start < longest; start += slice) {
      const records: KafkaRecordOut[] = [];
      for (const s of series)
        for (const bar of s.bars.slice(start, start + slice))
          records.push({
            topic: topics.bars,
            key: s.symbol,
            partition: s.partition,
            value: bar,
            headers: { ...headers, [KAFKA_HEADERS.kind]: 'bar' },
          });
      await sink.send(records);
      total += records.length;
    }
    await sink.send(
      series.map((s) => ({
        topic: topics.bars,
        key: s.symbol,
        partition: s.partition,
        value: { kind: 'end-of-data', symbol: s.symbol, bars: s.bars.length },
        headers: { ...headers, [KAFKA_HEADERS.kind]: 'end-of-data' },
      })),
    );
    options.log?.(`ingest: published ${total} bars of ${symbols.join(', ')} to ${topics.bars}`);
    return { symbols, bars: total };
  } finally {
    await sink.disconnect();
  }
}

// ─── execute ───────────────────────────────────────────────────────────────────────────────────

export interface ExecutorOptions extends RoleCommon {
  /** Folder for `executor.jsonl` (every order sent to the venue, every venue event, every drop). */
  readonly outDir: string;
  /** Stops the executor between steps. */
  readonly signal?: AbortSignal;
  /** Told after each step is published (progress). */
  readonly onStep?: (seq: number) => void;
}

export interface ExecutorResult {
  readonly steps: number;
  readonly orders: number;
  readonly fills: number;
  /** Decisions for a step already applied (a worker's partitions moved, a redelivery). */
  readonly duplicateDecisions: number;
  /** Orders whose client order id the executor had already sent (dropped, journaled). */
  readonly duplicateOrders: number;
  readonly deadLetters: number;
  readonly journalFile: string;
  /** Per step, ms from publishing the step (bar at the venue) to receiving its decision. */
  readonly roundTripMs: readonly number[];
  /** Per step with orders, ms from publishing the bar's step to publishing the venue's answer to its orders. */
  readonly orderLatencyMs: readonly number[];
}

interface QueuedBar {
  readonly bar: Bar;
  readonly message: KafkaMessageIn;
  /** Messages after it in its partition that were not used (dead letters): committed with it. */
  readonly alsoCommit: KafkaMessageIn[];
}

/**
 * The executor of one account: the only process that talks to the venue. Resolves when the market
 * data ended (every partition's end-of-data) and the last decision was applied.
 */
export async function runExecutor(options: ExecutorOptions): Promise<ExecutorResult> {
  const account = options.account ?? 'paper';
  const { config, topics, kafka, sink } = await connect(options, `bot4-execute-${account}`);
  const universe = config.instruments.map((i) => i.symbol);
  const n = universe.length;
  mkdirSync(options.outDir, { recursive: true });
  const journalFile = path.join(options.outDir, 'executor.jsonl');
  // Dedup against the journal: an order id this executor ever sent is never sent again.
  const sentIds = new Set<string>();
  if (existsSync(journalFile))
    for (const r of readJournal(journalFile).records)
      if (r.kind === 'order-sent') sentIds.add((r['order'] as { clientOrderId: string }).clientOrderId);
  const journal$ = new Subject<JournalLine>();
  const journalDone = lastValueFrom(
    makeJournalSink({ file: journalFile, level: 'all', append: true, bufferBytes: 0 })(journal$),
  );
  journal$.next({
    kind: 'run-started',
    role: 'execute',
    account,
    config: { name: config.name, hash: config.hash },
    topics,
    tsEvent: 0,
  });

  const scheduler = new VirtualTimeScheduler();
  // The venue also refuses a client order id it has seen (its own dedup, as an exchange does).
  const venue = paperExchangeFor(config, scheduler, { usedClientOrderIds: sentIds });
  const venueIn$ = new Subject<VenueInput>();
  const barsIn$ = new Subject<Bar>();
  const outputs: VenueOutput[] = [];
  const rejectedBars: (BarGap | DeadLetter)[] = [];
  let failure: unknown;
  const subscriptions: Subscription[] = [];
  subscriptions.push(
    barsIn$.pipe(sequenceBars({ scheduler })).subscribe({
      next: (e) => (e.kind === 'bar' ? venueIn$.next(e) : rejectedBars.push(e)),
      error: (err: unknown) => (failure = err),
    }),
    venueIn$.pipe(venue).subscribe({
      next: (o) => outputs.push(o as VenueOutput),
      error: (err: unknown) => (failure = err),
    }),
  );
  /** Runs `work` at virtual time `t` (the backtest's clock at that point), with what is due before. */
  const at = (t: number, work: () => void): VenueOutput[] => {
    outputs.length = 0;
    scheduler.schedule(work, Math.max(0, t - scheduler.now()));
    scheduler.maxFrames = Math.max(t, scheduler.now());
    scheduler.flush();
    if (failure) throw failure;
    return outputs.splice(0);
  };
  const journalVenue = (events: readonly VenueOutput[], seq: number): void => {
    for (const e of events) if (e.kind !== 'bar' && e.kind !== 'trade') journal$.next({ ...e, seq });
  };

  const queues: QueuedBar[][] = Array.from({ length: n }, () => []);
  const ended: (KafkaMessageIn | null)[] = Array.from({ length: n }, () => null);
  const lastOffset: bigint[] = Array.from({ length: n }, () => -1n);
  const decisions = new Map<number, { decision: DecisionMessage; message: KafkaMessageIn; at: number }>();
  let appliedSeq = 0;
  let duplicateDecisions = 0;
  let duplicateOrders = 0;
  let deadLetters = 0;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const consumer = `${topics.bars}+${topics.orders}@execute.${account}`;
  /**
   * Dead-letters a message. One of the bars topic is committed with the bar queued before it in
   * its partition (if any is still waiting), so the committed offset never passes an unhandled bar.
   */
  const reject = (message: KafkaMessageIn, reason: string): void => {
    deadLetters++;
    journal$.next({
      kind: 'dead-letter',
      stage: 'kafka',
      reason,
      raw: { topic: message.topic, partition: message.partition, offset: message.offset, value: message.value },
      tsInit: 0,
    });
    deadLetter(sink, topics, message, reason, consumer).then(
      () => {
        const waiting = message.topic === topics.bars ? queues[message.partition]?.at(-1) : undefined;
        if (waiting) waiting.alsoCommit.push(message);
        else message.commit();
      },
      (err: unknown) => {
        failure = err;
        poke();
      },
    );
  };
  const onMessage = (m: KafkaMessageIn): void => {
    if (m.topic === topics.bars) {
      const p = m.partition;
      if (p >= n) {
        reject(m, `partition ${p} of ${topics.bars}: the universe has ${n} symbols`);
        return;
      }
      const offset = BigInt(m.offset);
      if (offset <= lastOffset[p]!) return; // redelivered: the first delivery is (or was) handled
      lastOffset[p] = offset;
      const parsed = parseBarMessage(m.value);
      if (!parsed.ok) {
        reject(m, `${topics.bars}[${p}]@${m.offset}: ${parsed.reason}`);
        return;
      }
      const value = parsed.value;
      if (value.kind === 'end-of-data') ended[p] = m;
      else if (value.symbol !== universe[p]) {
        reject(m, `${topics.bars}[${p}]@${m.offset}: a ${value.symbol} bar on the partition of ${universe[p]}`);
        return;
      } else if (value.timeframe !== config.timeframe) {
        reject(m, `${topics.bars}[${p}]@${m.offset}: a ${value.timeframe} bar, the config trades ${config.timeframe}`);
        return;
      } else queues[p]!.push({ bar: value, message: m, alsoCommit: [] });
    } else if (m.topic === topics.orders) {
      const parsed = parseDecisionMessage(m.value);
      if (!parsed.ok) {
        reject(m, `${topics.orders}@${m.offset}: ${parsed.reason}`);
        return;
      }
      const d = parsed.value;
      if (d.account !== account) {
        reject(m, `${topics.orders}@${m.offset}: a decision for account ${d.account}, this executor is ${account}`);
        return;
      }
      if (d.seq <= appliedSeq || decisions.has(d.seq)) {
        duplicateDecisions++;
        journal$.next({
          kind: 'duplicate-decision',
          seq: d.seq,
          worker: d.worker,
          offset: m.offset,
          tsEvent: d.tsEvent,
        });
        m.commit();
        return;
      }
      decisions.set(d.seq, { decision: d, message: m, at: performance.now() });
    }
    poke();
  };
  const source = makeKafkaSource({
    kafka,
    groupId: `${topics.bars}.execute.${account}`,
    topics: [topics.bars, topics.orders],
  });
  subscriptions.push(
    source.events$.subscribe({
      next: (e) => {
        if (e.kind === 'kafka-message') onMessage(e);
      },
      error: (err: unknown) => {
        failure = err;
        poke();
      },
    }),
  );
  const waitFor = async <T>(get: () => T | undefined): Promise<T> => {
    for (;;) {
      if (failure) throw failure;
      if (options.signal?.aborted) throw new KafkaRoleError('STOPPED', 'executor stopped');
      const value = get();
      if (value !== undefined) return value;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };
  options.signal?.addEventListener('abort', poke, { once: true });
  const nextBar = (): QueuedBar | 'end' | undefined => {
    let best = -1;
    for (let p = 0; p < n; p++) {
      const q = queues[p]!;
      if (q.length === 0) {
        if (ended[p]) continue;
        return undefined; // this symbol may still have an earlier bar coming
      }
      if (best < 0 || q[0]!.bar.tsEvent < queues[best]![0]!.bar.tsEvent) best = p;
    }
    return best < 0 ? 'end' : queues[best]!.shift()!;
  };

  const headers = { [KAFKA_HEADERS.configHash]: config.hash, [KAFKA_HEADERS.kind]: 'venue-step' };
  const roundTripMs: number[] = [];
  const orderLatencyMs: number[] = [];
  let seq = 0;
  let orders = 0;
  let fills = 0;
  let last: { seq: number; symbol: string; tsEvent: number; publishedAt: number } | null = null;
  let carry: VenueOutput[] = [];
  let toCommit: KafkaMessageIn[] = [];
  let orderStepAt: number | undefined;
  const publishStep = async (step: VenueStepMessage): Promise<void> => {
    await sink.send([{ topic: topics.venue, key: account, value: step, headers }]);
    if (orderStepAt !== undefined) orderLatencyMs.push(performance.now() - orderStepAt);
    orderStepAt = undefined;
    for (const m of toCommit) m.commit();
    toCommit = [];
  };
  try {
    for (;;) {
      const next = await waitFor(nextBar);
      if (last) {
        const step = last;
        const got = await waitFor(() => decisions.get(step.seq));
        roundTripMs.push(got.at - step.publishedAt);
        const d = got.decision;
        if (d.symbol !== step.symbol || d.tsEvent !== step.tsEvent)
          throw new KafkaRoleError(
            'STEP_MISMATCH',
            `decision for step ${step.seq} is about ${d.symbol} at ${d.tsEvent}, the step was ${step.symbol} at ${step.tsEvent}: the worker ${d.worker} does not follow this executor's stream`,
          );
        decisions.delete(step.seq);
        appliedSeq = step.seq;
        // Applied: a bar refused before the venue (below) must not wait for this decision again.
        last = null;
        const fresh: OrderCommand[] = [];
        for (const c of d.commands) {
          if (c.kind === 'order' && sentIds.has(c.clientOrderId)) {
            duplicateOrders++;
            journal$.next({ kind: 'duplicate-order', seq: step.seq, clientOrderId: c.clientOrderId, worker: d.worker });
            continue;
          }
          if (c.kind === 'order') {
            sentIds.add(c.clientOrderId);
            orders++;
          }
          journal$.next({ kind: 'order-sent', seq: step.seq, worker: d.worker, order: c });
          fresh.push(c);
        }
        if (fresh.some((c) => c.kind === 'order')) orderStepAt = step.publishedAt;
        const answered = at(scheduler.now(), () => {
          for (const c of fresh) venueIn$.next(c);
        });
        journalVenue(answered, step.seq);
        carry.push(...answered);
        toCommit.push(got.message);
      }
      if (next === 'end') {
        const closing = at(scheduler.now(), () => venueIn$.complete());
        journalVenue(closing, seq + 1);
        carry.push(...closing);
        seq++;
        for (const m of ended) if (m) toCommit.push(m);
        await publishStep({
          kind: 'venue-step',
          account,
          seq,
          bar: null,
          commandEvents: carry,
          barEvents: [],
          end: true,
        });
        break;
      }
      rejectedBars.length = 0;
      const atBar = at(next.bar.tsEvent, () => barsIn$.next(next.bar));
      for (const r of rejectedBars) {
        journal$.next({ ...r });
        if (r.kind === 'dead-letter') {
          deadLetters++;
          await deadLetter(sink, topics, next.message, r.reason, consumer);
        }
      }
      toCommit.push(next.message, ...next.alsoCommit);
      if (!atBar.some((o) => o.kind === 'bar' && o.symbol === next.bar.symbol && o.tsEvent === next.bar.tsEvent)) {
        // Refused before the venue (an impossible price, a duplicate): not a step, nothing to decide.
        carry.push(...atBar);
        continue;
      }
      seq++;
      journalVenue(atBar, seq);
      fills += atBar.filter((o) => o.kind === 'fill').length;
      const publishedAt = performance.now();
      await publishStep({
        kind: 'venue-step',
        account,
        seq,
        bar: next.bar,
        commandEvents: carry,
        barEvents: atBar,
        end: false,
      });
      carry = [];
      last = { seq, symbol: next.bar.symbol, tsEvent: next.bar.tsEvent, publishedAt };
      options.onStep?.(seq);
      if (seq % 1000 === 0) options.log?.(`execute: step ${seq} (${new Date(next.bar.tsEvent).toISOString()})`);
    }
    fills += carry.filter((o) => o.kind === 'fill').length;
    journal$.next({
      kind: 'run-ended',
      role: 'execute',
      steps: seq,
      orders,
      fills,
      duplicateDecisions,
      duplicateOrders,
      deadLetters,
      tsEvent: 0,
    });
  } finally {
    for (const s of subscriptions) s.unsubscribe();
    await source.whenClosed();
    await sink.disconnect().catch(() => undefined);
    journal$.complete();
    await journalDone;
  }
  return {
    steps: seq,
    orders,
    fills,
    duplicateDecisions,
    duplicateOrders,
    deadLetters,
    journalFile,
    roundTripMs,
    orderLatencyMs,
  };
}

// ─── decide ────────────────────────────────────────────────────────────────────────────────────

export interface DecisionWorkerOptions extends RoleCommon {
  /** This worker's name (in its journal and on its decisions). */
  readonly workerId: string;
  /** Folder for `decide-<workerId>.jsonl` (signals, intents, risk decisions, as the backtest journals them). */
  readonly outDir: string;
  /**
   * A step whose owner has not answered for this long is answered by this worker too (the same
   * decision; the executor keeps one), ms. Default 30 000 (beyond the group's session timeout).
   */
  readonly rescueAfterMs?: number;
}

export interface DecisionWorkerResult {
  readonly steps: number;
  readonly published: number;
  readonly journalFile: string;
}

/**
 * A decision worker. Resolves when the executor's last step arrived (the market data ended) and
 * its decisions are acknowledged.
 */
export async function runDecisionWorker(options: DecisionWorkerOptions): Promise<DecisionWorkerResult> {
  const account = options.account ?? 'paper';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(options.workerId))
    throw new KafkaRoleError(
      'BAD_ROLE_OPTION',
      `--worker ${JSON.stringify(options.workerId)}: expected 1–64 letters, digits, ".", "_" or "-"`,
    );
  const { config, topics, kafka, sink } = await connect(options, `bot4-decide-${options.workerId}`);
  const model = config.signals.ml ? loadModelFor(config) : undefined;
  const universe = config.instruments.map((i) => i.symbol);
  const journalFile = path.join(options.outDir, `decide-${options.workerId}.jsonl`);

  const scheduler = new VirtualTimeScheduler();
  const venueOut$ = new Subject<PipelineVenueOutput>();
  const collected: OrderCommand[] = [];
  // The venue, seen from a worker: commands go into this step's decision; what comes back is
  // the executor's stream. Bars are not an input here: they arrive from the executor, after
  // the fills they caused, exactly as the paper venue passes them on in a single process.
  const remoteVenue: PipelineVenue = (input$) =>
    new Observable<PipelineVenueOutput>((subscriber) => {
      const inner = input$.subscribe({
        next: (item) => {
          if (item.kind === 'order' || item.kind === 'cancel' || item.kind === 'cancel-all') collected.push(item);
        },
        error: (err: unknown) => subscriber.error(err),
      });
      inner.add(venueOut$.subscribe(subscriber));
      return inner;
    });
  const pipeline = tradingPipeline(config, { venue: remoteVenue, scheduler, ...(model ? { model } : {}) });

  const owned = new Set<string>();
  let failure: unknown;
  let stepSymbol: string | undefined;
  let published = 0;
  let steps = 0;
  let lastSeq = 0;
  let latest: { decision: DecisionMessage; published: boolean } | null = null;
  const publishedThrough = new Map<string, number>();
  const barCommits = new Map<string, { tsEvent: number; message: KafkaMessageIn }[]>();
  let sends: Promise<void> = Promise.resolve();
  const fail = (err: unknown): void => {
    failure ??= err;
    finish.error(err);
  };
  const finish = new Subject<void>();

  const signalRecords: KafkaRecordOut[] = [];
  const events$ = pipeline({ bars$: NEVER }).pipe(share());
  const sideTopics = events$.subscribe({
    next: (e: PipelineEvent) => {
      if (stepSymbol === undefined || !owned.has(stepSymbol)) return;
      if (e.kind === 'signal' && e.source === 'fused')
        signalRecords.push({
          topic: topics.signals,
          key: e.symbol,
          partition: universe.indexOf(e.symbol),
          value: e,
          headers: {
            [KAFKA_HEADERS.configHash]: config.hash,
            [KAFKA_HEADERS.signalId]: e.id,
            [KAFKA_HEADERS.traceId]: traceIdOf(e.id),
            [KAFKA_HEADERS.kind]: 'signal',
          },
        });
      else if (e.kind === 'mode-changed' || e.kind === 'denied' || e.kind === 'breaker-state-changed')
        signalRecords.push({
          topic: topics.audit,
          key: account,
          value: e,
          headers: { [KAFKA_HEADERS.configHash]: config.hash, [KAFKA_HEADERS.kind]: e.kind },
        });
    },
    error: fail,
  });
  const journalDone = lastValueFrom(
    makeJournalSink({ file: journalFile, level: config.journal?.level ?? 'decisions', bufferBytes: 0 })(
      concat(
        of<JournalLine>({
          kind: 'run-started',
          role: 'decide',
          worker: options.workerId,
          account,
          config: { name: config.name, hash: config.hash },
          tsEvent: 0,
        }),
        events$ as Observable<Journaled> as Observable<JournalLine>,
      ),
    ),
  );

  const publish = (entry: { decision: DecisionMessage; published: boolean }): void => {
    entry.published = true;
    const d = entry.decision;
    const signalIds = [...new Set(d.commands.flatMap((c) => (c.kind === 'order' ? [c.signalId] : [])))];
    const records: KafkaRecordOut[] = [
      ...signalRecords.splice(0),
      {
        topic: topics.orders,
        key: account,
        value: d,
        headers: {
          [KAFKA_HEADERS.configHash]: config.hash,
          [KAFKA_HEADERS.kind]: 'decision',
          ...(signalIds.length > 0
            ? {
                [KAFKA_HEADERS.signalId]: signalIds.join(','),
                [KAFKA_HEADERS.traceId]: signalIds.map(traceIdOf).join(','),
              }
            : {}),
        },
      },
    ];
    sends = sends
      .then(() => sink.send(records))
      .then(() => {
        published++;
        publishedThrough.set(d.symbol, Math.max(publishedThrough.get(d.symbol) ?? 0, d.tsEvent));
        const pending = barCommits.get(d.symbol) ?? [];
        while (pending.length > 0 && pending[0]!.tsEvent <= d.tsEvent) pending.shift()!.message.commit();
      }, fail);
  };

  let rescue: ReturnType<typeof setTimeout> | undefined;
  const rescueMs = options.rescueAfterMs ?? 30_000;
  const at = (t: number, work: () => void): void => {
    scheduler.schedule(work, Math.max(0, t - scheduler.now()));
    scheduler.maxFrames = Math.max(t, scheduler.now());
    scheduler.flush();
  };
  const onStep = (step: VenueStepMessage): void => {
    lastSeq = step.seq;
    steps++;
    stepSymbol = step.bar?.symbol;
    at(scheduler.now(), () => {
      for (const e of step.commandEvents) venueOut$.next(e);
    });
    if (step.end) {
      clearTimeout(rescue);
      venueOut$.complete();
      return;
    }
    const bar = step.bar!;
    at(bar.tsEvent, () => {
      for (const e of step.barEvents) venueOut$.next(e);
    });
    if (failure) return;
    latest = {
      decision: {
        kind: 'decision',
        account,
        seq: step.seq,
        symbol: bar.symbol,
        tsEvent: bar.tsEvent,
        worker: options.workerId,
        commands: collected.splice(0),
      },
      published: false,
    };
    clearTimeout(rescue);
    if (owned.has(bar.symbol)) publish(latest);
    else {
      signalRecords.length = 0;
      // Liveness whatever the group does (a member gone but not yet timed out, an assignment
      // event missed): every worker holds the same decision, so when the step has waited this
      // long, this worker sends it too; the executor keeps the first copy.
      const entry = latest;
      rescue = setTimeout(() => {
        if (latest !== entry || entry.published || failure) return;
        options.log?.(
          `decide ${options.workerId}: step ${entry.decision.seq} (${entry.decision.symbol}) waited ${rescueMs} ms for its owner; sending it`,
        );
        publish(entry);
      }, rescueMs);
    }
  };

  const group = makeKafkaSource({ kafka, groupId: `${topics.bars}.decide.${account}`, topics: [topics.bars] });
  const stream = makeKafkaSource({
    kafka,
    groupId: `${topics.venue}.decide.${account}.${options.workerId}.${randomUUID()}`,
    topics: [topics.venue],
  });
  const consumer = `${topics.venue}@decide.${options.workerId}`;
  const endMarkers: KafkaMessageIn[] = [];
  const subscriptions: Subscription[] = [
    group.events$.subscribe({
      next: (e) => {
        if (e.kind === 'kafka-assignment') {
          owned.clear();
          for (const p of e.partitions[topics.bars] ?? []) if (universe[p]) owned.add(universe[p]);
          options.log?.(`decide ${options.workerId}: owns ${[...owned].join(', ') || 'nothing'}`);
          // Partitions moved here while the executor waits for a step of theirs: decide it now.
          if (latest && !latest.published && owned.has(latest.decision.symbol)) publish(latest);
          return;
        }
        const parsed = parseBarMessage(e.value);
        // A bad bar message is the executor's to dead-letter; here it only needs committing.
        if (!parsed.ok) return e.commit();
        if (parsed.value.kind === 'end-of-data') {
          endMarkers.push(e);
          return;
        }
        const { symbol, tsEvent } = parsed.value;
        if (tsEvent <= (publishedThrough.get(symbol) ?? 0)) return e.commit();
        const pending = barCommits.get(symbol) ?? [];
        pending.push({ tsEvent, message: e });
        barCommits.set(symbol, pending);
      },
      error: fail,
    }),
    stream.events$.subscribe({
      next: (e) => {
        if (e.kind !== 'kafka-message') return;
        const parsed = parseVenueStepMessage(e.value);
        if (!parsed.ok) {
          void deadLetter(sink, topics, e, `${topics.venue}@${e.offset}: ${parsed.reason}`, consumer).catch(fail);
          return;
        }
        const step = parsed.value;
        if (step.account !== account || step.seq <= lastSeq) return; // another account's, or redelivered
        if (step.seq !== lastSeq + 1)
          return fail(
            new KafkaRoleError(
              'STEPS_MISSING',
              `venue step ${step.seq} after ${lastSeq}: steps are missing from ${topics.venue}`,
            ),
          );
        try {
          onStep(step);
        } catch (err) {
          fail(err);
        }
      },
      error: fail,
    }),
  ];
  try {
    await Promise.race([journalDone, lastValueFrom(finish, { defaultValue: undefined })]);
    if (failure) throw failure;
    await sends;
    if (failure) throw failure;
    for (const m of endMarkers) m.commit();
    return { steps, published, journalFile };
  } finally {
    clearTimeout(rescue);
    sideTopics.unsubscribe();
    for (const s of subscriptions) s.unsubscribe();
    await Promise.all([group.whenClosed(), stream.whenClosed()]);
    await sink.disconnect().catch(() => undefined);
  }
}

// ─── compare ───────────────────────────────────────────────────────────────────────────────────

export interface RunComparison {
  /** Orders the executor sent to the venue / the backtest's approved orders. */
  readonly orders: readonly [number, number];
  readonly fills: readonly [number, number];
  readonly identical: boolean;
  /** The first difference, described, when not identical. */
  readonly difference?: string;
}

/**
 * Compares an executor's journal with a single-process backtest's journal over the same data and
 * config: the orders sent to the venue (every field: client order id, signal, side, quantity…) and
 * the fills (price, quantity, fee…), in order.
 */
export function compareWithBacktest(executorJournal: string, backtestJournal: string): RunComparison {
  const strip = (r: Readonly<Record<string, unknown>>): string => {
    const { line: _line, seq: _seq, ...rest } = r;
    return JSON.stringify(rest);
  };
  const ex = readJournal(executorJournal).records;
  const bt = readJournal(backtestJournal).records;
  const exOrders = ex
    .filter((r) => r.kind === 'order-sent' && (r['order'] as { kind: string }).kind === 'order')
    .map((r) => strip(r['order'] as Record<string, unknown>));
  const btOrders = bt.filter((r) => r.kind === 'approved').map((r) => strip(r['order'] as Record<string, unknown>));
  const exFills = ex.filter((r) => r.kind === 'fill').map(strip);
  const btFills = bt.filter((r) => r.kind === 'fill').map(strip);
  const firstDifference = (what: string, a: readonly string[], b: readonly string[]): string | undefined => {
    for (let i = 0; i < Math.max(a.length, b.length); i++)
      if (a[i] !== b[i]) return `${what} #${i + 1}: executor ${a[i] ?? 'none'}, backtest ${b[i] ?? 'none'}`;
    return undefined;
  };
  const difference = firstDifference('order', exOrders, btOrders) ?? firstDifference('fill', exFills, btFills);
  return {
    orders: [exOrders.length, btOrders.length],
    fills: [exFills.length, btFills.length],
    identical: difference === undefined,
    ...(difference !== undefined ? { difference } : {}),
  };
}
