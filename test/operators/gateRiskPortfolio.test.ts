import { ok } from 'node:assert/strict';
import fc from 'fast-check';
import { Subject, map } from 'rxjs';
import { RiskInputError, gateRisk, type GateRiskConfig, type RiskInput } from '../../operators/gateRisk';
import { toUnits, unitsToNumber } from '../../operators/money';
import type { MarketStats } from '../../operators/trackMarketStats';
import type { Instrument, Portfolio, Position, RiskDecision } from '../../operators/types';
import { makeTestScheduler } from '../support/marbles';

const Z99 = 2.326347874;
const N = 7;
const VENUES = ['binance', 'kraken'];
const SECTORS = ['store-of-value', 'smart-contract-l1', 'payments'];

/** Seven instruments on two venues and three sectors, like a real universe. */
const INSTRUMENTS: readonly Instrument[] = Array.from({ length: N }, (_, i) => ({
  venue: VENUES[i % 2]!,
  symbol: `C${i}/USDT`,
  base: `C${i}`,
  quote: 'USDT',
  qtyStep: toUnits('0.001'),
  priceTick: 0.01,
  minQty: toUnits('0.001'),
  minNotional: toUnits('1'),
  sector: SECTORS[i % 3]!,
}));

const scenario = fc.record({
  prices: fc.array(fc.double({ min: 1, max: 1000, noNaN: true }), { minLength: N, maxLength: N }),
  holdings: fc.array(fc.double({ min: 0, max: 0.3, noNaN: true }), { minLength: N, maxLength: N }),
  held: fc.array(fc.boolean(), { minLength: N, maxLength: N }),
  vols: fc.array(fc.double({ min: 0.1, max: 2, noNaN: true }), { minLength: N, maxLength: N }),
  /** Loadings on two common factors: a correlation matrix that is a real one (PSD). */
  loadings: fc.array(
    fc.tuple(fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: -1, max: 1, noNaN: true })),
    {
      minLength: N,
      maxLength: N,
    },
  ),
  advs: fc.array(fc.double({ min: 1e3, max: 1e9, noNaN: true }), { minLength: N, maxLength: N }),
  garch: fc.option(fc.array(fc.double({ min: 0.01, max: 0.3, noNaN: true }), { minLength: N, maxLength: N })),
  symbol: fc.integer({ min: 0, max: N - 1 }),
  side: fc.constantFrom<'buy' | 'sell'>('buy', 'sell'),
  share: fc.double({ min: 0.001, max: 0.5, noNaN: true }),
  limits: fc.record({
    maxPositionPct: fc.double({ min: 0.02, max: 0.5, noNaN: true }),
    maxVenuePct: fc.double({ min: 0.05, max: 1, noNaN: true }),
    maxStrategyPct: fc.double({ min: 0.05, max: 1, noNaN: true }),
    maxSectorPct: fc.double({ min: 0.05, max: 1, noNaN: true }),
    maxHeat: fc.double({ min: 0.01, max: 1, noNaN: true }),
    maxCorrelation: fc.double({ min: 0.1, max: 1, noNaN: true }),
    volTarget: fc.double({ min: 0.02, max: 1, noNaN: true }),
    maxVar: fc.double({ min: 0.002, max: 0.1, noNaN: true }),
    exitParticipation: fc.double({ min: 0.01, max: 1, noNaN: true }),
  }),
});

describe('gateRisk on a seven-symbol portfolio (property)', () => {
  it('never approves a risk-increasing order whose post-trade book breaches any limit, recomputed independently', () => {
    let approvals = 0;
    let denials = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        const equity0 = 100_000;
        // Positions worth holdings[i] of the starting equity; what they cost comes out of cash.
        const positions: Record<string, Position> = {};
        let invested = 0;
        INSTRUMENTS.forEach((inst, i) => {
          if (!s.held[i]) return;
          const qty = toUnits(((s.holdings[i]! * equity0) / s.prices[i]!).toFixed(3));
          if (qty === 0n) return;
          positions[inst.symbol] = {
            symbol: inst.symbol,
            qty,
            costBasis: toUnits((unitsToNumber(qty) * s.prices[i]!).toFixed(8)),
            markPrice: s.prices[i]!,
          };
          invested += unitsToNumber(qty) * s.prices[i]!;
        });
        const cash = Math.max(0, equity0 - invested);
        const equity = cash + invested;
        const portfolio: Portfolio = {
          kind: 'portfolio',
          quote: 'USDT',
          initialCash: toUnits(equity0),
          cash: toUnits(cash.toFixed(8)),
          positions,
          realizedPnl: 0n,
          feesPaid: 0n,
          equity,
          peakEquity: equity,
          drawdown: 0,
          tsEvent: 0,
        };
        const norm = s.loadings.map(([a, b]) => Math.sqrt(a * a + b * b + 0.2));
        const rho = (i: number, j: number): number =>
          i === j
            ? 1
            : (s.loadings[i]![0] * s.loadings[j]![0] + s.loadings[i]![1] * s.loadings[j]![1]) / (norm[i]! * norm[j]!);
        const index = new Map(INSTRUMENTS.map((inst, i) => [inst.symbol, i]));
        const stats: MarketStats = {
          kind: 'market-stats',
          tsEvent: 0,
          volatility: new Map(INSTRUMENTS.map((inst, i) => [inst.symbol, s.vols[i]!])),
          adv: new Map(INSTRUMENTS.map((inst, i) => [inst.symbol, s.advs[i]!])),
          price: new Map(INSTRUMENTS.map((inst, i) => [inst.symbol, s.prices[i]!])),
          correlation: (a, b) => rho(index.get(a)!, index.get(b)!),
        };
        const var99 = s.garch ? new Map(INSTRUMENTS.map((inst, i) => [inst.symbol, s.garch![i]!])) : undefined;

        const k = s.symbol;
        const inst = INSTRUMENTS[k]!;
        const price = s.prices[k]!;
        const held = positions[inst.symbol]?.qty ?? 0n;
        const wanted = toUnits(((s.share * equity) / price).toFixed(3));
        const qty = s.side === 'sell' && wanted > held ? held : wanted;
        if (qty <= 0n) return true;
        const after = held + (s.side === 'buy' ? qty : -qty);
        const config: GateRiskConfig = {
          instruments: INSTRUMENTS,
          ...s.limits,
          maxLeverage: 1,
          maxDrawdown: 0.5,
          takerFeeBps: 10,
          strategyId: 'prop',
          configHash: 'h',
        };
        const input: RiskInput = {
          intent: {
            kind: 'intent',
            id: `${inst.symbol}:1h:0:fused:0`,
            signalId: `${inst.symbol}:1h:0:fused`,
            symbol: inst.symbol,
            side: s.side,
            qty,
            refPrice: price,
            targetQty: after,
            reducesRisk: s.side === 'sell',
            tsEvent: 0,
            reason: 'property',
          },
          portfolio,
          mode: 'Normal',
          market: { stats, ...(var99 ? { var99 } : {}) },
        };
        const decisions: RiskDecision[] = [];
        const in$ = new Subject<RiskInput>();
        in$.pipe(gateRisk(config)).subscribe((d) => decisions.push(d));
        in$.next(input);
        const d = decisions[0]!;
        if (d.kind === 'denied') {
          denials++;
          return true;
        }
        approvals++;
        if (s.side === 'sell') return true; // reduce-only orders skip the portfolio limits by design

        // The book after the order, recomputed here from first principles.
        const exposure = INSTRUMENTS.map((other, i) =>
          i === k ? unitsToNumber(after) * price : unitsToNumber(positions[other.symbol]?.qty ?? 0n) * s.prices[i]!,
        );
        const w = exposure.map((v) => v / equity);
        const eps = 1e-9;
        const gross = w.reduce((sum, x) => sum + Math.abs(x), 0);
        const sumWhere = (pred: (i: number) => boolean) =>
          w.reduce((sum, x, i) => sum + (pred(i) ? Math.abs(x) : 0), 0);
        const venue = sumWhere((i) => INSTRUMENTS[i]!.venue === inst.venue);
        const sector = sumWhere((i) => INSTRUMENTS[i]!.sector === inst.sector);
        let heat = 0;
        for (let i = 0; i < N; i++) {
          if (exposure[i] === 0) continue;
          const liquidity = Math.max(1, Math.abs(exposure[i]!) / (s.limits.exitParticipation * s.advs[i]!));
          heat += Math.abs(w[i]!) * s.vols[i]! * Math.sqrt(liquidity);
        }
        let variance = 0;
        let varSq = 0;
        const q = (i: number) => var99?.get(INSTRUMENTS[i]!.symbol) ?? (Z99 * s.vols[i]!) / Math.sqrt(365);
        for (let i = 0; i < N; i++)
          for (let j = 0; j < N; j++) {
            variance += w[i]! * w[j]! * s.vols[i]! * s.vols[j]! * rho(i, j);
            varSq += w[i]! * q(i) * w[j]! * q(j) * rho(i, j);
          }
        const breaches: string[] = [];
        if (Math.abs(w[k]!) > s.limits.maxPositionPct + eps) breaches.push(`position ${w[k]}`);
        if (venue > s.limits.maxVenuePct + eps) breaches.push(`venue ${venue}`);
        if (gross > s.limits.maxStrategyPct + eps) breaches.push(`strategy ${gross}`);
        if (sector > s.limits.maxSectorPct + eps) breaches.push(`sector ${sector}`);
        if (heat > s.limits.maxHeat + eps) breaches.push(`heat ${heat}`);
        for (let i = 0; i < N; i++)
          if (i !== k && exposure[i] !== 0 && rho(k, i) * Math.sign(exposure[i]!) > 0)
            if (Math.abs(rho(k, i)) > s.limits.maxCorrelation) breaches.push(`correlation with ${i} ${rho(k, i)}`);
        if (Math.sqrt(Math.max(0, variance)) > s.limits.volTarget + eps) breaches.push(`volatility ${variance}`);
        if (Math.sqrt(Math.max(0, varSq)) > s.limits.maxVar + eps) breaches.push(`VaR ${varSq}`);
        ok(breaches.length === 0, `approved ${JSON.stringify(d.numbers)} but breaches ${breaches.join(', ')}`);
        return true;
      }),
      { numRuns: 2000, seed: 8 },
    );
    // Both outcomes happened, or the property said nothing.
    ok(approvals > 100 && denials > 100, `approvals ${approvals}, denials ${denials}`);
  });
});

describe('gateRisk on input it cannot judge', () => {
  const portfolio: Portfolio = {
    kind: 'portfolio',
    quote: 'USDT',
    initialCash: toUnits('10000'),
    cash: toUnits('10000'),
    positions: {},
    realizedPnl: 0n,
    feesPaid: 0n,
    equity: 10_000,
    peakEquity: 10_000,
    drawdown: 0,
    tsEvent: 0,
  };
  const intent = (refPrice: number): RiskInput['intent'] => ({
    kind: 'intent',
    id: 'C0/USDT:1h:0:fused:0',
    signalId: 'C0/USDT:1h:0:fused',
    symbol: 'C0/USDT',
    side: 'buy',
    qty: toUnits('1'),
    refPrice,
    targetQty: toUnits('1'),
    reducesRisk: false,
    tsEvent: 0,
    reason: 'test',
  });
  const config: GateRiskConfig = {
    instruments: INSTRUMENTS,
    maxPositionPct: 1,
    maxHeat: null,
    maxCorrelation: null,
    volTarget: null,
    maxVar: null,
    strategyId: 's',
    configHash: 'h',
  };

  it('sends a NaN price to the error channel and unsubscribes (it used to emit nothing and complete)', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<RiskInput>('a-b-a|', {
        a: { intent: intent(100), portfolio, mode: 'Normal' },
        b: { intent: intent(Number.NaN), portfolio, mode: 'Normal' },
      });
      expectObservable(
        source.pipe(
          gateRisk(config),
          map((d) => d.kind),
        ),
      ).toBe(
        'a-#',
        { a: 'approved' },
        new RiskInputError(
          'gateRisk: intent C0/USDT:1h:0:fused:0 (C0/USDT): refPrice must be a finite price > 0, found NaN',
        ),
      );
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('sends a portfolio with a NaN equity or mark to the error channel', () => {
    makeTestScheduler().run(({ cold, expectObservable }) => {
      const broken = { ...portfolio, equity: Number.NaN };
      expectObservable(
        cold<RiskInput>('a|', { a: { intent: intent(100), portfolio: broken, mode: 'Normal' } }).pipe(gateRisk(config)),
      ).toBe(
        '#',
        undefined,
        new RiskInputError(
          'gateRisk: intent C0/USDT:1h:0:fused:0 (C0/USDT): portfolio equity and drawdown must be finite, found NaN and 0',
        ),
      );
    });
  });
});
