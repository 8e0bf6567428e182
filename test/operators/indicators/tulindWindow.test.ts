/**
 * tulind on a rolling window: the streaming contract, equality with tulind's batch over the same
 * window at every bar, input mapping and the configuration errors.
 */
import * as assert from 'node:assert/strict';
import { describeIndicator, indicatorNames } from '../../../operators/indicators/registry';
import { createWindowedIndicator, defaultWindow } from '../../../operators/indicators/tulindWindow';
import type { OhlcvInput, PriceField } from '../../../operators/indicators/types';
import { sharedDataPath } from '../../support/sharedData';
import { assertIndicatorError, streamingIndicatorContract } from './contract';
import { loadCandles, readVectors, tulindBatch } from './fixtures';

/** Indicators without an incremental version, chosen to cover 1–4 inputs, 1–2 outputs, real options. */
const WINDOWED_SPECS = [
  { name: 'kama', optionSets: [[10], [2]] },
  { name: 'linreg', optionSets: [[14], [3]] },
  { name: 'trix', optionSets: [[18], [2]] },
  {
    name: 'psar',
    optionSets: [
      [0.02, 0.2],
      [0.05, 0.5],
    ],
  },
  {
    name: 'adosc',
    optionSets: [
      [3, 10],
      [2, 5],
    ],
  },
  { name: 'fisher', optionSets: [[10], [3]] },
] as const;

for (const spec of WINDOWED_SPECS) {
  describe(`indicators/tulindWindow: ${spec.name}`, () => {
    streamingIndicatorContract({
      name: spec.name,
      create: (options) => createWindowedIndicator(spec.name, options),
      optionSets: spec.optionSets,
      barLimit: 700,
    });
  });
}

describe('indicators/tulindWindow: crossover with two real inputs (close, open)', () => {
  streamingIndicatorContract({
    name: 'crossover',
    create: (options) => createWindowedIndicator('crossover', options, undefined, ['close', 'open']),
    optionSets: [[]],
    barLimit: 700,
  });
});

/** tulind's last output over bars[from..to] (inclusive), per output. */
function batchLast(
  name: string,
  options: readonly number[],
  bars: readonly OhlcvInput[],
  fields: readonly PriceField[],
): number[] {
  const slice = (field: PriceField): number[] => bars.map((b) => b[field]);
  const columns = {
    open: slice('open'),
    high: slice('high'),
    low: slice('low'),
    close: slice('close'),
    volume: slice('volume'),
  };
  const { outputs } = tulindBatch(name, options, columns, fields);
  return outputs.map((series) => series[series.length - 1]!);
}

describe('indicators/tulindWindow', () => {
  it('emits, at every bar once warm, exactly tulind batch over the last `window` bars (kama, macd, ultosc, aroon; 1h candles)', function () {
    const { bars } = loadCandles(this, 'binance_spot_BTCUSDT_1h_nfi.csv');
    const cases = [
      { name: 'kama', options: [10], window: 40 },
      { name: 'macd', options: [12, 26, 9], window: 60 },
      { name: 'ultosc', options: [7, 14, 28], window: 45 },
      { name: 'aroon', options: [14], window: 15 },
    ];
    for (const c of cases) {
      const indicator = createWindowedIndicator(c.name, c.options, c.window);
      bars.slice(0, 400).forEach((bar, i) => {
        if (!indicator.update(bar)) return;
        const window = bars.slice(Math.max(0, i - c.window + 1), i + 1);
        assert.deepEqual(
          [...indicator.values],
          batchLast(c.name, c.options, window, ['close']),
          `${c.name} at bar ${i}`,
        );
      });
    }
  });

  it('runs every tulind indicator (untest options) on real bars and matches tulind over the same window', function () {
    const vectors = readVectors(sharedDataPath('indicators/tulip/tulip_untest.json'), 'tulip_untest');
    const { bars } = loadCandles(this, 'binance_spot_BTCUSDT_5m_2023-04.csv');
    assert.ok(vectors, 'needs tulip_untest.json for the options');
    assert.equal(vectors.cases.length, indicatorNames().length);
    for (const c of vectors.cases) {
      const options = c.options.map((o) => o.value);
      const reals = describeIndicator(c.indicator).inputs.filter((n) => n === 'real').length;
      const fields: PriceField[] = reals === 2 ? ['close', 'open'] : ['close'];
      const indicator = createWindowedIndicator(c.indicator, options, 60, reals > 0 ? fields : undefined);
      const sample = bars.slice(0, 120);
      sample.forEach((bar) => indicator.update(bar));
      const expected = batchLast(c.indicator, options, sample.slice(-60), fields);
      assert.deepEqual([...indicator.values], expected, c.indicator);
    }
  });

  it('defaults the window to max(300, 3 × warm-up)', () => {
    assert.equal(createWindowedIndicator('kama', [10]).window, 300);
    assert.equal(createWindowedIndicator('sma', [200]).window, 600);
    assert.equal(defaultWindow(150), 450);
  });

  it('maps tulind inputs to bar fields: named ones to themselves, real to close by default or to the chosen field', () => {
    assert.deepEqual(createWindowedIndicator('ultosc', [7, 14, 28]).inputFields, ['high', 'low', 'close']);
    assert.deepEqual(createWindowedIndicator('kama', [10]).inputFields, ['close']);
    assert.deepEqual(createWindowedIndicator('kama', [10], undefined, ['high']).inputFields, ['high']);
    assert.deepEqual(createWindowedIndicator('sub', [], undefined, ['high', 'low']).inputFields, ['high', 'low']);
  });

  it('rejects a window shorter than the warm-up, naming window and warm-up', () => {
    assertIndicatorError(
      () => createWindowedIndicator('kama', [10], 5),
      'BAD_OPTIONS',
      'kama',
      'window',
      'warm-up (10',
      'found 5',
    );
    assertIndicatorError(() => createWindowedIndicator('kama', [10], 99.5), 'BAD_OPTIONS', 'window', '99.5');
  });

  it('rejects options tulind refuses (macd long < short) at construction, not on the first warm bar', () => {
    assertIndicatorError(
      () => createWindowedIndicator('macd', [26, 12, 9]),
      'BAD_OPTIONS',
      'macd',
      "'short period' = 26",
      "'long period' = 12",
    );
  });

  it('rejects a period that gives a negative lookback (kama [0]), naming it', () => {
    assertIndicatorError(
      () => createWindowedIndicator('kama', [0]),
      'BAD_OPTIONS',
      'kama',
      "'period' = 0",
      'lookback of -1 bars',
    );
  });

  it('accepts fractional values for options that are not periods (psar acceleration, vidya alpha)', () => {
    assert.equal(createWindowedIndicator('psar', [0.02, 0.2]).warmup, 2);
    assert.equal(
      createWindowedIndicator('vidya', [2, 5, 0.2]).warmup,
      describeIndicator('vidya').start([2, 5, 0.2]) + 1,
    );
  });

  it('requires both fields for an indicator with two real inputs, with an example in the message', () => {
    assertIndicatorError(
      () => createWindowedIndicator('crossover', []),
      'BAD_OPTIONS',
      'crossover',
      "2 'real' inputs",
      "['close', 'open']",
    );
    assertIndicatorError(
      () => createWindowedIndicator('add', [], undefined, ['close']),
      'BAD_OPTIONS',
      'add',
      'found ["close"]',
    );
  });

  it('rejects inputs for an indicator without real inputs, naming what it reads', () => {
    assertIndicatorError(
      () => createWindowedIndicator('ultosc', [7, 14, 28], undefined, ['open']),
      'BAD_OPTIONS',
      'ultosc',
      'high, low, close',
    );
  });

  it('rejects a field that is not a bar field', () => {
    assertIndicatorError(
      () => createWindowedIndicator('kama', [10], undefined, ['mid' as PriceField]),
      'BAD_OPTIONS',
      'kama',
      'mid',
    );
  });

  it('rejects an unknown indicator with UNKNOWN_INDICATOR and a suggestion', () => {
    assertIndicatorError(
      () => createWindowedIndicator('kamma', [10]),
      'UNKNOWN_INDICATOR',
      "'kamma'",
      "did you mean 'kama'",
    );
  });

  it('keeps the window bounded: after 10 windows of bars it still equals tulind over the last window', function () {
    const { bars } = loadCandles(this, 'binance_spot_BTCUSDT_5m_2023-04.csv');
    const indicator = createWindowedIndicator('linreg', [14], 20);
    const sample = bars.slice(0, 200);
    sample.forEach((bar) => indicator.update(bar));
    assert.deepEqual([...indicator.values], batchLast('linreg', [14], sample.slice(-20), ['close']));
  });
});
