import { deepStrictEqual, equal } from 'node:assert/strict';
import { RateGate, retryAfterOf } from '../../../sinks/venue/rateLimit';

describe('RateGate', () => {
  it('lets a burst of one second of orders through, then one per 1/rate seconds; reads never take a token', () => {
    const gate = new RateGate(5, 30_000, 0);
    deepStrictEqual(
      [0, 0, 0, 0, 0, 0].map(() => gate.waitMs(0, true)),
      [0, 0, 0, 0, 0, 200],
    );
    equal(gate.waitMs(0, false), 0);
    equal(gate.waitMs(150, true), 50);
    equal(gate.waitMs(200, true), 0);
    equal(gate.waitMs(200, true), 200);
  });

  it('pauses every request until Retry-After after a 429, and the ban end a 418 names', () => {
    const gate = new RateGate(5, 30_000, 0);
    const pause = gate.throttle(1_000, new Error('binance 429 Too Many Requests'), '2');
    deepStrictEqual(pause, { status: 429, retryAfterMs: 2_000, until: 3_000 });
    equal(gate.waitMs(1_500, false), 1_500);
    equal(gate.pausedAt(2_999), true);
    equal(gate.pausedAt(3_000), false);
    const ban = gate.throttle(2_000, new Error('418 IP banned until 1000000010000.'), undefined);
    deepStrictEqual(ban, { status: 418, retryAfterMs: 1_000_000_008_000, until: 1_000_000_010_000 });
  });

  it('without Retry-After: 2 minutes for a ban, 1 s doubling for rate limits until a request succeeds; a shorter pause changes nothing', () => {
    const gate = new RateGate(5, 30_000, 0);
    equal(gate.throttle(0, new Error('429'), undefined)?.retryAfterMs, 1_000);
    equal(gate.throttle(0, new Error('429'), undefined)?.retryAfterMs, 2_000);
    equal(gate.throttle(0, new Error('429'), '1'), null, 'ends before the current pause');
    equal(gate.throttle(0, new Error('429'), undefined)?.retryAfterMs, 8_000, 'the streak counts every 429');
    gate.succeeded();
    equal(gate.throttle(10_000, new Error('429'), undefined)?.retryAfterMs, 1_000);
    equal(gate.throttle(20_000, new Error('418'), undefined)?.retryAfterMs, 120_000);
  });
});

describe('retryAfterOf', () => {
  it('reads seconds, an HTTP date, or nothing', () => {
    equal(retryAfterOf(new Error('x'), ' 3 ', 0), 3_000);
    equal(retryAfterOf(new Error('x'), new Date(60_000).toUTCString(), 0), 60_000);
    equal(retryAfterOf(new Error('x'), 'soon', 0), null);
    equal(retryAfterOf(new Error('x'), undefined, 0), null);
  });
});
