/**
 * Every incremental indicator: the shared streaming contract, bit-level parity with tulind on the
 * four real candle files, and the behaviour that is ours rather than tulind's (the documented
 * values where tulind returns NaN).
 */
import * as assert from 'node:assert/strict';
import {
  createAd,
  createAdx,
  createAroon,
  createAtr,
  createBbands,
  createCci,
  createDema,
  createDi,
  createDx,
  createEma,
  createMacd,
  createMfi,
  createMom,
  createNatr,
  createNvi,
  createObv,
  createPvi,
  createRoc,
  createRsi,
  createSma,
  createStddev,
  createStoch,
  createTema,
  createTr,
  createVwma,
  createWad,
  createWilders,
  createWillr,
  createWma,
  type OhlcvInput,
  type StreamingIndicator,
} from '../../../operators/indicators';
import { assertIndicatorError, streamingIndicatorContract, tulindParity, type IndicatorSpec } from './contract';
import { collect, loadCandles, tulindBatch } from './fixtures';

/**
 * Option sets: tulind's customary default first, then tiny and large periods. Period 1 of rsi,
 * di, dx, cci and mfi is degenerate (tulind returns NaN on many real bars: 0/0); it is kept to
 * exercise our documented finite values there, bar by bar against tulind's NaN.
 */
const SPECS: readonly IndicatorSpec[] = [
  { name: 'sma', create: (o) => createSma(o), optionSets: [[20], [1], [200]] },
  { name: 'ema', create: (o) => createEma(o), optionSets: [[20], [1], [200]] },
  { name: 'wma', create: (o) => createWma(o), optionSets: [[20], [1], [200]] },
  { name: 'dema', create: (o) => createDema(o), optionSets: [[20], [1], [100]] },
  { name: 'tema', create: (o) => createTema(o), optionSets: [[20], [1], [100]] },
  { name: 'wilders', create: (o) => createWilders(o), optionSets: [[14], [1], [100]] },
  { name: 'rsi', create: (o) => createRsi(o), optionSets: [[14], [1], [2], [100]] },
  {
    name: 'macd',
    create: (o) => createMacd(o),
    optionSets: [
      [12, 26, 9],
      [1, 2, 1],
      [5, 35, 5],
      [50, 200, 30],
    ],
  },
  {
    name: 'bbands',
    create: (o) => createBbands(o),
    optionSets: [
      [20, 2],
      [5, 2],
      [100, 1.5],
    ],
  },
  { name: 'stddev', create: (o) => createStddev(o), optionSets: [[20], [2], [100]] },
  { name: 'mom', create: (o) => createMom(o), optionSets: [[10], [1], [100]] },
  { name: 'roc', create: (o) => createRoc(o), optionSets: [[12], [1], [100]] },
  { name: 'obv', create: (o) => createObv(o), optionSets: [[]] },
  { name: 'ad', create: (o) => createAd(o), optionSets: [[]] },
  { name: 'wad', create: (o) => createWad(o), optionSets: [[]] },
  { name: 'nvi', create: (o) => createNvi(o), optionSets: [[]] },
  { name: 'pvi', create: (o) => createPvi(o), optionSets: [[]] },
  { name: 'tr', create: (o) => createTr(o), optionSets: [[]] },
  { name: 'atr', create: (o) => createAtr(o), optionSets: [[14], [1], [100]] },
  { name: 'natr', create: (o) => createNatr(o), optionSets: [[14], [1], [100]] },
  { name: 'di', create: (o) => createDi(o), optionSets: [[14], [1], [2], [50]] },
  { name: 'dx', create: (o) => createDx(o), optionSets: [[14], [1], [2], [50]] },
  { name: 'adx', create: (o) => createAdx(o), optionSets: [[14], [2], [50]] },
  {
    name: 'stoch',
    create: (o) => createStoch(o),
    optionSets: [
      [14, 3, 3],
      [5, 3, 3],
      [1, 1, 1],
      [30, 10, 10],
    ],
  },
  { name: 'willr', create: (o) => createWillr(o), optionSets: [[14], [1], [100]] },
  { name: 'aroon', create: (o) => createAroon(o), optionSets: [[25], [1], [14], [100]] },
  { name: 'cci', create: (o) => createCci(o), optionSets: [[20], [1], [2], [100]] },
  { name: 'mfi', create: (o) => createMfi(o), optionSets: [[14], [1], [2], [50]] },
  { name: 'vwma', create: (o) => createVwma(o), optionSets: [[20], [1], [100]] },
];

for (const spec of SPECS) {
  describe(`indicators/${spec.name}`, () => {
    streamingIndicatorContract(spec);
    tulindParity(spec);
  });
}

describe('indicators: degenerate inputs where tulind returns NaN or Infinity', () => {
  const flat = (n: number, price = 100, volume = 0): OhlcvInput[] =>
    Array.from({ length: n }, () => ({ open: price, high: price, low: price, close: price, volume }));
  const last = (indicator: StreamingIndicator, bars: readonly OhlcvInput[]): number[] => {
    const outputs = collect(indicator, bars);
    return outputs.map((series) => series[series.length - 1]!);
  };
  const tulindLast = (name: string, options: number[], bars: readonly OhlcvInput[]): number[] => {
    const columns = {
      open: bars.map((b) => b.open),
      high: bars.map((b) => b.high),
      low: bars.map((b) => b.low),
      close: bars.map((b) => b.close),
      volume: bars.map((b) => b.volume),
    };
    return tulindBatch(name, options, columns).outputs.map((series) => series[series.length - 1]!);
  };

  it('rsi of a flat series is 50 where tulind gives NaN (0/0)', () => {
    assert.ok(Number.isNaN(tulindLast('rsi', [5], flat(10))[0]));
    assert.deepEqual(last(createRsi([5]), flat(10)), [50]);
  });

  it('mfi of a flat series is 50 where tulind gives NaN (0/0)', () => {
    assert.ok(Number.isNaN(tulindLast('mfi', [5], flat(10, 100, 3))[0]));
    assert.deepEqual(last(createMfi([5]), flat(10, 100, 3)), [50]);
  });

  it('cci of a flat window is 0 where tulind divides by a zero mean deviation', () => {
    assert.ok(!Number.isFinite(tulindLast('cci', [3], flat(10))[0]!));
    assert.deepEqual(last(createCci([3]), flat(10)), [0]);
  });

  it('vwma over a window without volume is the close where tulind divides by zero volume', () => {
    assert.ok(Number.isNaN(tulindLast('vwma', [3], flat(10, 100, 0))[0]));
    assert.deepEqual(last(createVwma([3]), flat(10, 100, 0)), [100]);
  });

  it('di, dx and adx without any range are 0 where tulind gives NaN (0/0)', () => {
    assert.ok(tulindLast('di', [3], flat(10)).every(Number.isNaN));
    assert.deepEqual(last(createDi([3]), flat(10)), [0, 0]);
    assert.deepEqual(last(createDx([3]), flat(10)), [0]);
    assert.deepEqual(last(createAdx([3]), flat(10)), [0]);
  });

  it('bbands collapse onto the middle band where rounding makes tulind take the root of a negative variance', function () {
    // On this file five equal 1m closes leave Σx²/n − (Σx/n)² slightly negative: tulind's bands
    // become NaN there, ours equal the middle band (the exact answer for a flat window).
    const candles = loadCandles(this, 'binance_spot_BTCUSDT_1m_2023-04.csv');
    const { start, outputs } = tulindBatch('bbands', [5, 2], candles.columns);
    const bbands = createBbands([5, 2]);
    let collapsed = 0;
    candles.bars.forEach((bar, i) => {
      if (!bbands.update(bar) || Number.isFinite(outputs[0]![i - start]!)) return;
      collapsed += 1;
      assert.equal(bbands.values[0], bbands.values[1]);
      assert.equal(bbands.values[2], bbands.values[1]);
      assert.equal(bbands.values[1], outputs[1]![i - start]);
    });
    assert.ok(collapsed > 0, 'expected the known NaN bars of tulind on this file');
  });

  it("stddev keeps tulind's quirk: a rounding-negative variance is returned unrooted (tiny, negative, finite)", () => {
    // 30 closes of 3.3: the running sums leave Σx²/n − (Σx/n)² ≈ −3.6e-15, which Tulip's stddev
    // (unlike its bbands) returns as is instead of rooting.
    const bars = flat(30, 3.3);
    const ours = last(createStddev([5]), bars)[0]!;
    assert.equal(ours, tulindLast('stddev', [5], bars)[0]);
    assert.ok(ours < 0 && ours > -1e-12, `got ${ours}`);
  });
});

describe('indicators: option rules specific to one indicator', () => {
  it('macd rejects a long period shorter than the short period, naming both', () => {
    assertIndicatorError(
      () => createMacd([26, 12, 9]),
      'BAD_OPTIONS',
      'macd',
      "'long period'",
      "'short period'",
      '12',
      '26',
    );
  });

  it('macd rejects a long period of 1 (tulind needs ≥ 2)', () => {
    assertIndicatorError(() => createMacd([1, 1, 9]), 'BAD_OPTIONS', 'macd', "'long period'");
  });

  it('adx rejects period 1 (tulind needs ≥ 2)', () => {
    assertIndicatorError(() => createAdx([1]), 'BAD_OPTIONS', 'adx', "'period'", 'from 2', 'found 1');
  });

  it('bbands accepts a fractional band width but not a fractional period', () => {
    assert.equal(createBbands([20, 1.5]).warmup, 20);
    assertIndicatorError(() => createBbands([20.5, 2]), 'BAD_OPTIONS', 'bbands', "'period'", '20.5');
  });

  it('a real-input indicator rejects an unknown bar field, naming the fields it accepts', () => {
    assertIndicatorError(
      () => createSma([5], 'price' as 'close'),
      'BAD_OPTIONS',
      'sma',
      'open, high, low, close, volume',
      'price',
    );
  });

  it('a real-input indicator reads the chosen field: sma over highs equals tulind sma over highs', function () {
    const candles = loadCandles(this, 'binance_spot_BTCUSDT_1h_nfi.csv');
    const { start, outputs } = tulindBatch('sma', [10], candles.columns, ['high']);
    const sma = createSma([10], 'high');
    candles.bars.forEach((bar, i) => {
      if (sma.update(bar)) assert.equal(sma.values[0], outputs[0]![i - start]);
    });
  });
});
