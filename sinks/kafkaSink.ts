/**
 * A Kafka producer as a sink: idempotent (`idempotent: true`, one request in flight, so the broker
 * drops a re-sent batch it already has and each partition keeps the send order), every send
 * acknowledged by all in-sync replicas (`acks: -1`). Values are JSON with exact bigint amounts
 * ({@link encodeKafkaValue}); keys choose the partition unless one is given; headers carry the
 * config hash and the signal id of what is sent.
 *
 * Transient failures are retried here, inside the driver, with bounded backoff: while a broker is
 * down kafkajs gives up on a send with a `KafkaJSNonRetriableError` (ECONNREFUSED) after its own
 * few retries, and the same batch is sent again on the same producer — measured here (see
 * `../shared/SERVICES.md`) to create no duplicate. A send that still fails after `maxRetryMs`
 * rejects with a {@link KafkaSinkError}.
 */
import type { Kafka, Message, Producer } from 'kafkajs';
import { Bot4Error } from '../operators/errors';

export class KafkaSinkError extends Bot4Error<'KAFKA_SEND_FAILED'> {}

/** One record to send. */
export interface KafkaRecordOut {
  readonly topic: string;
  /** Partitioning key (symbol for market data and signals, account for orders and venue events). */
  readonly key: string;
  /** Any JSON-able value; bigints are kept exact. */
  readonly value: unknown;
  /** An explicit partition (the symbol's index in the universe); default: by key. */
  readonly partition?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface KafkaSinkConfig {
  readonly kafka: Kafka;
  /** Give up on a send after retrying this long, ms. Default 120 000 (a broker restart here takes ≤ 30 s). */
  readonly maxRetryMs?: number;
  /** First wait between attempts, ms, doubled up to `maxBackoffMs`. Default 100. */
  readonly initialBackoffMs?: number;
  /** Longest wait between attempts, ms. Default 2000. */
  readonly maxBackoffMs?: number;
  /** Told of every failed attempt that will be retried (for a log line). */
  readonly onRetry?: (error: Error, attempt: number) => void;
}

export interface KafkaSink {
  /** Sends the records as one batch, in order; resolves once every one is acknowledged by the broker. */
  send(records: readonly KafkaRecordOut[]): Promise<void>;
  /** Records acknowledged so far. */
  readonly sent: number;
  /** Attempts that failed and were retried. */
  readonly retries: number;
  disconnect(): Promise<void>;
}

/** Header names (lower case, `bot4-` prefixed). */
export const KAFKA_HEADERS = {
  configHash: 'bot4-config-hash',
  signalId: 'bot4-signal-id',
  /** The order-flow trace of the signal(s) (`traceIdOf`, README "Logs and traces"), comma-separated like the signal ids. */
  traceId: 'bot4-trace-id',
  kind: 'bot4-kind',
  reason: 'bot4-dead-letter-reason',
} as const;

/** JSON with bigints as `{"$bigint":"<decimal>"}`: unambiguous, exact, read back by the Kafka source. */
export function encodeKafkaValue(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v));
}

/** Connects an idempotent producer. Call {@link KafkaSink.disconnect} when done. */
export async function makeKafkaSink(config: KafkaSinkConfig): Promise<KafkaSink> {
  const producer: Producer = config.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const maxRetryMs = config.maxRetryMs ?? 120_000;
  const initialBackoffMs = config.initialBackoffMs ?? 100;
  const maxBackoffMs = config.maxBackoffMs ?? 2_000;
  let sent = 0;
  let retries = 0;
  // One batch at a time: a retried batch must not be overtaken by a later one.
  let chain: Promise<void> = Promise.resolve();
  await connectWithRetry(producer, maxRetryMs, initialBackoffMs, maxBackoffMs);

  const sendOnce = async (records: readonly KafkaRecordOut[]): Promise<void> => {
    const byTopic = new Map<string, Message[]>();
    for (const r of records) {
      const messages = byTopic.get(r.topic) ?? [];
      messages.push({
        key: r.key,
        value: encodeKafkaValue(r.value),
        ...(r.partition !== undefined ? { partition: r.partition } : {}),
        ...(r.headers ? { headers: { ...r.headers } } : {}),
      });
      byTopic.set(r.topic, messages);
    }
    await producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  };

  const send = (records: readonly KafkaRecordOut[]): Promise<void> => {
    const attempt = async (): Promise<void> => {
      if (records.length === 0) return;
      const deadline = performance.now() + maxRetryMs;
      let backoff = initialBackoffMs;
      for (let n = 1; ; n++) {
        try {
          await sendOnce(records);
          sent += records.length;
          return;
        } catch (err) {
          const error = err instanceof Error ? err : new Error(String(err));
          if (performance.now() + backoff > deadline)
            throw new KafkaSinkError(
              'KAFKA_SEND_FAILED',
              'kafkaSink',
              `sending ${records.length} record(s) to ${[...new Set(records.map((r) => r.topic))].join(', ')} failed for ${maxRetryMs} ms: ${error.message}`,
              { cause: error },
            );
          retries++;
          config.onRetry?.(error, n);
          await new Promise((resolve) => setTimeout(resolve, backoff));
          backoff = Math.min(maxBackoffMs, backoff * 2);
        }
      }
    };
    const result = chain.then(attempt);
    chain = result.catch(() => undefined);
    return result;
  };

  return {
    send,
    get sent() {
      return sent;
    },
    get retries() {
      return retries;
    },
    disconnect: async () => {
      await chain;
      await producer.disconnect();
    },
  };
}

async function connectWithRetry(
  producer: Producer,
  maxRetryMs: number,
  initialBackoffMs: number,
  maxBackoffMs: number,
): Promise<void> {
  const deadline = performance.now() + maxRetryMs;
  let backoff = initialBackoffMs;
  for (;;) {
    try {
      await producer.connect();
      return;
    } catch (err) {
      if (performance.now() + backoff > deadline)
        throw new KafkaSinkError(
          'KAFKA_SEND_FAILED',
          'kafkaSink',
          `cannot connect a producer for ${maxRetryMs} ms: ${(err as Error).message}`,
          { cause: err },
        );
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(maxBackoffMs, backoff * 2);
    }
  }
}
