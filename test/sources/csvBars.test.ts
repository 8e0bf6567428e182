/**
 * The CSV reader parses cells without making strings (issue 11): every value must still be the
 * double `Number(cell)` gives, for every shape a cell can take, and a real file must read exactly
 * as a plain split-and-Number reading of it.
 */
import { equal, ok } from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { timeframeMs } from '../../operators/types';
import { CSV_HEADER, CsvBarsError, parseBarFile } from '../../sources/csvBars';
import { requireSharedData } from '../support/sharedData';

const FIVE_MINUTES = timeframeMs('5m');
const START = Date.UTC(2024, 0, 1);
const CONFIG = { venue: 'binance', symbol: 'BTC/USDT', timeframe: '5m', keepOutliers: true } as const;

/** Decimal text as files write it: up to 22 digits, the point anywhere (or nowhere), zeros in front. */
const decimalText = fc
  .record({
    digits: fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 22 }),
    point: fc.nat({ max: 23 }),
    pointless: fc.boolean(),
  })
  .map(({ digits, point, pointless }) =>
    pointless ? digits : `${digits.slice(0, Math.min(point, digits.length))}.${digits.slice(point)}`,
  )
  .filter((text) => Number(text) > 0);

/** A cell in any of the other spellings `Number` accepts. */
const otherText = fc.oneof(
  fc.double({ min: 1e-6, max: 1e12, noNaN: true }).map(String),
  fc.double({ min: 1e-6, max: 1e12, noNaN: true }).map((x) => x.toExponential()),
  fc.constantFrom(' 12.5', '12.5 ', '+3', '1e3', '0x1A', '.5', '5.', '0012.50'),
);

describe('csvBars: cells parsed in place', () => {
  it('every price and volume is exactly Number(cell)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(decimalText, otherText), { minLength: 1, maxLength: 30 }), (cells) => {
        // One bar per cell: the cell as open, high, low, close and volume (a flat bar is possible).
        const rows = cells.map((cell, i) => `${START + i * FIVE_MINUTES},${cell},${cell},${cell},${cell},${cell}`);
        const { bars } = parseBarFile(`${CSV_HEADER}\n${rows.join('\n')}\n`, 'cells.csv', CONFIG);
        equal(bars.length, cells.length);
        bars.forEach((bar, i) => {
          const expected = Number(cells[i]);
          for (const value of [bar.open, bar.high, bar.low, bar.close, bar.volume])
            ok(Object.is(value, expected), `${JSON.stringify(cells[i])}: ${value} !== Number() = ${expected}`);
        });
      }),
      { numRuns: 3000, seed: 11 },
    );
  });

  it('a blank cell is still "expected a number" with the cell as written, CRLF lines still read', () => {
    const good = `${START},1.5,2,1,1.5,3\r\n`;
    const { bars } = parseBarFile(
      `${CSV_HEADER}\r\n${good}\r\n${START + FIVE_MINUTES},1.5,2,1,1.5,3`,
      'crlf.csv',
      CONFIG,
    );
    equal(bars.length, 2);
    equal(bars[1]!.volume, 3);
    try {
      parseBarFile(`${CSV_HEADER}\n${good}${START + FIVE_MINUTES},1.5, ,1,1.5,3\n`, 'blank.csv', CONFIG);
      ok(false, 'a blank cell was accepted');
    } catch (err) {
      ok(err instanceof CsvBarsError);
      ok(err.message.includes('line 3, column high: expected a number, found " "'), err.message);
    }
  });

  it('the real BTC/USDT 5m file reads exactly as splitting its lines and cells does', function () {
    const file = requireSharedData(this, 'candles/binance_spot_BTCUSDT_5m_nfi.csv');
    const text = readFileSync(file, 'utf8');
    const { bars } = parseBarFile(text, file, { ...CONFIG, keepOutliers: false });
    const rows = text
      .split('\n')
      .slice(1)
      .filter((line) => line.length > 0);
    equal(bars.length, rows.length);
    rows.forEach((line, i) => {
      const [ts, open, high, low, close, volume] = line.split(',').map(Number) as number[];
      const bar = bars[i]!;
      ok(
        bar.tsOpen === ts &&
          bar.open === open &&
          bar.high === high &&
          bar.low === low &&
          bar.close === close &&
          bar.volume === volume,
        `line ${i + 2}: ${line} read as ${JSON.stringify(bar)}`,
      );
    });
  });
});
