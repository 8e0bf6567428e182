/**
 * A Kafka consumer as an observable. Each message is emitted with a `commit()` the pipeline calls
 * once it has *handled* the message (acted on it, published what it caused); only then does its
 * offset become the group's committed position. A consumer that dies, or whose partitions move to
 * another member, resumes from the last handled message: delivery is at-least-once, and whoever
 * acts on a message deduplicates (by sequence number, offset or client order id).
 *
 * ```
 * kafka:   --m1--m2--m3----|(unsubscribe)
 * out:     --m1--m2--m3--
 * commits:     c1    c2        (m3 not handled: it is delivered again after a restart)
 * ```
 *
 * Group membership is part of the stream: a `kafka-assignment` event says which partitions this
 * member holds after every rebalance (a decision worker owns the symbols of its partitions).
 * Values are not parsed here: {@link decodeKafkaValue} turns the text into a value, and the
 * wiring sends what it cannot use to a dead-letter topic with the reason, then commits it.
 */
import type { Consumer, Kafka } from 'kafkajs';
import { Observable } from 'rxjs';
import { Bot4Error } from '../operators/errors';

export class KafkaSourceError extends Bot4Error<'KAFKA_CONSUMER_FAILED'> {}

export interface KafkaMessageIn {
  readonly kind: 'kafka-message';
  readonly topic: string;
  readonly partition: number;
  /** Offset in its partition (a decimal string, as Kafka's are int64). */
  readonly offset: string;
  readonly key: string | null;
  readonly headers: Readonly<Record<string, string>>;
  /** The raw value as UTF-8 text; null for a tombstone. */
  readonly value: string | null;
  /** Marks the message handled; its offset (and every earlier one of the partition) is committed soon after. */
  commit(): void;
}

/** The partitions this member holds, by topic, after a (re)join of its group. */
export interface KafkaAssignment {
  readonly kind: 'kafka-assignment';
  readonly partitions: Readonly<Record<string, readonly number[]>>;
}

export type KafkaSourceEvent = KafkaMessageIn | KafkaAssignment;

export interface KafkaSourceConfig {
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where a group without a committed offset starts. Default true (the whole log). */
  readonly fromBeginning?: boolean;
  /**
   * How long the group waits for a silent member before moving its partitions, ms. Default 10 000
   * (the broker's minimum is 6 000): a killed decision worker's symbols move within this.
   */
  readonly sessionTimeoutMs?: number;
  /** Longest a fetch waits for new data, ms. Default 50: a lockstep protocol needs short hops. */
  readonly maxWaitTimeMs?: number;
}

export interface KafkaSource {
  readonly events$: Observable<KafkaSourceEvent>;
  /** Resolves once the last subscription's consumer committed what was handled and disconnected. */
  whenClosed(): Promise<void>;
}

/** Parses a value written by the Kafka sink (JSON, bigints as `{"$bigint":"…"}`). Throws on bad JSON. */
export function decodeKafkaValue(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === '$bigint') {
        const digits = (v as { $bigint: unknown }).$bigint;
        if (typeof digits !== 'string' || !/^-?\d+$/.test(digits))
          throw new SyntaxError(`bad $bigint ${JSON.stringify(digits)}`);
        return BigInt(digits);
      }
    }
    return v;
  });
}

/**
 * A consumer of `topics` in group `groupId`. Subscribing connects and joins; unsubscribing commits
 * what was handled and leaves. Offsets are committed only through each message's `commit()`.
 */
export function makeKafkaSource(config: KafkaSourceConfig): KafkaSource {
  let closed: Promise<void> = Promise.resolve();
  const events$ = new Observable<KafkaSourceEvent>((subscriber) => {
    const consumer: Consumer = config.kafka.consumer({
      groupId: config.groupId,
      sessionTimeout: config.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 20_000,
      maxWaitTimeInMs: config.maxWaitTimeMs ?? 50,
      retry: { retries: 50, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
    /** Highest handled offset + 1 per "topic|partition", not yet committed. */
    const toCommit = new Map<string, { topic: string; partition: number; offset: bigint }>();
    const committed = new Map<string, bigint>();
    let committing: Promise<void> | undefined;
    let stopped = false;

    const flushCommits = (): Promise<void> => {
      if (committing) return committing;
      if (toCommit.size === 0) return Promise.resolve();
      const batch = [...toCommit.values()];
      toCommit.clear();
      committing = consumer
        .commitOffsets(batch.map((c) => ({ topic: c.topic, partition: c.partition, offset: c.offset.toString() })))
        .then(
          () => {
            for (const c of batch) committed.set(`${c.topic}|${c.partition}`, c.offset);
          },
          () => {
            // A rebalance took the partition, or the broker is away: the next owner (or the next
            // attempt) starts from the last committed offset — at-least-once, never a skipped message.
            for (const c of batch) {
              const key = `${c.topic}|${c.partition}`;
              const later = toCommit.get(key);
              if (!stopped && (!later || later.offset < c.offset)) toCommit.set(key, c);
            }
          },
        )
        .finally(() => {
          committing = undefined;
          if (toCommit.size > 0 && !stopped) setTimeout(() => void flushCommits(), 50);
        });
      return committing;
    };

    const markHandled = (topic: string, partition: number, offset: string): void => {
      const key = `${topic}|${partition}`;
      const next = BigInt(offset) + 1n;
      if ((committed.get(key) ?? -1n) >= next) return;
      const pending = toCommit.get(key);
      if (pending && pending.offset >= next) return;
      toCommit.set(key, { topic, partition, offset: next });
      void flushCommits();
    };

    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      subscriber.next({ kind: 'kafka-assignment', partitions: event.payload.memberAssignment });
    });
    consumer.on(consumer.events.CRASH, (event) => {
      if (!event.payload.restart)
        subscriber.error(
          new KafkaSourceError(
            'KAFKA_CONSUMER_FAILED',
            'kafkaSource',
            `consumer of ${config.topics.join(', ')} (group ${config.groupId}) stopped: ${event.payload.error.message}`,
            { cause: event.payload.error },
          ),
        );
    });

    const start = async (): Promise<void> => {
      await consumer.connect();
      await consumer.subscribe({ topics: [...config.topics], fromBeginning: config.fromBeginning ?? true });
      await consumer.run({
        autoCommit: false,
        // Handlers never wait: the message is queued downstream and handled there, so partitions
        // never block each other.
        eachMessage: async ({ topic, partition, message }) => {
          if (stopped) return;
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.headers ?? {})) {
            if (value === undefined) continue;
            headers[name] = Array.isArray(value) ? value.map(String).join(',') : String(value);
          }
          subscriber.next({
            kind: 'kafka-message',
            topic,
            partition,
            offset: message.offset,
            key: message.key === null ? null : message.key.toString('utf8'),
            headers,
            value: message.value === null ? null : message.value.toString('utf8'),
            commit: () => markHandled(topic, partition, message.offset),
          });
        },
      });
    };
    start().catch((err: unknown) =>
      subscriber.error(
        new KafkaSourceError(
          'KAFKA_CONSUMER_FAILED',
          'kafkaSource',
          `cannot start the consumer of ${config.topics.join(', ')} (group ${config.groupId}): ${(err as Error).message}`,
          { cause: err },
        ),
      ),
    );
    return () => {
      closed = (async () => {
        for (let round = 0; round < 5 && (committing || toCommit.size > 0); round++)
          await flushCommits().catch(() => undefined);
        stopped = true;
        await consumer.disconnect().catch(() => undefined);
      })();
    };
  });
  return { events$, whenClosed: () => closed };
}
