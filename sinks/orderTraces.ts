/**
 * Traces of the order flow (spec §16.3) with OpenTelemetry: one trace per signal that led to an
 * order intent, with a span per stage — `size` (the intent), `risk` (approved or denied),
 * `submit` (sent → accepted or rejected, per order) and `fill` (each execution) — under a root
 * span `signal`. The spans are built from the pipeline's own events, in event time, so a backtest
 * traces exactly like a live session and adds nothing to the decision path.
 *
 * The trace id is a function of the signal id (the first 128 bits of its sha256), so the journal,
 * which carries the signal id on every intent, order and fill, also names the trace: see
 * `traceIdOf`. Attributes: `bot4.signal_id`, `bot4.client_order_id`, `bot4.symbol`, the risk code,
 * fill price/qty. Off by default: `--otlp-url` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) exports
 * over OTLP/HTTP.
 */
import { createHash } from 'node:crypto';
import { type Context, context, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type IdGenerator,
  type SpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Observable } from 'rxjs';
import { formatUnits } from '../operators/money';
import type { OrderEvent, OrderIntent, RiskDecision } from '../operators/types';

/** The trace id of a signal: 32 lowercase hex digits, the same in every process and run. */
export function traceIdOf(signalId: string): string {
  return createHash('sha256').update(signalId).digest('hex').slice(0, 32);
}

export type TracedEvent = OrderIntent | RiskDecision | OrderEvent;

export interface OrderTraceConfig {
  /** Where spans go: an OTLP exporter, or the SDK's in-memory exporter in tests. */
  readonly exporter: SpanExporter;
  /** Batch spans before export (live); default true. False exports each span as it ends. */
  readonly batch?: boolean;
  /** `service.name` of the resource; default bot4. */
  readonly serviceName?: string;
  /** Extra resource attributes (config hash, tier, mode). */
  readonly attributes?: Readonly<Record<string, string>>;
}

interface OpenTrace {
  readonly root: Span;
  readonly ctx: Context;
  /** Orders of this signal not yet terminal, and their submit span. */
  readonly orders: Map<string, Span | null>;
  riskDone: boolean;
  last: number;
}

/** Ids from the signal for roots (set just before each root starts), random for child spans. */
class SignalIdGenerator implements IdGenerator {
  next = '';
  generateTraceId(): string {
    return this.next;
  }
  generateSpanId(): string {
    return createHash('sha256')
      .update(`${this.next}:${Math.random()}:${process.hrtime.bigint()}`)
      .digest('hex')
      .slice(0, 16);
  }
}

const isTraced = (e: { readonly kind: string }): e is TracedEvent =>
  e.kind === 'intent' ||
  e.kind === 'approved' ||
  e.kind === 'denied' ||
  e.kind === 'order-accepted' ||
  e.kind === 'order-rejected' ||
  e.kind === 'order-canceled' ||
  e.kind === 'order-unknown' ||
  e.kind === 'fill';

/**
 * A sink that traces the order flow of an event stream (any events; the ones it knows are used).
 * It completes after the stream completes and every span is exported; spans still open then end
 * at the last event time with status `UNSET` and `bot4.open_at_end = true`.
 */
export function makeOrderTraceSink(
  config: OrderTraceConfig,
): (events$: Observable<{ readonly kind: string }>) => Observable<never> {
  return (events$) =>
    new Observable<never>((subscriber) => {
      const ids = new SignalIdGenerator();
      const provider = new BasicTracerProvider({
        idGenerator: ids,
        resource: resourceFromAttributes({
          'service.name': config.serviceName ?? 'bot4',
          ...(config.attributes ?? {}),
        }),
        spanProcessors: [
          config.batch === false ? new SimpleSpanProcessor(config.exporter) : new BatchSpanProcessor(config.exporter),
        ],
      });
      const tracer = provider.getTracer('bot4.order-flow');
      const open = new Map<string, OpenTrace>();
      const bySignal = (signalId: string): OpenTrace | undefined => open.get(signalId);

      const finish = (signalId: string, t: OpenTrace, at: number): void => {
        t.root.end(at);
        open.delete(signalId);
      };
      const maybeFinish = (signalId: string, t: OpenTrace, at: number): void => {
        if (t.riskDone && t.orders.size === 0) finish(signalId, t, at);
      };
      const child = (
        t: OpenTrace,
        name: string,
        start: number,
        attributes: Record<string, string | number | boolean>,
      ) => tracer.startSpan(name, { startTime: start, attributes }, t.ctx);

      const handle = (e: TracedEvent): void => {
        switch (e.kind) {
          case 'intent': {
            let t = bySignal(e.signalId);
            if (!t) {
              ids.next = traceIdOf(e.signalId);
              const root = tracer.startSpan('signal', {
                root: true,
                startTime: e.tsEvent,
                attributes: { 'bot4.signal_id': e.signalId, 'bot4.symbol': e.symbol },
              });
              t = {
                root,
                ctx: trace.setSpan(context.active(), root),
                orders: new Map(),
                riskDone: false,
                last: e.tsEvent,
              };
              open.set(e.signalId, t);
            }
            t.riskDone = false;
            child(t, 'size', e.tsEvent, {
              'bot4.intent_id': e.id,
              'bot4.side': e.side,
              'bot4.qty': formatUnits(e.qty),
              'bot4.reduces_risk': e.reducesRisk,
              'bot4.reason': e.reason,
            }).end(e.tsEvent);
            t.last = e.tsEvent;
            return;
          }
          case 'approved':
          case 'denied': {
            const signalId = e.kind === 'approved' ? e.order.signalId : e.intent.signalId;
            const t = bySignal(signalId);
            if (!t) return;
            const risk = child(t, 'risk', t.last, { 'bot4.decision': e.kind });
            if (e.kind === 'denied') {
              risk.setAttribute('bot4.deny_code', e.code);
              risk.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
            } else {
              risk.setAttribute('bot4.client_order_id', e.order.clientOrderId);
              t.orders.set(
                e.order.clientOrderId,
                child(t, 'submit', e.tsEvent, {
                  'bot4.client_order_id': e.order.clientOrderId,
                  'bot4.order_type': e.order.type,
                }),
              );
            }
            risk.end(e.tsEvent);
            t.riskDone = true;
            t.last = e.tsEvent;
            maybeFinish(signalId, t, e.tsEvent);
            return;
          }
          default: {
            const t = bySignal(e.signalId);
            if (!t || !t.orders.has(e.clientOrderId)) return;
            const submit = t.orders.get(e.clientOrderId) ?? null;
            t.last = e.tsEvent;
            if (e.kind === 'order-accepted' || e.kind === 'order-unknown') {
              submit?.setAttribute('bot4.outcome', e.kind === 'order-accepted' ? 'accepted' : 'unknown');
              submit?.end(e.tsEvent);
              t.orders.set(e.clientOrderId, null);
              return;
            }
            if (e.kind === 'order-rejected') {
              submit?.setStatus({ code: SpanStatusCode.ERROR, message: `${e.code}: ${e.message}` });
              submit?.end(e.tsEvent);
            } else if (e.kind === 'fill') {
              submit?.end(e.tsEvent); // a fill without an acceptance seen first: the order is in
              child(t, 'fill', e.tsEvent, {
                'bot4.client_order_id': e.clientOrderId,
                'bot4.price': formatUnits(e.price),
                'bot4.qty': formatUnits(e.qty),
                'bot4.fee': formatUnits(e.fee),
                'bot4.liquidity': e.liquidity,
              }).end(e.tsEvent);
              if (e.leavesQty > 0n) {
                t.orders.set(e.clientOrderId, null);
                return;
              }
            } else {
              submit?.end(e.tsEvent);
            }
            t.orders.delete(e.clientOrderId);
            maybeFinish(e.signalId, t, e.tsEvent);
          }
        }
      };

      const subscription = events$.subscribe({
        next: (e) => {
          if (!isTraced(e)) return;
          try {
            handle(e);
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err: unknown) => {
          const fail = (): void => subscriber.error(err);
          provider.shutdown().then(fail, fail);
        },
        complete: () => {
          for (const [signalId, t] of [...open]) {
            t.root.setAttribute('bot4.open_at_end', true);
            for (const s of t.orders.values()) s?.end(t.last);
            finish(signalId, t, t.last);
          }
          provider
            .forceFlush()
            .then(() => provider.shutdown())
            .then(
              () => subscriber.complete(),
              (err: unknown) => subscriber.error(err),
            );
        },
      });
      return () => subscription.unsubscribe();
    });
}
