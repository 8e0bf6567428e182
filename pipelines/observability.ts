/**
 * Wiring of the observability sinks (InfluxDB points, Prometheus metrics, stage latencies) onto a
 * running pipeline. A mode calls `startObservability` once and puts its two taps on the bars
 * entering the pipeline and on the events leaving it; `close()` at the end flushes what is unsent.
 * With nothing enabled the taps pass values through untouched.
 *
 * Turned on by the config's `monitoring` section (`influx.enabled` with `INFLUX_URL` …, and
 * `metrics.enabled`) or, for the metrics endpoint, by the CLI's `--metrics-port`.
 */
import * as path from 'node:path';
import { Subject, identity, lastValueFrom, tap, type MonoTypeOperatorFunction } from 'rxjs';
import type { Bar } from '../operators/types';
import { Bot4Error } from '../operators/errors';
import { influxFromEnv, makeInfluxSink, type InfluxSinkStats } from '../sinks/influx';
import type { ObservedEvent, StageLatency } from '../sinks/influxPoints';
import { serveDashboard, type DashboardHealth, type DashboardServer } from '../sinks/dashboard';
import { makeMetricsSink, serveMetrics, StageClock, type MetricsServer, type MetricsSink } from '../sinks/metrics';
import type { PipelineConfig } from './config';
import type { PipelineObserver } from './tradingPipeline';

export interface ObservabilityOptions {
  readonly run: 'backtest' | 'paper' | 'live';
  /** The run's output folder: the Influx spill file lives there. */
  readonly outDir: string;
  /** Environment with INFLUX_*. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Serve `/metrics` on this port (0: a free one), overriding the config. */
  readonly metricsPort?: number;
  /** Address for `/metrics`, overriding the config. Default 127.0.0.1. */
  readonly metricsHost?: string;
  /** Serve the read-only dashboard on this port (0: a free one) for `outDir`. */
  readonly dashboardPort?: number;
  /** Address for the dashboard. Default 127.0.0.1. */
  readonly dashboardHost?: string;
  /** Progress and problems. */
  readonly log?: (line: string) => void;
}

export interface ObservabilitySummary {
  readonly influx?: InfluxSinkStats;
  readonly metricsUrl?: string;
  readonly dashboardUrl?: string;
}

export interface Observability {
  /** Tap for the bars entering the pipeline. */
  readonly bars: MonoTypeOperatorFunction<Bar>;
  /**
   * For the pipeline's `observe` dependency: the features it computes (exported to InfluxDB when
   * `monitoring.influx.features` is on) and the stage ends inside it. Undefined when nothing is on.
   */
  readonly pipeline?: PipelineObserver;
  /** Tap for the events the pipeline (and its feeds and venue) emit. */
  readonly events: <T extends { readonly kind: string }>(
    source: import('rxjs').Observable<T>,
  ) => import('rxjs').Observable<T>;
  /** The metrics, when enabled (the dashboard reads system health from it). */
  readonly metrics?: MetricsSink;
  readonly metricsUrl?: string;
  readonly dashboardUrl?: string;
  /** Flushes the InfluxDB sink (what cannot be delivered stays in the spill file) and stops `/metrics`. */
  close(): Promise<ObservabilitySummary>;
}

export class ObservabilityError extends Bot4Error<'INFLUX_NOT_CONFIGURED'> {
  constructor(message: string) {
    super('INFLUX_NOT_CONFIGURED', 'observability', message);
  }
}

/** Starts what the config and options turn on. */
export async function startObservability(
  config: PipelineConfig,
  options: ObservabilityOptions,
): Promise<Observability> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const influxOn = config.monitoring?.influx?.enabled === true;
  const metricsOn = options.metricsPort !== undefined || config.monitoring?.metrics?.enabled === true;
  const dashboardOn = options.dashboardPort !== undefined;
  if (!influxOn && !metricsOn && !dashboardOn) return { bars: identity, events: identity, close: async () => ({}) };

  const influxServer = influxOn ? influxFromEnv(env) : undefined;
  if (influxOn && !influxServer)
    throw new ObservabilityError(
      `${config.file}: monitoring.influx.enabled is true but INFLUX_URL is not set (also INFLUX_TOKEN, INFLUX_ORG, INFLUX_BUCKET; InfluxDB 1.8: any token, org "", bucket "<db>/autogen")`,
    );

  const points$ = new Subject<ObservedEvent>();
  let lastStats: InfluxSinkStats | undefined;
  // Built (and so validated) before anything listens, so a bad INFLUX_URL leaves nothing open.
  const influxSink = influxServer
    ? makeInfluxSink({
        ...influxServer,
        tags: {
          venue: config.instrument.venue,
          symbol: config.instrument.symbol,
          timeframe: config.timeframe,
          tier: config.tier,
          config: config.hash,
          run: options.run,
        },
        spillFile: path.join(options.outDir, 'influx-spill.lp'),
        ...(config.monitoring?.influx?.batchSize !== undefined
          ? { batchSize: config.monitoring.influx.batchSize }
          : {}),
        ...(config.monitoring?.influx?.maxBufferLines !== undefined
          ? { maxBufferLines: config.monitoring.influx.maxBufferLines }
          : {}),
        ...(config.monitoring?.influx?.flushIntervalMs !== undefined
          ? { flushIntervalMs: config.monitoring.influx.flushIntervalMs }
          : {}),
      })
    : undefined;
  const metrics = metricsOn
    ? makeMetricsSink({ labels: { strategy: config.name, config: config.hash, run: options.run, tier: config.tier } })
    : undefined;
  let server: MetricsServer | undefined;
  if (metrics) {
    server = await serveMetrics(metrics, {
      host: options.metricsHost ?? config.monitoring?.metrics?.host ?? '127.0.0.1',
      port: options.metricsPort ?? config.monitoring?.metrics?.port ?? 9464,
    });
    log(`metrics: ${server.url}`);
  }

  const influxDone = influxSink
    ? lastValueFrom(
        influxSink(points$).pipe(
          tap((stats) => {
            if (stats.lastError !== undefined && stats.lastError !== lastStats?.lastError)
              log(`influx: ${stats.lastError} (${stats.pending} points pending, retrying)`);
            lastStats = stats;
          }),
        ),
        { defaultValue: undefined },
      ).catch((err: unknown) => {
        log(`influx: sink failed: ${(err as Error).message}`);
        return lastStats;
      })
    : Promise.resolve(undefined);
  // The origin only: a URL may carry user:password.
  if (influxServer) log(`influx: writing to ${new URL(influxServer.url).origin} bucket ${influxServer.bucket}`);

  const clock = new StageClock();
  const decisions = new LatencyWindow(1_000);
  const emit = (event: ObservedEvent): void => {
    metrics?.observe(event);
    if (influxServer) points$.next(event);
    if (event.kind === 'stage-latency' && (event as StageLatency).stage === 'decision')
      decisions.add((event as StageLatency).seconds);
  };
  let dashboard: DashboardServer | undefined;
  if (dashboardOn) {
    try {
      dashboard = await serveDashboard({
        dir: options.outDir,
        port: options.dashboardPort!,
        ...(options.dashboardHost !== undefined ? { host: options.dashboardHost } : {}),
        health: processHealth(() => decisions.p99()),
      });
    } catch (err) {
      await server?.close();
      points$.complete();
      throw err;
    }
    log(`dashboard: ${dashboard.url}`);
  }
  // The pipeline's own features and inner stage ends, handed over by its observer.
  const exportFeatures = influxServer !== undefined && config.monitoring?.influx?.features === true;
  const pipeline: PipelineObserver = {
    ...(exportFeatures ? { features: (f) => points$.next(f) } : {}),
    stage: (stage, tsEvent) => {
      const latency = clock.mark(stage, tsEvent);
      if (latency) emit(latency);
    },
  };
  const bars: MonoTypeOperatorFunction<Bar> = tap((bar: Bar) => {
    const wall = clock.barIn(bar.tsEvent);
    metrics?.seen('bars', bar.tsEvent, wall);
    emit(bar);
  });
  const events = <T extends { readonly kind: string }>(source: import('rxjs').Observable<T>) =>
    source.pipe(
      tap((event: T) => {
        const observed = event as unknown as ObservedEvent;
        emit(observed);
        const latency = clock.stageOf(observed);
        if (latency) emit(latency);
        if (event.kind === 'trade' || event.kind === 'book')
          metrics?.seen(`feed:${event.kind}`, (event as unknown as { tsEvent: number }).tsEvent);
      }),
    );

  return {
    bars,
    events,
    pipeline,
    ...(metrics ? { metrics } : {}),
    ...(server ? { metricsUrl: server.url } : {}),
    ...(dashboard ? { dashboardUrl: dashboard.url } : {}),
    close: async () => {
      points$.complete();
      const influx = await influxDone;
      await server?.close();
      await dashboard?.close();
      if (influx) log(`influx: ${influx.written} points written, ${influx.pending} left in the spill file`);
      return {
        ...(influx ? { influx } : {}),
        ...(server ? { metricsUrl: server.url } : {}),
        ...(dashboard ? { dashboardUrl: dashboard.url } : {}),
      };
    },
  };
}

/** The newest `size` latencies, for a p99 on demand. */
class LatencyWindow {
  private readonly values: Float64Array;
  private count = 0;
  private next = 0;

  constructor(size: number) {
    this.values = new Float64Array(size);
  }

  add(seconds: number): void {
    this.values[this.next] = seconds;
    this.next = (this.next + 1) % this.values.length;
    this.count = Math.min(this.count + 1, this.values.length);
  }

  p99(): number | null {
    if (this.count === 0) return null;
    const sorted = Array.from(this.values.subarray(0, this.count)).sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;
  }
}

/** CPU (share of one core since the previous call), memory, and the decision p99 of this process. */
function processHealth(p99: () => number | null): () => DashboardHealth {
  let lastCpu = process.cpuUsage();
  let lastAt = performance.now();
  let cpuPercent = 0;
  return () => {
    const now = performance.now();
    if (now - lastAt >= 200) {
      const cpu = process.cpuUsage(lastCpu);
      cpuPercent = ((cpu.user + cpu.system) / 1000 / (now - lastAt)) * 100;
      lastCpu = process.cpuUsage();
      lastAt = now;
    }
    const memory = process.memoryUsage();
    return { cpuPercent, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, decisionP99Seconds: p99() };
  };
}
