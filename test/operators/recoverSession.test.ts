/**
 * recoverSession / foldJournal: the journal, as written to disk and read back, folds into the state
 * a restart starts from — portfolio (exactly what the running pipeline's fold gave), open orders,
 * used client order ids, the kill latch until an audited reset, how the last session ended, and
 * the newest decision.
 */
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { from } from 'rxjs';
import { feeOf, notionalOf, toUnits, type Units } from '../../operators/money';
import { foldJournal, recoverSession, RecoveryError, type JournalEntry } from '../../operators/recoverSession';
import { accountingResidual, applyFill, initialPortfolio } from '../../operators/trackPortfolio';
import type { Fill, Order } from '../../operators/types';
import { serializeEvent } from '../../sinks/journal';
import { makeTestScheduler } from '../support/marbles';

const START = { initialCash: toUnits('10000'), quote: 'USDT' };

/** What the journal holds for an event: serialised and parsed back (bigints become decimal strings). */
function onDisk(events: readonly unknown[]): JournalEntry[] {
  return events.map((e, i) => ({ ...(JSON.parse(serializeEvent(e)) as { kind: string }), line: i + 1 }));
}

function order(id: string, side: 'buy' | 'sell', qty: string, tsEvent = 1000): Order {
  return {
    kind: 'order',
    clientOrderId: id,
    intentId: `${id}-intent`,
    signalId: `sig-${id}`,
    symbol: 'BTC/USDT',
    side,
    type: 'market',
    qty: toUnits(qty),
    refPrice: 20_000,
    reducesRisk: side === 'sell',
    configHash: 'h',
    tsEvent,
  };
}

function fill(id: string, side: 'buy' | 'sell', qty: string, price: string, leaves = '0', tsEvent = 2000): Fill {
  const q = toUnits(qty);
  const p = toUnits(price);
  const notional = notionalOf(q, p);
  return {
    kind: 'fill',
    clientOrderId: id,
    signalId: `sig-${id}`,
    symbol: 'BTC/USDT',
    side,
    qty: q,
    price: p,
    notional,
    fee: feeOf(notional, 1000n),
    liquidity: 'taker',
    leavesQty: toUnits(leaves),
    tsEvent,
  };
}

const header = (extra: Record<string, unknown> = {}) => ({
  kind: 'session',
  event: 'started',
  mode: 'paper',
  tsEvent: 1,
  ...extra,
});
const stopped = { kind: 'session', event: 'stopped', reason: 'stop requested', tsEvent: 5 };

describe('recoverSession', () => {
  it('rebuilds the portfolio from the journaled fills, exactly as the running pipeline folded them', () => {
    const f1 = fill('a', 'buy', '0.05', '20000');
    const f2 = fill('b', 'sell', '0.02', '21000.5');
    const state = foldJournal(
      onDisk([
        header(),
        { kind: 'approved', order: order('a', 'buy', '0.05'), numbers: {}, tsEvent: 1000 },
        { kind: 'order-accepted', clientOrderId: 'a', signalId: 'sig-a', tsEvent: 1000 },
        f1,
        { kind: 'approved', order: order('b', 'sell', '0.02', 3000), numbers: {}, tsEvent: 3000 },
        f2,
      ]),
      START,
    );
    const expected = applyFill(applyFill(initialPortfolio(START), f1), f2);
    assert.equal(state.portfolio.cash, expected.cash);
    assert.deepEqual(state.portfolio.positions, expected.positions);
    assert.equal(state.portfolio.realizedPnl, expected.realizedPnl);
    assert.equal(state.portfolio.feesPaid, expected.feesPaid);
    assert.equal(accountingResidual(state.portfolio), 0n);
    assert.deepEqual(state.openOrders, {});
    assert.deepEqual([...state.usedClientOrderIds].sort(), ['a', 'b']);
    assert.equal(state.fills, 2);
    assert.equal(state.lastSignalTs, 3000);
  });

  it('keeps orders sent and not finished as open, with what filled so far; cancels, rejections, halts and a restart’s abandonment close them', () => {
    const state = foldJournal(
      onDisk([
        header(),
        { kind: 'approved', order: order('open', 'buy', '0.05'), numbers: {}, tsEvent: 1000 },
        { kind: 'order-accepted', clientOrderId: 'open', signalId: 'sig-open', tsEvent: 1000 },
        fill('open', 'buy', '0.02', '20000', '0.03'),
        { kind: 'approved', order: order('lost', 'buy', '0.01'), numbers: {}, tsEvent: 1000 },
        { kind: 'order-unknown', clientOrderId: 'lost', signalId: 'sig-lost', reason: 'timeout', tsEvent: 1000 },
        { kind: 'approved', order: order('c', 'buy', '0.01'), numbers: {}, tsEvent: 1000 },
        { kind: 'order-canceled', clientOrderId: 'c', signalId: 'sig-c', reason: 'x', tsEvent: 1000 },
        { kind: 'approved', order: order('r', 'buy', '0.01'), numbers: {}, tsEvent: 1000 },
        {
          kind: 'order-rejected',
          clientOrderId: 'r',
          signalId: 'sig-r',
          code: 'EXCHANGE_ERROR',
          message: 'x',
          tsEvent: 1000,
        },
        { kind: 'approved', order: order('h', 'buy', '0.01'), numbers: {}, tsEvent: 1000 },
        { kind: 'order-halted', clientOrderId: 'h', signalId: 'sig-h', reason: 'kill', tsEvent: 1000 },
        order('emergency-1', 'sell', '0.02', 4000),
        { kind: 'approved', order: order('gone', 'buy', '0.01'), numbers: {}, tsEvent: 1000 },
        { kind: 'order-abandoned', clientOrderId: 'gone', signalId: 'sig-gone', reason: 'RESTART', tsEvent: 5000 },
      ]),
      START,
    );
    assert.deepEqual(Object.keys(state.openOrders).sort(), ['emergency-1', 'lost', 'open']);
    assert.equal(state.openOrders['open']!.status, 'accepted');
    assert.equal(state.openOrders['open']!.filled, toUnits('0.02'));
    assert.equal(state.openOrders['lost']!.status, 'unknown');
    assert.equal(state.openOrders['emergency-1']!.status, 'sent');
    assert.equal(state.openOrders['emergency-1']!.reducesRisk, true);
    assert.deepEqual([...state.usedClientOrderIds].sort(), ['c', 'emergency-1', 'gone', 'h', 'lost', 'open', 'r']);
  });

  it('keeps the kill latch across sessions until an operator’s mode-reset, and tells a clean stop from a crash', () => {
    const press = {
      kind: 'mode-changed',
      from: 'Normal',
      to: 'Emergency',
      reason: 'kill switch: SIGUSR2 received',
      tsEvent: 3,
    };
    const crashedWhileLatched = foldJournal(onDisk([header(), press, header()]), START);
    assert.equal(crashedWhileLatched.killLatched, true);
    assert.equal(crashedWhileLatched.mode, 'Emergency');
    assert.equal(crashedWhileLatched.latchReason, 'kill switch: SIGUSR2 received');
    assert.equal(crashedWhileLatched.previousEnd, 'crashed');
    assert.equal(crashedWhileLatched.crashes, 2);
    assert.equal(crashedWhileLatched.sessions, 2);

    const reset = foldJournal(
      onDisk([header(), press, stopped, { kind: 'mode-reset', reason: 'checked', tsEvent: 9 }]),
      START,
    );
    assert.equal(reset.killLatched, false);
    assert.equal(reset.mode, 'Normal');
    assert.equal(reset.previousEnd, 'stopped');
    assert.equal(reset.crashes, 0);

    const none = foldJournal([], START);
    assert.equal(none.previousEnd, 'none');
    assert.equal(none.sessions, 0);
    assert.equal(none.portfolio.cash, START.initialCash);
  });

  it('starts from the portfolio a header records (a live session adopting the exchange account), then applies later fills', () => {
    const f = fill('x', 'sell', '0.01', '30000');
    const state = foldJournal(
      onDisk([
        header(),
        fill('old', 'buy', '1', '100'),
        header({
          start: {
            quote: 'USDT',
            initialCash: toUnits('5000'),
            cash: toUnits('4000'),
            realizedPnl: 0n,
            feesPaid: 0n,
            positions: { 'BTC/USDT': { qty: toUnits('0.05'), costBasis: toUnits('1000'), markPrice: 20_000 } },
            tsEvent: 7,
          },
        }),
        f,
      ]),
      START,
    );
    assert.equal(state.portfolio.positions['BTC/USDT']!.qty, toUnits('0.04'));
    assert.equal(state.portfolio.cash, toUnits('4000') + f.notional - f.fee);
    assert.equal(accountingResidual(state.portfolio), 0n);
  });

  it('a fill recovered at a live restart is counted and closes its order, but not applied again: the header before it holds it', () => {
    const start = {
      quote: 'USDT',
      initialCash: toUnits('10000'),
      cash: toUnits('9000'),
      realizedPnl: 0n,
      feesPaid: 0n,
      positions: { 'BTC/USDT': { qty: toUnits('0.05'), costBasis: toUnits('1000'), markPrice: 20_000 } },
      tsEvent: 7,
    };
    const state = foldJournal(
      onDisk([
        header(),
        { kind: 'approved', order: order('a', 'buy', '0.05'), numbers: {}, tsEvent: 1000 },
        // kill -9: the order executed, its fill never journaled; the restart finds it on the exchange.
        header({ start }),
        { ...fill('a', 'buy', '0.05', '20000'), kind: 'fill-recovered', reason: 'RESTART: …' },
      ]),
      START,
    );
    assert.equal(state.portfolio.positions['BTC/USDT']!.qty, toUnits('0.05'), 'applied once, by the header');
    assert.equal(state.portfolio.cash, toUnits('9000'));
    assert.equal(state.fills, 1);
    assert.deepEqual(Object.keys(state.openOrders), []);
    assert.ok(state.usedClientOrderIds.has('a'));
  });

  it('fails on a record it cannot interpret, naming the line and the field', () => {
    const bad = onDisk([header(), { ...fill('a', 'buy', '0.01', '20000'), qty: 'lots' }]);
    assert.throws(
      () => foldJournal(bad, START),
      (err: unknown) => err instanceof RecoveryError && /journal line 2 \(fill\): qty/.test(err.message),
    );
  });

  it('as an operator: emits the state once the journal completes; an empty journal gives the starting state; errors pass', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const entries = onDisk([header(), fill('a', 'buy', '0.01', '20000')]);
      const source = cold('-a-b-|', { a: entries[0]!, b: entries[1]! });
      const expected = foldJournal(entries, START);
      expectObservable(source.pipe(recoverSession(START))).toBe('-----(r|)', { r: expected });
      expectSubscriptions(source.subscriptions).toBe('^----!');
      expectObservable(cold<JournalEntry>('|').pipe(recoverSession(START))).toBe('(r|)', { r: foldJournal([], START) });
      expectObservable(cold<JournalEntry>('-#', undefined, new Error('disk')).pipe(recoverSession(START))).toBe(
        '-#',
        undefined,
        new Error('disk'),
      );
    });
    let error: unknown;
    from(onDisk([{ kind: 'mode-changed', from: 'Normal', to: 'Sideways', reason: 'x', tsEvent: 1 }]))
      .pipe(recoverSession(START))
      .subscribe({ error: (err: unknown) => (error = err) });
    assert.ok(error instanceof RecoveryError, 'a bad record goes to the error channel');
  });

  it('property: over random histories of orders and fills, the fold of the journal equals the live fold, and the open orders are those without a final fill', () => {
    const step = fc.record({
      side: fc.constantFrom<'buy' | 'sell'>('buy', 'sell'),
      qty: fc.integer({ min: 1, max: 5_000_000 }),
      price: fc.integer({ min: 1_000_000, max: 7_000_000_000_000 }),
      partial: fc.boolean(),
      finish: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const events: unknown[] = [header()];
        let live = initialPortfolio(START);
        const open = new Set<string>();
        steps.forEach((s, i) => {
          const id = `o${i}`;
          const qty = BigInt(s.qty) as Units;
          const price = BigInt(s.price) as Units;
          events.push({ kind: 'approved', order: { ...order(id, s.side, '0'), qty }, numbers: {}, tsEvent: i });
          events.push({ kind: 'order-accepted', clientOrderId: id, signalId: `sig-${id}`, tsEvent: i });
          const filledQty = s.partial ? qty / 2n + 1n : qty;
          const notional = notionalOf(filledQty, price);
          const f: Fill = {
            ...fill(id, s.side, '1', '1'),
            qty: filledQty,
            price,
            notional,
            fee: feeOf(notional, 1000n),
            leavesQty: qty - filledQty,
            tsEvent: i,
          };
          events.push(f);
          live = applyFill(live, f);
          if (f.leavesQty > 0n) {
            if (s.finish)
              events.push({
                kind: 'order-canceled',
                clientOrderId: id,
                signalId: `sig-${id}`,
                reason: 'x',
                tsEvent: i,
              });
            else open.add(id);
          }
        });
        const state = foldJournal(onDisk(events), START);
        assert.equal(state.portfolio.cash, live.cash);
        assert.deepEqual(
          Object.fromEntries(Object.entries(state.portfolio.positions).map(([k, p]) => [k, [p.qty, p.costBasis]])),
          Object.fromEntries(Object.entries(live.positions).map(([k, p]) => [k, [p.qty, p.costBasis]])),
        );
        assert.equal(state.portfolio.realizedPnl, live.realizedPnl);
        assert.equal(state.portfolio.feesPaid, live.feesPaid);
        assert.deepEqual(Object.keys(state.openOrders).sort(), [...open].sort());
        assert.equal(state.usedClientOrderIds.size, steps.length);
      }),
      { numRuns: 200 },
    );
  });
});
