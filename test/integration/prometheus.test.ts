import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { toUnits } from '../../operators/money';
import type { ObservedEvent } from '../../sinks/influxPoints';
import { BOT4_METRICS, makeMetricsSink, serveMetrics, type MetricsSink } from '../../sinks/metrics';
import { eventually } from '../support/eventually';
import { randomWalkBars, signal } from '../support/fixtures';
import { ensurePromtool, startPrometheus } from '../support/prometheusServer';
import { repoRoot } from '../support/sharedData';
import { tempDir } from '../support/tmp';

const MONITORING = path.join(repoRoot, 'config', 'monitoring');
const LABELS = { strategy: 'growth-btc', config: 'abc123', run: 'paper', tier: 'growth' };

/** One event of every kind the metrics react to, with numbers a test can check. */
function sampleEvents(t = 1_700_000_000_000): ObservedEvent[] {
  const order = {
    clientOrderId: 'c1',
    signalId: 's1',
    symbol: 'BTC/USDT',
    side: 'buy' as const,
    qty: toUnits('0.5'),
    refPrice: 20_000,
    reducesRisk: false,
  };
  return [
    randomWalkBars(1, { start: t })[0]!,
    signal({ source: 'fused', direction: 1, tsEvent: t }),
    signal({ source: 'ta', direction: -1, tsEvent: t }),
    { kind: 'approved', order, numbers: {}, tsEvent: t } as unknown as ObservedEvent,
    {
      kind: 'denied',
      intent: order,
      code: 'VAR_EXCEEDS_LIMIT',
      message: 'VAR_EXCEEDS_LIMIT: var=0.03',
      numbers: {},
      tsEvent: t,
    } as unknown as ObservedEvent,
    {
      kind: 'denied',
      intent: order,
      code: 'VAR_EXCEEDS_LIMIT',
      message: 'VAR_EXCEEDS_LIMIT: var=0.04',
      numbers: {},
      tsEvent: t,
    } as unknown as ObservedEvent,
    { kind: 'order-accepted', clientOrderId: 'c1', signalId: 's1', tsEvent: t },
    { kind: 'order-accepted', clientOrderId: 'c2', signalId: 's2', tsEvent: t },
    {
      kind: 'fill',
      clientOrderId: 'c1',
      signalId: 's1',
      symbol: 'BTC/USDT',
      side: 'buy',
      qty: toUnits('0.5'),
      price: toUnits('20000'),
      notional: toUnits('10000'),
      fee: toUnits('10'),
      liquidity: 'taker',
      leavesQty: 0n,
      tsEvent: t,
    },
    {
      kind: 'order-rejected',
      clientOrderId: 'c3',
      signalId: 's3',
      code: 'INSUFFICIENT_BALANCE',
      message: 'x',
      tsEvent: t,
    },
    { kind: 'dead-letter', stage: 'parse', reason: 'bad json', raw: '{', tsInit: t } as unknown as ObservedEvent,
    {
      kind: 'portfolio',
      quote: 'USDT',
      initialCash: toUnits('20000'),
      cash: toUnits('9990'),
      positions: {
        'BTC/USDT': { symbol: 'BTC/USDT', qty: toUnits('0.5'), costBasis: toUnits('10000'), markPrice: 21_000 },
      },
      realizedPnl: 0n,
      feesPaid: toUnits('10'),
      equity: 20_490,
      peakEquity: 21_000,
      drawdown: 0.0242857,
      tsEvent: t,
    },
    { kind: 'mode-changed', from: 'Normal', to: 'Reduced', reason: 'drawdown', tsEvent: t },
    { kind: 'kill-switch', pressed: true, reason: 'test', tsEvent: t } as ObservedEvent,
    { kind: 'breaker-state-changed', component: 'venue', from: 'closed', to: 'open', reason: 'errors', tsEvent: t },
    { kind: 'feed-connected', stream: 'trades', session: 2, tsInit: t } as unknown as ObservedEvent,
    { kind: 'stage-latency', stage: 'decision', seconds: 12e-6, tsEvent: t },
  ];
}

function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** Names a scrape exposes, histograms with their _bucket/_sum/_count series. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)/.exec(line);
    if (!m) continue;
    names.add(m[1]!);
    if (m[2] === 'histogram' || m[2] === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(m[1]! + s);
  }
  return names;
}

/** Metric names a PromQL expression reads (bot4's own, node's and the process's). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b(bot4[_:][A-Za-z0-9_:]*|nodejs_[A-Za-z0-9_]+|process_[A-Za-z0-9_]+)/g)].map((m) => m[1]!);
}

interface Rules {
  groups: { rules: { record?: string; alert?: string; expr: string }[] }[];
}

function dashboardExprs(): { file: string; title: string; expr: string }[] {
  const out: { file: string; title: string; expr: string }[] = [];
  const dir = path.join(MONITORING, 'grafana');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const dashboard = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    for (const panel of dashboard.panels)
      for (const t of panel.targets) out.push({ file, title: panel.title, expr: t.expr });
  }
  return out;
}

async function scraped(sink: MetricsSink): Promise<string> {
  return sink.scrape();
}

describe('Prometheus metrics', () => {
  it('turns pipeline events into counters and gauges with the events’ numbers', async () => {
    const sink = makeMetricsSink({ labels: LABELS, defaultMetrics: false });
    for (const e of sampleEvents()) sink.observe(e);
    const text = await scraped(sink);
    assert.equal(sample(text, 'bot4_equity'), 20_490);
    assert.equal(sample(text, 'bot4_exposure'), 10_500);
    assert.equal(sample(text, 'bot4_drawdown_ratio'), 0.0242857);
    assert.equal(sample(text, 'bot4_open_positions'), 1);
    assert.equal(sample(text, 'bot4_open_orders'), 1, 'c1 filled, c2 still open');
    assert.equal(sample(text, 'bot4_mode'), 2);
    assert.equal(sample(text, 'bot4_kill_switch_pressed'), 1);
    assert.equal(sample(text, 'bot4_breaker_state', { component: 'venue' }), 1);
    assert.equal(sample(text, 'bot4_risk_denials_total', { reason: 'VAR_EXCEEDS_LIMIT' }), 2);
    assert.equal(sample(text, 'bot4_orders_total', { status: 'accepted' }), 2);
    assert.equal(sample(text, 'bot4_orders_total', { status: 'rejected' }), 1);
    assert.equal(sample(text, 'bot4_fills_total', { side: 'buy' }), 1);
    assert.equal(sample(text, 'bot4_signals_total', { source: 'fused', direction: '1' }), 1);
    assert.equal(sample(text, 'bot4_dead_letters_total', { stage: 'parse' }), 1);
    assert.equal(sample(text, 'bot4_feed_reconnects_total', { stream: 'trades' }), 1);
    assert.equal(sample(text, 'bot4_stage_latency_seconds_count', { stage: 'decision' }), 1);
    assert.equal(sample(text, 'bot4_stage_latency_seconds_bucket', { stage: 'decision', le: '0.00001' }), 0);
    assert.equal(sample(text, 'bot4_stage_latency_seconds_bucket', { stage: 'decision', le: '0.00002' }), 1);
    assert.equal(sample(text, 'bot4_tier_info', { tier: 'growth' }), 1);
    assert.match(text, /bot4_equity\{strategy="growth-btc",config="abc123",run="paper",tier="growth"\} 20490/);
  });

  it('reports staleness per source from the wall clock at scrape time', async () => {
    let now = 1_000;
    const sink = makeMetricsSink({ labels: LABELS, defaultMetrics: false, now: () => now });
    sink.seen('bars', 990_000);
    now = 1_042;
    const text = await scraped(sink);
    assert.equal(sample(text, 'bot4_data_staleness_seconds', { source: 'bars' }), 42);
    assert.equal(sample(text, 'bot4_last_event_timestamp_seconds', { source: 'bars' }), 990);
  });

  it('serves only GET/HEAD /metrics, on 127.0.0.1 by default', async () => {
    const sink = makeMetricsSink({ labels: LABELS });
    const server = await serveMetrics(sink, { port: 0 });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const ok = await fetch(server.url);
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /process_cpu_user_seconds_total/);
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const response = await fetch(server.url, { method });
        assert.equal(response.status, 405, method);
      }
      assert.equal((await fetch(server.url.replace('/metrics', '/'))).status, 404);
      assert.equal((await fetch(server.url.replace('/metrics', '/admin'))).status, 404);
    } finally {
      await server.close();
    }
  });

  it('exports every metric the Grafana dashboards and the alert rules query', async () => {
    const sink = makeMetricsSink({ labels: LABELS });
    for (const e of sampleEvents()) sink.observe(e);
    sink.seen('bars', 1);
    const exported = exportedNames(await scraped(sink));
    for (const name of BOT4_METRICS)
      assert.ok(exported.has(name), `BOT4_METRICS lists ${name} but the registry has no such metric`);
    const rules = parse(readFileSync(path.join(MONITORING, 'alerts.yml'), 'utf8')) as Rules;
    const recorded = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))));
    const queries = [
      ...dashboardExprs().map((q) => ({ where: `${q.file} "${q.title}"`, expr: q.expr })),
      ...rules.groups.flatMap((g) =>
        g.rules.map((r) => ({ where: `alerts.yml ${r.alert ?? r.record}`, expr: r.expr })),
      ),
    ];
    assert.ok(queries.length >= 30, `found only ${queries.length} queries`);
    const dashboards = new Set(dashboardExprs().map((q) => q.file));
    assert.deepEqual([...dashboards].sort(), [
      'circuit-breakers.json',
      'order-pipeline.json',
      'risk.json',
      'system-health.json',
    ]);
    for (const q of queries) {
      const names = metricsIn(q.expr);
      assert.ok(names.length > 0, `${q.where}: no metric in ${q.expr}`);
      for (const name of names)
        assert.ok(
          exported.has(name) || recorded.has(name),
          `${q.where}: ${name} is not exported by the code (${q.expr})`,
        );
    }
  });
});

describe('Prometheus rules and a real Prometheus', function () {
  this.timeout(5 * 60_000);
  const tmp = tempDir('bot4-prom-');
  after(() => tmp.cleanup());

  it('alert rules pass promtool check rules and their unit tests (promtool test rules)', () => {
    ensurePromtool();
    execFileSync('promtool', ['check', 'rules', path.join(MONITORING, 'alerts.yml')], { stdio: 'pipe' });
    execFileSync('promtool', ['test', 'rules', path.join(MONITORING, 'alerts.test.yml')], { stdio: 'pipe' });
  });

  it('bot4’s own metrics pass promtool check metrics', async () => {
    ensurePromtool();
    const sink = makeMetricsSink({ labels: LABELS, defaultMetrics: false });
    for (const e of sampleEvents()) sink.observe(e);
    const text = await scraped(sink);
    const file = path.join(tmp.dir, 'metrics.txt');
    writeFileSync(file, text);
    execFileSync('sh', ['-c', `promtool check metrics < "${file}"`], { stdio: 'pipe' });
  });

  it('PROMETHEUS_URL and PROMETHEUS_TARGETS_FILE point the test at an existing Prometheus', async () => {
    await assert.rejects(
      startPrometheus(tmp.dir, '127.0.0.1:1', [], { PROMETHEUS_URL: 'http://127.0.0.1:1' }),
      /needs PROMETHEUS_TARGETS_FILE/,
    );
    // The "existing" server: one started here, watching a target file that names nothing yet.
    const existingDir = path.join(tmp.dir, 'existing');
    mkdirSync(existingDir, { recursive: true });
    const existing = await startPrometheus(existingDir, '');
    const sink = makeMetricsSink({ labels: LABELS, defaultMetrics: false });
    for (const e of sampleEvents()) sink.observe(e);
    const server = await serveMetrics(sink, { port: 0 });
    try {
      const viaEnv = await startPrometheus(tmp.dir, new URL(server.url).host, [], {
        PROMETHEUS_URL: existing.url,
        PROMETHEUS_TARGETS_FILE: path.join(existingDir, 'targets.json'),
      });
      assert.equal(viaEnv.url, existing.url);
      await eventually(
        async () => {
          const r = await viaEnv.query('bot4_equity{job="bot4"}');
          assert.equal(r.data?.result[0]?.value[1], '20490');
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      await viaEnv.stop();
      assert.deepEqual(JSON.parse(readFileSync(path.join(existingDir, 'targets.json'), 'utf8')), []);
    } finally {
      await existing.stop();
      await server.close();
    }
  });

  it('a real Prometheus scrapes /metrics under load, and every dashboard and rule query runs on it', async () => {
    const sink = makeMetricsSink({ labels: LABELS });
    const server = await serveMetrics(sink, { port: 0 });
    const target = new URL(server.url).host;
    const prometheus = await startPrometheus(tmp.dir, target, [path.join(MONITORING, 'alerts.yml')]);
    // Load: events keep flowing (7 symbols' worth of bars, signals and latencies) while Prometheus scrapes.
    let running = true;
    let sent = 0;
    const pump = async (): Promise<void> => {
      const events = sampleEvents();
      while (running) {
        for (let i = 0; i < 2_000; i++) sink.observe(events[i % events.length]!);
        sent += 2_000;
        sink.seen('bars', Date.now());
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const pumping = pump();
    try {
      await eventually(
        async () => {
          const r = await prometheus.query('bot4_events_total{kind="signal"}');
          assert.equal(r.status, 'success');
          assert.ok(Number(r.data!.result[0]?.value[1] ?? 0) > 0, 'no samples yet');
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      const up = await prometheus.query('up{job="bot4"}');
      assert.equal(up.data!.result[0]!.value[1], '1');
      const rules = parse(readFileSync(path.join(MONITORING, 'alerts.yml'), 'utf8')) as Rules;
      for (const q of [
        ...dashboardExprs(),
        ...rules.groups.flatMap((g) =>
          g.rules.map((r) => ({ file: 'alerts.yml', title: r.alert ?? r.record ?? '', expr: r.expr })),
        ),
      ]) {
        const expr = q.expr.replaceAll('$strategy', '.*');
        const r = await prometheus.query(expr);
        assert.equal(r.status, 'success', `${q.file} "${q.title}": ${r.error ?? ''} in ${expr}`);
      }
      const equity = await prometheus.query('bot4_equity');
      assert.equal(equity.data!.result[0]!.value[1], '20490');
      assert.ok(sent > 0);
    } finally {
      running = false;
      await pumping;
      await prometheus.stop();
      await server.close();
    }
  });
});
