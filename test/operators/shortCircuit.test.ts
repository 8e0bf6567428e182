import { BehaviorSubject, ReplaySubject, Subject, delay, of, tap } from 'rxjs';
import { toUnits } from '../../operators/money';
import { haltOnKill, increasesRisk, type HaltableItem } from '../../operators/shortCircuit';
import type {
  CancelAllOrders,
  CancelOrder,
  Order,
  OrderCommand,
  OrderIntent,
  RiskDecision,
} from '../../operators/types';
import { makeTestScheduler } from '../support/marbles';
import { equal } from 'node:assert/strict';

const order = (id: string, reducesRisk: boolean): Order => ({
  kind: 'order',
  clientOrderId: id,
  intentId: id,
  signalId: 'BTC/USDT:1m:60000:fused',
  symbol: 'BTC/USDT',
  side: reducesRisk ? 'sell' : 'buy',
  type: 'market',
  qty: toUnits('0.1'),
  refPrice: 20_000,
  reducesRisk,
  configHash: 'abc',
  tsEvent: 60_000,
});
const cancel: CancelOrder = {
  kind: 'cancel',
  clientOrderId: 'b4-1',
  symbol: 'BTC/USDT',
  reason: 'stale',
  tsEvent: 60_000,
};
const cancelAll: CancelAllOrders = { kind: 'cancel-all', reason: 'emergency', tsEvent: 60_000 };

/** a, b, c add risk · r reduce-only · x cancel · X cancel-all. */
const V: Record<string, OrderCommand> = {
  a: order('a', false),
  b: order('b', false),
  c: order('c', false),
  r: order('r', true),
  x: cancel,
  X: cancelAll,
};
const PRESS = { k: true };

describe('haltOnKill', () => {
  it('passes every command, in order, while the switch is not pressed', () => {
    makeTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const kill = hot<boolean>('-------');
      const source = cold('a-r-x|', V);
      expectObservable(source.pipe(haltOnKill(kill))).toBe('a-r-x|', V);
      expectSubscriptions(source.subscriptions).toBe('^----!');
      expectSubscriptions(kill.subscriptions).toBe('^----!');
    });
  });

  it('after a press drops risk-increasing orders and still lets cancels, cancel-alls and reduce-only orders through', () => {
    makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const kill = hot('---k----------', PRESS);
      const source = hot('-a---b-r-x-X-c|', V);
      expectObservable(source.pipe(haltOnKill(kill))).toBe('-a-----r-x-X--|', V);
      expectSubscriptions(kill.subscriptions).toBe('^-------------!');
    });
  });

  it('treats false as not pressed (a BehaviorSubject(false)) and latches on the first pressed value', () => {
    makeTestScheduler().run(({ hot, expectObservable }) => {
      const kill = hot('f-t-f-', { f: false, t: true });
      const source = hot('-a--b-c|', V);
      expectObservable(source.pipe(haltOnKill(kill))).toBe('-a-----|', V);
    });
  });

  for (const [name, makeKill] of [
    ['a BehaviorSubject(true)', () => new BehaviorSubject(true)],
    [
      'a ReplaySubject that saw a press',
      () => {
        const s = new ReplaySubject<boolean>(1);
        s.next(true);
        return s;
      },
    ],
    ['of(true) (emits and completes synchronously)', () => of(true)],
  ] as const) {
    it(`drops risk from the first item when the switch was pressed before subscribe: ${name}`, () => {
      makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('a-r-x-b|', V);
        expectObservable(source.pipe(haltOnKill(makeKill()))).toBe('--r-x--|', V);
        expectSubscriptions(source.subscriptions).toBe('^------!');
      });
    });
  }

  it('drops an order emitted in the same frame as the press, even when the order reaches the guard before the press does', () => {
    makeTestScheduler().run(({ hot, expectObservable }) => {
      const source = hot('--a-r|', V); // created first: its frame-2 emission runs before the press
      const kill = hot('--k---', PRESS);
      expectObservable(source.pipe(haltOnKill(kill))).toBe('----r|', V);
    });
  });

  it('drops an order emitted in the same frame as the press when the press comes first', () => {
    makeTestScheduler().run(({ hot, expectObservable }) => {
      const kill = hot('--k---', PRESS);
      const source = hot('--a-r|', V);
      expectObservable(source.pipe(haltOnKill(kill))).toBe('----r|', V);
    });
  });

  it('drops an order that was in flight between operators when the switch was pressed', () => {
    makeTestScheduler().run(({ hot, expectObservable }) => {
      const kill = hot('---k------', PRESS);
      const source = hot('-a-r|', V);
      // Both leave the gate before the press and reach the guard 3 frames later, after it.
      expectObservable(source.pipe(delay(3), haltOnKill(kill))).toBe('------(r|)', V);
    });
  });

  it('cannot be defeated by subscription order: an order produced by an observer of the same press registered before the guard is dropped', () => {
    const scheduler = makeTestScheduler();
    scheduler.run(({ expectObservable }) => {
      const press = new Subject<boolean>();
      const orders = new Subject<OrderCommand>();
      // Registered before the guard subscribes: on the press it sends a risky order and a flattening one.
      press.subscribe(() => {
        orders.next(V['a']!);
        orders.next(V['r']!);
      });
      scheduler.schedule(() => press.next(true), 2);
      expectObservable(orders.pipe(haltOnKill(press))).toBe('--r', V);
    });
  });

  it('latches on a press that the source itself triggers synchronously just before emitting (a synchronous notifier)', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const kill = new Subject<boolean>();
      const source = cold('-a-b-r|', V).pipe(
        tap((item) => {
          if (item === V['b']) kill.next(true);
        }),
      );
      expectObservable(source.pipe(haltOnKill(kill))).toBe('-a---r|', V);
    });
  });

  it('fails closed when the kill stream errors: latched, and the output goes on without erroring', () => {
    makeTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const kill = cold('--#', undefined, new Error('GPIO lost'));
      const source = hot('-a-b-r-X|', V);
      expectObservable(source.pipe(haltOnKill(kill))).toBe('-a---r-X|', V);
      expectSubscriptions(kill.subscriptions).toBe('^-!');
    });
  });

  it('fails closed when the kill stream completes', () => {
    makeTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const kill = cold('--|');
      const source = hot('-a-b-r|', V);
      expectObservable(source.pipe(haltOnKill(kill))).toBe('-a---r|', V);
      expectSubscriptions(kill.subscriptions).toBe('^-!');
    });
  });

  it('guards risk decisions too: drops risk-increasing approvals, passes reduce-only approvals and denials', () => {
    makeTestScheduler().run(({ hot, expectObservable }) => {
      const intent = {
        kind: 'intent',
        id: 'i',
        signalId: 's',
        symbol: 'BTC/USDT',
        side: 'buy',
        qty: 1n,
        refPrice: 1,
        targetQty: 1n,
        reducesRisk: false,
        tsEvent: 0,
        reason: '',
      } as OrderIntent;
      const D: Record<string, RiskDecision> = {
        a: { kind: 'approved', order: order('a', false), numbers: {}, tsEvent: 0 },
        r: { kind: 'approved', order: order('r', true), numbers: {}, tsEvent: 0 },
        d: {
          kind: 'denied',
          intent,
          code: 'MODE_EMERGENCY',
          message: 'MODE_EMERGENCY: mode=Emergency',
          numbers: { mode: 'Emergency' },
          tsEvent: 0,
        },
      };
      const kill = hot('-k-----', PRESS);
      const source = hot('a-a-r-d|', D);
      expectObservable(source.pipe(haltOnKill(kill))).toBe('a---r-d|', D);
    });
  });

  it('classifies unknown kinds as risk-increasing (fail-closed)', () => {
    equal(increasesRisk({ kind: 'amend' } as unknown as HaltableItem), true);
    equal(increasesRisk(cancel), false);
  });

  it('sends a throwing classifier to the error channel and unsubscribes from both streams', () => {
    makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const kill = hot('-k---', PRESS);
      const source = hot('--a-b', V);
      const guard = haltOnKill<OrderCommand>(kill, {
        increasesRisk: () => {
          throw new Error('classifier broke');
        },
      });
      expectObservable(source.pipe(guard)).toBe('--#', V, new Error('classifier broke'));
      expectSubscriptions(source.subscriptions).toBe('^-!');
      expectSubscriptions(kill.subscriptions).toBe('^-!');
    });
  });

  it('sends a throwing isPressed to the error channel (and latches)', () => {
    makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const kill = hot('-k---', PRESS);
      const source = hot('a-a-r', V);
      const guard = haltOnKill<OrderCommand>(kill, {
        isPressed: () => {
          throw new Error('bad GPIO value');
        },
      });
      expectObservable(source.pipe(guard)).toBe('a#', V, new Error('bad GPIO value'));
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it('passes a source error on after the items before it', () => {
    makeTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const kill = hot<boolean>('------');
      const source = cold('-a-(r#)', V, new Error('gate died'));
      expectObservable(source.pipe(haltOnKill(kill))).toBe('-a-(r#)', V, new Error('gate died'));
      expectSubscriptions(source.subscriptions).toBe('^--!');
      expectSubscriptions(kill.subscriptions).toBe('^--!');
    });
  });

  it('completes with an empty source and lets go of the kill stream', () => {
    makeTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const kill = hot<boolean>('-----');
      const source = cold<OrderCommand>('--|');
      expectObservable(source.pipe(haltOnKill(kill))).toBe('--|');
      expectSubscriptions(kill.subscriptions).toBe('^-!');
    });
  });

  it('on early unsubscribe stops both streams and releases nothing more', () => {
    makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const kill = hot<boolean>('------');
      const source = hot('-a-b-c', V);
      expectObservable(source.pipe(haltOnKill(kill)), '^--!').toBe('-a-', V);
      expectSubscriptions(source.subscriptions).toBe('^--!');
      expectSubscriptions(kill.subscriptions).toBe('^--!');
    });
  });

  it('releases on an injected scheduler (a backtest passes its virtual one) with the same guarantee', () => {
    const scheduler = makeTestScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const source = hot('--a-r|', V);
      const kill = hot('--k---', PRESS);
      expectObservable(source.pipe(haltOnKill(kill, { scheduler }))).toBe('----r|', V);
    });
  });

  it('keeps its latch per subscription: a new subscription starts un-pressed', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const kill = cold('-k', PRESS);
      const source = cold('a-b|', V);
      const guarded = source.pipe(haltOnKill(kill));
      expectObservable(guarded).toBe('a--|', V);
      expectObservable(guarded).toBe('a--|', V);
    });
  });
});
