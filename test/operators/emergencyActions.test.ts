import { deepStrictEqual, ok, throws } from 'node:assert/strict';
import { map, of } from 'rxjs';
import {
  EmergencyConfigError,
  EmergencyInputError,
  flattenOnEmergency,
  type EmergencyCommand,
  type EmergencyInput,
  type FlattenOnEmergencyConfig,
} from '../../operators/emergencyActions';
import { clientOrderIdFor } from '../../operators/gateRisk';
import { formatUnits, toUnits } from '../../operators/money';
import type { Mode, ModeChanged, Portfolio, Position } from '../../operators/types';
import { BTC_USDT, cashPortfolio } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';

const CONFIG: FlattenOnEmergencyConfig = { strategyId: 'test', configHash: 'abc', resendAfterMs: 30_000 };

/** A portfolio with the given signed positions (base units as decimal strings), marked at `mark`. */
function book(tsEvent: number, positions: Record<string, string>, mark = 100): Portfolio {
  const entries: [string, Position][] = Object.entries(positions).map(([symbol, qty]) => [
    symbol,
    { symbol, qty: toUnits(qty), costBasis: 0n, markPrice: mark },
  ]);
  return { ...cashPortfolio('10000', tsEvent), positions: Object.fromEntries(entries) };
}
const change = (to: Mode, tsEvent: number, from: Mode = to === 'Emergency' ? 'Normal' : 'Emergency'): ModeChanged => ({
  kind: 'mode-changed',
  from,
  to,
  reason: to === 'Emergency' ? 'kill switch pressed: BCM17' : 'reset: checked',
  tsEvent,
});

/** `C` for cancel-all, `<side> <qty> <symbol> #<n>@<tsEvent>` for orders. */
const brief = map((c: EmergencyCommand) =>
  c.kind === 'cancel-all'
    ? `C@${c.tsEvent}`
    : `${c.side} ${formatUnits(c.qty)} ${c.symbol} ${c.intentId.split(':').pop()}@${c.tsEvent}`,
);

describe('flattenOnEmergency', () => {
  it('on entering Emergency cancels all orders, then flattens each open position with a reduce-only market order and a deterministic id', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<EmergencyInput>('p(e|)', {
        p: book(0, { 'ETH/USDT': '-2', 'BTC/USDT': '0.5', 'SOL/USDT': '0' }, 200),
        e: change('Emergency', 1),
      });
      const emergencySignal = 'emergency:1';
      expectObservable(source.pipe(flattenOnEmergency(CONFIG))).toBe('-(cbo|)', {
        c: { kind: 'cancel-all', reason: 'emergency: kill switch pressed: BCM17', tsEvent: 1 },
        b: {
          kind: 'order',
          clientOrderId: clientOrderIdFor('test', `${emergencySignal}:BTC/USDT:0`),
          intentId: `${emergencySignal}:BTC/USDT:0`,
          signalId: emergencySignal,
          symbol: 'BTC/USDT',
          side: 'sell',
          type: 'market',
          qty: toUnits('0.5'),
          refPrice: 200,
          reducesRisk: true,
          configHash: 'abc',
          tsEvent: 1,
        },
        o: {
          kind: 'order',
          clientOrderId: clientOrderIdFor('test', `${emergencySignal}:ETH/USDT:0`),
          intentId: `${emergencySignal}:ETH/USDT:0`,
          signalId: emergencySignal,
          symbol: 'ETH/USDT',
          side: 'buy',
          type: 'market',
          qty: toUnits('2'),
          refPrice: 200,
          reducesRisk: true,
          configHash: 'abc',
          tsEvent: 1,
        },
      });
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it('does nothing outside Emergency, and stops flattening when Emergency is left', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold<EmergencyInput>('apb-en-q|', {
        a: book(0, { 'BTC/USDT': '1' }),
        p: change('Paused', 1, 'Normal'),
        b: book(2, { 'BTC/USDT': '2' }),
        e: change('Emergency', 4, 'Paused'),
        n: change('Normal', 5),
        q: book(7, { 'BTC/USDT': '3' }),
      });
      expectObservable(source.pipe(flattenOnEmergency(CONFIG), brief)).toBe('----(cs)|', {
        c: 'C@4',
        s: 'sell 2 BTC/USDT 0@4',
      });
    });
  });

  it('entering Emergency twice does not double the flattening orders: a repeated change is ignored, and a new episode only orders what no in-flight order covers', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold<EmergencyInput>('pa 5ms bnc 5ms qmd 5ms rke|', {
        p: book(0, { 'BTC/USDT': '1' }),
        a: change('Emergency', 1),
        b: change('Emergency', 7), // a repeat while in Emergency: ignored
        n: change('Normal', 8),
        c: change('Emergency', 9), // sell 1 not yet reflected: still covered
        q: book(15, { 'BTC/USDT': '0.4' }), // partly filled: the remaining 0.4 is still covered
        m: change('Normal', 16),
        d: change('Emergency', 17),
        r: book(23, { 'BTC/USDT': '0' }), // filled
        k: change('Normal', 24),
        e: change('Emergency', 25),
      });
      // Each new episode cancels again (harmless) but sends no second sell.
      expectObservable(source.pipe(flattenOnEmergency(CONFIG), brief)).toBe('-(cs) 4ms X 7ms Y 7ms Z|', {
        c: 'C@1',
        s: 'sell 1 BTC/USDT 0@1',
        X: 'C@9',
        Y: 'C@17',
        Z: 'C@25',
      });
    });
  });

  it('with no portfolio known when Emergency begins, flattens at the first portfolio', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold<EmergencyInput>('e-p|', { e: change('Emergency', 0), p: book(2, { 'BTC/USDT': '0.3' }) });
      expectObservable(source.pipe(flattenOnEmergency(CONFIG), brief)).toBe('c-s|', {
        c: 'C@0',
        s: 'sell 0.3 BTC/USDT 0@2',
      });
    });
  });

  it('flattens a position holding fee dust on the lot grid (rounded down), and sends nothing for the dust left', () => {
    // Binance takes a buy's fee in the base coin: 0.04969 bought leaves 0.04964031, off the 0.00001 grid.
    const grid = { ...CONFIG, instruments: [BTC_USDT] };
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold<EmergencyInput>('pe-q-r|', {
        p: book(0, { 'BTC/USDT': '0.04964031' }, 50_000),
        e: change('Emergency', 1),
        q: book(3, { 'BTC/USDT': '0.00000031' }, 50_000), // the flatten filled: dust below the grid
        r: book(5, { 'BTC/USDT': '0.00009' }, 50_000), // 4.5 USDT: on the grid, but below min notional 5
      });
      expectObservable(source.pipe(flattenOnEmergency(grid), brief)).toBe('-(cs)-|', {
        c: 'C@1',
        s: 'sell 0.04964 BTC/USDT 0@1',
      });
    });
    // With no mark known, a small position is flattened rather than assumed to be dust.
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold<EmergencyInput>('pe---|', {
        p: book(0, { 'BTC/USDT': '0.00009' }, 0),
        e: change('Emergency', 1),
      });
      expectObservable(source.pipe(flattenOnEmergency(grid), brief)).toBe('-(cs)|', {
        c: 'C@1',
        s: 'sell 0.00009 BTC/USDT 0@1',
      });
    });
  });

  it('flattens exposure that appears during the emergency (a fill that raced the cancel), and only that part', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold<EmergencyInput>('pe 5ms q 5ms r|', {
        p: book(0, { 'BTC/USDT': '1' }),
        e: change('Emergency', 1),
        q: book(7, { 'BTC/USDT': '1.5', 'ETH/USDT': '-1' }), // a late buy of 0.5 BTC and a late short of 1 ETH
        r: book(13, { 'BTC/USDT': '1.5', 'ETH/USDT': '-1' }), // a new mark only: everything is covered
      });
      expectObservable(source.pipe(flattenOnEmergency(CONFIG), brief)).toBe('-(cs) 2ms (to) 3ms |', {
        c: 'C@1',
        s: 'sell 1 BTC/USDT 0@1',
        t: 'sell 0.5 BTC/USDT 1@7',
        o: 'buy 1 ETH/USDT 0@7',
      });
    });
  });

  it('resends the remainder, with a new id, when resendAfterMs of portfolio time pass without the position shrinking', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold<EmergencyInput>('pe-q-r-s|', {
        p: book(0, { 'BTC/USDT': '1' }),
        e: change('Emergency', 1_000),
        q: book(20_000, { 'BTC/USDT': '0.75' }), // 0.25 filled, 0.75 still covered
        r: book(30_999, { 'BTC/USDT': '0.75' }), // 29 999 ms after the order: still covered
        s: book(31_000, { 'BTC/USDT': '0.75' }), // 30 000 ms: the order is presumed lost
      });
      expectObservable(source.pipe(flattenOnEmergency(CONFIG), brief)).toBe('-(cs)--t|', {
        c: 'C@1000',
        s: 'sell 1 BTC/USDT 0@1000',
        t: 'sell 0.75 BTC/USDT 1@31000',
      });
    });
  });

  it('drops the cover of a position that flipped sign and flattens the new side', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold<EmergencyInput>('pe 5ms q|', {
        p: book(0, { 'BTC/USDT': '1' }),
        e: change('Emergency', 1),
        q: book(7, { 'BTC/USDT': '-0.2' }),
      });
      expectObservable(source.pipe(flattenOnEmergency(CONFIG), brief)).toBe('-(cs) 2ms t|', {
        c: 'C@1',
        s: 'sell 1 BTC/USDT 0@1',
        t: 'buy 0.2 BTC/USDT 1@7',
      });
    });
  });

  it('handles a synchronous source', () => {
    makeTestScheduler().run(({ expectObservable }) => {
      const inputs: EmergencyInput[] = [book(0, { 'BTC/USDT': '1' }), change('Emergency', 0)];
      expectObservable(of(...inputs).pipe(flattenOnEmergency(CONFIG), brief)).toBe('(cs|)', {
        c: 'C@0',
        s: 'sell 1 BTC/USDT 0@0',
      });
    });
  });

  it('completes with an empty source without commands', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<EmergencyInput>('--|');
      expectObservable(source.pipe(flattenOnEmergency(CONFIG))).toBe('--|');
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('passes a source error on', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<EmergencyInput>('e#', { e: change('Emergency', 0) }, new Error('mode died'));
      expectObservable(source.pipe(flattenOnEmergency(CONFIG), brief)).toBe('c#', { c: 'C@0' }, new Error('mode died'));
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it('sends an input it cannot interpret to the error channel and unsubscribes', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<EmergencyInput>('ab-c', {
        a: change('Emergency', 0),
        b: { ...change('Normal', 1), tsEvent: Number.NaN },
        c: book(3, { 'BTC/USDT': '1' }),
      });
      expectObservable(source.pipe(flattenOnEmergency(CONFIG), brief)).toBe(
        'c#',
        { c: 'C@0' },
        new EmergencyInputError('mode-changed: tsEvent must be a finite time in ms, found NaN'),
      );
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it('on early unsubscribe stops listening', () => {
    makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot<EmergencyInput>('-p--e-', { p: book(1, { 'BTC/USDT': '1' }), e: change('Emergency', 4) });
      expectObservable(source.pipe(flattenOnEmergency(CONFIG)), '^--!').toBe('---');
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('rejects a config without a strategy id or with a bad resend interval, before anything subscribes', () => {
    throws(() => flattenOnEmergency({ strategyId: '', configHash: 'abc' }), EmergencyConfigError);
    throws(() => flattenOnEmergency({ ...CONFIG, resendAfterMs: 0 }), /resendAfterMs must be a finite number > 0/);
    const commands: EmergencyCommand[] = [];
    of<[EmergencyInput]>(change('Emergency', 0))
      .pipe(flattenOnEmergency({ strategyId: 's', configHash: 'h' }))
      .subscribe((c) => commands.push(c));
    deepStrictEqual(
      commands.map((c) => c.kind),
      ['cancel-all'],
    );
    ok(commands.length === 1);
  });
});
