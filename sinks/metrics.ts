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
 * `observe(event)` is called on the hot path: it touches pre-resolved label children (a map
 * lookup and an add), nothing else. Staleness is computed when Prometheus scrapes.
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
  /** Marks data from `source` (e.g. `bars`, `feed:trades`) as seen now, at event time `tsEvent` ms. */
  seen(source: string, tsEvent: number): void;
  /** The exposition text, as `/metrics` serves it. */
  scrape(): Promise<string>;
}

const TERMINAL = new Set(['order-rejected', 'order-canceled']);

export function makeMetricsSink(config: MetricsSinkConfig): MetricsSink {
  const now = config.now ?? (() => Date.now() / 1000);
  const registry = new Registry();
  registry.setDefaultLabels({ ...config.labels });
  if (config.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const latency = new Histogram({
    name: 'bot4_stage_latency_seconds',
    help: 'Wall-clock time of a stage of the per-bar decision (signal: bar → fused signal; decision: bar → risk decision; venue: approval → venue answer)',
    labelNames: ['stage'],
    buckets: [...LATENCY_BUCKETS],
    registers: [registry],
  });
  const events = new Counter({
    name: 'bot4_events_total',
    help: 'Pipeline events by kind',
    labelNames: ['kind'],
    registers: [registry],
  });
  const deadLetters = new Counter({
    name: 'bot4_dead_letters_total',
    help: 'Malformed inputs set aside, by stage',
    labelNames: ['stage'],
    registers: [registry],
  });
  const signals = new Counter({
    name: 'bot4_signals_total',
    help: 'Signals by source and direction',
    labelNames: ['source', 'direction'],
    registers: [registry],
  });
  const orders = new Counter({
    name: 'bot4_orders_total',
    help: 'Order events by status (approved, accepted, rejected, canceled, unknown, halted, filled)',
    labelNames: ['status'],
    registers: [registry],
  });
  const fills = new Counter({
    name: 'bot4_fills_total',
    help: 'Fills by side',
    labelNames: ['side'],
    registers: [registry],
  });
  const denials = new Counter({
    name: 'bot4_risk_denials_total',
    help: 'Orders denied by the risk gate, by reason code',
    labelNames: ['reason'],
    registers: [registry],
  });
  const reconnects = new Counter({
    name: 'bot4_feed_reconnects_total',
    help: 'Market-data feed reconnects, by stream',
    labelNames: ['stream'],
    registers: [registry],
  });
  const equity = new Gauge({ name: 'bot4_equity', help: 'Portfolio equity, quote currency', registers: [registry] });
  const peak = new Gauge({
    name: 'bot4_peak_equity',
    help: 'Highest equity so far, quote currency',
    registers: [registry],
  });
  const exposure = new Gauge({
    name: 'bot4_exposure',
    help: 'Gross value of open positions at their marks, quote currency',
    registers: [registry],
  });
  const drawdown = new Gauge({
    name: 'bot4_drawdown_ratio',
    help: 'Drawdown from peak equity, 0..1',
    registers: [registry],
  });
  const openPositions = new Gauge({ name: 'bot4_open_positions', help: 'Open positions', registers: [registry] });
  const openOrders = new Gauge({
    name: 'bot4_open_orders',
    help: 'Orders accepted by the venue and not yet filled, rejected or canceled',
    registers: [registry],
  });
  const mode = new Gauge({
    name: 'bot4_mode',
    help: 'Trading mode: 0 Normal, 1 Paused, 2 Reduced, 3 Emergency',
    registers: [registry],
  });
  const tier = new Gauge({
    name: 'bot4_tier_info',
    help: 'Capital tier of the running config (value 1, tier in the label)',
    registers: [registry],
  });
  const kill = new Gauge({
    name: 'bot4_kill_switch_pressed',
    help: 'Kill switch latched (1) or not (0)',
    registers: [registry],
  });
  const breakers = new Gauge({
    name: 'bot4_breaker_state',
    help: 'Circuit breaker state by component: 0 closed, 0.5 half-open, 1 open',
    labelNames: ['component'],
    registers: [registry],
  });
  const lastSeenWall = new Map<string, number>();
  const lastEvent = new Gauge({
    name: 'bot4_last_event_timestamp_seconds',
    help: 'Event time of the newest data from each source, seconds since the epoch',
    labelNames: ['source'],
    registers: [registry],
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
  mode.set(0);
  kill.set(0);
  tier.set(1);
  openOrders.set(0);

  // Label children resolved once: the hot path is a map lookup and an add.
  const cache = new Map<string, { inc(): void }>();
  const child = (key: string, make: () => { inc(): void }): { inc(): void } => {
    let c = cache.get(key);
    if (c === undefined) {
      c = make();
      cache.set(key, c);
    }
    return c;
  };
  const latencyChildren = new Map<string, { observe(v: number): void }>();
  const open = new Set<string>();

  const observe = (event: ObservedEvent): void => {
    child(`e:${event.kind}`, () => events.labels(event.kind)).inc();
    switch (event.kind) {
      case 'stage-latency': {
        const l = event as StageLatency;
        let h = latencyChildren.get(l.stage);
        if (h === undefined) {
          h = latency.labels(l.stage);
          latencyChildren.set(l.stage, h);
        }
        h.observe(l.seconds);
        break;
      }
      case 'signal': {
        const s = event as Signal;
        child(`s:${s.source}:${s.direction}`, () => signals.labels(s.source, String(s.direction))).inc();
        break;
      }
      case 'approved':
        child('o:approved', () => orders.labels('approved')).inc();
        break;
      case 'denied': {
        const d = event as Extract<RiskDecision, { kind: 'denied' }>;
        child(`d:${d.code}`, () => denials.labels(d.code)).inc();
        child('o:denied', () => orders.labels('denied')).inc();
        break;
      }
      case 'order-accepted':
      case 'order-rejected':
      case 'order-canceled':
      case 'order-unknown':
      case 'order-halted': {
        const status = event.kind.slice('order-'.length);
        child(`o:${status}`, () => orders.labels(status)).inc();
        const id = (event as { clientOrderId?: string }).clientOrderId;
        if (id !== undefined) {
          if (event.kind === 'order-accepted') open.add(id);
          else if (TERMINAL.has(event.kind)) open.delete(id);
          openOrders.set(open.size);
        }
        break;
      }
      case 'fill': {
        const f = event as { side: string; clientOrderId: string; leavesQty: bigint };
        child(`f:${f.side}`, () => fills.labels(f.side)).inc();
        child('o:filled', () => orders.labels('filled')).inc();
        if (f.leavesQty === 0n && open.delete(f.clientOrderId)) openOrders.set(open.size);
        break;
      }
      case 'dead-letter': {
        const stage = (event as { stage?: string }).stage ?? 'unknown';
        child(`dl:${stage}`, () => deadLetters.labels(stage)).inc();
        break;
      }
      case 'portfolio': {
        const p = event as Portfolio;
        equity.set(p.equity);
        peak.set(p.peakEquity);
        drawdown.set(p.drawdown);
        let gross = 0;
        let count = 0;
        for (const position of Object.values(p.positions)) {
          if (position.qty === 0n) continue;
          count++;
          gross += Math.abs(unitsToNumber(position.qty) * position.markPrice);
        }
        exposure.set(gross);
        openPositions.set(count);
        break;
      }
      case 'mode-changed': {
        const to = (event as { to: keyof typeof MODE_LEVEL }).to;
        mode.set(MODE_LEVEL[to] ?? 0);
        break;
      }
      case 'kill-switch':
        kill.set((event as { pressed?: boolean }).pressed === false ? 0 : 1);
        break;
      case 'breaker-state-changed': {
        const b = event as BreakerChange;
        breakers.set({ component: b.component }, b.to === 'open' ? 1 : b.to === 'half-open' ? 0.5 : 0);
        break;
      }
      case 'feed-connected': {
        const e = event as { stream?: string; session?: number };
        if ((e.session ?? 1) > 1) child(`r:${e.stream}`, () => reconnects.labels(String(e.stream))).inc();
        break;
      }
      default:
        break;
    }
  };

  return {
    registry,
    observe,
    seen(source, tsEvent) {
      lastSeenWall.set(source, now());
      lastEvent.set({ source }, tsEvent / 1000);
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
 * Measures the stages of each bar's decision on the wall clock: `barIn` when a bar enters the
 * pipeline, then `stageOf` for each event it produces returns the latency of the stage that event
 * ends (once per stage and bar): `portfolio` (bar → venue fills and marks → portfolio), `signal`
 * (bar → fused signal: features, TA, ML, fuse), `decision` (bar → risk decision: sizing and the
 * gate). The pipeline handles a bar synchronously, so the stamps bracket exactly its work.
 */
export class StageClock {
  private ts = Number.NaN;
  private start = 0;
  private done = 0;

  barIn(tsEvent: number): void {
    this.ts = tsEvent;
    this.start = performance.now();
    this.done = 0;
  }

  stageOf(event: ObservedEvent): StageLatency | undefined {
    let bit: number;
    let stage: string;
    switch (event.kind) {
      case 'portfolio':
        bit = 1;
        stage = 'portfolio';
        break;
      case 'signal':
        if ((event as Signal).source !== 'fused') return undefined;
        bit = 2;
        stage = 'signal';
        break;
      case 'approved':
      case 'denied':
        bit = 4;
        stage = 'decision';
        break;
      default:
        return undefined;
    }
    if ((this.done & bit) !== 0 || event.tsEvent !== this.ts) return undefined;
    this.done |= bit;
    return { kind: 'stage-latency', stage, seconds: (performance.now() - this.start) / 1000, tsEvent: this.ts };
  }
}
