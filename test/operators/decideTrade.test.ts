import { deepStrictEqual, ok, strictEqual, throws } from 'node:assert/strict';
import fc from 'fast-check';
import { Subject, map } from 'rxjs';
import { openBracket, stepBracket, type BracketConfig } from '../../operators/brackets';
import { makeCostModel } from '../../operators/costModel';
import {
  decideTrade,
  type DecideTradeConfig,
  type DecideTradeInput,
  type DecideTradeOutput,
} from '../../operators/decideTrade';
import { formatUnits, notionalOf, toUnits, type Units } from '../../operators/money';
import type { Forecast, Order, OrderIntent, Portfolio, Signal } from '../../operators/types';
import { BTC_USDT, cashPortfolio, signal } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';
import { assertThrowingInputReachesErrorChannel } from '../support/errorChannel';

const COST = makeCostModel({ takerFeeBps: 10, slippageBps: 2 }); // 24 bps a round trip
const CONFIG: DecideTradeConfig = {
  instrument: BTC_USDT,
  cost: COST,
  costMargin: 1.5,
  kellyFraction: 0.25,
  misspecificationBuffer: 0.5,
  maxPositionPct: 0.2,
};

function forecast(expectedBps: number, extra: Partial<Forecast> = {}): Forecast {
  return {
    horizonBars: 288,
    expectedBps,
    stdBps: 400,
    seBps: 10,
    pWin: 0.6,
    samples: 1000,
    bin: 1,
    available: true,
    ...extra,
  };
}

function input(
  expectedBps: number | undefined,
  price: number,
  pending: string,
  extra: Partial<DecideTradeInput> = {},
  i = 0,
): DecideTradeInput {
  const s: Signal = signal({
    source: 'fused',
    price,
    tsEvent: (i + 1) * 300_000,
    ...(expectedBps === undefined ? {} : { forecast: forecast(expectedBps) }),
  });
  return { signal: s, portfolio: cashPortfolio('10000'), pending: toUnits(pending), atr: 100, ...extra };
}

const summary = map((i: DecideTradeOutput) =>
  i.kind === 'cancel-all'
    ? `cancel ${i.symbol}`
    : `${i.side} ${formatUnits(i.qty)} → ${formatUnits(i.targetQty)} ${i.reason.split(':')[0]}`,
);

/** A portfolio of 10,000 USDT of equity holding `qty` BTC bought at `price`. */
function holding(qty: string, price: number): Portfolio {
  const base = cashPortfolio('10000');
  const units = toUnits(qty);
  return {
    ...base,
    cash: base.cash - notionalOf(units, toUnits(price)),
    positions: {
      'BTC/USDT': { symbol: 'BTC/USDT', qty: units, costBasis: notionalOf(units, toUnits(price)), markPrice: price },
    },
  };
}

/** The approved order a resting leg becomes (what the pipeline hands back as `exits`). */
function restingOrder(i: DecideTradeOutput): Order {
  if (i.kind !== 'intent' || !i.exit) throw new Error('not a resting leg');
  return {
    kind: 'order',
    clientOrderId: i.id,
    intentId: i.id,
    signalId: i.signalId,
    symbol: i.symbol,
    side: i.side,
    type: i.exit.type,
    qty: i.qty,
    refPrice: i.refPrice,
    stopPrice: i.exit.stopPrice,
    ...(i.exit.limitPrice !== undefined ? { limitPrice: i.exit.limitPrice } : {}),
    ...(i.exit.ocoGroup !== undefined ? { ocoGroup: i.exit.ocoGroup } : {}),
    reducesRisk: true,
    configHash: 'test',
    tsEvent: i.tsEvent,
  };
}

/** Runs inputs one at a time through one decideTrade, each built from what rests after the previous ones. */
function drive(config: DecideTradeConfig, steps: ((exits: Order[]) => DecideTradeInput)[]): string[][] {
  const source = new Subject<DecideTradeInput>();
  const out: DecideTradeOutput[] = [];
  const sub = source.pipe(decideTrade(config)).subscribe((o) => out.push(o));
  let exits: Order[] = [];
  const perStep: string[][] = [];
  for (const step of steps) {
    const before = out.length;
    source.next(step(exits));
    const emitted = out.slice(before);
    for (const o of emitted) {
      if (o.kind === 'cancel-all') exits = [];
      else if (o.exit) exits.push(restingOrder(o));
    }
    const texts: string[] = [];
    for (const o of emitted) texts.push(...[o].map((x) => (x.kind === 'cancel-all' ? 'cancel-all' : describeOrder(x))));
    perStep.push(texts);
  }
  sub.unsubscribe();
  return perStep;
}

function describeOrder(i: OrderIntent): string {
  return i.exit
    ? `${i.side} ${formatUnits(i.qty)} ${i.exit.type} ${i.exit.stopPrice}${i.exit.limitPrice !== undefined ? ` limit ${i.exit.limitPrice}` : ''}${i.exit.ocoGroup !== undefined ? ` oco ${i.exit.ocoGroup.replace(/^.*:/, '')}` : ''}`
    : `${i.side} ${formatUnits(i.qty)} market`;
}

describe('decideTrade', () => {
  it('enters only when the forecast clears the round trip cost by the margin', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // cost 24 bps × 1.5 = 36: 30 bps does not clear it, 40 bps does
      // kelly = (40 − 24)·0.5 / 400² (in fractions) = 0.0008/0.0016 = 0.5 × 0.25 = 12.5 % of 10,000 at 20,000
      const source = cold('ab|', { a: input(30, 20_000, '0'), b: input(40, 20_000, '0') });
      expectObservable(source.pipe(decideTrade(CONFIG), summary)).toBe('-b|', { b: 'buy 0.0625 → 0.0625 enter' });
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('does nothing without an available forecast, and opens no short on spot', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const unavailable = input(100, 20_000, '0');
      const source = cold('abc|', {
        a: input(undefined, 20_000, '0'),
        b: { ...unavailable, signal: { ...unavailable.signal, forecast: forecast(100, { available: false }) } },
        c: input(-500, 20_000, '0'),
      });
      expectObservable(source.pipe(decideTrade(CONFIG), summary)).toBe('---|');
      expectObservable(source.pipe(decideTrade({ ...CONFIG, allowShort: true }), summary)).toBe('--c|', {
        c: 'sell 0.1 → -0.1 enter',
      });
    });
  });

  it('holds through a weak forecast until the minimum hold, then exits when it turns against (hysteresis)', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const config = { ...CONFIG, minHoldBars: 2, exitBps: -10 };
      const source = cold('abcde|', {
        a: input(-50, 20_000, '0.05'), // held bar 1: inside the minimum hold
        b: input(-5, 20_000, '0.05'), // held bar 2: above the exit level −10
        c: input(20, 20_000, '0.05'), // below the entry margin, but no reason to exit
        d: input(-11, 20_000, '0.05'), // held bar 4: below −10 → exit
        e: input(-11, 20_000, '0'), // flat: nothing
      });
      expectObservable(source.pipe(decideTrade(config), summary)).toBe('---d-|', { d: 'sell 0.05 → 0 exit' });
    });
  });

  it('treats dust as flat: it holds no bracket and does not block an entry', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const config = { ...CONFIG, brackets: { stopAtr: 2 } };
      // 0.00000984 BTC is under the 0.00001 minimum: a close would be refused, so it is not a position
      const source = cold('ab|', { a: input(0, 10_000, '0.00000984'), b: input(40, 20_000, '0.00000984') });
      expectObservable(source.pipe(decideTrade(config), summary)).toBe('-b|', { b: 'buy 0.06249 → 0.0625 enter' });
    });
  });

  it('does not resize inside the no-trade band, and does outside it', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      // the Kelly target at 40 bps is 0.0625: holding 0.05 is inside a 50 % band, 0.03 is not
      const source = cold('ab|', { a: input(40, 20_000, '0.05'), b: input(40, 20_000, '0.03') });
      expectObservable(source.pipe(decideTrade(CONFIG), summary)).toBe('-b|', {
        b: 'buy 0.0325 → 0.0625 resize outside the 0.5 band',
      });
    });
  });

  it('decides a bracket with every entry: the stop exits on the close that reaches it', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const config = { ...CONFIG, brackets: { stopAtr: 2, targetR: 3 } };
      // entry at 20,000 with ATR 100: stop 19,800, target 20,600; b = 3 caps Kelly at 0.6 − 0.4/3
      const source = cold('abc|', {
        a: input(40, 20_000, '0'),
        b: input(40, 19_850, '0.05833'),
        c: input(40, 19_800, '0.05833'),
      });
      expectObservable(
        source.pipe(
          decideTrade(config),
          map((i) =>
            i.kind === 'intent' ? `${i.side} ${formatUnits(i.targetQty)} ${i.reason.replace(/ \(.*$/, '')}` : i.kind,
          ),
        ),
      ).toBe('a-c|', {
        a: 'buy 0.05833 enter: μ 40 bps over 288 bars ≥ 1.5 × cost 24 bps; kelly 0.47 × 0.25 → 11.67% of equity',
        c: 'sell 0 exit: stop',
      });
    });
  });

  it('needs an ATR to enter with brackets, and gives a position found without one a bracket', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const config = { ...CONFIG, brackets: { stopAtr: 2 } };
      const noAtr = { ...input(40, 20_000, '0'), atr: undefined };
      const source = cold('abc|', {
        a: noAtr,
        b: input(0, 20_000, '0.05'), // found open: bracket at 20,000, stop 19,800
        c: input(0, 19_790, '0.05'),
      });
      expectObservable(source.pipe(decideTrade(config), summary)).toBe('--c|', { c: 'sell 0.05 → 0 exit' });
    });
  });

  it('takes partial profit at the target and moves the stop to the entry', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const config = { ...CONFIG, brackets: { stopAtr: 2, targetR: 2, partialFraction: 0.5 } };
      const source = cold('abc|', {
        a: input(40, 20_000, '0'),
        b: input(40, 20_400, '0.05'), // target 20,400: sell half
        c: input(40, 19_999, '0.025'), // back under the entry: the break-even stop
      });
      // Kelly: min(0.5, 0.6 − 0.4/2) = 0.4 × 0.25 = 10 % → 0.05 BTC
      expectObservable(source.pipe(decideTrade(config), summary)).toBe('abc|', {
        a: 'buy 0.05 → 0.05 enter',
        b: 'sell 0.025 → 0.025 partial take-profit at 20400; stop to entry',
        c: 'sell 0.025 → 0 exit',
      });
    });
  });

  it('sends a throwing input to the error channel after what it decided, and unsubscribes', () => {
    assertThrowingInputReachesErrorChannel(() => decideTrade(CONFIG), input(30, 20_000, '0'));
  });

  it('passes errors through and completes on empty; rejects a broken config', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<DecideTradeInput>('-#').pipe(decideTrade(CONFIG))).toBe('-#');
      expectObservable(cold<DecideTradeInput>('-|').pipe(decideTrade(CONFIG))).toBe('-|');
    });
    throws(() => decideTrade({ ...CONFIG, costMargin: 0.5 }), /costMargin/);
    throws(() => decideTrade({ ...CONFIG, brackets: { stopAtr: 0 } }), /brackets.stopAtr/);
    throws(() => decideTrade({ ...CONFIG, brackets: { stopAtr: 1, partialFraction: 2 } }), /partialFraction/);
  });

  it('never holds a position past its stop, and never enters on an edge under the margin (property)', () => {
    const bracket: BracketConfig = { stopAtr: 2, targetR: 3, trailAtr: 3, maxHoldBars: 20 };
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: -0.02, max: 0.02, noNaN: true }), fc.integer({ min: -100, max: 100 })), {
          minLength: 1,
          maxLength: 80,
        }),
        (path) => {
          const source = new Subject<DecideTradeInput>();
          const intents: OrderIntent[] = [];
          const sub = source.pipe(decideTrade({ ...CONFIG, brackets: bracket })).subscribe((i) => {
            if (i.kind === 'intent') intents.push(i);
          });
          let held: Units = 0n;
          let price = 20_000;
          let stop: number | undefined;
          path.forEach(([move, mu], i) => {
            price *= 1 + move;
            const before = intents.length;
            source.next(input(mu, price, formatUnits(held), {}, i));
            const emitted = intents.slice(before);
            if (held > 0n && stop !== undefined && price <= stop) {
              // the bar closed at or under the stop: it must exit completely
              strictEqual(emitted.length, 1, `bar ${i}: close ${price} ≤ stop ${stop} and no exit`);
              strictEqual(emitted[0]!.targetQty, 0n);
            }
            for (const intent of emitted) {
              if (held === 0n) {
                ok(mu >= 1.5 * 24, `entered on ${mu} bps`);
                stop = price - 2 * 100;
              }
              held = intent.targetQty;
            }
            if (held === 0n) stop = undefined;
          });
          sub.unsubscribe();
        },
      ),
    );
  });

  describe('resting brackets (the venue holds the stop and the target)', () => {
    const config: DecideTradeConfig = { ...CONFIG, brackets: { stopAtr: 2, targetR: 3 } };
    const at = (mu: number, price: number, portfolio: Portfolio, i: number, exits: Order[], extra = {}) => ({
      ...input(mu, price, '0', { portfolio, ...extra }, i),
      ...(exits.length > 0 ? { exits } : {}),
    });

    it('places a stop-loss and a take-profit as one OCO group once the entry has filled, and nothing while they rest', () => {
      // entry at 20,000, ATR 100: stop 19,800, target 20,600 (3 R)
      const steps = drive(config, [
        (x) => at(40, 20_000, cashPortfolio('10000'), 0, x),
        (x) => at(40, 20_050, holding('0.05833', 20_000), 1, x),
        (x) => at(40, 20_100, holding('0.05833', 20_000), 2, x),
      ]);
      deepStrictEqual(steps, [
        ['buy 0.05833 market'],
        ['sell 0.05833 stop-market 19800 oco a', 'sell 0.05833 take-profit-market 20600 oco a'],
        [],
      ]);
    });

    it('sends limit legs on the tick grid, rounded away from the position, with the offset beyond the trigger', () => {
      const limitConfig = { ...CONFIG, brackets: { stopAtr: 2.0005, targetR: 3, limitOffsetBps: 50 } };
      // stop 20,000 − 200.05 = 19,799.95 (on the grid); target 20,000 + 3 × 200.05 = 20,600.15
      const steps = drive(limitConfig, [
        (x) => at(40, 20_000, cashPortfolio('10000'), 0, x),
        (x) => at(40, 20_000, holding('0.05', 20_000), 1, x),
      ]);
      deepStrictEqual(steps[1], [
        'sell 0.05 stop-limit 19799.95 limit 19700.95 oco a',
        'sell 0.05 take-profit-limit 20600.15 limit 20497.14 oco a',
      ]);
    });

    it('moves the resting stop with the trailing level only once it has moved a tenth of R', () => {
      const trail = { ...CONFIG, brackets: { stopAtr: 2, trailAtr: 2 } };
      // R = 200: the stop is replaced once best − 200 is ≥ 20 above the resting stop
      const steps = drive(trail, [
        (x) => at(40, 20_000, cashPortfolio('10000'), 0, x),
        (x) => at(40, 20_000, holding('0.05', 20_000), 1, x),
        (x) => at(40, 20_019, holding('0.05', 20_000), 2, x), // trailing level 19,819: 19 better, stays
        (x) => at(40, 20_020, holding('0.05', 20_000), 3, x), // 19,820: replaced
      ]);
      deepStrictEqual(steps.slice(1), [
        ['sell 0.05 stop-market 19800'],
        [],
        ['cancel-all', 'sell 0.05 stop-market 19820'],
      ]);
    });

    it('cancels the resting legs before a market exit (time stop) and when the position is gone', () => {
      const timed = { ...CONFIG, brackets: { stopAtr: 2, targetR: 3, maxHoldBars: 2 } };
      const held = holding('0.05', 20_000);
      const steps = drive(timed, [
        (x) => at(40, 20_000, cashPortfolio('10000'), 0, x),
        (x) => at(40, 20_000, held, 1, x),
        (x) => at(40, 20_000, held, 2, x), // 2 bars held: time stop
      ]);
      deepStrictEqual(steps[2], ['cancel-all', 'sell 0.05 market']);
      // the stop filled at the venue: flat, and the take-profit leg left over is canceled
      const stopped = drive(config, [
        (x) => at(40, 20_000, cashPortfolio('10000'), 0, x),
        (x) => at(40, 20_000, holding('0.05', 20_000), 1, x),
        (x) => at(0, 19_700, cashPortfolio('9990'), 2, x.slice(1)),
      ]);
      deepStrictEqual(stopped[2], ['cancel-all']);
    });

    it('splits a partial take-profit into two OCO lists, and moves the rest to break-even once it has filled', () => {
      const partial = { ...CONFIG, brackets: { stopAtr: 2, targetR: 2, partialFraction: 0.5 } };
      const steps = drive(partial, [
        (x) => at(40, 20_000, cashPortfolio('10000'), 0, x),
        (x) => at(40, 20_100, holding('0.05', 20_000), 1, x),
        // the take-profit of list a filled at 20,400 (its stop canceled by the venue): list b's stop rests
        (x) => at(40, 20_300, holding('0.025', 20_000), 2, x.slice(2)),
      ]);
      deepStrictEqual(steps.slice(1), [
        [
          'sell 0.025 stop-market 19800 oco a',
          'sell 0.025 take-profit-market 20400 oco a',
          'sell 0.025 stop-market 19800 oco b',
        ],
        ['cancel-all', 'sell 0.025 stop-market 20000'],
      ]);
    });

    it('protects what is held while a buy adds to it (the gate may deny the buy), and re-sizes the legs after its fill', () => {
      // Kelly target at 40 bps: 0.0625 (no bracket cap without a target); holding 0.03 is outside the band
      const plain = { ...CONFIG, brackets: { stopAtr: 2 } };
      const steps = drive(plain, [
        (x) => at(40, 20_000, holding('0.03', 20_000), 0, x),
        (x) => at(40, 20_000, holding('0.03', 20_000), 1, x),
        (x) => at(40, 20_000, holding('0.0625', 20_000), 2, x),
      ]);
      deepStrictEqual(steps, [
        ['buy 0.0325 market', 'cancel-all', 'sell 0.03 stop-market 19800'], // found without a bracket
        ['buy 0.0325 market'],
        ['cancel-all', 'sell 0.0625 stop-market 19800'],
      ]);
    });

    it('cancels what an earlier session left resting before the first legs of a position found without a bracket (a restart)', () => {
      const steps = drive(config, [
        (x) => ({ ...at(40, 20_000, holding('0.05', 20_000), 0, x), pending: toUnits('0.01') }), // an order still on its way
        (x) => at(40, 20_000, holding('0.06', 20_000), 1, x),
        (x) => at(40, 20_000, holding('0.06', 20_000), 2, x),
      ]);
      deepStrictEqual(steps, [
        [],
        ['cancel-all', 'sell 0.06 stop-market 19800 oco a', 'sell 0.06 take-profit-market 20600 oco a'],
        [],
      ]);
    });

    it('keeps the close check as a fallback: a close through the stop with the leg still resting exits at market', () => {
      const steps = drive(config, [
        (x) => at(40, 20_000, cashPortfolio('10000'), 0, x),
        (x) => at(40, 20_000, holding('0.05', 20_000), 1, x),
        (x) => at(40, 19_750, holding('0.05', 20_000), 2, x), // a stop-limit gapped past its limit
      ]);
      deepStrictEqual(steps[2], ['cancel-all', 'sell 0.05 market']);
    });

    it('places nothing while an order of the symbol is still on its way, and with `on-close` never', () => {
      const pendingSteps = drive(config, [
        (x) => at(40, 20_000, cashPortfolio('10000'), 0, x),
        (x) => ({ ...at(40, 20_000, holding('0.03', 20_000), 1, x), pending: toUnits('0.02') }),
      ]);
      deepStrictEqual(pendingSteps[1], []);
      const onClose = drive({ ...CONFIG, brackets: { stopAtr: 2, targetR: 3, orders: 'on-close' } }, [
        (x) => at(40, 20_000, cashPortfolio('10000'), 0, x),
        (x) => at(40, 20_000, holding('0.05', 20_000), 1, x),
        (x) => at(40, 19_790, holding('0.05', 20_000), 2, x),
      ]);
      deepStrictEqual(onClose.slice(1), [[], ['sell 0.05 market']]);
      throws(
        () => decideTrade({ ...CONFIG, brackets: { stopAtr: 2, orders: 'never' as 'resting' } }),
        /brackets.orders/,
      );
      throws(() => decideTrade({ ...CONFIG, brackets: { stopAtr: 2, limitOffsetBps: -1 } }), /limitOffsetBps/);
    });
  });

  describe('brackets', () => {
    it('puts the stop behind support when that is tighter than the ATR stop, and aims at a Fibonacci extension', () => {
      const config: BracketConfig = {
        stopAtr: 4,
        targetR: 2,
        levelStop: true,
        levelBufferAtr: 0.5,
        fibExtension: 1.618,
      };
      // long at 100, ATR 1: ATR stop 96; support 98 → stop 97.5 (risk 2.5); range 98..102 → target 98 + 1.618·4
      const b = openBracket(config, 1, 100, 1, { support: 98, resistance: 102 });
      strictEqual(b.stop, 97.5);
      ok(Math.abs(b.target! - 104.472) < 1e-9, String(b.target));
      // support far below: the ATR stop stays; the extension under the entry: the R target
      const far = openBracket(config, 1, 100, 1, { support: 90, resistance: 91 });
      deepStrictEqual([far.stop, far.target], [96, 108]);
      // a short hides behind resistance
      const short = openBracket(config, -1, 100, 1, { support: 97, resistance: 101 });
      strictEqual(short.stop, 101.5);
      ok(Math.abs(short.target! - (101 - 1.618 * 4)) < 1e-9);
      // without levelStop / fibExtension the levels are ignored
      const plain = openBracket({ stopAtr: 4, targetR: 2 }, 1, 100, 1, { support: 98, resistance: 102 });
      deepStrictEqual([plain.stop, plain.target], [96, 108]);
    });

    it('trails the best close and stops on time', () => {
      const config: BracketConfig = { stopAtr: 1, trailAtr: 2, maxHoldBars: 3 };
      const b = openBracket(config, 1, 100, 1);
      deepStrictEqual([b.stop, b.target], [99, undefined]);
      strictEqual(stepBracket(config, b, 105), undefined); // best 105, trail at 103
      strictEqual(stepBracket(config, b, 102.5), 'trailing-stop');
      const t = openBracket(config, -1, 100, 1);
      strictEqual(t.stop, 101);
      strictEqual(stepBracket(config, t, 100), undefined);
      strictEqual(stepBracket(config, t, 100), undefined);
      strictEqual(stepBracket(config, t, 100), 'time-stop');
    });
  });
});
