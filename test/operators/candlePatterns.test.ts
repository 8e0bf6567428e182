/**
 * Candlestick patterns match TA-Lib on every bar of 20,000 real 5m candles (the reference made by
 * `scripts/candles_reference.py` with TA-Lib's Python package), including the look-back.
 */
import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  CandlePatternDetector,
  PATTERN_LOOKBACK,
  PATTERN_NAMES,
  detectCandlePatterns,
  type PatternName,
} from '../../operators/candlePatterns';
import { map } from 'rxjs';
import type { Features } from '../../operators/types';
import { readBarsCsv } from '../../sources/csvBars';
import { features } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';
import { repoRoot, requireSharedData } from '../support/sharedData';
import { assertThrowingInputReachesErrorChannel } from '../support/errorChannel';

interface Reference {
  readonly bars: number;
  readonly sums: { readonly open: number; readonly high: number; readonly low: number; readonly close: number };
  readonly patterns: Record<
    PatternName,
    { readonly function: string; readonly lookback: number; readonly hits: [number, number][] }
  >;
}

const REFERENCE = JSON.parse(
  readFileSync(path.join(repoRoot, 'test', 'operators', 'fixtures', 'talib_candles_reference.json'), 'utf8'),
) as Reference;

describe('candlestick patterns', () => {
  it('match TA-Lib on every bar of 20,000 real 5m candles', function () {
    const file = requireSharedData(this, 'candles/binance_spot_BTCUSDT_5m_nfi.csv');
    const bars = readBarsCsv(file, { venue: 'binance', symbol: 'BTC/USDT', timeframe: '5m' }).slice(0, REFERENCE.bars);
    strictEqual(bars.length, REFERENCE.bars);
    const sum = (f: (b: (typeof bars)[number]) => number): number => bars.reduce((s, b) => s + f(b), 0);
    ok(Math.abs(sum((b) => b.close) - REFERENCE.sums.close) < 1e-3, 'the input differs from the reference input');
    ok(Math.abs(sum((b) => b.open) - REFERENCE.sums.open) < 1e-3, 'the input differs from the reference input');
    const detector = new CandlePatternDetector();
    const mismatches: string[] = [];
    const expected = new Map(PATTERN_NAMES.map((name) => [name, new Map(REFERENCE.patterns[name].hits)]));
    const seen = new Map(PATTERN_NAMES.map((name) => [name, 0]));
    bars.forEach((bar, i) => {
      const got = detector.update(bar.open, bar.high, bar.low, bar.close);
      for (const name of PATTERN_NAMES) {
        const value = got[name];
        if (i < REFERENCE.patterns[name].lookback) {
          if (value !== null) mismatches.push(`${name} bar ${i}: ${value} before the look-back`);
          continue;
        }
        const want = expected.get(name)!.get(i) ?? 0;
        if (value !== want) mismatches.push(`${name} bar ${i}: ${value}, TA-Lib ${want}`);
        if (want !== 0) seen.set(name, seen.get(name)! + 1);
      }
    });
    deepStrictEqual(mismatches.slice(0, 20), []);
    for (const name of PATTERN_NAMES) {
      strictEqual(PATTERN_LOOKBACK[name], REFERENCE.patterns[name].lookback, `${name} look-back`);
      ok(seen.get(name)! > 0, `${name}: TA-Lib found none in the reference, the comparison proves nothing`);
    }
  });

  it('publishes cdl.* features per bar, null while warming up, with fresh state per subscription', () => {
    const at = (i: number, open: number, high: number, low: number, close: number): Features => {
      const f = features(i * 60_000, {});
      return { ...f, bar: { ...f.bar, open, high, low, close } };
    };
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // a: any bar · b: red 101 → 100 · c: green 99.8 → 102, whose body engulfs b's
      const source = cold<Features>('abc|', {
        a: at(0, 100, 100.5, 99.5, 100.2),
        b: at(1, 101, 101.5, 99.5, 100),
        c: at(2, 99.8, 102.5, 99.5, 102),
      });
      const out = source.pipe(
        detectCandlePatterns(),
        map((f) => `${f.values['cdl.engulfing']}|${f.values['cdl.doji']}`),
      );
      expectObservable(out).toBe('abc|', { a: 'null|null', b: 'null|null', c: '100|null' });
      expectObservable(out).toBe('abc|', { a: 'null|null', b: 'null|null', c: '100|null' });
      expectSubscriptions(source.subscriptions).toBe(['^--!', '^--!']);
    });
  });

  it('sends a throwing input to the error channel after the patterns it published, and unsubscribes', () => {
    assertThrowingInputReachesErrorChannel(() => detectCandlePatterns(), features(0, {}), features(120_000, {}));
  });

  it('passes a source error through', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Features>('-#').pipe(detectCandlePatterns())).toBe('-#');
    });
  });
});
