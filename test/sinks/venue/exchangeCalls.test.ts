import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import * as ccxt from 'ccxt';
import { asyncScheduler, Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';
import { parseCcxtVenueConfig } from '../../../sinks/venue/config';
import { ExchangeCalls } from '../../../sinks/venue/exchangeCalls';
import { RateGate, type Pause } from '../../../sinks/venue/rateLimit';
import { Closed } from '../../../sinks/venue/submitOutcome';

/** asyncScheduler, recording the delays asked of it (so the waits are checked, never timed). */
function spyScheduler(): { scheduler: SchedulerLike; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    scheduler: {
      now: () => asyncScheduler.now(),
      schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T) {
        delays.push(delay);
        return asyncScheduler.schedule(work, delay, state);
      },
    },
  };
}

function harness(retry: { maxRetries?: number; initialDelayMs?: number } = {}) {
  const { scheduler, delays } = spyScheduler();
  const settings = parseCcxtVenueConfig({
    exchange: 'binance',
    apiKey: 'k-1234',
    secret: 's-1234',
    symbols: ['BTC/USDT'],
    timeoutMs: 60_000,
    retry: { initialDelayMs: 7, maxDelayMs: 100, ...retry },
  });
  const pauses: Pause[] = [];
  const timers = new Subscription();
  const calls = new ExchangeCalls({
    settings,
    exchange: { last_response_headers: { 'Retry-After': '0' } } as unknown as ccxt.Exchange,
    scheduler,
    rate: new RateGate(5, 100, scheduler.now()),
    schedule: (work, delay) => {
      const s = scheduler.schedule(work, delay);
      timers.add(s);
      return s;
    },
    throttled: (pause) => pauses.push(pause),
  });
  return { calls, delays, pauses, timers };
}

/** A call failing with `errors` in turn, then answering `value`. */
function flaky<T>(errors: Error[], value: T): { fn: () => Promise<T>; count: () => number } {
  let n = 0;
  return {
    count: () => n,
    fn: async () => {
      const error = errors[n++];
      if (error) throw error;
      return value;
    },
  };
}

const overloaded = (): Error =>
  new ccxt.ExchangeError('binance {"code":-1008,"msg":"Server is currently overloaded with other requests."}');

describe('ExchangeCalls', () => {
  it('retrying: a transient answer (503 -1008, a network error) is read again after the backoff of each attempt', async () => {
    const h = harness();
    const call = flaky([overloaded(), new ccxt.NetworkError('socket hang up')], 'balance');
    equal(await h.calls.retrying('fetchBalance', call.fn), 'balance');
    equal(call.count(), 3);
    // The watchdog of each attempt (60 000 + 2 000 ms) and the backoffs 7, 14 ms before retries 1 and 2.
    deepStrictEqual(
      h.delays.filter((d) => d !== 62_000),
      [7, 14],
    );
    h.timers.unsubscribe();
  });

  it('retrying: a final answer is thrown at once; transient ones at most retry.maxRetries times', async () => {
    const h = harness({ maxRetries: 2 });
    const auth = flaky([new ccxt.AuthenticationError('binance {"code":-2015}')], 'x');
    await rejects(h.calls.retrying('fetchBalance', auth.fn), ccxt.AuthenticationError);
    equal(auth.count(), 1);
    const down = flaky([overloaded(), overloaded(), overloaded(), overloaded()], 'x');
    await rejects(h.calls.retrying('fetchBalance', down.fn), /overloaded/);
    equal(down.count(), 3, 'one call and two retries');
    h.timers.unsubscribe();
  });

  it('a 429 starts a pause for every request, reported once; the retry waits it out instead of backing off', async () => {
    const h = harness();
    const call = flaky([new ccxt.RateLimitExceeded('binance 429 Too Many Requests')], 'ok');
    equal(await h.calls.retrying('fetchOpenOrders', call.fn), 'ok');
    equal(h.pauses.length, 1);
    equal(h.pauses[0]!.status, 429);
    ok(!h.delays.includes(7), 'no backoff after a rate limit: the pause is the wait');
    h.timers.unsubscribe();
  });

  it('closing ends a backoff at once: the retry rejects with Closed, and later calls too', async () => {
    const h = harness({ initialDelayMs: 3_600_000, maxRetries: 3 });
    const call = flaky([overloaded()], 'never');
    const pending = h.calls.retrying('fetchBalance', call.fn);
    h.calls.close();
    await rejects(pending, Closed);
    await rejects(
      h.calls.call('fetchBalance', async () => 1),
      Closed,
    );
    equal(call.count(), 1);
    await h.calls.wait(3_600_000);
    h.timers.unsubscribe();
  });
});
