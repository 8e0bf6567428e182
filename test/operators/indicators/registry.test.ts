/**
 * The registry: which implementation a name gets, tulind's metadata for config validation, and
 * the errors a bad config meets before anything runs.
 */
import * as assert from 'node:assert/strict';
import {
  createIndicator,
  createSma,
  describeIndicator,
  incrementalNames,
  indicatorNames,
  isIncremental,
} from '../../../operators/indicators';
import { tulindIndicator } from '../../../operators/indicators/tulind';
import { createWindowedIndicator } from '../../../operators/indicators/tulindWindow';
import { IndicatorError } from '../../../operators/indicators/types';
import { assertIndicatorError } from './contract';
import { loadCandles } from './fixtures';

const INCREMENTAL = [
  'ad',
  'adx',
  'aroon',
  'atr',
  'bbands',
  'cci',
  'dema',
  'di',
  'dx',
  'ema',
  'macd',
  'mfi',
  'mom',
  'natr',
  'nvi',
  'obv',
  'pvi',
  'roc',
  'rsi',
  'sma',
  'stddev',
  'stoch',
  'tema',
  'tr',
  'vwma',
  'wad',
  'wilders',
  'willr',
  'wma',
];

describe('indicators/registry', () => {
  it('lists tulind 0.8.4’s 104 indicators, 29 of them incremental', () => {
    assert.equal(indicatorNames().length, 104);
    assert.deepEqual([...incrementalNames()], INCREMENTAL);
    for (const name of indicatorNames()) assert.equal(isIncremental(name), INCREMENTAL.includes(name), name);
    assert.equal(isIncremental('toString'), false);
  });

  it('gives incremental names the O(1) implementation and every other name tulind on a window', () => {
    for (const name of indicatorNames()) {
      const meta = describeIndicator(name);
      const options: number[] = meta.options.map((o) =>
        o.includes('period') ? 5 : o === 'alpha' ? 0.2 : o.includes('maximum') ? 0.2 : 0.02,
      );
      if (name === 'adosc' || name === 'kvo' || name === 'ppo' || name === 'apo' || name === 'vosc')
        options.splice(0, 2, 2, 5);
      if (name === 'ultosc') options.splice(0, 3, 2, 3, 5);
      if (name === 'vidya') options.splice(0, 2, 2, 5);
      if (name === 'macd') options.splice(0, 3, 2, 5, 9);
      const inputs = meta.inputs.filter((n) => n === 'real').length === 2 ? { inputs: ['close', 'open'] as const } : {};
      const indicator = createIndicator(name, options, inputs);
      assert.equal(indicator.name, name);
      assert.equal('window' in indicator, !isIncremental(name), `${name} implementation`);
    }
  });

  it("describes an indicator with tulind's names and start: stoch", () => {
    const stoch = describeIndicator('stoch');
    assert.deepEqual(
      { ...stoch, start: undefined },
      {
        name: 'stoch',
        fullName: 'Stochastic Oscillator',
        type: 'indicator',
        inputs: ['high', 'low', 'close'],
        options: ['%k period', '%k slowing period', '%d period'],
        outputs: ['stoch_k', 'stoch_d'],
        incremental: true,
        start: undefined,
      },
    );
    assert.equal(stoch.start([14, 3, 3]), 17);
    assert.equal(describeIndicator('macd').start([12, 26, 9]), 25);
  });

  it('describes all 104 indicators exactly as tulind does', () => {
    for (const name of indicatorNames()) {
      const info = tulindIndicator(name)!;
      const meta = describeIndicator(name);
      assert.deepEqual(
        [meta.inputs, meta.options, meta.outputs],
        [info.input_names, info.option_names, info.output_names],
        name,
      );
    }
  });

  it('rejects a wrong option count in describe().start, naming the options', () => {
    assertIndicatorError(
      () => describeIndicator('macd').start([12, 26]),
      'BAD_OPTIONS',
      'macd takes 3 options (short period, long period, signal period), found 2',
    );
  });

  it("rejects unknown names with UNKNOWN_INDICATOR and close matches: 'EMA' → ema, 'stochastic' → stoch, 'macdd' → macd, 'rsl' → rsi", () => {
    assertIndicatorError(() => createIndicator('EMA', [14]), 'UNKNOWN_INDICATOR', "'EMA'", "did you mean 'ema'");
    assertIndicatorError(() => createIndicator('stochastic', [14, 3, 3]), 'UNKNOWN_INDICATOR', "'stoch'");
    assertIndicatorError(() => createIndicator('macdd', [12, 26, 9]), 'UNKNOWN_INDICATOR', "did you mean 'macd'");
    assertIndicatorError(() => createIndicator('rsl', [14]), 'UNKNOWN_INDICATOR', "'rsi'");
    assertIndicatorError(() => describeIndicator('bolinger'), 'UNKNOWN_INDICATOR', "'bolinger'", 'tulind has 104');
  });

  it('rejects a non-string name with UNKNOWN_INDICATOR rather than a TypeError', () => {
    assertIndicatorError(() => createIndicator(undefined as unknown as string, []), 'UNKNOWN_INDICATOR', 'undefined');
    assertIndicatorError(() => createIndicator('__proto__', []), 'UNKNOWN_INDICATOR');
  });

  it("rejects a wrong option count with BAD_OPTIONS naming tulind's options and what was found", () => {
    assertIndicatorError(
      () => createIndicator('macd', [12, 26]),
      'BAD_OPTIONS',
      'short period, long period, signal period',
      'found 2: [12, 26]',
    );
    assertIndicatorError(() => createIndicator('obv', [3]), 'BAD_OPTIONS', 'obv takes no options, found 1');
    assertIndicatorError(() => createIndicator('vidya', [2, 5]), 'BAD_OPTIONS', 'short period, long period, alpha');
  });

  it('accepts exactly the option sets tulind accepts for every incremental indicator (each option from −1 to 4)', () => {
    const grid = (n: number): number[][] =>
      n === 0 ? [[]] : grid(n - 1).flatMap((rest) => [-1, 0, 1, 2, 3, 4].map((v) => [v, ...rest]));
    for (const name of INCREMENTAL) {
      for (const options of grid(describeIndicator(name).options.length)) {
        const accepts = (create: () => unknown): boolean => {
          try {
            create();
            return true;
          } catch (error) {
            if (error instanceof IndicatorError && error.code === 'BAD_OPTIONS') return false;
            throw error;
          }
        };
        assert.equal(
          accepts(() => createIndicator(name, options)),
          accepts(() => createWindowedIndicator(name, options)),
          `${name} ${JSON.stringify(options)}`,
        );
      }
    }
  });

  it('checks the window even for incremental indicators, so a config stays valid if the implementation changes', () => {
    assertIndicatorError(
      () => createIndicator('rsi', [14], { window: 10 }),
      'BAD_OPTIONS',
      'rsi',
      'window',
      'warm-up (15',
    );
    assert.equal('window' in createIndicator('rsi', [14], { window: 500 }), false);
  });

  it('feeds the chosen field to an incremental real input: inputs [high] on sma equals createSma(…, high)', function () {
    const { bars } = loadCandles(this, 'binance_spot_BTCUSDT_5m_2023-04.csv');
    const viaRegistry = createIndicator('sma', [10], { inputs: ['high'] });
    const direct = createSma([10], 'high');
    for (const bar of bars.slice(0, 500)) {
      assert.equal(viaRegistry.update(bar), direct.update(bar));
      assert.equal(viaRegistry.values[0], direct.values[0]);
    }
  });

  it('rejects inputs that do not fit: two fields for sma, any field for atr', () => {
    assertIndicatorError(
      () => createIndicator('sma', [10], { inputs: ['close', 'open'] }),
      'BAD_OPTIONS',
      'sma',
      "one 'real' input",
    );
    assertIndicatorError(
      () => createIndicator('atr', [14], { inputs: ['close'] }),
      'BAD_OPTIONS',
      'atr reads high, low, close',
    );
  });

  it('creates two-input comparisons through the registry with explicit fields', function () {
    const { bars } = loadCandles(this, 'binance_spot_BTCUSDT_5m_2023-04.csv');
    const cross = createIndicator('crossover', [], { inputs: ['close', 'open'], window: 10 });
    let crossings = 0;
    for (const bar of bars.slice(0, 1000)) if (cross.update(bar) && cross.values[0] === 1) crossings += 1;
    assert.ok(crossings > 0);
  });
});
