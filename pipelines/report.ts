/**
 * `report.html`: one self-contained page a person reads after a backtest or a research run —
 * equity and drawdown against buy-and-hold, the trades on the price chart, per-fold results and
 * the statistics. Charts are uPlot (MIT, ~50 kB, canvas), inlined with its CSS: the file opens
 * offline, loads nothing from the network, and stays small for 65k-bar curves.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { RoundTrip } from '../operators/stats';
import type { SeriesStats } from './researchStats';

export interface ReportData {
  readonly title: string;
  /** Label → value rows: provenance (config hash, data sha256, scheme). */
  readonly provenance: readonly (readonly [string, string])[];
  /** Label → value rows: the headline numbers. */
  readonly summary: readonly (readonly [string, string])[];
  readonly curve: {
    readonly ts: readonly number[];
    readonly equity: readonly number[];
    readonly buyAndHold: readonly number[];
    readonly drawdown: readonly number[];
    readonly close: readonly number[];
  };
  readonly trips: readonly RoundTrip[];
  readonly folds?: { readonly header: readonly string[]; readonly rows: readonly (readonly string[])[] };
  readonly statistics?: readonly SeriesStats[];
  readonly notes?: readonly string[];
}

/** Points drawn per curve at most: a 65k-bar curve is thinned (drawdown keeps each bucket's worst). */
const MAX_POINTS = 6000;

function thin(curve: ReportData['curve']): ReportData['curve'] & { step: number } {
  const n = curve.ts.length;
  const step = Math.max(1, Math.ceil(n / MAX_POINTS));
  if (step === 1) return { ...curve, step };
  const pick = <T>(a: readonly T[]) => a.filter((_, i) => i % step === 0 || i === n - 1);
  const drawdown: number[] = [];
  for (let i = 0; i < n; i += step) {
    let worst = 0;
    for (let k = i; k < Math.min(n, i + step); k++) worst = Math.max(worst, curve.drawdown[k] as number);
    drawdown.push(worst);
  }
  if ((n - 1) % step !== 0) drawdown.push(curve.drawdown[n - 1] as number);
  return {
    ts: pick(curve.ts),
    equity: pick(curve.equity),
    buyAndHold: pick(curve.buyAndHold),
    close: pick(curve.close),
    drawdown,
    step,
  };
}

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

function table(rows: readonly (readonly string[])[], header?: readonly string[]): string {
  const head = header ? `<thead><tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>` : '';
  return `<table>${head}<tbody>${rows.map((r) => `<tr>${r.map((c, i) => (i === 0 && !header ? `<th>${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`)).join('')}</tr>`).join('')}</tbody></table>`;
}

function pValue(p: number): string {
  return p < 1e-16 ? '< 1e-16' : p < 1e-4 ? p.toExponential(2) : p.toFixed(4);
}

function statisticsTable(stats: readonly SeriesStats[]): string {
  const rows = stats.map((s) => {
    const lb = s.ljungBox[s.ljungBox.length - 1];
    const lb2 = s.ljungBoxSquared[s.ljungBoxSquared.length - 1];
    return [
      s.series,
      String(s.n),
      `${s.adf.statistic.toFixed(3)} (p ${pValue(s.adf.pValue)})`,
      `${s.kpss.statistic.toFixed(3)} (p ${s.kpss.pValueBound === 'below' ? '< ' : s.kpss.pValueBound === 'above' ? '> ' : ''}${pValue(s.kpss.pValue)})`,
      `${s.jarqueBera.statistic.toFixed(1)} (p ${pValue(s.jarqueBera.pValue)}; skew ${s.jarqueBera.skewness.toFixed(2)}, kurt ${s.jarqueBera.kurtosis.toFixed(1)})`,
      lb ? `Q(${lb.lag}) ${lb.statistic.toFixed(1)} (p ${pValue(lb.pValue)})` : '-',
      lb2 ? `Q(${lb2.lag}) ${lb2.statistic.toFixed(1)} (p ${pValue(lb2.pValue)})` : '-',
      s.hurst.hurst.toFixed(3),
    ];
  });
  return table(rows, ['series', 'n', 'ADF', 'KPSS', 'Jarque–Bera', 'Ljung–Box', 'Ljung–Box on squares', 'Hurst']);
}

function uplotAsset(file: string): string {
  return readFileSync(path.join(path.dirname(require.resolve('uplot')), file), 'utf8');
}

const CHART_SCRIPT = `
(function () {
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var c = D.curve;
  var ts = c.ts.map(function (t) { return t / 1000; });
  var width = Math.max(600, Math.min(1200, document.body.clientWidth - 40));
  function chart(id, title, series, data, yfmt) {
    var opts = { title: title, width: width, height: 280, scales: { x: { time: true } }, series: [{}].concat(series),
      axes: [{}, { size: 70, values: function (u, v) { return v.map(yfmt); } }] };
    return new uPlot(opts, data, document.getElementById(id));
  }
  var money = function (v) { return v == null ? '' : v.toFixed(0); };
  chart('chart-equity', 'Equity vs buy & hold (same starting capital)',
    [{ label: 'strategy', stroke: '#1f5fbf', width: 1.5 }, { label: 'buy & hold', stroke: '#999', width: 1 }],
    [ts, c.equity, c.buyAndHold], money);
  chart('chart-drawdown', 'Drawdown of the strategy',
    [{ label: 'drawdown', stroke: '#c0392b', fill: 'rgba(192,57,43,0.15)' }],
    [ts, c.drawdown.map(function (d) { return -100 * d; })], function (v) { return v == null ? '' : v.toFixed(1) + ' %'; });
  var entries = ts.map(function () { return null; });
  var exits = ts.map(function () { return null; });
  function nearest(t) {
    var lo = 0, hi = ts.length - 1;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (ts[mid] < t) lo = mid + 1; else hi = mid; }
    return lo;
  }
  D.trips.forEach(function (tr) {
    entries[nearest(tr.tsOpen / 1000)] = tr.entryPrice;
    exits[nearest(tr.tsClose / 1000)] = tr.exitPrice;
  });
  var none = function () { return null; };
  chart('chart-trades', 'Price with entries (green) and exits (red)',
    [{ label: 'close', stroke: '#444', width: 1 },
     { label: 'entry', stroke: '#1e8449', fill: '#1e8449', paths: none, points: { show: true, size: 7, fill: '#1e8449' } },
     { label: 'exit', stroke: '#c0392b', fill: '#c0392b', paths: none, points: { show: true, size: 7, fill: '#c0392b' } }],
    [ts, c.close, entries, exits], function (v) { return v == null ? '' : v.toPrecision(5); });
  document.body.setAttribute('data-charts-rendered', String(document.querySelectorAll('canvas').length));
})();
`;

export function renderReportHtml(data: ReportData): string {
  const curve = thin(data.curve);
  const payload = JSON.stringify({ curve, trips: data.trips }).replace(/</g, '\\u003c');
  const notes = [
    ...(data.notes ?? []),
    ...(curve.step > 1
      ? [
          `Curves drawn with every ${curve.step}th bar (drawdown keeps the worst bar of each step); the JSON result has every bar.`,
        ]
      : []),
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}</title>
<style>${uplotAsset('uPlot.min.css')}</style>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 20px; color: #222; max-width: 1240px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; font-variant-numeric: tabular-nums; }
thead th { background: #f3f3f3; } .grid { display: flex; gap: 24px; flex-wrap: wrap; } .note { color: #666; font-size: 12px; }
</style>
</head>
<body>
<h1>${escapeHtml(data.title)}</h1>
<div class="grid"><div><h2>Result</h2>${table(data.summary)}</div><div><h2>Provenance</h2>${table(data.provenance)}</div></div>
<h2>Equity and drawdown</h2>
<div id="chart-equity"></div>
<div id="chart-drawdown"></div>
<h2>Trades</h2>
<div id="chart-trades"></div>
${data.folds ? `<h2>Folds</h2><div id="folds">${table(data.folds.rows, data.folds.header)}</div>` : ''}
${data.statistics?.length ? `<h2>Statistics</h2><div id="statistics">${statisticsTable(data.statistics)}</div><p class="note">ADF: H0 unit root. KPSS: H0 level-stationary (p clipped to [0.01, 0.10]). Jarque–Bera: H0 normal. Ljung–Box: H0 no autocorrelation (on squares: no ARCH effects). Hurst ≈ 0.5: no memory.</p>` : ''}
${notes.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('\n')}
<script type="application/json" id="report-data">${payload}</script>
<script>${uplotAsset('uPlot.iife.min.js')}</script>
<script>${CHART_SCRIPT}</script>
</body>
</html>
`;
}

export function writeReportHtml(file: string, data: ReportData): void {
  writeFileSync(file, renderReportHtml(data), { mode: 0o640 });
}
