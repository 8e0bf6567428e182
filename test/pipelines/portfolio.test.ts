import { deepStrictEqual, equal, ok, throws } from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { backtestBars, mergeByEventTime, resolveDataFiles, runBacktest } from '../../pipelines/backtest';
import { parseConfig, type PipelineConfig } from '../../pipelines/config';
import type { Bar, RiskDenyCode } from '../../operators/types';
import { readBarsCsv } from '../../sources/csvBars';
import { requireSharedData, repoRoot } from '../support/sharedData';
import { tempDir, writeBarsCsv } from '../support/tmp';

const CONFIG_FILE = path.join(repoRoot, 'config', 'portfolio-7.yaml');
const BASES = ['BTC', 'LTC', 'XRP', 'SOL', 'ADA', 'DOT', 'LINK'];
const FROM = Date.UTC(2020, 11, 1);
const UNTIL = Date.UTC(2021, 1, 15);

interface JournalLine {
  readonly kind: string;
  readonly [key: string]: unknown;
}

/** The shipped config with some `risk:` keys replaced (the rest of the file unchanged). */
function withRisk(overrides: Readonly<Record<string, string>>): PipelineConfig {
  const text = readFileSync(CONFIG_FILE, 'utf8');
  const at = text.indexOf('\nrisk:\n');
  let risk = text.slice(at);
  for (const [key, value] of Object.entries(overrides)) {
    const pattern = new RegExp(`^(  ${key}:)\\s*[^\\s#]+`, 'm');
    ok(pattern.test(risk), `risk.${key} is in ${CONFIG_FILE}`);
    risk = risk.replace(pattern, `$1 ${value}`);
  }
  return parseConfig(text.slice(0, at) + risk, CONFIG_FILE);
}

/** Every portfolio limit off or at 100 %: only the one a test tightens can bind. */
const LOOSE = {
  maxPositionPct: '1',
  maxVenuePct: '1',
  maxStrategyPct: '1',
  maxSectorPct: '1',
  maxHeat: 'null',
  maxCorrelation: 'null',
  volTarget: 'null',
  maxVar: 'null',
};

describe('portfolio pipeline (7 symbols, real Binance 1h bars, one portfolio, one risk gate)', function () {
  this.timeout(600_000);
  const tmp = tempDir();
  let bars: Bar[];
  let files: string[];
  after(() => tmp.cleanup());

  before(function () {
    files = BASES.map((base) => requireSharedData(this, `candles/binance_spot_${base}USDT_1h_nfi.csv`));
    bars = mergeByEventTime(
      BASES.map((base, i) =>
        readBarsCsv(files[i]!, {
          venue: 'binance',
          symbol: `${base}/USDT`,
          timeframe: '1h',
          from: FROM,
          until: UNTIL,
        }),
      ),
    );
  });

  async function run(config: PipelineConfig, name: string, input: readonly Bar[] = bars) {
    const result = await backtestBars(config, input, { dataFile: files, outDir: path.join(tmp.dir, name) });
    const journal = readFileSync(result.journalFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as JournalLine);
    return { report: result.report, journal };
  }

  it('trades several symbols out of one USDT portfolio, each fill traced to its own symbol’s signal', async () => {
    const { report, journal } = await run(withRisk({}), 'shipped');
    const fills = journal.filter((e) => e.kind === 'fill');
    const symbols = new Set(fills.map((f) => f['symbol'] as string));
    ok(symbols.size >= 3, `fills in ${[...symbols].join(', ')}`);
    for (const fill of fills) ok((fill['signalId'] as string).startsWith(`${fill['symbol'] as string}:1h:`));
    equal(report.data.series.length, 7);
    // The same 6 outages hit every symbol: each one's gaps are reported on its own.
    for (const s of report.data.series) ok(s.gaps > 0 && s.bars > 1500, `${s.symbol}: ${JSON.stringify(s)}`);
    ok(report.buyAndHoldBySymbol && Object.keys(report.buyAndHoldBySymbol).length === 7);
  });

  const cases: readonly { code: RiskDenyCode; tight: Record<string, string>; measure: string; limit: string }[] = [
    { code: 'POSITION_PCT_EXCEEDS_LIMIT', tight: { maxPositionPct: '0.03' }, measure: 'position', limit: 'limit' },
    { code: 'VENUE_CONCENTRATION_EXCEEDS_LIMIT', tight: { maxVenuePct: '0.12' }, measure: 'exposure', limit: 'limit' },
    {
      code: 'STRATEGY_CONCENTRATION_EXCEEDS_LIMIT',
      tight: { maxStrategyPct: '0.12' },
      measure: 'exposure',
      limit: 'limit',
    },
    {
      code: 'SECTOR_CONCENTRATION_EXCEEDS_LIMIT',
      tight: { maxSectorPct: '0.06' },
      measure: 'exposure',
      limit: 'limit',
    },
    { code: 'CORRELATION_EXCEEDS_LIMIT', tight: { maxCorrelation: '0.6' }, measure: 'correlation', limit: 'limit' },
    { code: 'PORTFOLIO_HEAT_EXCEEDS_LIMIT', tight: { maxHeat: '0.04' }, measure: 'heat', limit: 'limit' },
    { code: 'VOLATILITY_EXCEEDS_TARGET', tight: { volTarget: '0.08' }, measure: 'volatility', limit: 'target' },
    { code: 'VAR_EXCEEDS_LIMIT', tight: { maxVar: '0.005' }, measure: 'var99', limit: 'limit' },
  ];

  let loose: Awaited<ReturnType<typeof run>> | undefined;

  for (const { code, tight, measure, limit } of cases) {
    it(`denies with ${code} when ${Object.keys(tight)[0]} binds, and never with it off`, async () => {
      loose ??= await run(withRisk(LOOSE), 'loose');
      equal(loose.report.ordersDenied[code] ?? 0, 0, `${code} with every portfolio limit off`);
      const { report, journal } = await run(withRisk({ ...LOOSE, ...tight }), code);
      const denied = journal.filter((e) => e.kind === 'denied' && e['code'] === code);
      ok(denied.length > 0, `no ${code} denial: ${JSON.stringify(report.ordersDenied)}`);
      for (const d of denied) {
        const numbers = d['numbers'] as Record<string, number>;
        ok(Math.abs(numbers[measure]!) > numbers[limit]!, `${code}: ${JSON.stringify(numbers)}`);
      }
      // Orders the limit let through stayed inside it.
      for (const a of journal.filter((e) => e.kind === 'approved')) {
        const numbers = a['numbers'] as Record<string, number>;
        const key = code === 'POSITION_PCT_EXCEEDS_LIMIT' ? 'positionPct' : measureKey(code);
        if (key && numbers[key] !== undefined)
          ok(numbers[key]! <= Number(Object.values(tight)[0]) + 1e-6, `${code} approved ${JSON.stringify(numbers)}`);
      }
    });
  }

  it('never lets a change to any symbol’s bar N+1 alter a decision at or before bar N (lookahead across symbols)', async () => {
    const config = withRisk({});
    const cut = bars[Math.floor(bars.length * 0.6)]!.tsEvent;
    // Perturb only one symbol (SOL) after the cut: the others' decisions up to the cut must not change either.
    const perturbed = bars.map((b) =>
      b.symbol === 'SOL/USDT' && b.tsEvent > cut
        ? { ...b, open: b.open * 1.3, high: b.high * 1.3, low: b.low * 1.3, close: b.close * 1.3 }
        : b,
    );
    const decisionsUntil = (journal: readonly JournalLine[]) =>
      journal.filter(
        (e) =>
          ['signal', 'intent', 'approved', 'denied', 'fill'].includes(e.kind) &&
          (e['tsEvent'] as number) <= cut - 3_600_000,
      );
    const a = await run(config, 'lookahead-a');
    const b = await run(config, 'lookahead-b', perturbed);
    deepStrictEqual(decisionsUntil(b.journal), decisionsUntil(a.journal));
    // The perturbation was visible: something after the cut changed.
    ok(JSON.stringify(a.journal) !== JSON.stringify(b.journal), 'perturbing SOL changed nothing at all');
  });
});

function measureKey(code: RiskDenyCode): string | undefined {
  switch (code) {
    case 'VENUE_CONCENTRATION_EXCEEDS_LIMIT':
      return 'venuePct';
    case 'STRATEGY_CONCENTRATION_EXCEEDS_LIMIT':
      return 'strategyPct';
    case 'SECTOR_CONCENTRATION_EXCEEDS_LIMIT':
      return 'sectorPct';
    case 'PORTFOLIO_HEAT_EXCEEDS_LIMIT':
      return 'heat';
    case 'VOLATILITY_EXCEEDS_TARGET':
      return 'volatility';
    case 'VAR_EXCEEDS_LIMIT':
      return 'var99';
    default:
      return undefined;
  }
}

describe('backtest data for a universe', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const bar = (symbol: string, tsOpen: number, close: number): Bar => ({
    kind: 'bar',
    venue: 'binance',
    symbol,
    timeframe: '1h',
    tsOpen,
    tsEvent: tsOpen + 3_600_000,
    open: close,
    high: close,
    low: close,
    close,
    volume: 1,
    trades: 0,
  });

  it('merges symbols by event time, ties in universe order, a gap in one leaving the others in place', () => {
    const h = 3_600_000;
    const btc = [bar('BTC/USDT', 0, 1), bar('BTC/USDT', h, 2), bar('BTC/USDT', 3 * h, 3)];
    const sol = [bar('SOL/USDT', 0, 1), bar('SOL/USDT', h, 2), bar('SOL/USDT', 2 * h, 3), bar('SOL/USDT', 3 * h, 4)];
    const merged = mergeByEventTime([btc, sol]).map((b) => `${b.symbol.slice(0, 3)}@${b.tsOpen / h}`);
    deepStrictEqual(merged, ['BTC@0', 'SOL@0', 'BTC@1', 'SOL@1', 'SOL@2', 'BTC@3', 'SOL@3']);
  });

  it('matches files to symbols by name, folder or SYMBOL=file, and names what is missing or ambiguous', () => {
    const config = withRisk({});
    const dir = path.join(tmp.dir, 'candles');
    mkdirSync(dir);
    for (const base of BASES) writeBarsCsv(path.join(dir, `x_${base}USDT_1h.csv`), [bar(`${base}/USDT`, 0, 1)]);
    writeBarsCsv(path.join(dir, 'x_BTCUSDT_5m.csv'), []);
    const found = resolveDataFiles(config, [dir]);
    equal(found.size, 7);
    equal(path.basename(found.get('BTC/USDT')!), 'x_BTCUSDT_1h.csv');
    const explicit = resolveDataFiles(config, [dir, `SOL/USDT=${path.join(dir, 'x_SOLUSDT_1h.csv')}`]);
    equal(path.basename(explicit.get('SOL/USDT')!), 'x_SOLUSDT_1h.csv');
    throws(() => resolveDataFiles(config, [path.join(dir, 'x_BTCUSDT_1h.csv')]), /no 1h bars file for LTC\/USDT/);
    throws(() => resolveDataFiles(config, [dir, path.join(dir, 'x_BTCUSDT_5m.csv')]), /matches no 1h instrument/);
    writeFileSync(path.join(tmp.dir, 'BTCUSDT_1h_copy.csv'), readFileSync(path.join(dir, 'x_BTCUSDT_1h.csv')));
    throws(
      () => resolveDataFiles(config, [dir, path.join(tmp.dir, 'BTCUSDT_1h_copy.csv')]),
      /two data files for BTC\/USDT/,
    );
    throws(() => resolveDataFiles(config, [`DOGE/USDT=${dir}`]), /DOGE\/USDT is not in the config's universe/);
  });

  it('runs a universe backtest from a folder of CSVs, reporting each symbol’s bars', async () => {
    const dir = path.join(tmp.dir, 'run');
    mkdirSync(dir);
    const h = 3_600_000;
    for (const base of BASES) {
      const series = Array.from({ length: 30 }, (_, i) => bar(`${base}/USDT`, i * h, 100 + i));
      writeBarsCsv(path.join(dir, `${base}USDT_1h.csv`), base === 'XRP' ? series.slice(0, 20) : series);
    }
    const { report } = await runBacktest({
      configFile: CONFIG_FILE,
      dataFile: [dir],
      outDir: path.join(tmp.dir, 'out'),
    });
    const xrp = report.data.series.find((s) => s.symbol === 'XRP/USDT')!;
    equal(xrp.bars, 20);
    equal(report.data.series.find((s) => s.symbol === 'BTC/USDT')!.bars, 30);
    equal(report.bars, 30);
  });
});
