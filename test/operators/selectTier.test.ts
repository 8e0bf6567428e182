import { deepStrictEqual, equal, throws } from 'node:assert/strict';
import fc from 'fast-check';
import { map } from 'rxjs/operators';
import {
  type EquityObservation,
  nextTier,
  selectTier,
  type Tier,
  type TierChanged,
  TIERS,
  tierFor,
} from '../../operators/selectTier';
import { makeTestScheduler } from '../support/marbles';

const obs = (equity: number, tsEvent = 0): EquityObservation => ({ equity, tsEvent });
const pick = (c: TierChanged) => `${c.from ?? '-'}>${c.to}`;

describe('selectTier (capital tiers with 20 % hysteresis)', () => {
  it('picks the first tier directly, moves up at a floor, and down only 20 % below the current floor', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const equity = cold('-a-b-c-d-e-f-|', {
        a: obs(4_000),
        b: obs(5_100), // ≥ growth floor 5,000: up
        c: obs(4_500), // inside the band (≥ 4,000): stays growth
        d: obs(4_000), // exactly 20 % below: stays
        e: obs(3_999), // below 4,000: down
        f: obs(4_999), // under the growth floor: stays survival
      });
      expectObservable(equity.pipe(selectTier(), map(pick))).toBe('-a-b-----e---|', {
        a: '->survival',
        b: 'survival>growth',
        e: 'growth>survival',
      });
      expectSubscriptions(equity.subscriptions).toBe('^------------!');
    });
  });

  it('around every boundary: up at the floor, down below 80 % of it, never flapping inside the band', () => {
    const floors = [5_000, 20_000, 100_000, 1_000_000];
    floors.forEach((floor, i) => {
      const lower = TIERS[i]!;
      const upper = TIERS[i + 1]!;
      equal(nextTier(lower, floor - 0.01).tier, lower);
      equal(nextTier(lower, floor).tier, upper);
      equal(nextTier(upper, floor * 0.8).tier, upper);
      equal(nextTier(upper, floor * 0.8 - 0.01).tier, lower);
    });
  });

  it('jumps several tiers at once both ways, with the numbers in the reason', () => {
    deepStrictEqual(nextTier('survival', 150_000), {
      tier: 'institutional',
      reason: 'equity 150000 ≥ institutional floor 100000',
    });
    deepStrictEqual(nextTier('whale', 10_000), {
      tier: 'growth',
      reason: 'equity 10000 < whale floor 1000000 − 20 % = 800000',
    });
  });

  it('a restarted session starts from its tier (initial) and leaves it only 20 % below its floor; flags an account under the 2,000 minimum', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const equity = cold('-a-b-|', { a: obs(15_000), b: obs(1_500) });
      expectObservable(equity.pipe(selectTier({ initial: 'acceleration' }))).toBe('-a-b-|', {
        a: {
          kind: 'tier-changed',
          from: 'acceleration',
          to: 'growth',
          equity: 15_000,
          tsEvent: 0,
          reason: 'equity 15000 < acceleration floor 20000 − 20 % = 16000',
          belowMinimum: false,
        } as never,
        b: {
          kind: 'tier-changed',
          from: 'growth',
          to: 'survival',
          equity: 1_500,
          tsEvent: 0,
          reason: 'equity 1500 < growth floor 5000 − 20 % = 4000',
          belowMinimum: true,
        } as never,
      });
    });
  });

  it('sends a non-finite equity to the error channel, passes a source error on, completes on an empty source', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-b-|', { a: obs(6_000), b: obs(Number.NaN) }).pipe(selectTier(), map(pick))).toBe(
        '-a-#',
        { a: '->growth' },
        new RangeError('selectTier: equity must be a finite number, found NaN'),
      );
      expectObservable(cold<EquityObservation>('-#', {}, new Error('feed')).pipe(selectTier())).toBe(
        '-#',
        {},
        new Error('feed'),
      );
      expectObservable(cold<EquityObservation>('|').pipe(selectTier())).toBe('|');
    });
  });

  it('unsubscribes from the equity stream when unsubscribed early', () => {
    makeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const equity = hot('-a---b-', { a: obs(6_000), b: obs(30_000) });
      expectObservable(equity.pipe(selectTier(), map(pick)), '^--!').toBe('-a-', { a: '->growth' });
      expectSubscriptions(equity.subscriptions).toBe('^--!');
    });
  });

  it('refuses a hysteresis outside [0, 1) and floors that do not increase, naming the key', () => {
    throws(() => selectTier({ hysteresis: 1 }), /selectTier\.hysteresis: expected 0 ≤ h < 1, found 1/);
    throws(
      () => selectTier({ floors: { survival: 0, growth: 5_000, acceleration: 5_000, institutional: 1e5, whale: 1e6 } }),
      /selectTier\.floors\.acceleration: expected more than growth's 5000, found 5000/,
    );
  });

  it('property: no flapping — between two changes the equity crossed a floor up or fell 20 % below one', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 1_000, max: 2_000_000, noNaN: true }), { minLength: 1, maxLength: 200 }),
        (path) => {
          let tier: Tier | null = null;
          for (const e of path) {
            if (tier === null) {
              tier = tierFor(e);
              continue;
            }
            const next: Tier = nextTier(tier, e).tier;
            const rank = (t: Tier) => TIERS.indexOf(t);
            if (rank(next) > rank(tier)) equal(tierFor(e), next);
            if (rank(next) < rank(tier)) equal(e < [0, 5_000, 20_000, 100_000, 1_000_000][rank(tier)]! * 0.8, true);
            tier = next;
          }
        },
      ),
    );
  });
});
