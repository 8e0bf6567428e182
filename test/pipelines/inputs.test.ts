/**
 * Issue 10, "inputs that cannot lie": every plausible mistake with data, config, options and output
 * folders is fed through the real CLI, as a user would, and must end with a non-zero exit code and
 * a message naming what was wrong — or, where the issue asks for it, a loud warning.
 */
import { equal, match, notEqual, ok } from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Bar } from '../../operators/types';
import { eventually } from '../support/eventually';
import { randomWalkBars } from '../support/fixtures';
import { repoRoot } from '../support/sharedData';
import { tempDir, writeBarsCsv } from '../support/tmp';

const CLI = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');
const SURVIVAL = path.join(repoRoot, 'config', 'survival.yaml');

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runCli(args: string[], cwd: string): Run {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function rows(bars: readonly Bar[]): string[] {
  return bars.map((b) => `${b.tsOpen},${b.open},${b.high},${b.low},${b.close},${b.volume}`);
}

/** A survival config with one line replaced (the line must exist). */
function survivalWith(dir: string, name: string, from: string | RegExp, to: string): string {
  const text = readFileSync(SURVIVAL, 'utf8');
  ok(typeof from === 'string' ? text.includes(from) : from.test(text), `survival.yaml has no ${String(from)}`);
  const file = path.join(dir, name);
  writeFileSync(file, text.replace(from, to));
  return file;
}

describe('inputs that cannot lie (issue 10), through the CLI', function () {
  this.timeout(180_000);
  const tmp = tempDir();
  const bars = randomWalkBars(1500, { seed: 5 });
  // Named for its symbol: a file without a header line is identified by its name or --symbol.
  const data = path.join(tmp.dir, 'BTCUSDT_5m.csv');
  const header = 'timestamp_ms,open,high,low,close,volume';

  before(() => writeBarsCsv(data, bars));
  after(() => tmp.cleanup());

  const backtest = (csv: string, ...extra: string[]): Run =>
    runCli(
      ['backtest', '--config', SURVIVAL, '--data', csv, '--quiet', '--out', path.join(tmp.dir, 'out'), ...extra],
      tmp.dir,
    );

  describe('data', () => {
    it('refuses coarser data than the config timeframe, naming both timeframes', () => {
      const hourly = path.join(tmp.dir, 'hourly.csv');
      writeBarsCsv(hourly, randomWalkBars(300, { seed: 6, timeframe: '1h' }));
      const result = backtest(hourly);
      equal(result.status, 1);
      match(result.stderr, /the rows are 1h bars .* but the config's timeframe is 5m/);
    });

    it('refuses a file whose header names another symbol or timeframe, and a --symbol that is not the config', () => {
      const ada = path.join(tmp.dir, 'ada.csv');
      writeFileSync(
        ada,
        `# exchange=binance symbol=ADA/USDT timeframe=5m source=ccxt.fetchOHLCV\n${header}\n${rows(bars).join('\n')}\n`,
      );
      const byHeader = backtest(ada);
      equal(byHeader.status, 1);
      match(byHeader.stderr, /symbol: the file header says ADA\/USDT, but the config trades BTC\/USDT/);

      const hourlyHeader = path.join(tmp.dir, 'tf-header.csv');
      writeFileSync(hourlyHeader, `# symbol=BTC/USDT timeframe=1h\n${header}\n${rows(bars).join('\n')}\n`);
      const byTimeframe = backtest(hourlyHeader);
      equal(byTimeframe.status, 1);
      match(byTimeframe.stderr, /timeframe: the file header says 1h, but the config trades 5m/);

      const stated = backtest(data, '--symbol', 'ETH/USDT');
      equal(stated.status, 1);
      match(stated.stderr, /symbol: --symbol says ETH\/USDT, but the config trades BTC\/USDT/);
    });

    it('accepts a file whose header matches, without the no-header warning', () => {
      const good = path.join(tmp.dir, 'good.csv');
      writeFileSync(good, `# exchange=binance symbol=BTC/USDT timeframe=5m\n${header}\n${rows(bars).join('\n')}\n`);
      const result = backtest(good);
      equal(result.status, 0, result.stderr);
      ok(!/warning/.test(result.stderr), result.stderr);
    });

    it('refuses a file that says nothing about its symbol (no header line, no --symbol, a name without it); --symbol or the name identify it', () => {
      const cheap = path.join(tmp.dir, 'cheap.csv');
      writeBarsCsv(cheap, randomWalkBars(1500, { seed: 5, price: 0.5 }));
      const refused = backtest(cheap);
      equal(refused.status, 1);
      match(
        refused.stderr,
        /cheap\.csv: 1 problem\n\s+the file does not say which instrument it holds .*its name does not name BTCUSDT.*state it with --symbol BTC\/USDT --timeframe 5m/,
      );
      const stated = backtest(cheap, '--symbol', 'BTC/USDT', '--timeframe', '5m');
      equal(stated.status, 0, stated.stderr);
      match(stated.stderr, /warning: .*median close 0\.\d+ is far outside BTC\/USDT's known range/);
      const byName = backtest(data);
      equal(byName.status, 0, byName.stderr);
      match(
        byName.stderr,
        /warning: .*BTCUSDT_5m\.csv has no "# exchange=… symbol=… timeframe=…" line: taking it as BTC\/USDT from its name/,
      );
    });

    it('rejects zero prices and inconsistent OHLC with line and column', () => {
      const lines = rows(bars.slice(0, 50));
      lines[9] = `${bars[9]!.tsOpen},0,0,0,0,0`;
      const b = bars[20]!;
      lines[20] = `${b.tsOpen},${b.open},${Math.max(b.open, b.close) - 1},${b.low},${b.close},${b.volume}`;
      const bad = path.join(tmp.dir, 'zero.csv');
      writeFileSync(bad, `${header}\n${lines.join('\n')}\n`);
      const result = backtest(bad);
      equal(result.status, 1);
      match(result.stderr, /line 11, column open: expected a positive price, found 0/);
      match(result.stderr, /line 22, column high: expected high ≥ max\(open, close\)/);
    });

    it('refuses an outlier close by default and keeps it with --keep-outliers, loudly', () => {
      const lines = rows(bars);
      const b = bars[700]!;
      const close = b.close * 1000;
      lines[700] = `${b.tsOpen},${b.open},${close},${b.low},${close},${b.volume}`;
      const spiked = path.join(tmp.dir, 'spike.csv');
      writeFileSync(spiked, `${header}\n${lines.join('\n')}\n`);
      const refused = backtest(spiked);
      equal(refused.status, 1);
      match(refused.stderr, /line 702, column (high|close): outlier: expected a price within ×3 of the previous close/);
      match(refused.stderr, /--keep-outliers/);
      const kept = backtest(spiked, '--keep-outliers', '--symbol', 'BTC/USDT');
      equal(kept.status, 0, kept.stderr);
      match(kept.stderr, /warning: .*kept 1 outlier row\(s\) \(--keep-outliers\): line 702/);
      match(kept.stdout, /1 bad rows\/messages/);
    });
  });

  describe('output folder', () => {
    it('keeps the previous run when a run is interrupted, and says so', async () => {
      const out = path.join(tmp.dir, 'interrupted');
      const long = path.join(tmp.dir, 'long_BTCUSDT.csv');
      writeBarsCsv(long, randomWalkBars(60_000, { seed: 8 }));
      const first = runCli(['backtest', '-c', SURVIVAL, '-d', data, '-q', '-o', out], tmp.dir);
      equal(first.status, 0, first.stderr);
      const report = readFileSync(path.join(out, 'report.json'), 'utf8');
      const journal = readFileSync(path.join(out, 'journal.jsonl'), 'utf8');
      const page = readFileSync(path.join(out, 'report.html'), 'utf8');

      const child = spawn(process.execPath, [CLI, 'backtest', '-c', SURVIVAL, '-d', long, '-o', out], { cwd: tmp.dir });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // Interrupt once the run is under way (its journal has started under a temporary name), as
      // Ctrl-C would. (The progress bar is drawn only on a terminal, not into this pipe.)
      await eventually(
        () =>
          ok(
            readdirSync(out).some(
              (f) =>
                !['journal.jsonl', 'report.json', 'report.html'].includes(f) && statSync(path.join(out, f)).size > 0,
            ),
          ),
        { timeoutMs: 120_000, intervalMs: 20 },
      );
      child.kill('SIGINT');
      equal(await exited, 130, stderr);
      match(
        stderr,
        /interrupted after \d+ of 60000 bars: the previous run's journal\.jsonl and report\.json .* kept unchanged/,
      );
      equal(readFileSync(path.join(out, 'report.json'), 'utf8'), report);
      equal(readFileSync(path.join(out, 'journal.jsonl'), 'utf8'), journal);
      equal(readFileSync(path.join(out, 'report.html'), 'utf8'), page, 'the page is written only when a run completes');
      equal(readdirSync(out).sort().join(','), 'journal.jsonl,report.html,report.json', 'no partial file left behind');
    });

    it('fails clearly and quickly for an --out under /proc, a file, or a read-only folder', () => {
      const proc = backtest(data, '--out', '/proc/bot4/out');
      equal(proc.status, 1);
      match(proc.stderr, /--out \/proc\/bot4\/out: expected a folder this user can write into, but/);

      const file = path.join(tmp.dir, 'a-file');
      writeFileSync(file, 'x');
      const onFile = runCli(['backtest', '-c', SURVIVAL, '-d', data, '-q', '--out', file], tmp.dir);
      equal(onFile.status, 1);
      match(onFile.stderr, /--out .*a-file: expected a folder this user can write into, but it is a file/);
      ok(!/EEXIST/.test(onFile.stderr), onFile.stderr);
    });

    it('fails as clearly for train, download and paper outputs under /proc, before any work or request', () => {
      for (const args of [
        ['train', '-c', SURVIVAL, '-d', data, '--out', '/proc/bot4/model.json'],
        ['download', '-e', 'binance', '-s', 'BTC/USDT', '-t', '5m', '--since', '2024-01-01', '-o', '/proc/bot4/b.csv'],
        ['paper', '-c', SURVIVAL, '--out', '/proc/bot4/paper'],
      ]) {
        const result = runCli(args, tmp.dir);
        equal(result.status, 1, `${args[0]}: ${result.stderr}`);
        match(
          result.stderr,
          /--out \/proc\/bot4\/[\w.]+(: its folder \/proc\/bot4)?: expected a folder this user can write into/,
        );
      }
    });

    it('checks the default folder of paper and live too (out/<config name>/<mode>), before any request', () => {
      const cwd = path.join(tmp.dir, 'default-out');
      mkdirSync(cwd, { recursive: true });
      writeFileSync(path.join(cwd, 'out'), 'a file where the out folder would go');
      for (const mode of ['paper', 'live']) {
        const result = runCli([mode, '-c', SURVIVAL, '--kill-switch', 'none'], cwd);
        equal(result.status, 1, `${mode}: ${result.stderr}`);
        match(
          result.stderr,
          new RegExp(
            `the default --out \\(out/<config name>/${mode}\\) out/survival-btc/${mode}: expected a folder this user can write into, but a part of the path is a file`,
          ),
        );
      }
    });
  });

  describe('config', () => {
    const cases: [string, string | RegExp, string, RegExp][] = [
      [
        'a zero lot size',
        /qtyStep: "[^"]+"/,
        'qtyStep: "0"',
        /key "instrument\.qtyStep": expected .*greater than 0.*found string "0"/,
      ],
      [
        'zero capital',
        /initial: "?[\d.]+"?/,
        'initial: "0"',
        /key "capital\.initial": expected .*greater than 0.*found string "0"/,
      ],
      [
        'leverage 1000 on a spot instrument',
        /maxLeverage: 1 /,
        'maxLeverage: 100 ',
        /survival\.yaml:\d+:\d+ key "risk\.maxLeverage": expected at most 1 for a spot instrument/,
      ],
      [
        'inverted mode thresholds',
        /recoverDrawdown: [\d.]+/,
        'recoverDrawdown: 0.5',
        /survival\.yaml:\d+:\d+ key "modes\.recoverDrawdown": expected recoverDrawdown < reduceDrawdown/,
      ],
      [
        'a GARCH window that is not whole bars',
        /windowBars: 7d/,
        'windowBars: 7.3m',
        /survival\.yaml:\d+:\d+ key "risk\.garch\.windowBars": expected a duration that is a whole number of 5m bars/,
      ],
    ];
    for (const [what, from, to, message] of cases) {
      it(`refuses ${what} with file, line and key`, () => {
        const config = survivalWith(tmp.dir, 'survival.yaml', from, to);
        const result = runCli(['backtest', '--config', config, '--data', data, '--quiet'], tmp.dir);
        equal(result.status, 1);
        match(result.stderr, message);
      });
    }
  });

  describe('options', () => {
    it('names option, value and expectation for --from after --until, --until in seconds, --warmup-bars abc', () => {
      const inverted = backtest(data, '--from', '2024-01-03', '--until', '2024-01-02');
      equal(inverted.status, 1);
      match(inverted.stderr, /--from 2024-01-03T00:00:00\.000Z is not before --until 2024-01-02T00:00:00\.000Z/);

      const seconds = backtest(data, '--until', '1704153600');
      equal(seconds.status, 1);
      match(seconds.stderr, /option '--until <time>' argument '1704153600' is invalid.*looks like epoch seconds/);

      const empty = backtest(data, '--from', '2030-01-01');
      equal(empty.status, 1);
      match(
        empty.stderr,
        /no bars in the selected range 2030-01-01T00:00:00\.000Z → … \(--from\/--until\): the file holds 2024-01-01/,
      );

      const warmup = runCli(['paper', '--config', SURVIVAL, '--warmup-bars', 'abc'], tmp.dir);
      equal(warmup.status, 1);
      match(
        warmup.stderr,
        /option '--warmup-bars <n>' argument 'abc' is invalid\. expected a whole number ≥ 0, found "abc"/,
      );
    });
  });

  describe('identity and environment', () => {
    it('writes byte-identical journals from any working directory; the report keeps the path as given', () => {
      const elsewhere = path.join(tmp.dir, 'elsewhere');
      mkdirSync(elsewhere, { recursive: true });
      const a = runCli(['backtest', '-c', SURVIVAL, '-d', data, '-q', '-o', path.join(tmp.dir, 'id-a')], repoRoot);
      const relativeConfig = path.relative(elsewhere, SURVIVAL);
      const b = runCli(
        ['backtest', '-c', relativeConfig, '-d', data, '-q', '-o', path.join(tmp.dir, 'id-b')],
        elsewhere,
      );
      equal(a.status, 0, a.stderr);
      equal(b.status, 0, b.stderr);
      const journal = (dir: string): string => readFileSync(path.join(tmp.dir, dir, 'journal.jsonl'), 'utf8');
      equal(journal('id-a'), journal('id-b'));
      const report = JSON.parse(readFileSync(path.join(tmp.dir, 'id-b', 'report.json'), 'utf8')) as {
        config: { file: string };
      };
      equal(report.config.file, relativeConfig);
    });

    it('has no npm config key that npm warns about on every command', () => {
      const npmrc = readFileSync(path.join(repoRoot, '.npmrc'), 'utf8');
      ok(!/build_from_source/.test(npmrc), '.npmrc must not carry tulind build flags');
      const result = spawnSync('npm', ['config', 'get', 'nodedir'], {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 60_000,
      });
      equal(result.status, 0, result.stderr);
      ok(!/Unknown project config/.test(result.stderr), result.stderr);
      notEqual(result.stdout.trim(), 'undefined');
      ok(existsSync(path.join(repoRoot, '.ci', 'run')));
      match(readFileSync(path.join(repoRoot, '.ci', 'run'), 'utf8'), /npm_config_build_from_source=tulind npm ci/);
    });
  });
});
