/**
 * Fuzzing the two ways bad input enters a run (issue 10): candle CSV rows and config values. Over
 * thousands of generated inputs, reading either must end in its own error class naming what was
 * wrong, or in a result in which no impossible value survived — never another exception, never a
 * hang, never a silently accepted zero price, zero lot or spot leverage.
 */
import { ok } from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { barValueProblem } from '../../operators/barChecks';
import { timeframeMs } from '../../operators/types';
import { ConfigError, parseConfig } from '../../pipelines/config';
import { CSV_HEADER, CsvBarsError, parseBarFile } from '../../sources/csvBars';
import { repoRoot } from '../support/sharedData';

const FIVE_MINUTES = timeframeMs('5m');
const START = Date.UTC(2024, 0, 1);

/** A cell that is sometimes a number, sometimes the kinds of junk real files hold. */
const priceCell = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.double({ min: 1, max: 100_000, noNaN: true }).map((x) => String(Math.round(x * 100) / 100)),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('0', '-1', '', 'NaN', 'Infinity', '1e309', 'abc', '0.0', '1,5', ' 7', '1e-320', '-0'),
  },
  { weight: 1, arbitrary: fc.double().map(String) },
);

/** A row: mostly a well-formed bar on the grid, sometimes with a junk cell or a shifted time. */
const row = fc
  .record({
    step: fc.oneof({ weight: 8, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: -2, max: 3 }) }),
    base: fc.double({ min: 100, max: 1000, noNaN: true }),
    cells: fc.array(priceCell, { minLength: 5, maxLength: 5 }),
    shape: fc.constantFrom('bar', 'bar', 'bar', 'cells', 'raw'),
    raw: fc.string({ maxLength: 40 }),
    offset: fc.oneof(
      { weight: 9, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: FIVE_MINUTES - 1 }) },
    ),
  })
  .map((r) => r);

type Row = typeof row extends fc.Arbitrary<infer T> ? T : never;

function renderRows(rows: readonly Row[]): { text: string; impossible: boolean } {
  let slot = 0;
  let impossible = false;
  const lines = rows.map((r) => {
    slot += r.step;
    const ts = START + slot * FIVE_MINUTES + r.offset;
    if (r.shape === 'raw') return r.raw.replace(/\n/g, ' ');
    if (r.shape === 'cells') {
      const [o, h, l, c, v] = r.cells.map(Number) as [number, number, number, number, number];
      if (barValueProblem({ open: o, high: h, low: l, close: c, volume: v }) !== null) impossible = true;
      return `${ts},${r.cells.join(',')}`;
    }
    const open = r.base;
    const close = r.base * 1.001;
    return `${ts},${open},${close * 1.001},${open * 0.999},${close},1.5`;
  });
  return { text: `${CSV_HEADER}\n${lines.join('\n')}\n`, impossible };
}

describe('fuzz: bad input never crashes, hangs or slips through', function () {
  this.timeout(120_000);

  it('candle CSV rows: a CsvBarsError naming line/column, or bars that are all possible, ascending and on the grid', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 60 }), fc.boolean(), (rows, keepOutliers) => {
        const { text, impossible } = renderRows(rows);
        let bars: ReturnType<typeof parseBarFile>['bars'];
        try {
          bars = parseBarFile(text, 'fuzz.csv', {
            venue: 'binance',
            symbol: 'BTC/USDT',
            timeframe: '5m',
            keepOutliers,
          }).bars;
        } catch (err) {
          ok(err instanceof CsvBarsError, `unexpected ${String(err)}`);
          ok(/line \d+|the rows are|no bars|header/.test(err.message), err.message);
          return;
        }
        ok(!impossible, 'a row with an impossible value was accepted');
        let previous = -Infinity;
        for (const bar of bars) {
          ok(barValueProblem(bar) === null, JSON.stringify(bar));
          ok(bar.tsOpen > previous && bar.tsOpen % FIVE_MINUTES === 0);
          previous = bar.tsOpen;
        }
      }),
      { numRuns: 2000, seed: 10 },
    );
  });

  it('config values: a ConfigError naming the key, or a config without zero lots, zero capital, spot leverage or inverted modes', () => {
    const text = readFileSync(path.join(repoRoot, 'config', 'survival.yaml'), 'utf8');
    const keys = [
      'qtyStep',
      'priceTick',
      'minQty',
      'initial',
      'maxLeverage',
      'maxPositionPct',
      'kellyFraction',
      'reduceDrawdown',
      'recoverDrawdown',
      'emergencyDrawdown',
      'windowBars',
      'refitEveryBars',
      'lambda',
      'maxDrawdown',
    ];
    const value = fc.oneof(
      fc.constantFrom(
        '0',
        '"0"',
        '-1',
        '"0.0"',
        '1000',
        '.5',
        '"1e3"',
        'null',
        '"7d"',
        '"7.3m"',
        '"0h"',
        '"abc"',
        '2.5',
        '1',
      ),
      fc.double({ noNaN: true }).map((x) => String(x)),
      fc.integer().map(String),
    );
    fc.assert(
      fc.property(fc.constantFrom(...keys), value, (key, replacement) => {
        const edited = text.replace(new RegExp(`^(\\s*${key}:)\\s*[^#\\n]*`, 'm'), `$1 ${replacement} `);
        let config: ReturnType<typeof parseConfig>;
        try {
          config = parseConfig(edited, path.join(repoRoot, 'config', 'survival.yaml'));
        } catch (err) {
          ok(err instanceof ConfigError, `unexpected ${String(err)}`);
          ok(/key "[^"]+": expected .+, found .+/.test(err.message), err.message);
          return;
        }
        ok(config.instrument.qtyStep > 0n && config.instrument.minQty > 0n, 'zero lot');
        ok(config.initialCash > 0n, 'zero capital');
        ok(config.instrument.priceTick > 0, 'zero tick');
        ok((config.risk?.maxLeverage ?? 1) <= 1, 'spot leverage above 1');
        const modes = config.modes ?? {};
        ok((modes.recoverDrawdown ?? 0.1) < (modes.reduceDrawdown ?? 0.15), 'inverted recover/reduce');
        ok((modes.reduceDrawdown ?? 0.15) < (modes.emergencyDrawdown ?? 0.25), 'inverted reduce/emergency');
        const garch = config.risk?.garch;
        for (const n of [garch?.windowBars, garch?.refitEveryBars])
          ok(n === undefined || (Number.isInteger(n) && n > 0));
        const lambda = config.risk?.marketStats?.lambda;
        ok(lambda === undefined || (lambda > 0 && lambda < 1));
        ok((config.sizing?.kellyFraction ?? 0.25) > 0);
      }),
      { numRuns: 1500, seed: 11 },
    );
  });
});
