/**
 * What a session tells its operator about holdings: status lines and the exit summary show the
 * current position, and the dust in it (a fee taken in the base asset leaves an off-grid rest that
 * can never be sold on its own).
 */
import { equal } from 'node:assert/strict';
import { toUnits } from '../../operators/money';
import type { Portfolio } from '../../operators/types';
import { statusLineOf } from '../../pipelines/session';
import { BTC_USDT } from '../support/fixtures';

function holding(qty: string): Portfolio {
  return {
    kind: 'portfolio',
    quote: 'USDT',
    initialCash: toUnits('10000'),
    cash: toUnits('9000'),
    realizedPnl: 0n,
    feesPaid: 0n,
    equity: 10_000,
    peakEquity: 10_000,
    drawdown: 0,
    positions:
      qty === '' ? {} : { 'BTC/USDT': { symbol: 'BTC/USDT', qty: toUnits(qty), costBasis: 0n, markPrice: 20_000 } },
    tsEvent: Date.UTC(2026, 0, 1),
  };
}

describe('session status lines', () => {
  it('name the dust in a position: the off-grid rest of a buy whose fee was taken in BTC', () => {
    equal(
      statusLineOf(holding('0.04964031'), 'Normal', [BTC_USDT]),
      'status: 2026-01-01T00:00:00.000Z mode Normal, equity 10000.00 USDT, drawdown 0.00 %, BTC/USDT 0.04964031 (dust 0.00000031)',
    );
  });

  it('call a position of dust only flat for trading, and a position on the grid plain', () => {
    equal(
      statusLineOf(holding('0.00000031'), 'Emergency', [BTC_USDT]).split(', ').pop(),
      'BTC/USDT 0.00000031 (all dust: flat for trading)',
    );
    // 0.0002 BTC at 20,000 is 4 USDT, below the 5 USDT minimum notional: dust though on the grid.
    equal(
      statusLineOf(holding('0.0002'), 'Normal', [BTC_USDT]).split(', ').pop(),
      'BTC/USDT 0.0002 (all dust: flat for trading)',
    );
    equal(statusLineOf(holding('0.05'), 'Normal', [BTC_USDT]).split(', ').pop(), 'BTC/USDT 0.05');
    equal(statusLineOf(holding(''), 'Normal', [BTC_USDT]).split(', ').pop(), 'flat');
  });
});
