import { equal, ok } from 'node:assert/strict';
import { backoffDelayMs, isOverloadAnswer } from '../../operators/backoff';

describe('backoffDelayMs', () => {
  it('grows by the multiplier from the initial delay and stops at the maximum', () => {
    const config = { initialDelayMs: 250, maxDelayMs: 1_500 };
    equal([1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, config)).join(' '), '250 500 1000 1500 1500');
    equal(backoffDelayMs(0, config), 250);
    equal(backoffDelayMs(3, { ...config, multiplier: 3 }), 1_500);
  });

  it('spreads by ±jitter with one draw, and never beyond the maximum', () => {
    const config = { initialDelayMs: 100, maxDelayMs: 1_000, jitter: 0.5 };
    equal(
      backoffDelayMs(1, config, () => 0),
      50,
    );
    equal(
      backoffDelayMs(1, config, () => 0.999_999),
      150,
    );
    ok(backoffDelayMs(5, config, () => 0.999_999) <= 1_000);
  });
});

describe('isOverloadAnswer', () => {
  it('recognises Binance 503 -1008 as ccxt words it, and nothing else', () => {
    const body =
      'binance {"code":-1008,"msg":"Server is currently overloaded with other requests. Please try again in a few minutes."}';
    ok(isOverloadAnswer(new Error(body)));
    ok(!isOverloadAnswer(new Error('binance {"code":-2010,"msg":"Account has insufficient balance"}')));
    ok(!isOverloadAnswer(new Error('binance {"code":-10080,"msg":"x"}')));
    ok(!isOverloadAnswer('Server is currently overloaded'));
  });
});
