/**
 * The cost model prices a round trip with the formulas the paper exchange fills with: a market
 * buy and sell of the same size at an unchanged price cost, at the simulator, what `roundTrip`
 * says — fees by tier, slippage and square-root impact included.
 */
import { ok, strictEqual, throws } from 'node:assert/strict';
import fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import {
  BINANCE_SPOT_FEE_TIERS,
  CostModelConfigError,
  feeAtPpm,
  feeTiersOf,
  makeCostModel,
  squareRootImpact,
  takerFillPrice,
  tierForVolume,
} from '../../operators/costModel';
import { toUnits, unitsToNumber } from '../../operators/money';
import type { Fill, Order } from '../../operators/types';
import { makePaperExchange, type PaperExchangeInput } from '../../sinks/paperExchange';
import { BTC_USDT, bar } from '../support/fixtures';

const M = 60_000;

function market(id: string, side: 'buy' | 'sell', qty: string, tsEvent: number): Order {
  return {
    kind: 'order',
    clientOrderId: id,
    intentId: id,
    signalId: id,
    symbol: 'BTC/USDT',
    side,
    type: 'market',
    qty: toUnits(qty),
    refPrice: 0,
    reducesRisk: side === 'sell',
    configHash: 'cfg',
    tsEvent,
  };
}

/** Cost of a market round trip at the paper exchange, bps of the entry notional, price unchanged at `price`. */
async function simulatedRoundTripBps(
  qty: string,
  price: number,
  venue: { takerFeeBps: number; slippageBps: number; gamma: number; adv: number },
): Promise<number> {
  const exchange = makePaperExchange({
    instruments: [BTC_USDT],
    initialCash: toUnits('100000000'),
    quote: 'USDT',
    takerFeeBps: venue.takerFeeBps,
    slippageBps: venue.slippageBps,
    impact: { gamma: venue.gamma, adv: { 'BTC/USDT': venue.adv } },
  });
  const inputs: PaperExchangeInput[] = [
    market('b', 'buy', qty, 0),
    bar(0, { o: price, v: 1 }),
    market('s', 'sell', qty, M),
    bar(M, { o: price, v: 1 }),
  ];
  const out = await lastValueFrom(from(inputs).pipe(exchange, toArray()));
  const fills = out.filter((e): e is Fill => e.kind === 'fill');
  strictEqual(fills.length, 2, `expected two fills, got ${JSON.stringify(out.map((e) => e.kind))}`);
  const [buy, sell] = fills as [Fill, Fill];
  const paid = unitsToNumber(buy.notional + buy.fee);
  const got = unitsToNumber(sell.notional - sell.fee);
  return ((paid - got) / (unitsToNumber(buy.qty) * price)) * 10_000;
}

describe('costModel', () => {
  it('a flat 10 bps taker fee and 2 bps slippage cost 24 bps a round trip', () => {
    const cost = makeCostModel({ takerFeeBps: 10, slippageBps: 2 }).roundTrip({ qty: 1 });
    strictEqual(cost.feesBps, 20);
    strictEqual(cost.slippageBps, 4);
    strictEqual(cost.impactBps, 0);
    strictEqual(cost.totalBps, 24);
  });

  it('adds square-root impact γ·√(V/ADV) on both legs, and the half-spread on both legs', () => {
    const cost = makeCostModel({ takerFeeBps: 10, slippageBps: 0, halfSpreadBps: 1.5, impactGamma: 0.1 }).roundTrip({
      qty: 4,
      adv: 10_000,
    });
    // 0.1 · √(4/10000) = 0.002 = 20 bps per leg
    ok(Math.abs(cost.impactBps - 40) < 1e-9, String(cost.impactBps));
    strictEqual(cost.spreadBps, 3);
    ok(Math.abs(cost.totalBps - 63) < 1e-9);
  });

  it('uses the fee tier of the 30-day volume, and maker legs pay only the maker fee', () => {
    const model = makeCostModel({});
    strictEqual(model.roundTrip({ qty: 1, volume30d: 0n, entry: 'maker' }).feesBps, 20);
    const vip3 = model.roundTrip({ qty: 1, volume30d: toUnits('25000000'), entry: 'maker', exit: 'maker' });
    strictEqual(vip3.feesBps, 8.4);
    strictEqual(vip3.slippageBps, 0);
    strictEqual(tierForVolume(BINANCE_SPOT_FEE_TIERS, toUnits('999999')).name, 'Regular');
    strictEqual(tierForVolume(BINANCE_SPOT_FEE_TIERS, toUnits('1000000')).name, 'VIP 1');
  });

  it('reads the venue config the way the paper exchange does', () => {
    strictEqual(feeTiersOf({}), BINANCE_SPOT_FEE_TIERS);
    strictEqual(feeTiersOf({ takerFeeBps: 7 })[0]!.makerBps, 7);
    strictEqual(feeTiersOf({ makerFeeBps: 2 })[0]!.takerBps, 10);
  });

  it('fee rounding: a charge rounds up, a rebate rounds down', () => {
    strictEqual(feeAtPpm(1n, 1000n), 1n);
    strictEqual(feeAtPpm(1n, -1000n), 0n);
    strictEqual(feeAtPpm(10_000n, -100n), -1n);
  });

  it('taker prices move against the order and never through the limit', () => {
    strictEqual(takerFillPrice('buy', 100, 0.01, 0.01), 102);
    strictEqual(takerFillPrice('sell', 100, 0.01, 0.01), 98);
    strictEqual(takerFillPrice('buy', 100, 0.01, 0.01, 101), 101);
    strictEqual(squareRootImpact(0.5, 4, 100), 0.1);
  });

  it('rejects a broken config naming the key', () => {
    throws(() => makeCostModel({ slippageBps: -1 }), CostModelConfigError);
    throws(() => makeCostModel({ impactGamma: Number.NaN }), /impactGamma/);
    throws(() => makeCostModel({ feeTiers: [] }), /feeTiers/);
  });

  it('predicts what the paper exchange charges for a market round trip (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 200 }).map((n) => (n / 100).toFixed(2)),
        fc.integer({ min: 1_000, max: 60_000 }),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 0, max: 5 }).map((g) => g / 10),
        async (qty, price, takerFeeBps, slippageBps, gamma) => {
          const adv = 1_000;
          const simulated = await simulatedRoundTripBps(qty, price, { takerFeeBps, slippageBps, gamma, adv });
          const expected = makeCostModel({ takerFeeBps, slippageBps, impactGamma: gamma }).roundTrip({
            qty: Number(qty),
            adv,
          }).totalBps;
          // The simulator rounds prices and fees to 1e-8 quote units; the model does not.
          ok(Math.abs(simulated - expected) < 0.01, `simulated ${simulated} bps, model ${expected} bps`);
        },
      ),
      { numRuns: 40 },
    );
  });
});
