/**
 * trackDecisionState: the one state a decision reads — portfolio, mode, market statistics, VaR and
 * pending orders — folded from events with scan.
 */
import { deepStrictEqual, equal } from 'node:assert/strict';
import { catchError, map, of } from 'rxjs';
import type { MarketRiskRolled } from '../../operators/rollMarketRisk';
import { toUnits } from '../../operators/money';
import {
  foldDecisionState,
  trackDecisionState,
  type DecisionState,
  type DecisionStateEvent,
} from '../../operators/trackDecisionState';
import type { MarketStats } from '../../operators/trackMarketStats';
import type { Fill, ModeChanged, Order } from '../../operators/types';
import { cashPortfolio } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';

const start = cashPortfolio('10000');
const later = cashPortfolio('9000', 60_000);
const order = (id: string, side: 'buy' | 'sell', qty: string, symbol = 'BTC/USDT'): Order =>
  ({
    kind: 'order',
    type: 'market',
    clientOrderId: id,
    signalId: `s-${id}`,
    symbol,
    side,
    qty: toUnits(qty),
  }) as unknown as Order;
const fill = (id: string, leaves: string): Fill =>
  ({ kind: 'fill', clientOrderId: id, leavesQty: toUnits(leaves) }) as unknown as Fill;
const mode: ModeChanged = { kind: 'mode-changed', from: 'Normal', to: 'Reduced', reason: 'drawdown', tsEvent: 1 };
const stats = { kind: 'market-stats', tsEvent: 1 } as unknown as MarketStats;
const rolled = (v: number): MarketRiskRolled =>
  ({ kind: 'market-risk-rolled', symbol: 'BTC/USDT', var: v, tsEvent: 2 }) as unknown as MarketRiskRolled;

/** A state reduced to what a test compares: mode, equity, pending per symbol, VaR per symbol, stats present. */
const summary = map((s: DecisionState) =>
  [
    s.mode,
    s.portfolio.equity,
    [...s.pending].map(([k, v]) => `${k}=${v}`).join(','),
    [...s.var99].map(([k, v]) => `${k}=${v.toFixed(4)}`).join(','),
    s.stats ? 'stats' : '-',
  ].join('|'),
);

describe('trackDecisionState', () => {
  it('folds portfolio, mode, statistics, VaR and pending orders into one state per event', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<DecisionStateEvent>('-a-b-c-d-e-f-g|', {
        a: { kind: 'order-sent', order: order('1', 'buy', '0.5') },
        b: { kind: 'order-sent', order: order('2', 'sell', '0.2') },
        c: fill('1', '0.1'),
        d: mode,
        e: stats,
        f: rolled(0.05),
        g: later,
      });
      expectObservable(source.pipe(trackDecisionState({ portfolio: start }), summary)).toBe('-a-b-c-d-e-f-g|', {
        a: 'Normal|10000|BTC/USDT=50000000||-',
        b: 'Normal|10000|BTC/USDT=30000000||-',
        c: 'Normal|10000|BTC/USDT=-10000000||-',
        d: 'Reduced|10000|BTC/USDT=-10000000||-',
        e: 'Reduced|10000|BTC/USDT=-10000000||stats',
        f: 'Reduced|10000|BTC/USDT=-10000000|BTC/USDT=0.0488|stats',
        g: 'Reduced|9000|BTC/USDT=-10000000|BTC/USDT=0.0488|stats',
      });
      expectSubscriptions(source.subscriptions).toBe('^-------------!');
    });
  });

  it('closes an order on its last fill, a cancel, a rejection or a kill-switch halt; ignores events of unknown orders', () => {
    let s = foldDecisionState(
      {
        kind: 'decision-state',
        portfolio: start,
        mode: 'Normal',
        var99: new Map(),
        pending: new Map(),
        open: new Map(),
        resting: new Map(),
      },
      { kind: 'order-sent', order: order('1', 'buy', '1') },
    );
    for (const id of ['2', '3', '4', '5'])
      s = foldDecisionState(s, { kind: 'order-sent', order: order(id, 'buy', '1', 'ETH/USDT') });
    s = foldDecisionState(s, fill('1', '0'));
    s = foldDecisionState(s, { kind: 'order-canceled', clientOrderId: '2' } as DecisionStateEvent);
    s = foldDecisionState(s, { kind: 'order-rejected', clientOrderId: '3' } as DecisionStateEvent);
    s = foldDecisionState(s, { kind: 'order-halted', clientOrderId: '4' });
    const same = foldDecisionState(s, fill('unknown', '0'));
    equal(same, s);
    deepStrictEqual([...s.open.keys()], ['5']);
    deepStrictEqual([...s.pending], [['ETH/USDT', toUnits('1')]]);
  });

  it('sends a throwing input (a VaR that is not a number, an unknown event) to the error channel, after what it accepted', () => {
    const asValue = catchError((err: { code?: string; message: string }) => of(`${err.code}: ${err.message}`));
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const nan = cold<DecisionStateEvent>('-a-b-c|', { a: mode, b: rolled(Number.NaN), c: stats });
      expectObservable(nan.pipe(trackDecisionState({ portfolio: start }), summary, asValue)).toBe('-a-(e|)', {
        a: 'Reduced|10000|||-',
        e: 'DECISION_STATE_INPUT_INVALID: market-risk-rolled of BTC/USDT at 2: var: expected a finite number, found NaN',
      });
      const unknown = cold<DecisionStateEvent>('-a-b|', {
        a: mode,
        b: { kind: 'bar' } as unknown as DecisionStateEvent,
      });
      expectObservable(unknown.pipe(trackDecisionState({ portfolio: start }), summary, asValue)).toBe('-a-(e|)', {
        a: 'Reduced|10000|||-',
        e: 'DECISION_STATE_INPUT_INVALID: expected a portfolio, mode change, market statistics or risk, or an order event, found kind "bar"',
      });
    });
  });

  it('passes a source error on, and stops the source on unsubscribe', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const failing = cold<DecisionStateEvent>('-a-#', { a: mode }, new Error('feed down'));
      expectObservable(failing.pipe(trackDecisionState({ portfolio: start }), summary)).toBe(
        '-a-#',
        { a: 'Reduced|10000|||-' },
        new Error('feed down'),
      );
      const long = cold<DecisionStateEvent>('-a-a-a|', { a: mode });
      expectObservable(long.pipe(trackDecisionState({ portfolio: start }), summary), '^--!').toBe('-a-', {
        a: 'Reduced|10000|||-',
      });
      expectSubscriptions(long.subscriptions).toBe('^--!');
    });
  });

  it('starts each subscription from the configured state: one subscription’s orders are not another’s', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const sent = cold<DecisionStateEvent>('-a|', { a: { kind: 'order-sent', order: order('1', 'buy', '1') } });
      const state$ = sent.pipe(trackDecisionState({ portfolio: start }), summary);
      expectObservable(state$).toBe('-a|', { a: 'Normal|10000|BTC/USDT=100000000||-' });
      expectObservable(state$).toBe('-a|', { a: 'Normal|10000|BTC/USDT=100000000||-' });
    });
  });
});
