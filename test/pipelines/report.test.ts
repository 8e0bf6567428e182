/**
 * report.html opened in headless Chromium the way a person would: every chart canvas has pixels
 * drawn, the console shows no error, and the page requests nothing from the network. A control
 * page with a broken script shows the harness does see errors.
 */
import { equal, ok } from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runBacktest } from '../../pipelines/backtest';
import { writeReportHtml } from '../../pipelines/report';
import { walkForwardReport } from '../../pipelines/reportWalkForward';
import { parameterGrid } from '../../pipelines/researchConfig';
import { runWalkForward } from '../../pipelines/researchWalkForward';
import { eventually } from '../support/eventually';
import { chromiumPath, openPage, type PageSession } from '../support/headlessChromium';
import { repoRoot, requireSharedData } from '../support/sharedData';
import { tempDir } from '../support/tmp';

const CLI = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');

/** Per canvas: how many pixels differ from the first pixel (a blank canvas has none). */
const CANVAS_INK = `Array.from(document.querySelectorAll('canvas')).map(function (c) {
  var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, ink = 0;
  for (var i = 4; i < d.length; i += 4) if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2] || d[i + 3] !== d[3]) ink++;
  return ink;
})`;

async function expectRendered(page: PageSession, charts: number): Promise<void> {
  const ink = await eventually(
    async () => {
      const v = await page.evaluate<number[]>(CANVAS_INK);
      equal(v.length, charts, `canvases: ${v.length}`);
      ok(
        v.every((n) => n > 1000),
        `ink per canvas ${v.join(', ')}`,
      );
      return v;
    },
    { timeoutMs: 15_000, intervalMs: 50 },
  );
  ok(ink.length === charts);
  equal(page.errors.length, 0, page.errors.join('\n'));
  equal(page.externalRequests.length, 0, page.externalRequests.join('\n'));
}

describe('report.html in headless Chromium', function () {
  this.timeout(600_000);
  const tmp = tempDir();
  let data: string;

  before(function () {
    if (!chromiumPath()) {
      if (process.env['CI']) throw new Error('chromium missing: .ci/run must call scripts/install-chromium.sh');
      this.skip();
    }
    data = requireSharedData(this, 'candles/binance_spot_BTCUSDT_5m_nfi.csv');
  });
  after(() => tmp.cleanup());

  it('the harness sees console errors, exceptions and network requests (control page)', async () => {
    const file = path.join(tmp.dir, 'broken.html');
    writeFileSync(
      file,
      `<!doctype html><body><script>console.error('drawn nothing'); missingFunction();</script><img src="http://127.0.0.1:9/x.png"></body>`,
    );
    const page = await openPage(pathToFileURL(file).href);
    try {
      await eventually(() => ok(page.errors.length >= 2, page.errors.join('\n')), { timeoutMs: 10_000 });
      ok(page.externalRequests.some((u) => u.startsWith('http://127.0.0.1:9/')));
    } finally {
      await page.close();
    }
  });

  it('a backtest writes its own report.html (and research report <dir> rewrites it): equity, drawdown and trades drawn with no console error', async () => {
    const outDir = path.join(tmp.dir, 'bt');
    const result = await runBacktest({
      configFile: path.join(repoRoot, 'config', 'growth.yaml'),
      dataFile: data,
      outDir,
      from: Date.parse('2021-04-01T00:00:00Z'),
      until: Date.parse('2021-04-08T00:00:00Z'),
    });
    equal(result.htmlFile, path.join(outDir, 'report.html'));
    const written = readFileSync(path.join(outDir, 'report.html'), 'utf8');
    const r = spawnSync(process.execPath, [CLI, 'research', 'report', outDir], { encoding: 'utf8' });
    equal(r.status, 0, r.stderr);
    const html = readFileSync(path.join(outDir, 'report.html'), 'utf8');
    equal(html, written, 'the backtest and research report write the same page from the same run');
    ok(!/<script[^>]+src=|<link[^>]+href=/i.test(html), 'no external script or stylesheet');
    const page = await openPage(pathToFileURL(path.join(outDir, 'report.html')).href);
    try {
      await expectRendered(page, 3);
      const text = await page.evaluate<string>('document.body.innerText');
      ok(/buy & hold/.test(text) && /Jarque–Bera/.test(text), 'summary and statistics are on the page');
    } finally {
      await page.close();
    }
  });

  it('a walk-forward report draws its charts and lists every fold', async () => {
    const result = await runWalkForward({
      configFile: path.join(repoRoot, 'config', 'survival.yaml'),
      dataFile: data,
      from: Date.parse('2021-02-01'),
      until: Date.parse('2021-02-20'),
      candidates: parameterGrid(['signals.ta.threshold=0.3,0.6']),
      folds: 2,
      trainFraction: 0.4,
      outDir: path.join(tmp.dir, 'wf'),
    });
    const file = path.join(tmp.dir, 'wf', 'report.html');
    writeReportHtml(file, walkForwardReport(result));
    const page = await openPage(pathToFileURL(file).href);
    try {
      await expectRendered(page, 3);
      const folds = await page.evaluate<number>("document.querySelectorAll('#folds tbody tr').length");
      equal(folds, 2);
      if (process.env['BOT4_REPORT_SCREENSHOT']) await page.screenshot(process.env['BOT4_REPORT_SCREENSHOT']);
    } finally {
      await page.close();
    }
  });

  it('a universe backtest (7 symbols) writes a page that draws the first symbol’s price and every chart', async () => {
    const candles = path.dirname(data);
    const outDir = path.join(tmp.dir, 'bt7');
    const result = await runBacktest({
      configFile: path.join(repoRoot, 'config', 'portfolio-7.yaml'),
      dataFile: [candles],
      outDir,
      from: Date.parse('2021-04-01T00:00:00Z'),
      until: Date.parse('2021-04-15T00:00:00Z'),
    });
    ok(result.htmlFile);
    const page = await openPage(pathToFileURL(result.htmlFile).href);
    try {
      await expectRendered(page, 3);
      const text = await page.evaluate<string>('document.body.innerText');
      ok(
        /BTC\/USDT, LTC\/USDT/.test(text) && /market \(BTC\/USDT\)/.test(text),
        'the symbols and the charted one are named',
      );
    } finally {
      await page.close();
    }
  });
});
