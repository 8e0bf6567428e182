import { ok, strictEqual, throws } from 'node:assert/strict';
import fc from 'fast-check';
import { from, lastValueFrom, map, toArray } from 'rxjs';
import { binOf, forecastReturn } from '../../operators/forecastReturn';
import type { Signal } from '../../operators/types';
import { signal } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';
import { assertThrowingInputReachesErrorChannel } from '../support/errorChannel';

/** A fused signal of score `score` on bar `i` at `price`. */
function at(i: number, score: number, price: number): Signal {
  return signal({ source: 'fused', tsEvent: (i + 1) * 60_000, price, detail: { score } });
}

const show = map((s: Signal) => {
  const f = s.forecast!;
  return f.available ? `${f.bin}:${f.expectedBps.toFixed(1)}±${f.stdBps.toFixed(1)}/${f.samples}` : `${f.bin}:-`;
});

describe('forecastReturn', () => {
  it('learns per bin, from matured outcomes only, what followed the score', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // H = 1: the signal of bar i is scored at bar i+1 with ln(p[i+1]/p[i]).
      // Bin 1 (score ≥ 0) was followed by +1 % twice: by bar c it has two outcomes.
      const p0 = 100;
      const p1 = p0 * Math.exp(0.01);
      const p2 = p1 * Math.exp(0.01);
      const source = cold('abcd|', {
        a: at(0, 0.5, p0),
        b: at(1, 0.5, p1),
        c: at(2, 0.5, p2),
        d: at(3, -0.5, p2),
      });
      const config = { horizonBars: 1, edges: [0], minSamples: 2, shrinkage: 0 };
      expectObservable(source.pipe(forecastReturn(config), show)).toBe('abcd|', {
        a: '1:-',
        b: '1:-',
        c: '1:100.0±0.0/2',
        d: '0:-',
      });
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('shrinks a thin bin toward zero and reports the calibrated win probability', async () => {
    // Alternating +2 % / −1 % outcomes in one bin, H = 1.
    const prices = [100];
    for (let i = 0; i < 40; i++) prices.push(prices[i]! * Math.exp(i % 2 === 0 ? 0.02 : -0.01));
    const out = await lastValueFrom(
      from(prices.map((p, i) => at(i, 0.5, p))).pipe(
        forecastReturn({ horizonBars: 1, edges: [0], minSamples: 10, shrinkage: 40, winThresholdBps: 24 }),
        toArray(),
      ),
    );
    const last = out.at(-1)!.forecast!;
    strictEqual(last.samples, 40);
    // raw mean 50 bps, shrunk by 40/(40+40)
    ok(Math.abs(last.expectedBps - 25) < 1e-6, String(last.expectedBps));
    ok(Math.abs(last.pWin - 0.5) < 1e-9);
    ok(last.stdBps > 140 && last.stdBps < 160, String(last.stdBps));
  });

  it('never uses a price after the bar it forecasts on (lookahead property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: 1, max: 2, noNaN: true })), {
          minLength: 5,
          maxLength: 60,
        }),
        fc.integer({ min: 1, max: 5 }),
        fc.nat(),
        async (rows, horizon, cutSeed) => {
          const cut = cutSeed % rows.length;
          const signals = rows.map(([s, p], i) => at(i, s, p));
          const perturbed = signals.map((s, i) => (i > cut ? { ...s, price: s.price * 3, detail: { score: 0.9 } } : s));
          const config = { horizonBars: horizon, edges: [-0.3, 0.3], minSamples: 1, shrinkage: 1 };
          const a = await lastValueFrom(from(signals).pipe(forecastReturn(config), toArray()));
          const b = await lastValueFrom(from(perturbed).pipe(forecastReturn(config), toArray()));
          for (let i = 0; i <= cut; i++) strictEqual(JSON.stringify(a[i]!.forecast), JSON.stringify(b[i]!.forecast));
        },
      ),
    );
  });

  it('sends a throwing input to the error channel after what it forecast, and unsubscribes', () => {
    assertThrowingInputReachesErrorChannel(
      () => forecastReturn({ horizonBars: 2, edges: [0], minSamples: 1 }),
      at(0, 0.5, 100),
      at(1, 0.5, 101),
    );
  });

  it('gives an unavailable signal no bin, passes errors through and completes on empty', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const off = { ...at(0, 0.5, 100), available: false };
      const config = { horizonBars: 2, edges: [0], minSamples: 1 };
      expectObservable(cold('a#', { a: off }).pipe(forecastReturn(config), show)).toBe('a#', { a: '-1:-' });
      expectObservable(cold<Signal>('|').pipe(forecastReturn(config))).toBe('|');
    });
  });

  it('rejects a broken config before subscription', () => {
    throws(() => forecastReturn({ horizonBars: 0, edges: [0] }), /horizonBars/);
    throws(() => forecastReturn({ horizonBars: 1, edges: [0.5, 0.2] }), /edges/);
    throws(() => forecastReturn({ horizonBars: 1, edges: [1] }), /edges/);
    strictEqual(binOf([-0.5, 0.5], -0.6), 0);
    strictEqual(binOf([-0.5, 0.5], -0.5), 1);
    strictEqual(binOf([-0.5, 0.5], 0.7), 2);
  });
});
