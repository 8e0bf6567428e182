import { equal, ok, throws } from 'node:assert/strict';
import { CcxtVenueError, parseCcxtVenueConfig, redactWith } from '../../../sinks/venue/config';

const BASE = { exchange: 'binance', apiKey: 'KEY-abcdefgh', secret: 'SECRET-ijklmnop', symbols: ['BTC/USDT'] };

describe('venue config', () => {
  it('applies the documented defaults, reconciliation included', () => {
    const s = parseCcxtVenueConfig(BASE);
    equal(s.recvWindowMs, 5_000);
    equal(s.reconcile.everyMs, 30_000);
    equal(s.reconcile.afterUnknownMs, 1_000);
    equal(s.retry.maxRetries, 5);
    ok(Object.isFrozen(s));
  });

  it('names the key, what was expected and what was found — never a credential', () => {
    throws(
      () => parseCcxtVenueConfig({ ...BASE, reconcile: { everyMs: -1 } }),
      (e: unknown) =>
        e instanceof CcxtVenueError && e.code === 'INVALID_CONFIG' && /reconcile\.everyMs/.test(e.message),
    );
    throws(
      () => parseCcxtVenueConfig({ ...BASE, secret: 42 as unknown as string }),
      (e: unknown) => e instanceof Error && /secret: expected string, found \(a value, not shown\)/.test(e.message),
    );
    throws(
      () => parseCcxtVenueConfig({ ...BASE, symbols: ['BTCUSDT'], apiKey: 'KEY-abcdefgh' }),
      (e: unknown) => e instanceof Error && !e.message.includes('KEY-abcdefgh') && /symbols\.0/.test(e.message),
    );
  });

  it('redacts credentials, their URL encoding, signatures and the API key header', () => {
    const text = 'key=KEY-abcdefgh&s=SECRET%2Bx&signature=0123abcd X-MBX-APIKEY: KEY-abcdefgh';
    equal(redactWith(text, ['KEY-abcdefgh', 'SECRET+x']), 'key=***&s=***&signature=*** X-MBX-APIKEY: ***');
  });
});
