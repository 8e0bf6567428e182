import { deepStrictEqual, equal, ok, throws } from 'node:assert/strict';
import { tulindIndicator } from '../../operators/indicators/tulind';
import { computeFeatures } from '../../operators/computeFeatures';
import type { Features } from '../../operators/types';
import { bar, randomWalkBars } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';
import { assertThrowingInputReachesErrorChannel } from '../support/errorChannel';

const SMA3 = { features: [{ id: 'sma3', indicator: 'sma', options: [3] }] };

function sma3(features: Features): number | null {
  return features.values['sma3'] ?? null;
}

describe('computeFeatures', () => {
  it('publishes null until an indicator is warm, then its value, one features event per bar', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const bars = {
        a: bar(0, { o: 1 }),
        b: bar(60_000, { o: 2 }),
        c: bar(120_000, { o: 3 }),
        d: bar(180_000, { o: 7 }),
      };
      const source = cold('a-b-c-d-|', bars);
      const result = source.pipe(computeFeatures(SMA3));
      expectObservable(result.pipe(mapValues(sma3))).toBe('a-b-c-d-|', { a: null, b: null, c: 2, d: 4 });
      expectSubscriptions(source.subscriptions).toBe('^-------!');
    });
  });

  it('keeps a separate indicator state per symbol and timeframe', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const eth = (t: number, c: number) => bar(t, { o: c }, '1m', 'ETH/USDT');
      const source = cold('abcdef|', {
        a: bar(0, { o: 1 }),
        b: eth(0, 100),
        c: bar(60_000, { o: 2 }),
        d: eth(60_000, 200),
        e: bar(120_000, { o: 3 }),
        f: eth(120_000, 300),
      });
      expectObservable(source.pipe(computeFeatures(SMA3), mapValues(sma3))).toBe('abcdef|', {
        a: null,
        b: null,
        c: null,
        d: null,
        e: 2,
        f: 200,
      });
    });
  });

  it('names multi-output indicators <id>.<output> in tulind order', () => {
    const [first] = collect(randomWalkBars(40), {
      features: [{ id: 'bb', indicator: 'bbands', options: [20, 2] }],
    }).slice(-1);
    deepStrictEqual(Object.keys(first!.values), ['bb.bbands_lower', 'bb.bbands_middle', 'bb.bbands_upper']);
    ok(first!.values['bb.bbands_lower']! < first!.values['bb.bbands_upper']!);
  });

  it('computes indicators without an incremental version through tulind on a window, equal to tulind batch', () => {
    const bars = randomWalkBars(120);
    const out = collect(bars, { features: [{ id: 'kama', indicator: 'kama', options: [10] }] });
    const closes = bars.map((b) => b.close);
    let batch: number[] = [];
    tulindIndicator('kama')!.indicator([closes], [10], (err, result) => {
      if (err || !result) throw new Error(String(err));
      batch = result[0]!;
    });
    const last = out[out.length - 1]!.values['kama']!;
    ok(Math.abs(last - batch[batch.length - 1]!) < 1e-9, `kama ${last} vs tulind ${batch[batch.length - 1]}`);
  });

  it('throws when the operator is created with an unknown indicator, before any subscription', () => {
    throws(() => computeFeatures({ features: [{ id: 'x', indicator: 'rsiii', options: [14] }] }), /rsi/);
  });

  it('throws when two features publish the same name', () => {
    throws(
      () =>
        computeFeatures({
          features: [
            { id: 'a', indicator: 'sma', options: [3] },
            { id: 'a', indicator: 'ema', options: [3] },
          ],
        }),
      /unique/,
    );
  });

  it('sends a throwing input to the error channel after the features it computed, and unsubscribes', () => {
    assertThrowingInputReachesErrorChannel(
      () => computeFeatures({ features: [{ id: 'ema3', indicator: 'ema', options: [3] }] }),
      bar(0, { o: 1 }),
      bar(120_000, { o: 2 }),
    );
  });

  it('passes a source error through', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-#', { a: bar(0, { o: 1 }) }, new Error('feed down'));
      expectObservable(source.pipe(computeFeatures(SMA3), mapValues(sma3))).toBe(
        'a-#',
        { a: null },
        new Error('feed down'),
      );
    });
  });

  it('completes without output on an empty source', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<ReturnType<typeof bar>>('---|').pipe(computeFeatures(SMA3))).toBe('---|');
    });
  });

  it('stops reading the source when unsubscribed early', () => {
    makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b-c-d-|', {
        a: bar(0, { o: 1 }),
        b: bar(60_000, { o: 2 }),
        c: bar(120_000, { o: 3 }),
        d: bar(180_000, { o: 4 }),
      });
      expectObservable(source.pipe(computeFeatures(SMA3), mapValues(sma3)), '^----!').toBe('-a-b-', {
        a: null,
        b: null,
      });
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it('starts every subscription from a clean state', () => {
    const bars = randomWalkBars(30);
    const op = computeFeatures(SMA3);
    const first = collectWith(bars, op);
    const second = collectWith(bars, op);
    deepStrictEqual(second, first);
    equal(first[1]!.values['sma3'], null);
  });
});

import { from, map, type OperatorFunction } from 'rxjs';
import type { Bar } from '../../operators/types';
import type { ComputeFeaturesConfig } from '../../operators/computeFeatures';

function mapValues<T>(fn: (f: Features) => T): OperatorFunction<Features, T> {
  return map(fn);
}

function collect(bars: readonly Bar[], config: ComputeFeaturesConfig): Features[] {
  return collectWith(bars, computeFeatures(config));
}

function collectWith(bars: readonly Bar[], op: OperatorFunction<Bar, Features>): Features[] {
  const out: Features[] = [];
  from(bars)
    .pipe(op)
    .subscribe((f) => out.push(f));
  return out;
}
