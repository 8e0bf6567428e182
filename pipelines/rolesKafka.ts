/**
 * What every role shares: the Kafka client, the topic names, creating the topics, waiting for the
 * cluster, and the dead-letter topic.
 */
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { Bot4Error } from '../operators/errors';
import type { KafkaMessageIn } from '../sources/kafkaSource';
import { KAFKA_HEADERS, type KafkaSink } from '../sinks/kafkaSink';

export type KafkaRoleErrorCode =
  | 'BAD_ROLE_OPTION'
  | 'KAFKA_UNREACHABLE'
  | 'TOPIC_PARTITIONS'
  | 'STEP_MISMATCH'
  | 'STEPS_MISSING'
  | 'STOPPED';

/** What stops a role: a bad option, a cluster that does not answer, a stream that breaks the protocol. */
export class KafkaRoleError extends Bot4Error<KafkaRoleErrorCode> {
  constructor(code: KafkaRoleErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(code, 'roles', message, options);
  }
}

export interface KafkaTopics {
  /** Bars, key = symbol, one partition per symbol of the universe (partition = its index). */
  readonly bars: string;
  /** Decisions (order commands), key = account, one partition: one executor reads them in order. */
  readonly orders: string;
  /** Venue events (accepted, fills, cancels) with the bars they follow, key = account, one partition. */
  readonly venue: string;
  /** Fused signals of the owned symbols, key = symbol. */
  readonly signals: string;
  /** Mode changes, breaker changes and risk denials, key = account. */
  readonly audit: string;
  /** What could not be used, with the reason, key = `<topic>/<partition>`. */
  readonly deadLetters: string;
}

export function kafkaTopics(prefix: string): KafkaTopics {
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(prefix))
    throw new KafkaRoleError(
      'BAD_ROLE_OPTION',
      `--topic-prefix ${JSON.stringify(prefix)}: expected letters, digits, ".", "_" or "-"`,
    );
  return {
    bars: `${prefix}.bars`,
    orders: `${prefix}.orders`,
    venue: `${prefix}.venue-events`,
    signals: `${prefix}.signals`,
    audit: `${prefix}.audit`,
    deadLetters: `${prefix}.dead-letters`,
  };
}

/** Parses `host:port[,host:port…]`, naming what is wrong. */
export function parseBrokers(text: string): string[] {
  const brokers = text
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  if (brokers.length === 0)
    throw new KafkaRoleError(
      'BAD_ROLE_OPTION',
      `--brokers: expected host:port[,host:port…], found ${JSON.stringify(text)}`,
    );
  for (const b of brokers)
    if (!/^[A-Za-z0-9.[\]:-]+:\d{1,5}$/.test(b))
      throw new KafkaRoleError(
        'BAD_ROLE_OPTION',
        `--brokers: expected host:port, found ${JSON.stringify(b)} in ${JSON.stringify(text)}`,
      );
  return brokers;
}

export function makeKafkaClient(brokers: readonly string[], clientId: string): Kafka {
  process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
  return new Kafka({
    clientId,
    brokers: [...brokers],
    // kafkajs logs every reconnect attempt at ERROR while a broker restarts; the roles report
    // what matters (retries, dead letters) themselves.
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { retries: 12, initialRetryTime: 200, maxRetryTime: 2_000 },
  });
}

/** Polls the cluster until it answers (a broker starting on a loaded machine takes 5–30 s). */
export async function waitForCluster(kafka: Kafka, timeoutMs = 120_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < deadline) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.describeCluster();
      return;
    } catch (err) {
      last = err;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new KafkaRoleError(
    'KAFKA_UNREACHABLE',
    `Kafka did not answer for ${timeoutMs} ms: ${(last as Error)?.message ?? 'no answer'}`,
    { cause: last },
  );
}

/**
 * Creates the topics when missing: the bars topic with one partition per symbol, the others with
 * one (what needs one order — an account's orders and venue events — has one partition). A bars
 * topic with another partition count is refused: partition = symbol would no longer hold.
 */
export async function ensureTopics(kafka: Kafka, topics: KafkaTopics, symbols: number): Promise<void> {
  const admin: Admin = kafka.admin();
  await admin.connect();
  try {
    const wanted = [
      { topic: topics.bars, numPartitions: symbols },
      { topic: topics.orders, numPartitions: 1 },
      { topic: topics.venue, numPartitions: 1 },
      { topic: topics.signals, numPartitions: symbols },
      { topic: topics.audit, numPartitions: 1 },
      { topic: topics.deadLetters, numPartitions: 1 },
    ];
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      try {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((t) => ({ ...t, replicationFactor: 1 })),
        });
      } catch (err) {
        // Another role created them at the same time: fine if they now exist.
        const now = new Set(await admin.listTopics());
        if (missing.some((t) => !now.has(t.topic))) throw err;
      }
    }
    const meta = await admin.fetchTopicMetadata({ topics: [topics.bars] });
    const count = meta.topics[0]?.partitions.length ?? 0;
    if (count !== symbols)
      throw new KafkaRoleError(
        'TOPIC_PARTITIONS',
        `topic ${topics.bars} has ${count} partitions, expected ${symbols} (one per symbol of the universe); use another --topic-prefix`,
      );
  } finally {
    await admin.disconnect();
  }
}

/** Sends a message that could not be used to the dead-letter topic, with the reason. */
export async function deadLetter(
  sink: KafkaSink,
  topics: KafkaTopics,
  message: KafkaMessageIn,
  reason: string,
  consumer: string,
): Promise<void> {
  await sink.send([
    {
      topic: topics.deadLetters,
      key: `${message.topic}/${message.partition}`,
      value: {
        kind: 'kafka-dead-letter',
        reason,
        consumer,
        topic: message.topic,
        partition: message.partition,
        offset: message.offset,
        key: message.key,
        headers: message.headers,
        value: message.value,
      },
      headers: { [KAFKA_HEADERS.reason]: reason.slice(0, 500), [KAFKA_HEADERS.kind]: 'dead-letter' },
    },
  ]);
}
