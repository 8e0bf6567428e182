/**
 * Multi-timeframe confirmation: higher-timeframe bars rolled up from the base bars equal the
 * exchange's own 1h candles (real data), and a higher-timeframe value is visible only from the
 * base bar that closes it — never earlier (lookahead tests).
 */
import { deepStrictEqual, ok, strictEqual, throws } from 'node:assert/strict';
import fc from 'fast-check';
import { from, lastValueFrom, map, toArray } from 'rxjs';
import { computeFeatures } from '../../operators/computeFeatures';
import {
  confirmTimeframes,
  timeframeFeatureNames,
  type ConfirmTimeframesConfig,
} from '../../operators/confirmTimeframes';
import type { Bar, Features } from '../../operators/types';
import { readBarsCsv } from '../../sources/csvBars';
import { bar, randomWalkBars } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';
import { requireSharedData } from '../support/sharedData';
import { assertThrowingInputReachesErrorChannel } from '../support/errorChannel';

const CONFIG: ConfirmTimeframesConfig = {
  base: '5m',
  timeframes: [
    {
      timeframe: '1h',
      features: [
        { id: 'ema12', indicator: 'ema', options: [12] },
        { id: 'atr14', indicator: 'atr', options: [14] },
      ],
      trend: { fast: 'close', slow: 'ema12' },
    },
  ],
};

async function run(bars: readonly Bar[], config = CONFIG): Promise<Features[]> {
  return lastValueFrom(from(bars).pipe(computeFeatures({ features: [] }), confirmTimeframes(config), toArray()));
}

describe('confirmTimeframes', () => {
  it('builds 1h bars from real 5m bars that equal the exchange’s 1h candles, visible once closed', async function () {
    const five = readBarsCsv(requireSharedData(this, 'candles/binance_spot_BTCUSDT_5m_nfi.csv'), {
      venue: 'binance',
      symbol: 'BTC/USDT',
      timeframe: '5m',
    });
    const hour = readBarsCsv(requireSharedData(this, 'candles/binance_spot_BTCUSDT_1h_nfi.csv'), {
      venue: 'binance',
      symbol: 'BTC/USDT',
      timeframe: '1h',
    });
    const reference = await lastValueFrom(
      from(hour).pipe(computeFeatures({ features: CONFIG.timeframes[0]!.features }), toArray()),
    );
    const out = await run(five);
    let h = -1;
    let compared = 0;
    for (const f of out) {
      // the last exchange 1h candle closed at or before this 5m bar's close
      while (h + 1 < reference.length && reference[h + 1]!.tsEvent <= f.tsEvent) h++;
      if (h < 0) {
        strictEqual(f.values['1h.close'], null, 'a 1h value before the first hour closed');
        continue;
      }
      const ref = reference[h]!;
      strictEqual(f.values['1h.close'], ref.bar.close, `1h close at ${new Date(f.tsEvent).toISOString()}`);
      for (const id of ['ema12', 'atr14']) {
        const want = ref.values[id]!;
        const got = f.values[`1h.${id}`];
        if (want === null) strictEqual(got, null);
        else
          ok(
            got !== null && got !== undefined && Math.abs(got - want) <= 1e-9 * Math.abs(want),
            `1h.${id} ${got} vs ${want}`,
          );
      }
      compared++;
    }
    ok(compared > 60_000, `${compared} bars compared`);
  });

  it('shows a higher-timeframe bar from the base bar that closes it, not before', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      // 30m over 5m: bars 0..5 make the first 30m bar; bar 5 (ending at 30m) closes it
      const bars = Array.from({ length: 8 }, (_, i) => bar(i * 300_000, { o: 100 + i, c: 101 + i }, '5m'));
      const source = cold<Bar>('abcdefgh|', Object.fromEntries(bars.map((b, i) => ['abcdefgh'[i]!, b])));
      const config: ConfirmTimeframesConfig = { base: '5m', timeframes: [{ timeframe: '30m', features: [] }] };
      expectObservable(
        source.pipe(
          computeFeatures({ features: [] }),
          confirmTimeframes(config),
          map((f) => String(f.values['30m.close'])),
        ),
      ).toBe('abcdefgh|', { a: 'null', b: 'null', c: 'null', d: 'null', e: 'null', f: '106', g: '106', h: '106' });
    });
  });

  it('closes a higher-timeframe bar whose last base bar is missing when the next one starts', async () => {
    // 15m over 5m with the bar at 10–15 min missing: the 0–15 bar closes at the bar of 15–20, the
    // 15–30 bar with its last base bar (25–30)
    const bars = [0, 1, 3, 4, 5].map((i) => bar(i * 300_000, { o: 100 + i, c: 100 + i }, '5m'));
    const out = await run(bars, { base: '5m', timeframes: [{ timeframe: '15m', features: [] }] });
    deepStrictEqual(
      out.map((f) => f.values['15m.close']),
      [null, null, 101, 101, 105],
    );
  });

  it('never lets a change after base bar N alter any value at or before N (lookahead property)', async () => {
    const bars = randomWalkBars(600, { seed: 3 });
    const baseline = await run(bars);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 598 }), async (n) => {
        const perturbed = bars.map((b, i) =>
          i <= n ? b : { ...b, open: b.open * 1.5, high: b.high * 1.6, low: b.low * 1.4, close: b.close * 1.5 },
        );
        const changed = await run(perturbed);
        deepStrictEqual(
          changed.slice(0, n + 1).map((f) => f.values),
          baseline.slice(0, n + 1).map((f) => f.values),
        );
        ok(
          changed.slice(n + 13).some((f, i) => f.values['1h.close'] !== baseline[n + 13 + i]!.values['1h.close']) ||
            n + 13 >= bars.length,
          'the perturbation is never visible: the test would prove nothing',
        );
      }),
      { numRuns: 30 },
    );
  });

  it('publishes a confluence score of the voting timeframes, names its outputs, rejects a bad timeframe', async () => {
    const out = await run(randomWalkBars(400, { seed: 5 }));
    const scores = new Set(out.map((f) => f.values['mtf.confluence']));
    ok(scores.has(null) && (scores.has(1) || scores.has(-1)));
    deepStrictEqual(timeframeFeatureNames(CONFIG.timeframes), ['mtf.confluence', '1h.close', '1h.ema12', '1h.atr14']);
    throws(() => confirmTimeframes({ base: '5m', timeframes: [{ timeframe: '5m', features: [] }] }), /whole multiple/);
    throws(() => confirmTimeframes({ base: '1h', timeframes: [{ timeframe: '30m', features: [] }] }), /whole multiple/);
  });

  it('sends a throwing input to the error channel after what it confirmed, and unsubscribes', () => {
    const at = (tsOpen: number): Features => {
      const b = bar(tsOpen, { o: 1 }, '5m');
      return { kind: 'features', bar: b, tsEvent: b.tsEvent, values: {} };
    };
    assertThrowingInputReachesErrorChannel(() => confirmTimeframes(CONFIG), at(0), at(600_000));
  });

  it('passes a source error through', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<Features>('-#').pipe(confirmTimeframes(CONFIG))).toBe('-#');
    });
  });
});
