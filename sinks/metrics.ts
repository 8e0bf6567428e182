/**
 * Prometheus metrics of a run (prom-client) and the `/metrics` endpoint.
 *
 * `makeMetricsSink` owns a registry of its own (never prom-client's global one, so two runs in one
 * process do not mix) with node's default metrics and bot4's: stage latency histograms, counters
 * of events, dead letters, signals, orders by status, fills, risk denials by reason and feed
 * reconnects, and gauges of equity, exposure, drawdown, mode, tier, kill switch, breakers and
 * data staleness. Labels take values from small closed sets only (stage, kind, status, reason
 * code, source, component, stream).
 *
 * `observe(event)` is called on the hot path: it adds to plain maps and keeps the newest values;
 * prom-client's metrics are brought up to date in their `collect()`, when Prometheus scrapes
 * (prom-client's own `inc`/`set`/`observe` cost 0.1–0.3 µs each, too much per bar).
 *
 * `serveMetrics` answers `GET /metrics` (and `HEAD`) on 127.0.0.1 by default; every other path
 * is 404 and every other method 405: nothing can be changed through it.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { unitsToNumber } from '../operators/money';
import type { Portfolio, RiskDecision, Signal } from '../operators/types';
import { Bot4Error } from '../operators/errors';
import { MODE_LEVEL, type BreakerChange, type ObservedEvent, type StageLatency } from './influxPoints';

export interface MetricsSinkConfig {
  /** Labels on every metric of the run: strategy name, config hash, run kind, tier. */
  readonly labels: {
    readonly strategy: string;
    readonly config: string;
    readonly run: string;
    readonly tier: string;
  };
  /** Wall clock for staleness, seconds. Default `Date.now() / 1000` (this is a driver). */
  readonly now?: () => number;
  /** Collect node's default metrics (CPU, memory, event loop lag, GC). Default true. */
  readonly defaultMetrics?: boolean;
}

/** Histogram buckets of stage latencies, seconds: 1 µs … 1 s. */
export const LATENCY_BUCKETS = [
  1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1,
] as const;

/** Every metric name bot4 itself exports (the Grafana and alert-rule checks use this list). */
export const BOT4_METRICS = [
  'bot4_stage_latency_seconds',
  'bot4_events_total',
  'bot4_dead_letters_total',
  'bot4_signals_total',
  'bot4_orders_total',
  'bot4_fills_total',
  'bot4_risk_denials_total',
  'bot4_feed_reconnects_total',
  'bot4_equity',
  'bot4_peak_equity',
  'bot4_exposure',
  'bot4_drawdown_ratio',
  'bot4_open_positions',
  'bot4_open_orders',
  'bot4_mode',
  'bot4_tier_info',
  'bot4_kill_switch_pressed',
  'bot4_breaker_state',
  'bot4_data_staleness_seconds',
  'bot4_last_event_timestamp_seconds',
] as const;

export interface MetricsSink {
  readonly registry: Registry;
  /** Updates the metrics from one event (any kind; unknown kinds only count). */
  observe(event: ObservedEvent): void;
  /**
   * Marks data from `source` (e.g. `bars`, `feed:trade`) as arrived at wall time `wallSeconds`
   * (default: now), with event time `tsEvent` ms. Callers that already read the clock pass it:
   * a clock read costs 0.03–0.3 µs depending on the machine.
   */
  seen(source: string, tsEvent: number, wallSeconds?: number): void;
  /** The exposition text, as `/metrics` serves it. */
  scrape(): Promise<string>;
}

const TERMINAL = new Set(['order-rejected', 'order-canceled']);

export function makeMetricsSink(config: MetricsSinkConfig): MetricsSink {
  const now = config.now ?? (() => Date.now() / 1000);
  const registry = new Registry();
  registry.setDefaultLabels({ ...config.labels });
  if (config.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  // The hot path only counts into plain maps and keeps the newest values; prom-client's
  // metrics are brought up to date in their collect(), i.e. when Prometheus scrapes.
  const tally = {
    events: new Map<string, number>(),
    deadLetters: new Map<string, number>(),
    signals: new Map<string, number>(),
    orders: new Map<string, number>(),
    fills: new Map<string, number>(),
    denials: new Map<string, number>(),
    reconnects: new Map<string, number>(),
  };
  const add = (map: Map<string, number>, key: string): void => {
    map.set(key, (map.get(key) ?? 0) + 1);
  };
  let portfolio: Portfolio | undefined;
  let modeLevel = 0;
  let killPressed = 0;
  const breakerStates = new Map<string, number>();
  const open = new Set<string>();
  const lastSeenWall = new Map<string, number>();
  const lastEventTime = new Map<string, number>();
  /** Latencies not yet in the histogram: [stage, seconds] pairs, flushed at scrape or when full. */
  let pendingStages: string[] = [];
  let pendingSeconds: number[] = [];

  const counter = (
    name: string,
    help: string,
    labelNames: readonly string[],
    map: Map<string, number>,
    split: (key: string) => string[] = (key) => [key],
  ): Counter<string> =>
    new Counter({
      name,
      help,
      labelNames: [...labelNames],
      registers: [registry],
      collect() {
        this.reset();
        for (const [key, total] of map) {
          const values = split(key);
          const labels: Record<string, string> = {};
          labelNames.forEach((label, i) => {
            labels[label] = values[i] ?? '';
          });
          this.inc(labels, total);
        }
      },
    });
  const gauge = (name: string, help: string, read: () => number): Gauge<string> =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });

  const latency = new Histogram({
    name: 'bot4_stage_latency_seconds',
    help: 'Wall-clock time from a bar entering the pipeline to the end of a stage of its decision (features, ta, ml, signal, market-risk, sizing, decision, order)',
    labelNames: ['stage'],
    buckets: [...LATENCY_BUCKETS],
    registers: [registry],
    collect() {
      flushLatencies();
    },
  });
  const flushLatencies = (): void => {
    for (let i = 0; i < pendingStages.length; i++) latency.observe({ stage: pendingStages[i]! }, pendingSeconds[i]!);
    pendingStages = [];
    pendingSeconds = [];
  };
  counter('bot4_events_total', 'Pipeline events by kind', ['kind'], tally.events);
  counter('bot4_dead_letters_total', 'Malformed inputs set aside, by stage', ['stage'], tally.deadLetters);
  counter('bot4_signals_total', 'Signals by source and direction', ['source', 'direction'], tally.signals, (key) =>
    key.split('|'),
  );
  counter(
    'bot4_orders_total',
    'Order events by status (approved, denied, accepted, rejected, canceled, unknown, halted, filled)',
    ['status'],
    tally.orders,
  );
  counter('bot4_fills_total', 'Fills by side', ['side'], tally.fills);
  counter('bot4_risk_denials_total', 'Orders denied by the risk gate, by reason code', ['reason'], tally.denials);
  counter('bot4_feed_reconnects_total', 'Market-data feed reconnects, by stream', ['stream'], tally.reconnects);
  const exposureOf = (p: Portfolio): { gross: number; count: number } => {
    let gross = 0;
    let count = 0;
    for (const position of Object.values(p.positions)) {
      if (position.qty === 0n) continue;
      count++;
      gross += Math.abs(unitsToNumber(position.qty) * position.markPrice);
    }
    return { gross, count };
  };
  gauge('bot4_equity', 'Portfolio equity, quote currency', () => portfolio?.equity ?? Number.NaN);
  gauge('bot4_peak_equity', 'Highest equity so far, quote currency', () => portfolio?.peakEquity ?? Number.NaN);
  gauge('bot4_exposure', 'Gross value of open positions at their marks, quote currency', () =>
    portfolio ? exposureOf(portfolio).gross : 0,
  );
  gauge('bot4_drawdown_ratio', 'Drawdown from peak equity, 0..1', () => portfolio?.drawdown ?? 0);
  gauge('bot4_open_positions', 'Open positions', () => (portfolio ? exposureOf(portfolio).count : 0));
  gauge('bot4_open_orders', 'Orders accepted by the venue and not yet filled, rejected or canceled', () => open.size);
  gauge('bot4_mode', 'Trading mode: 0 Normal, 1 Paused, 2 Reduced, 3 Emergency', () => modeLevel);
  gauge('bot4_tier_info', 'Capital tier of the running config (value 1, tier in the label)', () => 1);
  gauge('bot4_kill_switch_pressed', 'Kill switch latched (1) or not (0)', () => killPressed);
  new Gauge({
    name: 'bot4_breaker_state',
    help: 'Circuit breaker state by component: 0 closed, 0.5 half-open, 1 open',
    labelNames: ['component'],
    registers: [registry],
    collect() {
      for (const [component, state] of breakerStates) this.set({ component }, state);
    },
  });
  new Gauge({
    name: 'bot4_last_event_timestamp_seconds',
    help: 'Event time of the newest data from each source, seconds since the epoch',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      for (const [source, ts] of lastEventTime) this.set({ source }, ts / 1000);
    },
  });
  new Gauge({
    name: 'bot4_data_staleness_seconds',
    help: 'Seconds since data last arrived from each source (wall clock)',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      const t = now();
      for (const [source, wall] of lastSeenWall) this.set({ source }, Math.max(0, t - wall));
    },
  });

  const observe = (event: ObservedEvent): void => {
    const kind = event.kind;
    add(tally.events, kind);
    switch (kind) {
      case 'stage-latency': {
        const l = event as StageLatency;
        pendingStages.push(l.stage);
        pendingSeconds.push(l.seconds);
        if (pendingStages.length >= 100_000) flushLatencies();
        break;
      }
      case 'signal': {
        const s = event as Signal;
        add(tally.signals, `${s.source}|${s.direction}`);
        break;
      }
      case 'approved':
        add(tally.orders, 'approved');
        break;
      case 'denied':
        add(tally.denials, (event as Extract<RiskDecision, { kind: 'denied' }>).code);
        add(tally.orders, 'denied');
        break;
      case 'order-accepted':
      case 'order-rejected':
      case 'order-canceled':
      case 'order-unknown':
      case 'order-halted': {
        add(tally.orders, kind.slice(6));
        const id = (event as { clientOrderId?: string }).clientOrderId;
        if (id !== undefined) {
          if (kind === 'order-accepted') open.add(id);
          else if (TERMINAL.has(kind)) open.delete(id);
        }
        break;
      }
      case 'fill': {
        const f = event as { side: string; clientOrderId: string; leavesQty: bigint };
        add(tally.fills, f.side);
        add(tally.orders, 'filled');
        if (f.leavesQty === 0n) open.delete(f.clientOrderId);
        break;
      }
      case 'dead-letter':
        add(tally.deadLetters, (event as { stage?: string }).stage ?? 'unknown');
        break;
      case 'portfolio':
        portfolio = event as Portfolio;
        break;
      case 'mode-changed':
        modeLevel = MODE_LEVEL[(event as { to: keyof typeof MODE_LEVEL }).to] ?? 0;
        break;
      case 'kill-switch':
        killPressed = (event as { pressed?: boolean }).pressed === false ? 0 : 1;
        break;
      case 'breaker-state-changed': {
        const b = event as BreakerChange;
        breakerStates.set(b.component, b.to === 'open' ? 1 : b.to === 'half-open' ? 0.5 : 0);
        break;
      }
      case 'feed-connected': {
        const e = event as { stream?: string; session?: number };
        if ((e.session ?? 1) > 1) add(tally.reconnects, String(e.stream));
        break;
      }
      default:
        break;
    }
  };

  return {
    registry,
    observe,
    seen(source, tsEvent, wallSeconds) {
      lastSeenWall.set(source, wallSeconds ?? now());
      lastEventTime.set(source, tsEvent);
    },
    scrape: () => registry.metrics(),
  };
}

export interface MetricsServerConfig {
  /** Address to bind. Default `127.0.0.1` (only this machine can scrape). */
  readonly host?: string;
  /** Port; 0 picks a free one. */
  readonly port: number;
}

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

export class MetricsServerError extends Bot4Error<'METRICS_LISTEN'> {
  constructor(message: string, cause: unknown) {
    super('METRICS_LISTEN', 'metrics', message, { cause });
  }
}

/** Serves `GET /metrics` for `sink`; resolves once listening. */
export async function serveMetrics(sink: MetricsSink, config: MetricsServerConfig): Promise<MetricsServer> {
  const host = config.host ?? '127.0.0.1';
  const server = http.createServer((request, response) => {
    const url = (request.url ?? '/').split('?')[0];
    if (url !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: only GET /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('read-only: GET /metrics\n');
      return;
    }
    sink.scrape().then(
      (text) => {
        response.writeHead(200, { 'content-type': sink.registry.contentType });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new MetricsServerError(`metrics: cannot listen on ${host}:${config.port}: ${err.message}`, err)),
    );
    server.listen(config.port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The stages of a bar's decision, in pipeline order, each timed from the bar's arrival to its
 * end: `features` (indicators, higher timeframes, patterns), `ta` and `ml` (each signal source),
 * `signal` (the fused signal, with the venue's fills and marks before it), `market-risk` (the
 * GARCH VaR roll, when configured), `sizing` (an order intent), `decision` (the risk gate's
 * verdict) and `order` (the venue's acknowledgement, when it comes within the bar's turn — always
 * in a backtest, rarely live). The first three end inside the pipeline and are reported through
 * its observer; the others end with an event the pipeline emits.
 */
export const STAGES = ['features', 'ta', 'ml', 'signal', 'market-risk', 'sizing', 'decision', 'order'] as const;
export type Stage = (typeof STAGES)[number];

/**
 * Measures the stages of each bar's decision on the wall clock: `barIn` when a bar enters the
 * pipeline, then `mark` (a stage inside the pipeline ended) or `stageOf` (an event left it)
 * returns the latency of the stage that ended — once per stage and bar. The pipeline handles a bar
 * synchronously, so the stamps bracket exactly its work. One clock read per stage reached: each
 * costs 0.03–0.3 µs depending on the machine's clock source.
 */
export class StageClock {
  private ts = Number.NaN;
  private start = 0;
  private done = 0;

  /** Stamps a bar's arrival; returns the wall time, seconds since the epoch (for staleness). */
  barIn(tsEvent: number): number {
    this.ts = tsEvent;
    this.start = performance.now();
    this.done = 0;
    return (performance.timeOrigin + this.start) / 1000;
  }

  /** Stage `stage` ended for the bar of `tsEvent`: its latency, the first time in this bar. */
  mark(stage: Stage, tsEvent: number): StageLatency | undefined {
    const bit = 1 << STAGES.indexOf(stage);
    if ((this.done & bit) !== 0 || tsEvent !== this.ts) return undefined;
    this.done |= bit;
    return { kind: 'stage-latency', stage, seconds: (performance.now() - this.start) / 1000, tsEvent: this.ts };
  }

  /** The stage an event leaving the pipeline ends, if any (see {@link STAGES}). */
  stageOf(event: ObservedEvent): StageLatency | undefined {
    const ts = event.tsEvent ?? Number.NaN;
    switch (event.kind) {
      case 'signal':
        return (event as Signal).source === 'fused' ? this.mark('signal', ts) : undefined;
      case 'market-risk':
        return this.mark('market-risk', ts);
      case 'intent':
        return this.mark('sizing', ts);
      case 'approved':
      case 'denied':
        return this.mark('decision', ts);
      case 'order-accepted':
      case 'order-rejected':
        return this.mark('order', ts);
      default:
        return undefined;
    }
  }
}
