/**
 * Indicators that must not quietly change meaning (issue 10): cumulative lines stay cumulative when
 * requested by name, NaN never leaves an indicator as a value, and the MACD variant is chosen on
 * purpose (tulind's fixed-α `macd` or the standard `macd_std`).
 */
import * as assert from 'node:assert/strict';
import { createIndicator, describeIndicator } from '../../../operators/indicators';
import type { OhlcvInput } from '../../../operators/indicators';
import { randomWalkBars } from '../../support/fixtures';
import { tulindBatch } from './fixtures';

const bars: OhlcvInput[] = randomWalkBars(1200, { seed: 3 });
const columns = {
  open: bars.map((b) => b.open),
  high: bars.map((b) => b.high),
  low: bars.map((b) => b.low),
  close: bars.map((b) => b.close),
  volume: bars.map((b) => b.volume),
};

function run(name: string, options: number[], input: readonly OhlcvInput[]): (number | null)[] {
  const indicator = createIndicator(name, options);
  return input.map((bar) => (indicator.update(bar) ? indicator.values[0]! : null));
}

describe('indicators keep their meaning', () => {
  for (const name of ['ad', 'wad', 'nvi', 'pvi']) {
    it(`${name} by name is the cumulative line over every bar, not a rolling window (equals tulind on the whole series)`, () => {
      assert.equal(describeIndicator(name).incremental, true);
      const ours = run(name, [], bars);
      const { start, outputs } = tulindBatch(name, [], columns);
      // Past the 300-bar window a rolling tulind call would restart the sum; the whole-series line
      // keeps it. Compare the last bar, far beyond any window.
      assert.equal(ours[ours.length - 1], outputs[0]![bars.length - 1 - start]);
      assert.equal(ours.filter((v) => v !== null).length, bars.length - start);
    });
  }

  for (const [name, options] of [
    ['ultosc', [2, 3, 5]],
    ['cmo', [5]],
  ] as const) {
    it(`${name} on flat candles is unavailable (null), never NaN; it recovers when prices move`, () => {
      const flat: OhlcvInput[] = Array.from({ length: 40 }, () => ({
        open: 100,
        high: 100,
        low: 100,
        close: 100,
        volume: 1,
      }));
      const flatColumns = {
        open: flat.map((b) => b.open),
        high: flat.map((b) => b.high),
        low: flat.map((b) => b.low),
        close: flat.map((b) => b.close),
        volume: flat.map((b) => b.volume),
      };
      const tulind = tulindBatch(name, [...options], flatColumns).outputs[0]!;
      assert.ok(tulind.some(Number.isNaN), `tulind ${name} gives NaN on flat candles (the case guarded here)`);
      const values = run(name, [...options], [...flat, ...bars.slice(0, 40)]);
      assert.ok(
        values.every((v) => v === null || Number.isFinite(v)),
        'no NaN escapes',
      );
      assert.ok(values.slice(0, 40).every((v) => v === null));
      assert.ok(values.slice(60).every((v) => v !== null && Number.isFinite(v)));
    });
  }

  it('macd is tulind’s fixed-α variant for 12/26; macd_std uses 2/(n+1) and matches an EMA computed by hand', () => {
    const tulip = createIndicator('macd', [12, 26, 9]);
    const standard = createIndicator('macd_std', [12, 26, 9]);
    assert.equal(describeIndicator('macd_std').outputs.join(','), 'macd,macd_signal,macd_histogram');
    let fast = bars[0]!.close;
    let slow = bars[0]!.close;
    for (let i = 0; i < bars.length; i++) {
      const x = bars[i]!.close;
      if (i > 0) {
        fast = (x - fast) * (2 / 13) + fast;
        slow = (x - slow) * (2 / 27) + slow;
      }
      const warm = standard.update(bars[i]!);
      tulip.update(bars[i]!);
      if (warm) assert.equal(standard.values[0], fast - slow);
    }
    assert.notEqual(tulip.values[0], standard.values[0]);
    // Other period pairs: the two variants agree (tulind special-cases 12/26 only).
    const a = createIndicator('macd', [5, 35, 5]);
    const b = createIndicator('macd_std', [5, 35, 5]);
    for (const bar of bars) {
      a.update(bar);
      b.update(bar);
    }
    assert.deepEqual([...a.values], [...b.values]);
  });
});
