/**
 * The read-only dashboard (spec §7.8): an HTTP server on 127.0.0.1 that follows a session's
 * `journal.jsonl` and `audit.jsonl` and shows, live, PnL and the equity curve, open positions,
 * risk numbers, mode and kill switch, breakers, system health and recent audit events.
 *
 * Read-only by construction: the server has exactly the routes in {@link DASHBOARD_ROUTES}, all
 * GET (and HEAD); it opens the journals read-only, holds no handle to the session, the venue or
 * the config, and so has nothing it could place, cancel, change or delete. Any other method is
 * 405 and any other path 404.
 *
 * Updates: the files are watched (inotify via `fs.watch`, plus a poll as a fallback); new lines
 * are folded (`DashboardFold`) and the new state is pushed to the page over Server-Sent Events.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Bot4Error } from '../operators/errors';
import { DashboardFold, type DashboardState } from './dashboardState';

/** Every route the dashboard serves; every one is GET/HEAD only. */
export const DASHBOARD_ROUTES = ['/', '/api/state', '/api/events'] as const;

/** System health as the hosting process sees it (only when the dashboard runs inside the session). */
export interface DashboardHealth {
  readonly cpuPercent: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** p99 of the per-bar decision, seconds, when the metrics measure it. */
  readonly decisionP99Seconds: number | null;
}

export interface DashboardConfig {
  /** The session's output folder (holds journal.jsonl and audit.jsonl). */
  readonly dir: string;
  /** Address to bind. Default 127.0.0.1. */
  readonly host?: string;
  /** Port; 0 picks a free one. */
  readonly port: number;
  /** Fallback poll period of the files, ms. Default 500. */
  readonly pollMs?: number;
  /** Health of the session process, when the dashboard runs inside it. */
  readonly health?: () => DashboardHealth;
}

export interface DashboardView extends DashboardState {
  readonly health:
    | (DashboardHealth & { readonly journalAgeSeconds: number | null })
    | { readonly journalAgeSeconds: number | null };
}

export interface DashboardServer {
  readonly url: string;
  /** The state as served now. */
  view(): DashboardView;
  close(): Promise<void>;
}

export class DashboardError extends Bot4Error<'DASHBOARD_DIR' | 'DASHBOARD_LISTEN'> {
  constructor(code: 'DASHBOARD_DIR' | 'DASHBOARD_LISTEN', message: string, cause?: unknown) {
    super(code, 'dashboard', message, cause === undefined ? undefined : { cause });
  }
}

/** Follows a file that is only appended to; calls `onLine` with each complete new line. */
class FileTail {
  private offset = 0;
  private rest = '';

  constructor(
    private readonly file: string,
    private readonly onLine: (line: string) => void,
  ) {}

  /** Reads what was appended since the last call; true if there were new lines. */
  poll(): boolean {
    if (!existsSync(this.file)) return false;
    const fd = openSync(this.file, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) {
        this.offset = 0;
        this.rest = '';
      }
      if (size === this.offset) return false;
      const buffer = Buffer.alloc(size - this.offset);
      let read = 0;
      while (read < buffer.length) {
        const n = readSync(fd, buffer, read, buffer.length - read, this.offset + read);
        if (n === 0) break;
        read += n;
      }
      this.offset += read;
      const text = this.rest + buffer.toString('utf8', 0, read);
      const lines = text.split('\n');
      this.rest = lines.pop() ?? '';
      let any = false;
      for (const line of lines) {
        if (line.length === 0) continue;
        this.onLine(line);
        any = true;
      }
      return any;
    } finally {
      closeSync(fd);
    }
  }
}

/** Starts the dashboard on `config.dir`; resolves once listening. */
export async function serveDashboard(config: DashboardConfig): Promise<DashboardServer> {
  const dir = path.resolve(config.dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new DashboardError(
      'DASHBOARD_DIR',
      `dashboard: --out ${config.dir}: expected a session folder, found no folder there`,
    );
  const journalFile = path.join(dir, 'journal.jsonl');
  const auditFile = path.join(dir, 'audit.jsonl');
  const fold = new DashboardFold();
  let badLines = 0;
  const parse = (line: string): Record<string, unknown> | undefined => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      badLines++;
      return undefined;
    }
  };
  const journal = new FileTail(journalFile, (line) => {
    const value = parse(line);
    if (value) fold.journal(value);
  });
  const audit = new FileTail(auditFile, (line) => {
    const value = parse(line);
    if (value) fold.auditLine(value);
  });
  const clients = new Set<http.ServerResponse>();

  const view = (): DashboardView => {
    const state = fold.state();
    const journalAgeSeconds = existsSync(journalFile)
      ? Math.max(0, (Date.now() - statSync(journalFile).mtimeMs) / 1000)
      : null;
    return {
      ...state,
      health: { ...(config.health ? config.health() : {}), journalAgeSeconds },
      ...(badLines > 0 ? { badLines } : {}),
    };
  };
  const refresh = (): void => {
    const journalChanged = journal.poll();
    const auditChanged = audit.poll();
    const changed = journalChanged || auditChanged;
    if (!changed || clients.size === 0) return;
    const message = `data: ${JSON.stringify(view())}\n\n`;
    for (const client of clients) client.write(message);
  };
  refresh();

  const server = http.createServer((request, response) => {
    const url = (request.url ?? '/').split('?')[0] ?? '/';
    const route = (DASHBOARD_ROUTES as readonly string[]).includes(url) ? url : undefined;
    if (route === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        .end('the dashboard is read-only\n');
      return;
    }
    const head = request.method === 'HEAD';
    const headers = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    switch (route) {
      case '/':
        response.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' });
        response.end(head ? undefined : PAGE);
        return;
      case '/api/state':
        refresh();
        response.writeHead(200, { ...headers, 'content-type': 'application/json' });
        response.end(head ? undefined : JSON.stringify(view()));
        return;
      default: {
        response.writeHead(200, { ...headers, 'content-type': 'text/event-stream', connection: 'keep-alive' });
        if (head) {
          response.end();
          return;
        }
        refresh();
        response.write(`data: ${JSON.stringify(view())}\n\n`);
        clients.add(response);
        request.on('close', () => clients.delete(response));
      }
    }
  });
  const host = config.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new DashboardError(
          'DASHBOARD_LISTEN',
          `dashboard: cannot listen on ${host}:${config.port}: ${err.message}`,
          err,
        ),
      ),
    );
    server.listen(config.port, host, () => resolve());
  });
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, () => refresh());
  } catch {
    watcher = undefined; // the poll below still follows the files
  }
  const timer = setInterval(refresh, config.pollMs ?? 500);
  timer.unref();
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}/`,
    view,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        watcher?.close();
        for (const client of clients) client.end();
        clients.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The page: one file, no external resources (works offline, nothing to inject). */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>bot4 dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { color-scheme: dark; --bg:#0f1419; --card:#182028; --line:#263241; --fg:#d9e1e8; --dim:#8a99a8; --green:#3fb950; --yellow:#d29922; --red:#f85149; --blue:#58a6ff; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, sans-serif; background:var(--bg); color:var(--fg); }
  header { display:flex; gap:16px; align-items:center; padding:12px 20px; border-bottom:1px solid var(--line); flex-wrap:wrap; }
  header h1 { font-size:18px; margin:0; }
  .badge { padding:3px 10px; border-radius:12px; font-weight:600; }
  .Normal { background:#1f3b2a; color:var(--green); } .Paused, .Reduced { background:#3b321a; color:var(--yellow); } .Emergency, .latched { background:#4a1f1f; color:var(--red); } .released { background:#1f3b2a; color:var(--green); }
  .dim { color:var(--dim); }
  main { display:grid; grid-template-columns: repeat(12, 1fr); gap:12px; padding:16px 20px; }
  section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
  section h2 { font-size:12px; text-transform:uppercase; letter-spacing:.06em; color:var(--dim); margin:0 0 8px; }
  .kpis { grid-column: span 12; display:grid; grid-template-columns: repeat(6, 1fr); gap:12px; background:none; border:0; padding:0; }
  .kpi { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 14px; }
  .kpi .v { font-size:22px; font-weight:600; font-variant-numeric: tabular-nums; }
  .pos { color:var(--green); } .neg { color:var(--red); }
  .chart { grid-column: span 8; } .risk { grid-column: span 4; } .positions { grid-column: span 6; } .breakers { grid-column: span 6; } .health { grid-column: span 4; } .audit { grid-column: span 8; }
  table { width:100%; border-collapse:collapse; font-variant-numeric: tabular-nums; }
  td, th { text-align:left; padding:4px 6px; border-bottom:1px solid var(--line); }
  th { color:var(--dim); font-weight:500; }
  svg { width:100%; height:220px; display:block; }
  ol { margin:0; padding-left:0; list-style:none; max-height:220px; overflow:auto; }
  li { padding:3px 0; border-bottom:1px solid var(--line); }
</style>
</head>
<body>
<header>
  <h1>bot4 <span id="name" class="dim"></span></h1>
  <span id="mode" class="badge" data-testid="mode"></span>
  <span id="kill" class="badge" data-testid="kill-switch"></span>
  <span class="dim" id="meta"></span>
  <span class="dim" style="margin-left:auto">read-only · <span id="updated" data-testid="updated"></span></span>
</header>
<main>
  <div class="kpis">
    <div class="kpi"><div class="dim">Equity</div><div class="v" data-testid="equity"></div></div>
    <div class="kpi"><div class="dim">PnL</div><div class="v" data-testid="pnl"></div></div>
    <div class="kpi"><div class="dim">Fees</div><div class="v" data-testid="fees"></div></div>
    <div class="kpi"><div class="dim">Open positions</div><div class="v"><span data-testid="open-positions"></span> · <span data-testid="open-value"></span></div></div>
    <div class="kpi"><div class="dim">Open orders</div><div class="v" data-testid="open-orders"></div></div>
    <div class="kpi"><div class="dim">Fills · orders · denied</div><div class="v"><span data-testid="fills"></span> · <span data-testid="orders"></span> · <span data-testid="denied"></span></div></div>
  </div>
  <section class="chart"><h2>Equity curve</h2><svg id="curve" viewBox="0 0 800 220" preserveAspectRatio="none" data-testid="curve"></svg><div class="dim" id="curve-range"></div></section>
  <section class="risk"><h2>Risk</h2><table>
    <tr><th>Drawdown</th><td data-testid="drawdown"></td></tr>
    <tr><th>VaR 99 % 1-day</th><td data-testid="var99"></td></tr>
    <tr><th>Portfolio heat</th><td data-testid="heat"></td></tr>
    <tr><th>Volatility (ann.)</th><td data-testid="volatility"></td></tr>
    <tr><th>Correlation</th><td data-testid="correlation"></td></tr>
    <tr><th>Denials</th><td data-testid="denials"></td></tr>
  </table></section>
  <section class="positions"><h2>Open positions</h2><table><thead><tr><th>Symbol</th><th>Qty</th><th>Mark</th><th>Value</th></tr></thead><tbody id="positions" data-testid="positions"></tbody></table></section>
  <section class="breakers"><h2>Circuit breakers</h2><table><thead><tr><th>Component</th><th>State</th><th>Why</th></tr></thead><tbody id="breakers" data-testid="breakers"></tbody></table></section>
  <section class="health"><h2>System health</h2><table>
    <tr><th>CPU</th><td data-testid="cpu"></td></tr>
    <tr><th>Memory (RSS · heap)</th><td data-testid="memory"></td></tr>
    <tr><th>Decision p99</th><td data-testid="latency"></td></tr>
    <tr><th>Journal last written</th><td data-testid="journal-age"></td></tr>
  </table></section>
  <section class="audit"><h2>Recent audit events</h2><ol id="audit" data-testid="audit"></ol></section>
</main>
<script>
"use strict";
const $ = (id) => document.querySelector('[data-testid="' + id + '"]');
const num = (v, d = 2) => (v === null || v === undefined ? '—' : Number(v).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const pct = (v) => (v === null || v === undefined ? '—' : (100 * v).toFixed(2) + ' %');
function set(id, text, value) { const el = $(id); el.textContent = text; el.dataset.value = value === undefined || value === null ? '' : String(value); }
function esc(s) { return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]); }
function render(s) {
  document.getElementById('name').textContent = s.session ? s.session.name + ' · ' + s.session.mode : '(no session yet)';
  document.getElementById('meta').textContent = s.session ? s.session.venue + ' ' + s.session.symbol + ' · config ' + s.session.hash : '';
  const mode = $('mode'); mode.textContent = s.tradingMode; mode.className = 'badge ' + s.tradingMode; mode.dataset.value = s.tradingMode;
  const kill = $('kill-switch'); kill.textContent = s.killSwitch.latched ? 'KILL SWITCH LATCHED' : 'kill switch released';
  kill.className = 'badge ' + (s.killSwitch.latched ? 'latched' : 'released'); kill.dataset.value = s.killSwitch.latched ? 'latched' : 'released';
  set('updated', s.lastEventAt ? 'last event ' + new Date(s.lastEventAt).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : 'no events', s.lastEventAt);
  set('equity', num(s.equity), s.equity);
  const pnl = $('pnl'); set('pnl', (s.pnl > 0 ? '+' : '') + num(s.pnl), s.pnl); pnl.className = 'v ' + (s.pnl > 0 ? 'pos' : s.pnl < 0 ? 'neg' : '');
  set('fees', s.fees, s.fees);
  set('open-positions', String(s.positions.length), s.positions.length);
  set('open-value', num(s.openPositionsValue), s.openPositionsValue);
  set('open-orders', String(s.openOrders), s.openOrders);
  set('fills', String(s.counts.fills), s.counts.fills); set('orders', String(s.counts.orders), s.counts.orders); set('denied', String(s.counts.denied), s.counts.denied);
  set('drawdown', pct(s.risk.drawdown), s.risk.drawdown); set('var99', pct(s.risk.var99), s.risk.var99); set('heat', num(s.risk.heat, 4), s.risk.heat);
  set('volatility', pct(s.risk.volatility), s.risk.volatility); set('correlation', num(s.risk.correlation, 2), s.risk.correlation);
  set('denials', Object.entries(s.risk.denials).map(([k, v]) => k + ' ' + v).join(', ') || 'none', JSON.stringify(s.risk.denials));
  $('positions').innerHTML = s.positions.map((p) => '<tr data-symbol="' + esc(p.symbol) + '" data-qty="' + esc(p.qty) + '"><td>' + esc(p.symbol) + '</td><td>' + esc(p.qty) + '</td><td>' + num(p.mark) + '</td><td>' + num(p.value) + '</td></tr>').join('') || '<tr><td colspan="4" class="dim">flat</td></tr>';
  $('breakers').innerHTML = Object.entries(s.breakers).map(([c, b]) => '<tr data-component="' + esc(c) + '" data-state="' + esc(b.state) + '"><td>' + esc(c) + '</td><td>' + esc(b.state) + '</td><td class="dim">' + esc(b.reason) + '</td></tr>').join('') || '<tr><td colspan="3" class="dim">all closed</td></tr>';
  const h = s.health || {};
  set('cpu', h.cpuPercent === undefined ? 'n/a (dashboard outside the session)' : h.cpuPercent.toFixed(1) + ' %', h.cpuPercent);
  set('memory', h.rssBytes === undefined ? 'n/a' : (h.rssBytes / 1048576).toFixed(0) + ' MB · ' + (h.heapUsedBytes / 1048576).toFixed(0) + ' MB', h.rssBytes);
  set('latency', h.decisionP99Seconds === undefined || h.decisionP99Seconds === null ? 'n/a' : (h.decisionP99Seconds * 1e6).toFixed(0) + ' µs', h.decisionP99Seconds);
  set('journal-age', h.journalAgeSeconds === null || h.journalAgeSeconds === undefined ? 'no journal' : h.journalAgeSeconds.toFixed(0) + ' s ago', h.journalAgeSeconds);
  $('audit').innerHTML = s.audit.map((a) => '<li data-kind="' + esc(a.kind) + '"><span class="dim">' + new Date(a.tsEvent).toISOString().slice(0, 19).replace('T', ' ') + '</span> ' + esc(a.text) + '</li>').join('');
  $('audit').dataset.value = String(s.audit.length);
  drawCurve(s.equityCurve);
  document.body.dataset.lines = String(s.lines);
}
function drawCurve(points) {
  const svg = document.getElementById('curve');
  svg.dataset.value = String(points.length);
  if (points.length < 2) { svg.innerHTML = ''; document.getElementById('curve-range').textContent = ''; return; }
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = (x) => ((x - x0) / Math.max(1, x1 - x0)) * 790 + 5, sy = (y) => 215 - ((y - y0) / Math.max(1e-9, y1 - y0)) * 210;
  const d = points.map((p, i) => (i ? 'L' : 'M') + sx(p[0]).toFixed(1) + ' ' + sy(p[1]).toFixed(1)).join(' ');
  svg.innerHTML = '<path d="' + d + '" fill="none" stroke="#58a6ff" stroke-width="2" vector-effect="non-scaling-stroke"/>';
  document.getElementById('curve-range').textContent = 'min ' + num(y0) + ' · max ' + num(y1) + ' · ' + points.length + ' points';
}
// The event stream sends the whole state on connect and after every change; a state older than
// the one shown (fewer journal lines) is ignored, so a late answer never takes the page back.
let shown = -1;
function show(s) {
  if (s.lines < shown) return;
  try {
    render(s);
    shown = s.lines;
    delete document.body.dataset.error;
  } catch (err) {
    document.body.dataset.error = String(err && err.stack || err);
  }
}
const events = new EventSource('/api/events');
events.onmessage = (e) => show(JSON.parse(e.data));
// While the stream is down (it reconnects by itself), poll.
setInterval(() => {
  document.body.dataset.stream = String(events.readyState);
  if (events.readyState !== EventSource.OPEN) fetch('/api/state').then((r) => r.json()).then(show, () => {});
}, 2000);
</script>
</body>
</html>
`;
