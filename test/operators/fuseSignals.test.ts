import { throws } from 'node:assert/strict';
import { map } from 'rxjs';
import { fuseSignals } from '../../operators/fuseSignals';
import type { Signal } from '../../operators/types';
import { signal } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';
import { assertThrowingInputReachesErrorChannel } from '../support/errorChannel';

const HYBRID = { weights: { ta: 0.5, ml: 0.5 }, minScore: 0.2, minConfidence: 0.2 };
const summary = map((s: Signal) => `${s.direction}|${s.strength.toFixed(3)}|${s.confidence.toFixed(3)}|${s.available}`);

describe('fuseSignals', () => {
  it('weights each source by its weight and confidence (the 50/50 hybrid)', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a-b-c|', {
        // both long at full confidence: score 1, confidence 1
        a: [
          signal({ source: 'ta', direction: 1, strength: 1, confidence: 1 }),
          signal({ source: 'ml', direction: 1, strength: 0.5, confidence: 1 }),
        ],
        // disagree with equal say: score (0.5·0.8 − 0.5·0.8)/0.8 = 0 → flat
        b: [
          signal({ source: 'ta', direction: 1, strength: 0.8, confidence: 0.8 }),
          signal({ source: 'ml', direction: -1, strength: 0.8, confidence: 0.8 }),
        ],
        // ta long strong & confident, ml short weak & unsure: (0.5·1·1 − 0.5·0.2·0.4)/(0.5 + 0.1) = 0.7667
        c: [
          signal({ source: 'ta', direction: 1, strength: 1, confidence: 1 }),
          signal({ source: 'ml', direction: -1, strength: 0.4, confidence: 0.2 }),
        ],
      });
      expectObservable(source.pipe(fuseSignals(HYBRID), summary)).toBe('a-b-c|', {
        a: '1|0.750|1.000|true',
        b: '0|0.000|0.800|true',
        c: '1|0.767|0.600|true',
      });
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it('gives a missing source’s say over the score to the others while confidence drops by its share', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a|', {
        a: [
          signal({ source: 'ta', direction: 1, strength: 0.6, confidence: 0.8 }),
          signal({ source: 'ml', available: false }),
        ],
      });
      // score = ta's alone (0.6); confidence = 0.5 × 0.8
      expectObservable(source.pipe(fuseSignals(HYBRID), summary)).toBe('a|', { a: '1|0.600|0.400|true' });
    });
  });

  it('is flat below minimum confidence even with a strong score, and unavailable when no source is', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('ab|', {
        a: [
          signal({ source: 'ta', direction: 1, strength: 1, confidence: 0.3 }),
          signal({ source: 'ml', available: false }),
        ],
        b: [signal({ source: 'ta', available: false }), signal({ source: 'ml', available: false })],
      });
      expectObservable(source.pipe(fuseSignals(HYBRID), summary)).toBe('ab|', {
        a: '0|1.000|0.150|true',
        b: '0|0.000|0.000|false',
      });
    });
  });

  it('ignores sources that have no weight, and normalises the weights (composite of spec §6.5)', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const composite = { weights: { ta: 0.35, ml: 0.25, sentiment: 0.15, onchain: 0.1, macro: 0.1, news: 0.05 } };
      const source = cold('a|', {
        a: [
          signal({ source: 'ta', direction: 1, strength: 1, confidence: 1 }),
          signal({ source: 'ml', direction: 1, strength: 1, confidence: 1 }),
        ],
      });
      // only ta + ml present: confidence = 0.35 + 0.25
      expectObservable(source.pipe(fuseSignals(composite), summary)).toBe('a|', { a: '1|1.000|0.600|true' });
      const taOnly = cold('a|', {
        a: [
          signal({ source: 'ta', direction: -1, strength: 1, confidence: 1 }),
          signal({ source: 'ml', direction: 1, strength: 1, confidence: 1 }),
        ],
      });
      expectObservable(taOnly.pipe(fuseSignals({ weights: { ta: 2 } }), summary)).toBe('a|', {
        a: '-1|1.000|1.000|true',
      });
    });
  });

  it('keeps the components and takes id, time and price from the bar', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const ta = signal({ source: 'ta', direction: 1, strength: 1, confidence: 1, price: 123 });
      const ml = signal({ source: 'ml', direction: 1, strength: 1, confidence: 1, price: 123 });
      const source = cold('a|', { a: [ta, ml] });
      expectObservable(
        source.pipe(
          fuseSignals(HYBRID),
          map((s) => [s.id, s.price, s.components?.length]),
        ),
      ).toBe('a|', {
        a: ['BTC/USDT:1m:60000:fused', 123, 2],
      });
    });
  });

  it('errors (rather than mixing bars) when a set holds signals of different bars', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a|', {
        a: [signal({ source: 'ta', tsEvent: 60_000 }), signal({ source: 'ml', tsEvent: 120_000 })],
      });
      expectObservable(source.pipe(fuseSignals(HYBRID))).toBe(
        '#',
        undefined,
        new RangeError(
          'fuseSignals: signals of different bars in one set (BTC/USDT:1m:60000:ta and BTC/USDT:1m:120000:ml); sources must emit one signal per bar',
        ),
      );
    });
  });

  it('refuses a config with no positive weight when created', () => {
    throws(() => fuseSignals({ weights: { ta: 0 } }), /positive weight/);
  });

  it('sends a throwing input to the error channel after what it fused, and unsubscribes', () => {
    assertThrowingInputReachesErrorChannel(
      () => fuseSignals(HYBRID),
      [signal({ source: 'ta', direction: 1, strength: 1, confidence: 1 })],
    );
  });

  it('passes a source error through, completes on empty, stops on unsubscribe', () => {
    makeTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const set = [signal({ source: 'ta', direction: 1, strength: 1, confidence: 1 })];
      expectObservable(cold('a#', { a: set }).pipe(fuseSignals(HYBRID), summary)).toBe('a#', {
        a: '1|1.000|0.500|true',
      });
      expectObservable(cold<Signal[]>('-|').pipe(fuseSignals(HYBRID))).toBe('-|');
      const source = hot('-a-a-a|', { a: set });
      expectObservable(source.pipe(fuseSignals(HYBRID), summary), '^--!').toBe('-a-', { a: '1|1.000|0.500|true' });
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });
});
