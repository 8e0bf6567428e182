/**
 * The shared suites every indicator's test calls:
 * - `streamingIndicatorContract`: shape, warm-up, finiteness, per-instance state, option errors;
 * - `tulindParity`: every output at every bar of the four real candle files equals tulind's batch
 *   output within a relative 1e-6.
 */
import * as assert from 'node:assert/strict';
import { describeIndicator } from '../../../operators/indicators/registry';
import { IndicatorError, type PriceField, type StreamingIndicator } from '../../../operators/indicators/types';
import { CANDLE_FILES, OUTAGE_FILE, loadCandles, longestFlatRun, tulindBatch } from './fixtures';

export interface IndicatorSpec {
  /** tulind's name. */
  readonly name: string;
  /** Builds the indicator under test from tulind-ordered options. */
  readonly create: (options: readonly number[]) => StreamingIndicator;
  /** Option sets to run: tulind's usual default plus small and large periods. */
  readonly optionSets: readonly (readonly number[])[];
  /** Field feeding a `real` input (default close). */
  readonly realField?: PriceField;
  /**
   * For slow implementations (tulind on a window): run the data-driven checks on this many bars
   * per file instead of all, centred on the flat outage for the finiteness check.
   */
  readonly barLimit?: number;
}

/** Throws unless `fn` throws an IndicatorError with `code` whose message contains every `parts`. */
export function assertIndicatorError(fn: () => unknown, code: IndicatorError['code'], ...parts: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof IndicatorError, `expected IndicatorError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const part of parts) assert.ok(error.message.includes(part), `message "${error.message}" lacks "${part}"`);
    return true;
  });
}

const show = (options: readonly number[]): string => `[${options.join(', ')}]`;

export function streamingIndicatorContract(spec: IndicatorSpec): void {
  const meta = describeIndicator(spec.name);
  const sets = spec.optionSets.map(show).join(', ');

  describe('streaming contract', () => {
    it(`reports tulind's name, options and output names, one value slot per output, for ${sets}`, () => {
      for (const options of spec.optionSets) {
        const indicator = spec.create(options);
        assert.equal(indicator.name, spec.name);
        assert.deepEqual([...indicator.options], [...options]);
        assert.deepEqual([...indicator.outputs], [...meta.outputs]);
        assert.equal(indicator.values.length, indicator.outputs.length);
        assert.ok(indicator.values instanceof Float64Array);
      }
    });

    it(`has warmup = tulind start(options) + 1 for ${sets}`, () => {
      for (const options of spec.optionSets) {
        assert.equal(spec.create(options).warmup, meta.start(options) + 1, `options ${show(options)}`);
      }
    });

    it(`returns false for the first warmup − 1 real bars, then true on every bar, for ${sets}`, function () {
      const { bars: all } = loadCandles(this, 'binance_spot_BTCUSDT_1h_nfi.csv');
      const bars = all.slice(0, spec.barLimit ?? all.length);
      for (const options of spec.optionSets) {
        const indicator = spec.create(options);
        bars.forEach((bar, i) =>
          assert.equal(indicator.update(bar), i >= indicator.warmup - 1, `bar ${i}, options ${show(options)}`),
        );
      }
    });

    it(`yields only finite values after warm-up on real bars, through the 17-bar flat outage of ${OUTAGE_FILE}, for ${sets}`, function () {
      const { bars: all } = loadCandles(this, OUTAGE_FILE);
      const outage = longestFlatRun(all);
      assert.ok(outage.length >= 17, `expected the 17-bar outage, found ${outage.length}`);
      const from = spec.barLimit === undefined ? 0 : Math.max(0, outage.start - Math.floor(spec.barLimit / 2));
      const bars = all.slice(from, spec.barLimit === undefined ? all.length : from + spec.barLimit);
      for (const options of spec.optionSets) {
        const indicator = spec.create(options);
        bars.forEach((bar, i) => {
          if (!indicator.update(bar)) return;
          indicator.values.forEach((v, k) =>
            assert.ok(Number.isFinite(v), `${indicator.outputs[k]} = ${v} at bar ${i}, options ${show(options)}`),
          );
        });
      }
    });

    it('keeps all state per instance: two interleaved instances fed the same bars agree bit for bit', function () {
      const { bars } = loadCandles(this, 'binance_spot_BTCUSDT_5m_2023-04.csv');
      const options = spec.optionSets[0]!;
      const a = spec.create(options);
      const b = spec.create(options);
      const lone = spec.create(options);
      const n = Math.min(2000, spec.barLimit ?? 2000);
      for (const bar of bars.slice(0, n)) {
        const warmA = a.update(bar);
        const warmB = b.update(bar);
        assert.equal(warmA, warmB);
        if (warmA) assert.deepEqual([...a.values], [...b.values]);
      }
      for (const bar of bars.slice(0, n)) lone.update(bar);
      assert.deepEqual([...lone.values], [...a.values]);
    });

    it(`rejects a wrong option count with BAD_OPTIONS naming tulind's options (${meta.options.join(', ') || 'none'})`, () => {
      const options = spec.optionSets[0]!;
      assertIndicatorError(() => spec.create([...options, 3]), 'BAD_OPTIONS', spec.name, ...meta.options);
      if (options.length > 0)
        assertIndicatorError(() => spec.create(options.slice(1)), 'BAD_OPTIONS', spec.name, ...meta.options);
    });

    if (meta.options.length > 0) {
      it('rejects NaN, Infinity or a string in each option with BAD_OPTIONS naming that option and the value found', () => {
        const base = spec.optionSets[0]!;
        meta.options.forEach((optionName, i) => {
          for (const bad of [NaN, Infinity, '14' as unknown as number]) {
            const options = base.slice();
            options[i] = bad;
            assertIndicatorError(() => spec.create(options), 'BAD_OPTIONS', spec.name, `'${optionName}'`);
          }
        });
      });
    }

    const periods = meta.options.map((n, i) => [n, i] as const).filter(([n]) => n.includes('period'));
    if (periods.length > 0) {
      it('rejects a zero, negative or fractional period with BAD_OPTIONS naming the period and the value found', () => {
        const base = spec.optionSets[0]!;
        for (const [optionName, i] of periods) {
          for (const bad of [0, -3, 2.5]) {
            const options = base.slice();
            options[i] = bad;
            assertIndicatorError(() => spec.create(options), 'BAD_OPTIONS', spec.name, `'${optionName}'`, String(bad));
          }
        }
      });
    }
  });
}

/** Worst relative error per indicator and file, filled by tulindParity (printed on request). */
export const parityReport = new Map<
  string,
  { worst: number; compared: number; exact: number; tulindNonFinite: number }
>();

/**
 * Relative tolerance of the parity tests: |ours − tulind| ≤ 1e-6 · max(|tulind|, s), where s is
 * the mean absolute value of that output over the file. s matters only for outputs that cross or
 * touch zero (MACD, its histogram, ROC, MOM, OBV, CCI, DX…), where a relative error against a
 * value near 0 means nothing; for a positive series it merely floors the denominator. In practice
 * every value agrees bit for bit (the implementations follow Tulip's operation order), so the
 * tolerance only guards against a platform's libm differing in the last bit of sqrt.
 */
export const RELATIVE_TOLERANCE = 1e-6;

export function tulindParity(spec: IndicatorSpec): void {
  const sets = spec.optionSets.map(show).join(', ');
  describe('parity with tulind batch on real candles', () => {
    for (const file of CANDLE_FILES) {
      it(`matches tulind at every bar and output of ${file} within relative 1e-6 for ${sets}`, function () {
        const candles = loadCandles(this, file);
        const key = `${spec.name}|${file}`;
        const entry = parityReport.get(key) ?? { worst: 0, compared: 0, exact: 0, tulindNonFinite: 0 };
        for (const options of spec.optionSets) {
          const { start, outputs } = tulindBatch(spec.name, options, candles.columns, [spec.realField ?? 'close']);
          const scale = outputs.map((series) => {
            let sum = 0;
            let n = 0;
            for (const v of series)
              if (Number.isFinite(v)) {
                sum += Math.abs(v);
                n++;
              }
            return n > 0 ? sum / n : 1;
          });
          const indicator = spec.create(options);
          candles.bars.forEach((bar, i) => {
            const warm = indicator.update(bar);
            assert.equal(warm, i >= start, `warm flag at bar ${i}, options ${show(options)}`);
            if (!warm) return;
            for (let k = 0; k < outputs.length; k++) {
              const expected = outputs[k]![i - start]!;
              const actual = indicator.values[k]!;
              entry.compared += 1;
              if (!Number.isFinite(expected)) {
                // tulind divided by zero (or rooted a rounding-negative variance); ours returns the
                // documented limit value instead, which the contract requires to be finite.
                entry.tulindNonFinite += 1;
                assert.ok(
                  Number.isFinite(actual),
                  `${indicator.outputs[k]} at bar ${i}: ours ${actual}, tulind ${expected}`,
                );
                continue;
              }
              if (Object.is(actual, expected)) {
                entry.exact += 1;
                continue;
              }
              const error = Math.abs(actual - expected) / Math.max(Math.abs(expected), scale[k]!);
              if (error > entry.worst) entry.worst = error;
              assert.ok(
                error <= RELATIVE_TOLERANCE,
                `${indicator.outputs[k]} at bar ${i}, options ${show(options)}: ours ${actual}, tulind ${expected}, relative ${error}`,
              );
            }
          });
        }
        parityReport.set(key, entry);
      });
    }
  });
}

// BOT4_INDICATOR_REPORT=1 prints the parity summary after the run (for reviews, not for CI logs).
if (process.env['BOT4_INDICATOR_REPORT'] === '1') {
  after(() => {
    const rows = [...parityReport.entries()].map(([key, e]) => {
      const [name, file] = key.split('|');
      return `${name!.padEnd(8)} ${file!.padEnd(36)} worst ${e.worst.toExponential(2)}  exact ${e.exact}/${e.compared}  tulind non-finite ${e.tulindNonFinite}`;
    });
    console.log(`\nparity with tulind (relative error, ${rows.length} indicator × file pairs)\n${rows.join('\n')}`);
  });
}
