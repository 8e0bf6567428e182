/**
 * The read-only dashboard: its routes (every one, every method), the fold of a journal, and the
 * page itself in headless Chromium against a running paper session on the local Binance server.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { Subject } from 'rxjs';
import { formatUnits, toUnits } from '../../operators/money';
import { runSession } from '../../pipelines/session';
import { DASHBOARD_ROUTES, serveDashboard } from '../../sinks/dashboard';
import { DashboardFold } from '../../sinks/dashboardState';
import { startBinanceServer, type BinanceServer, klineAround } from '../support/binanceServer';
import { launchChromium, type Browser } from '../support/chromium';
import { eventually } from '../support/eventually';
import { repoRoot } from '../support/sharedData';
import { tempDir } from '../support/tmp';
import { taSessionConfig } from '../support/sessionConfig';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

function journalLines(): Record<string, unknown>[] {
  return [
    {
      kind: 'session',
      event: 'started',
      mode: 'paper',
      config: { name: 'demo', hash: 'h1' },
      venue: 'binance',
      symbol: 'BTC/USDT',
      initialEquity: 10_000,
      tsEvent: 1_000,
    },
    { kind: 'signal', source: 'fused', symbol: 'BTC/USDT', price: 20_000, tsEvent: 2_000 },
    { kind: 'order-accepted', clientOrderId: 'a', signalId: 's', tsEvent: 2_000 },
    {
      kind: 'fill',
      clientOrderId: 'a',
      signalId: 's',
      symbol: 'BTC/USDT',
      side: 'buy',
      qty: '0.10000000',
      price: '20010.00000000',
      notional: '2001.00000000',
      fee: '2.00100000',
      liquidity: 'taker',
      leavesQty: '0.00000000',
      tsEvent: 3_000,
    },
    { kind: 'signal', source: 'fused', symbol: 'BTC/USDT', price: 20_500, tsEvent: 4_000 },
    {
      kind: 'approved',
      order: {},
      numbers: { heat: 0.012, var99: 0.018, volatility: 0.45 },
      tsEvent: 4_000,
    },
    {
      kind: 'denied',
      code: 'BELOW_MIN_NOTIONAL',
      message: 'BELOW_MIN_NOTIONAL: notional=1',
      numbers: { correlation: 0.8 },
      tsEvent: 4_000,
    },
    {
      kind: 'breaker-state-changed',
      component: 'feed:trades',
      from: 'closed',
      to: 'open',
      reason: '5 errors',
      tsEvent: 4_500,
    },
    { kind: 'mode-changed', from: 'Normal', to: 'Emergency', reason: 'kill switch pressed: SIGUSR2', tsEvent: 5_000 },
  ];
}

describe('dashboard: routes, read-only by construction', () => {
  const tmp = tempDir('bot4-dash-');
  after(() => tmp.cleanup());

  it('has exactly three routes, each answering only GET and HEAD; every other method is 405, every other path 404, and the journals are unchanged', async () => {
    assert.deepEqual(
      [...DASHBOARD_ROUTES],
      ['/', '/api/state', '/api/events'],
      'a new route must be reviewed as read-only',
    );
    const dir = path.join(tmp.dir, 'routes');
    mkdirSync(dir);
    const journal = `${journalLines()
      .map((l) => JSON.stringify(l))
      .join('\n')}\n`;
    writeFileSync(path.join(dir, 'journal.jsonl'), journal);
    writeFileSync(path.join(dir, 'audit.jsonl'), `${JSON.stringify(journalLines()[0])}\n`);
    const server = await serveDashboard({ dir, port: 0 });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const base = server.url.slice(0, -1);
      for (const route of DASHBOARD_ROUTES) {
        for (const method of METHODS) {
          const abort = new AbortController();
          const response = await fetch(base + route, {
            method,
            signal: abort.signal,
            ...(method === 'POST' || method === 'PUT' || method === 'PATCH'
              ? { body: '{"kind":"mode-request","to":"Normal"}' }
              : {}),
          });
          abort.abort();
          assert.equal(response.status, method === 'GET' || method === 'HEAD' ? 200 : 405, `${method} ${route}`);
        }
      }
      for (const p of [
        '/journal.jsonl',
        '/audit.jsonl',
        '/../journal.jsonl',
        '/api/orders',
        '/api/config',
        '/api/mode',
        '/api/kill',
        '/api/audit',
      ]) {
        for (const method of METHODS) {
          const response = await fetch(base + p, { method });
          assert.equal(response.status, 404, `${method} ${p}`);
        }
      }
      assert.equal(readFileSync(path.join(dir, 'journal.jsonl'), 'utf8'), journal, 'the journal is untouched');
      assert.equal(readFileSync(path.join(dir, 'audit.jsonl'), 'utf8'), `${JSON.stringify(journalLines()[0])}\n`);
    } finally {
      await server.close();
    }
  });

  it('run-pipeline dashboard --out <dir> serves the folder’s numbers until SIGTERM, and refuses a folder that does not exist', async () => {
    const dir = path.join(tmp.dir, 'cli');
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, 'journal.jsonl'),
      `${journalLines()
        .map((l) => JSON.stringify(l))
        .join('\n')}\n`,
    );
    const cli = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');
    const child = spawn(process.execPath, [cli, 'dashboard', '--out', dir, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await eventually(
        () => {
          const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
          assert.ok(m, stderr);
          return m[1]!;
        },
        { timeoutMs: 20_000 },
      );
      const state = (await (await fetch(`${url}api/state`)).json()) as {
        equity: number;
        tradingMode: string;
        counts: { fills: number };
      };
      assert.equal(state.equity, 10_000 - 2003.001 + 0.1 * 20_500);
      assert.equal(state.tradingMode, 'Emergency');
      assert.equal(state.counts.fills, 1);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    const missing = spawnSync(
      process.execPath,
      [cli, 'dashboard', '--out', path.join(tmp.dir, 'nope'), '--port', '0'],
      { encoding: 'utf8' },
    );
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /expected a session folder/);
  });

  it('folds a journal into exact numbers: equity, PnL, fees, position, risk, mode, kill switch, breakers', () => {
    const fold = new DashboardFold();
    for (const line of journalLines()) fold.journal(line);
    const s = fold.state();
    // cash: −2001 − 2.001; position 0.1 marked at the newest price 20,500 (the signal after the fill).
    assert.equal(s.cashFlow, '-2003.001');
    assert.equal(s.fees, '2.001');
    assert.equal(s.equity, 10_000 - 2003.001 + 0.1 * 20_500);
    assert.equal(s.pnl, s.equity! - 10_000);
    assert.deepEqual(s.positions, [{ symbol: 'BTC/USDT', qty: '0.1', mark: 20_500, value: 2_050 }]);
    assert.equal(s.openOrders, 0, 'the fill completed the order');
    assert.deepEqual(s.risk.denials, { BELOW_MIN_NOTIONAL: 1 });
    assert.equal(s.risk.var99, 0.018);
    assert.equal(s.risk.correlation, 0.8);
    assert.equal(s.tradingMode, 'Emergency');
    assert.deepEqual(s.killSwitch, { latched: true, reason: 'kill switch pressed: SIGUSR2' });
    assert.equal(s.breakers['feed:trades']!.state, 'open');
    assert.deepEqual(
      s.equityCurve.map((p) => p[0]),
      [2_000, 3_000, 4_000],
    );
  });
});

// ---- the page in Chromium against a running paper session ----

const FIVE_MINUTES = 300_000;
const CONFIG = taSessionConfig('dashboard-test', { extra: 'journal: { level: all }' });

const kline = klineAround;

interface PageNumbers {
  equity: string;
  pnl: string;
  fees: string;
  fills: string;
  orders: string;
  denied: string;
  positions: string;
  qty: string | null;
  mode: string;
  kill: string;
  audit: string[];
  lines: string;
  error?: string;
  stream?: string;
}

const READ_PAGE = `(() => {
  const v = (id) => document.querySelector('[data-testid="' + id + '"]').dataset.value;
  const row = document.querySelector('[data-testid="positions"] tr[data-qty]');
  return {
    equity: v('equity'), pnl: v('pnl'), fees: v('fees'), fills: v('fills'), orders: v('orders'), denied: v('denied'),
    positions: v('open-positions'), qty: row ? row.dataset.qty : null, mode: v('mode'), kill: v('kill-switch'),
    audit: [...document.querySelectorAll('[data-testid="audit"] li')].map((li) => li.textContent),
    lines: document.body.dataset.lines,
    error: document.body.dataset.error,
    stream: document.body.dataset.stream,
  };
})()`;

/** What the page must show, computed from the journal directly. */
function expectedFromJournal(file: string): {
  fills: number;
  orders: number;
  denied: number;
  fees: string;
  qty: string;
  equity: number;
  mode: string;
  lines: number;
} {
  const lines = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  let fees = 0n;
  let qty = 0n;
  let cash = 0n;
  let mark = 0;
  let mode = 'Normal';
  let initial = 0;
  for (const l of lines) {
    if (l['kind'] === 'session' && initial === 0) initial = l['initialEquity'] as number;
    if (l['kind'] === 'signal' && l['source'] === 'fused') mark = l['price'] as number;
    if (l['kind'] === 'mode-changed') mode = String(l['to']);
    if (l['kind'] !== 'fill') continue;
    const q = toUnits(String(l['qty']));
    const fee = toUnits(String(l['fee']));
    const notional = toUnits(String(l['notional']));
    fees += fee;
    qty += l['side'] === 'buy' ? q : -q;
    cash += (l['side'] === 'buy' ? -notional : notional) - fee;
    mark = Number(l['price']);
  }
  return {
    fills: lines.filter((l) => l['kind'] === 'fill').length,
    orders: lines.filter((l) => l['kind'] === 'order-accepted').length,
    denied: lines.filter((l) => l['kind'] === 'denied').length,
    fees: formatUnits(fees),
    qty: formatUnits(qty),
    equity: initial + Number(formatUnits(cash)) + (Number(qty) / 1e8) * mark,
    mode,
    lines: lines.length,
  };
}

describe('dashboard in headless Chromium against a running paper session', function () {
  this.timeout(180_000);
  let server: BinanceServer;
  let browser: Browser;
  const tmp = tempDir('bot4-dash-session-');

  before(async () => {
    server = await startBinanceServer({});
    browser = await launchChromium(path.join(tmp.dir, 'chromium'));
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    tmp.cleanup();
  });

  it('shows the journal’s numbers (fills, orders, fees, position, equity, mode, kill switch, audit) and follows the session live', async () => {
    const configFile = path.join(tmp.dir, 'session.yaml');
    writeFileSync(configFile, CONFIG);
    await eventually(
      () => assert.ok(Date.now() % FIVE_MINUTES < FIVE_MINUTES - 15_000, 'too close to a 5-minute boundary'),
      {
        timeoutMs: 20_000,
        intervalMs: 500,
      },
    );
    const bucket = Math.floor(Date.now() / FIVE_MINUTES) * FIVE_MINUTES;
    server.setKlines(
      'BTCUSDT',
      '5m',
      Array.from({ length: 120 }, (_, i) => kline(bucket - (120 - i) * FIVE_MINUTES, 20_000 + Math.sin(i / 5) * 50)),
    );
    server.setBook('BTCUSDT', { lastUpdateId: 100, bids: [['19999.00', '5']], asks: [['20001.00', '5']] });
    const log = new PassThrough();
    let logText = '';
    log.on('data', (chunk: Buffer) => (logText += chunk.toString()));
    const stop$ = new Subject<void>();
    const signals = new EventEmitter();
    const outDir = path.join(tmp.dir, 'paper');
    const journalFile = path.join(outDir, 'journal.jsonl');
    const running = runSession({
      mode: 'paper',
      configFile,
      outDir,
      apiUrl: server.url,
      wsUrl: server.url.replace(/^http/, 'ws'),
      warmupBars: 100,
      killSwitch: 'signal',
      signalEmitter: signals as unknown as NodeJS.Process,
      log,
      stop$,
      dashboardPort: 0,
      metricsPort: 0,
    });
    const metric = async (name: string): Promise<number> => {
      const url = /metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(logText)?.[1];
      assert.ok(url, 'no metrics URL in the log');
      const text = await (await fetch(url)).text();
      let sum = 0;
      let found = false;
      for (const l of text.split('\n'))
        if (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) {
          sum += Number(l.slice(l.lastIndexOf(' ') + 1));
          found = true;
        }
      assert.ok(found, `${name} not in /metrics`);
      return sum;
    };
    const pushBars = async (from: number, count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const openTime = bucket + (from + i) * FIVE_MINUTES;
        const price = 20_000 + (from + i + 1) * 40;
        server.pushKline('BTCUSDT', '5m', kline(openTime, price), { final: true });
        server.pushKline('BTCUSDT', '5m', kline(openTime + FIVE_MINUTES, price), { final: false });
        await eventually(
          () =>
            assert.ok(
              readFileSync(journalFile, 'utf8').includes(`"id":"BTC/USDT:5m:${openTime + FIVE_MINUTES}:fused"`),
            ),
          { timeoutMs: 20_000 },
        );
        const book = server.book('BTCUSDT');
        server.pushDepth('BTCUSDT', {
          b: [...book.bids.map(([p]) => [p, '0'] as const), [(price - 1).toFixed(2), '5']],
          a: [...book.asks.map(([p]) => [p, '0'] as const), [(price + 1).toFixed(2), '5']],
        });
        server.pushTrade('BTCUSDT', {
          price: price.toFixed(2),
          qty: '0.01',
          buyerIsMaker: false,
          time: openTime + FIVE_MINUTES + 1,
        });
      }
    };
    let dashboardUrl = '';
    const pageMatchesJournal = async (): Promise<PageNumbers> =>
      eventually(
        async () => {
          const page = await browser.evaluate<PageNumbers>(READ_PAGE);
          const want = expectedFromJournal(journalFile);
          const served = (await (await fetch(`${dashboardUrl}api/state`)).json()) as { lines: number };
          assert.equal(
            Number(page.lines),
            want.lines,
            `the page has read the whole journal (server: ${served.lines} lines; page error: ${page.error ?? 'none'}; stream state ${page.stream})`,
          );
          assert.equal(Number(page.fills), want.fills);
          assert.equal(Number(page.orders), want.orders);
          assert.equal(Number(page.denied), want.denied);
          assert.equal(page.fees, want.fees);
          assert.equal(page.qty ?? formatUnits(0n), want.qty);
          assert.ok(Math.abs(Number(page.equity) - want.equity) < 1e-6, `equity ${page.equity} vs ${want.equity}`);
          assert.equal(page.mode, want.mode);
          return page;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
    try {
      await eventually(() => assert.match(logText, /warm-up done/), { timeoutMs: 30_000 });
      const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(logText)?.[1];
      assert.ok(url, `no dashboard URL in the log: ${logText}`);
      dashboardUrl = url;
      await eventually(
        () => assert.ok(server.subscriberCount('btcusdt@trade') > 0 && server.subscriberCount('btcusdt@kline_5m') > 0),
        { timeoutMs: 30_000 },
      );
      await browser.open(url);
      await pushBars(0, 10);
      await eventually(() => assert.match(logText, /fill: buy/), { timeoutMs: 30_000 });
      const holding = await pageMatchesJournal();
      assert.ok(Number(holding.fills) > 0 && holding.qty !== null, 'the page shows the position');
      assert.equal(holding.kill, 'released');
      // The session's /metrics agree with the journal too.
      assert.equal(await metric('bot4_fills_total'), Number(holding.fills));
      assert.equal(await metric('bot4_mode'), 0);
      assert.equal(await metric('bot4_kill_switch_pressed'), 0);
      if (process.env['BOT4_WRITE_SCREENSHOT'] === '1')
        writeFileSync(path.join(repoRoot, 'docs', 'dashboard.png'), await browser.screenshot());
      // The press: the page follows without a reload.
      signals.emit('SIGUSR2');
      await eventually(() => assert.match(logText, /mode Normal → Emergency/), { timeoutMs: 10_000 });
      await pushBars(10, 2);
      await eventually(() => assert.match(logText, /fill: sell/), { timeoutMs: 30_000 });
      const halted = await pageMatchesJournal();
      assert.equal(halted.mode, 'Emergency');
      assert.equal(halted.kill, 'latched');
      assert.equal(halted.qty, null, 'flat after the press');
      assert.equal(await metric('bot4_fills_total'), Number(halted.fills));
      assert.equal(await metric('bot4_mode'), 3);
      assert.equal(await metric('bot4_kill_switch_pressed'), 1);
      assert.ok((await metric('bot4_stage_latency_seconds_count')) > 0, 'stage latencies measured');
      assert.ok(
        halted.audit.some((line) => /mode Normal → Emergency: kill switch pressed/.test(line)),
        halted.audit.join('\n'),
      );
    } finally {
      stop$.next();
    }
    await running;
  });
});
