import { map } from 'rxjs';
import { claimOf, taSignal, type TaSignalConfig } from '../../operators/taSignal';
import { throws } from 'node:assert/strict';
import type { Signal } from '../../operators/types';
import { features } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';
import { assertThrowingInputReachesErrorChannel } from '../support/errorChannel';

const CONFIG: TaSignalConfig = {
  threshold: 0.25,
  rules: [
    { kind: 'cross', group: 'trend', fast: 'ema12', slow: 'ema26' },
    { kind: 'level', group: 'momentum', feature: 'rsi14', low: 30, high: 70 },
    { kind: 'sign', group: 'momentum', feature: 'hist', deadband: 0.5 },
    { kind: 'band', group: 'volatility', lower: 'lower', upper: 'upper' },
  ],
};

const summary = map(
  (s: Signal) =>
    `${s.direction}|${s.strength.toFixed(3)}|${s.confidence.toFixed(3)}|${s.available}|${s.detail['votes']}`,
);

describe('taSignal', () => {
  it('votes each rule and emits one signal per features event: direction, strength, confidence, votes', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a-b-c-|', {
        // all four agree long: fast > slow, rsi oversold, hist > deadband, close under lower band
        a: features(0, { ema12: 11, ema26: 10, rsi14: 25, hist: 1, lower: 101, upper: 120 }, 100),
        // all short
        b: features(60_000, { ema12: 9, ema26: 10, rsi14: 75, hist: -1, lower: 80, upper: 90 }, 100),
        // mixed: trend long, rsi neutral, hist inside deadband, price inside band → score 0.25
        c: features(120_000, { ema12: 11, ema26: 10, rsi14: 50, hist: 0.2, lower: 90, upper: 110 }, 100),
      });
      expectObservable(source.pipe(taSignal(CONFIG), summary)).toBe('a-b-c-|', {
        a: '1|1.000|1.000|true|++++',
        b: '-1|1.000|1.000|true|----',
        c: '1|0.250|0.250|true|+000',
      });
      expectSubscriptions(source.subscriptions).toBe('^-----!');
    });
  });

  it('with a claim, only the rules making it vote: trend and reversion no longer cancel out', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      // trend (cross, sign) says long; reversion (rsi overbought, close over the upper band) says short
      const source = cold('a|', {
        a: features(0, { ema12: 11, ema26: 10, rsi14: 75, hist: 1, lower: 80, upper: 90 }, 100),
      });
      const scores = map((s: Signal) => `${s.direction}|${s.strength}|${s.detail['trend']}|${s.detail['reversion']}`);
      expectObservable(source.pipe(taSignal(CONFIG), summary)).toBe('a|', { a: '0|0.000|0.000|true|+-+-' });
      expectObservable(source.pipe(taSignal({ ...CONFIG, claim: 'trend' }), scores)).toBe('a|', { a: '1|1|1|-1' });
      expectObservable(source.pipe(taSignal({ ...CONFIG, claim: 'reversion' }), scores)).toBe('a|', {
        a: '-1|1|1|-1',
      });
    });
  });

  it("reads each rule's claim from its kind and mode, and refuses a claim no rule makes", () => {
    const claims = CONFIG.rules.map(claimOf);
    throws(() => taSignal({ rules: [CONFIG.rules[0]!], claim: 'reversion' }), /no rule claims "reversion"/);
    if (claims.join() !== 'trend,reversion,trend,reversion') throw new Error(claims.join());
  });

  it('is unavailable while no rule is warm, and scales confidence by the share of warm rules', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b|', {
        a: features(0, { ema12: null, ema26: null, rsi14: null, hist: null, lower: null, upper: null }),
        b: features(60_000, { ema12: 11, ema26: 10, rsi14: null, hist: null, lower: null, upper: null }),
      });
      expectObservable(source.pipe(taSignal(CONFIG), summary)).toBe('a-b|', {
        a: '0|0.000|0.000|false|____',
        b: '1|1.000|0.250|true|+___',
      });
    });
  });

  it('flips level votes in momentum mode and band votes in breakout mode', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const config: TaSignalConfig = {
        rules: [
          { kind: 'level', group: 'momentum', feature: 'rsi14', low: 30, high: 70, mode: 'momentum' },
          { kind: 'band', group: 'volatility', lower: 'lower', upper: 'upper', mode: 'breakout' },
        ],
      };
      const source = cold('a|', { a: features(0, { rsi14: 80, lower: 80, upper: 90 }, 100) });
      expectObservable(source.pipe(taSignal(config), summary)).toBe('a|', { a: '1|1.000|1.000|true|++' });
    });
  });

  it('stays flat when the score is under the threshold, with confidence for the neutral votes', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const config: TaSignalConfig = {
        threshold: 0.5,
        rules: [
          { kind: 'sign', group: 'momentum', feature: 'x' },
          { kind: 'sign', group: 'momentum', feature: 'y' },
          { kind: 'sign', group: 'momentum', feature: 'z' },
        ],
      };
      const source = cold('a|', { a: features(0, { x: 1, y: 0, z: 0 }) });
      expectObservable(source.pipe(taSignal(config), summary)).toBe('a|', { a: '0|0.333|0.667|true|+00' });
    });
  });

  it('scales confidence by the strength filter (ADX under its minimum)', () => {
    const config: TaSignalConfig = {
      rules: [{ kind: 'sign', group: 'trend', feature: 'x' }],
      strengthFilter: { feature: 'adx', min: 20 },
    };
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('ab|', { a: features(0, { x: 1, adx: 10 }), b: features(60_000, { x: 1, adx: 40 }) });
      expectObservable(source.pipe(taSignal(config), summary)).toBe('ab|', {
        a: '1|1.000|0.500|true|+',
        b: '1|1.000|1.000|true|+',
      });
    });
  });

  it('reads bar fields (close) as well as features', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const config: TaSignalConfig = { rules: [{ kind: 'cross', group: 'trend', fast: 'close', slow: 'sma' }] };
      const source = cold('a|', { a: features(0, { sma: 90 }, 100) });
      expectObservable(source.pipe(taSignal(config), summary)).toBe('a|', { a: '1|1.000|1.000|true|+' });
    });
  });

  it('gives signals a deterministic id from symbol, timeframe, time and source', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a|', { a: features(0, { x: 1 }) });
      expectObservable(
        source.pipe(
          taSignal({ rules: [{ kind: 'sign', group: 'trend', feature: 'x' }] }),
          map((s) => s.id),
        ),
      ).toBe('a|', {
        a: 'BTC/USDT:1m:60000:ta',
      });
    });
  });

  it('sends a throwing input to the error channel after what it signalled, and unsubscribes', () => {
    assertThrowingInputReachesErrorChannel(
      () => taSignal({ rules: [{ kind: 'sign', group: 'trend', feature: 'x' }] }),
      features(0, { x: 1 }),
      features(120_000, { x: 1 }),
    );
  });

  it('passes a source error through, completes on empty, stops on unsubscribe', () => {
    makeTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const config: TaSignalConfig = { rules: [{ kind: 'sign', group: 'trend', feature: 'x' }] };
      expectObservable(cold('a#', { a: features(0, { x: 1 }) }).pipe(taSignal(config), summary)).toBe('a#', {
        a: '1|1.000|1.000|true|+',
      });
      expectObservable(cold<ReturnType<typeof features>>('--|').pipe(taSignal(config))).toBe('--|');
      const source = hot('-a-a-a|', { a: features(0, { x: 1 }) });
      expectObservable(source.pipe(taSignal(config), summary), '^--!').toBe('-a-', { a: '1|1.000|1.000|true|+' });
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });
});
