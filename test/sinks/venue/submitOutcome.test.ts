import { deepStrictEqual, equal } from 'node:assert/strict';
import * as ccxt from 'ccxt';
import {
  WatchdogTimeout,
  classifySubmitError,
  exchangeMessage,
  isTransientReadError,
} from '../../../sinks/venue/submitOutcome';

const kind = (error: unknown): string => {
  const outcome = classifySubmitError(error, 'm');
  return outcome.kind === 'rejected' ? `rejected ${outcome.code}` : outcome.kind;
};

describe('classifySubmitError', () => {
  it('tells a refusal before execution (send again) from a final rejection and from an unknown outcome', () => {
    deepStrictEqual(
      [
        new ccxt.RateLimitExceeded('binance 429'),
        new ccxt.DDoSProtection('binance 418'),
        new ccxt.InvalidNonce('binance -1021 Timestamp for this request is outside of the recvWindow'),
        new ccxt.ExchangeError(
          'binance {"code":-1008,"msg":"Server is currently overloaded with other requests. Please try again in a few minutes."}',
        ),
        new ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}'),
        new ccxt.InsufficientFunds('binance Account has insufficient balance for requested action.'),
        new ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}'),
        new ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: LOT_SIZE"}'),
        new ccxt.ExchangeNotAvailable('binance 503 Service Unavailable'),
        new ccxt.RequestTimeout('binance POST timed out'),
        new WatchdogTimeout('createOrder x', 2_400),
        new Error('something else'),
      ].map(kind),
      [
        'rate-limited',
        'rate-limited',
        'not-placed',
        'not-placed',
        'duplicate',
        'rejected INSUFFICIENT_BALANCE',
        'rejected BELOW_MIN_NOTIONAL',
        'rejected QTY_PRECISION',
        'unknown',
        'unknown',
        'unknown',
        'unknown',
      ],
    );
  });
});

describe('isTransientReadError', () => {
  it('retries network failures, our watchdog and the overload answer; not a final refusal', () => {
    equal(isTransientReadError(new ccxt.NetworkError('reset')), true);
    equal(isTransientReadError(new WatchdogTimeout('fetchBalance', 1)), true);
    equal(
      isTransientReadError(new ccxt.ExchangeError('binance {"code":-1008,"msg":"Server is currently overloaded"}')),
      true,
    );
    equal(isTransientReadError(new ccxt.AuthenticationError('binance -2015 Invalid API-key')), false);
  });
});

describe('exchangeMessage', () => {
  it('shows the exchange code and message when the body carries them, else the error class and text', () => {
    equal(
      exchangeMessage(
        new ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: \\"NOTIONAL\\""}'),
        'binance',
      ),
      'binance -1013: Filter failure: "NOTIONAL"',
    );
    equal(exchangeMessage(new ccxt.NetworkError('socket hang up'), 'binance'), 'NetworkError: socket hang up');
  });
});
