/**
 * Wiring of the operator's telemetry onto a running pipeline (spec §16.2, §16.3): structured JSON
 * logs from one logger (`sinks/logger.ts`) and traces of the order flow (`sinks/orderTraces.ts`).
 * A mode starts it once, puts `events` on the events leaving the pipeline (backtest, paper,
 * live alike) and sends its human lines through `line`; `close()` flushes both.
 *
 * - Logs (`monitoring.logs.enabled`): every trading event becomes one JSON line with the fields
 *   of the event schema (README "Logs and traces"), at a level that says how much it matters, in
 *   a component (`orders`, `fills`, `risk`, `modes`, `venue`, `feed`, `session`) whose level is
 *   set in the config. The human status lines are derived from the same events: each is a
 *   `status`/`log` event whose `msg` is the line printed to stderr.
 * - Traces (`monitoring.traces.enabled`, or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` in the
 *   environment): one trace per signal over OTLP/HTTP; the trace id is a function of the signal id
 *   (`traceIdOf`) and is written on every journaled `intent`, so a journal line names its trace.
 *
 * With neither on, `events` passes values through untouched and `line` only prints.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { type Observable, Subject, identity, lastValueFrom, map, tap } from 'rxjs';
import { formatUnits } from '../operators/money';
import type { Bot4Logger, LogLevel } from '../sinks/logger';
import { makeLogger, secretsFromEnv } from '../sinks/logger';
import { makeOrderTraceSink, traceIdOf } from '../sinks/orderTraces';
import type { PipelineConfig } from './config';

export interface TelemetryOptions {
  readonly run: 'backtest' | 'paper' | 'live';
  /** Environment: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, and the secrets to scrub from log lines. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Secret values besides the environment's (API keys from the keystore): scrubbed from every line. */
  readonly secrets?: readonly string[];
  /** Where human lines go (stderr for the CLI). */
  readonly human?: (line: string) => void;
  /** Another span exporter (tests: the SDK's in-memory one). */
  readonly spanExporter?: SpanExporter;
  /** Another log destination (tests). */
  readonly logDestination?: import('pino').DestinationStream;
}

export interface Telemetry {
  /** Tap for the events leaving the pipeline: logs them, traces them, and puts the trace id on intents. */
  readonly events: <T extends { readonly kind: string }>(source: Observable<T>) => Observable<T>;
  /** A human line: printed, and logged as a structured event (`fields.event`, default `log`). */
  line(text: string, fields?: Readonly<Record<string, unknown>>): void;
  /** The OTLP endpoint spans go to, when traces are on. */
  readonly tracesUrl?: string;
  /** Ends the traces (open ones are closed and exported) and flushes the logs. */
  close(): Promise<void>;
}

/** The component and level an event kind is logged at; undefined = not logged (bars, features, beats). */
export function logPlaceOf(kind: string): { readonly component: string; readonly level: LogLevel } | undefined {
  switch (kind) {
    case 'intent':
    case 'approved':
    case 'denied':
      return { component: 'risk', level: 'info' };
    case 'order-accepted':
    case 'order-canceled':
      return { component: 'orders', level: 'info' };
    case 'order-rejected':
    case 'order-unknown':
    case 'order-halted':
    case 'order-abandoned':
      return { component: 'orders', level: 'warn' };
    case 'fill':
      return { component: 'fills', level: 'info' };
    case 'mode-changed':
    case 'breaker-state-changed':
      return { component: 'modes', level: 'warn' };
    case 'dead-letter':
    case 'gap':
      return { component: 'feed', level: 'warn' };
    default:
      if (kind.startsWith('venue-'))
        return { component: 'venue', level: kind === 'venue-reconciled' ? 'warn' : 'info' };
      if (kind.startsWith('feed-'))
        return kind === 'feed-healthy'
          ? undefined
          : { component: 'feed', level: kind === 'feed-disconnected' ? 'warn' : 'info' };
      return undefined;
  }
}

/** Amounts as decimals (the journal's notation), nested objects kept; functions and symbols dropped. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return formatUnits(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (k !== 'kind') out[k] = plain(v);
    return out;
  }
  return value;
}

/**
 * The structured fields of an event (README "Logs and traces"): `event` (its kind), the ids that
 * tie it to its signal and order (`signalId`, `clientOrderId`, `traceId`), `symbol`, and the rest
 * of the event with amounts as decimals.
 */
export function logFieldsOf(event: { readonly kind: string }): Record<string, unknown> {
  const e = event as Record<string, unknown>;
  const order = (e['order'] ?? e['intent']) as Record<string, unknown> | undefined;
  const signalId = (e['signalId'] ?? order?.['signalId']) as string | undefined;
  const clientOrderId = (e['clientOrderId'] ?? order?.['clientOrderId']) as string | undefined;
  const symbol = (e['symbol'] ?? order?.['symbol']) as string | undefined;
  return {
    event: event.kind,
    ...(symbol !== undefined ? { symbol } : {}),
    ...(signalId !== undefined ? { signalId, traceId: traceIdOf(signalId) } : {}),
    ...(clientOrderId !== undefined ? { clientOrderId } : {}),
    ...(plain(e) as Record<string, unknown>),
  };
}

function messageOf(event: { readonly kind: string }, f: Record<string, unknown>): string {
  const e = event as Record<string, unknown>;
  switch (event.kind) {
    case 'fill':
      return `fill ${f['side']} ${f['qty']} ${f['symbol']} @ ${f['price']} (fee ${f['fee']})`;
    case 'approved':
    case 'denied':
      return `${event.kind} ${String(f['signalId'])}${event.kind === 'denied' ? `: ${String(e['code'])}` : ''}`;
    case 'mode-changed':
      return `mode ${String(e['from'])} → ${String(e['to'])}: ${String(e['reason'])}`;
    case 'order-rejected':
      return `order ${String(f['clientOrderId'])} rejected: ${String(e['code'])} ${String(e['message'] ?? '')}`;
    default:
      return event.kind;
  }
}

/** Starts the logger and the trace exporter the config (and environment) ask for. */
export async function startTelemetry(config: PipelineConfig, options: TelemetryOptions): Promise<Telemetry> {
  const env = options.env ?? process.env;
  const human = options.human ?? (() => undefined);
  const logs = config.monitoring?.logs;
  const traces = config.monitoring?.traces;
  const logger: Bot4Logger | undefined = logs?.enabled
    ? await makeLogger({
        ...(logs.level ? { level: logs.level } : {}),
        ...(logs.components ? { components: logs.components } : {}),
        ...(logs.file ? { file: logs.file } : {}),
        ...(logs.stdout !== undefined ? { stdout: logs.stdout } : {}),
        ...(options.logDestination ? { destination: options.logDestination } : {}),
        secrets: [...secretsFromEnv(env), ...(options.secrets ?? [])],
      })
    : undefined;
  const base = { run: options.run, config: config.name, configHash: config.hash };

  const envUrl = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  const tracesOn = traces?.enabled === true || (traces?.enabled !== false && envUrl !== undefined && envUrl !== '');
  const tracesUrl = tracesOn ? (traces?.url ?? envUrl ?? 'http://127.0.0.1:4318/v1/traces') : undefined;
  const traced$ = tracesOn ? new Subject<{ readonly kind: string }>() : undefined;
  const tracesDone =
    traced$ && tracesUrl
      ? lastValueFrom(
          makeOrderTraceSink({
            exporter: options.spanExporter ?? new OTLPTraceExporter({ url: tracesUrl }),
            ...(options.spanExporter ? { batch: false } : {}),
            attributes: { 'bot4.run': options.run, 'bot4.config': config.name, 'bot4.config_hash': config.hash },
          })(traced$),
          { defaultValue: undefined },
        )
      : undefined;
  // A failed export must not stop trading: it is reported once, when the traces close.
  tracesDone?.catch(() => undefined);

  const logEvent = (event: { readonly kind: string }): void => {
    if (!logger) return;
    const place = logPlaceOf(event.kind);
    if (!place || place.level === 'silent') return;
    const fields = logFieldsOf(event);
    logger.component(place.component)[place.level]({ ...base, ...fields }, messageOf(event, fields));
  };
  const withTraceId = <T extends { readonly kind: string }>(e: T): T =>
    e.kind === 'intent' && typeof (e as { signalId?: unknown }).signalId === 'string'
      ? ({ ...e, traceId: traceIdOf((e as unknown as { signalId: string }).signalId) } as T)
      : e;

  const events = <T extends { readonly kind: string }>(source: Observable<T>): Observable<T> => {
    if (!logger && !traced$) return source;
    return source.pipe(
      tap((e) => {
        logEvent(e);
        traced$?.next(e);
      }),
      traced$ ? map(withTraceId) : identity,
    );
  };

  return {
    events,
    line: (text, fields) => {
      human(text);
      logger?.component('session').info({ ...base, event: 'log', ...fields }, text);
    },
    ...(tracesUrl ? { tracesUrl } : {}),
    close: async () => {
      traced$?.complete();
      let failure: unknown;
      await tracesDone?.catch((err: unknown) => {
        failure = err;
      });
      if (failure !== undefined)
        human(
          `traces: export to ${tracesUrl} failed (${(failure as Error).message}); the journal keeps every trace id`,
        );
      await logger?.flush();
    },
  };
}
