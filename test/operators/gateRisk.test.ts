import { equal, match, ok } from 'node:assert/strict';
import fc from 'fast-check';
import { map } from 'rxjs';
import {
  clientOrderIdFor,
  gateRisk,
  type GateRiskConfig,
  type RiskInput,
  type RiskMarket,
} from '../../operators/gateRisk';
import { feeOf, notionalOf, toUnits, unitsToNumber } from '../../operators/money';
import type { MarketStats } from '../../operators/trackMarketStats';
import { accountingResidual, applyFill, markToMarket } from '../../operators/trackPortfolio';
import type { Instrument, Mode, OrderIntent, Portfolio, RiskDecision } from '../../operators/types';
import { BTC_USDT, cashPortfolio } from '../support/fixtures';
import { makeTestScheduler } from '../support/marbles';

const ETH_USDT: Instrument = {
  ...BTC_USDT,
  symbol: 'ETH/USDT',
  base: 'ETH',
  qtyStep: toUnits('0.0001'),
  minQty: toUnits('0.0001'),
  sector: 'L1',
};
const SOL_USDT: Instrument = {
  ...BTC_USDT,
  symbol: 'SOL/USDT',
  base: 'SOL',
  qtyStep: toUnits('0.01'),
  venue: 'kraken',
  sector: 'L1',
  minQty: toUnits('0.1'),
  maxQty: toUnits('1000'),
};

/** Limits with every market-risk check off: the pre-trade and concentration checks alone. */
const BASIC: GateRiskConfig = {
  instruments: [BTC_USDT, ETH_USDT, SOL_USDT],
  maxPositionPct: 0.25,
  maxVenuePct: 0.5,
  maxStrategyPct: 0.6,
  maxSectorPct: 0.4,
  maxOrderNotional: 5000,
  maxDrawdown: 0.15,
  takerFeeBps: 10,
  maxHeat: null,
  maxCorrelation: null,
  volTarget: null,
  maxVar: null,
  strategyId: 'test',
  configHash: 'abc',
};
const FULL: GateRiskConfig = { ...BASIC, maxHeat: 0.25, maxCorrelation: 0.7, volTarget: 0.15, maxVar: 0.02 };

function intent(side: 'buy' | 'sell', qty: string, partial: Partial<OrderIntent> = {}): OrderIntent {
  return {
    kind: 'intent',
    id: 'BTC/USDT:1m:60000:fused:0',
    signalId: 'BTC/USDT:1m:60000:fused',
    symbol: 'BTC/USDT',
    side,
    qty: toUnits(qty),
    refPrice: 20_000,
    targetQty: side === 'buy' ? toUnits(qty) : 0n,
    reducesRisk: side === 'sell',
    tsEvent: 60_000,
    reason: 'test',
    ...partial,
  };
}

function buy(portfolio: Portfolio, symbol: string, qty: string, price: number): Portfolio {
  const q = toUnits(qty);
  const p = toUnits(price);
  return applyFill(portfolio, {
    kind: 'fill',
    clientOrderId: 'x',
    signalId: 's',
    symbol,
    side: 'buy',
    qty: q,
    price: p,
    notional: notionalOf(q, p),
    fee: 0n,
    liquidity: 'taker',
    leavesQty: 0n,
    tsEvent: 0,
  });
}

function holding(qty: string, price = 20_000): Portfolio {
  return buy(cashPortfolio('10000'), 'BTC/USDT', qty, price);
}

/** Market statistics with given annualised vols, correlations and a deep market. */
function stats(vol: Record<string, number>, corr: Record<string, number> = {}, adv = 1e12): MarketStats {
  const key = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);
  return {
    kind: 'market-stats',
    tsEvent: 0,
    volatility: new Map(Object.entries(vol)),
    adv: new Map(Object.keys(vol).map((s) => [s, adv])),
    price: new Map(),
    correlation: (a, b) => (a === b ? 1 : corr[key(a, b)]),
  };
}

const input = (
  i: OrderIntent,
  portfolio: Portfolio = cashPortfolio('10000'),
  mode: Mode = 'Normal',
  market?: RiskMarket,
): RiskInput => ({
  intent: i,
  portfolio,
  mode,
  ...(market ? { market } : {}),
});
const verdict = map((d: RiskDecision) => (d.kind === 'approved' ? 'ok' : d.code));

function decide(config: GateRiskConfig, ...inputs: RiskInput[]): RiskDecision[] {
  const out: RiskDecision[] = [];
  makeTestScheduler().run(({ cold }) => {
    const marbles = `${inputs.map((_, i) => String.fromCharCode(97 + i)).join('')}|`;
    cold(marbles, Object.fromEntries(inputs.map((v, i) => [String.fromCharCode(97 + i), v])))
      .pipe(gateRisk(config))
      .subscribe((d) => out.push(d));
  });
  return out;
}

const codes = (decisions: RiskDecision[]) => decisions.map((d) => (d.kind === 'approved' ? 'ok' : d.code));

describe('gateRisk', () => {
  it('approves an order inside every limit, stamping a deterministic client order id, the config hash and the measures', () => {
    makeTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a|', { a: input(intent('buy', '0.1')) });
      expectObservable(
        source.pipe(
          gateRisk(BASIC),
          map((d) =>
            d.kind === 'approved'
              ? [d.order.clientOrderId, d.order.configHash, d.order.signalId, d.numbers['positionPct']]
              : d.code,
          ),
        ),
      ).toBe('a|', {
        a: [clientOrderIdFor('test', 'BTC/USDT:1m:60000:fused:0'), 'abc', 'BTC/USDT:1m:60000:fused', 0.2],
      });
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it('denies with a reason code: position %, order notional, free balance, drawdown, min notional', () => {
    const inDrawdown: Portfolio = { ...cashPortfolio('10000'), peakEquity: 12_000, drawdown: 1 - 10_000 / 12_000 };
    const decisions = decide(
      BASIC,
      input(intent('buy', '0.2')), // 4,000 = 40 % of equity > 25 %
      input(intent('buy', '0.26'), cashPortfolio('30000')), // 5,200 > 5,000 per order
      input(intent('buy', '0.1'), { ...cashPortfolio('10000'), cash: toUnits('1000') }), // 2,002 needed, 1,000 free
      input(intent('buy', '0.05'), inDrawdown), // 16.7 % drawdown ≥ 15 %
      input(intent('buy', '0.0002')), // 4 USDT < 5 minimum
    );
    equal(
      codes(decisions).join(' '),
      'POSITION_PCT_EXCEEDS_LIMIT NOTIONAL_EXCEEDS_LIMIT NOTIONAL_EXCEEDS_FREE_BALANCE DRAWDOWN_HALT BELOW_MIN_NOTIONAL',
    );
  });

  it('writes the numbers into the denial message', () => {
    const [denied] = decide(BASIC, input(intent('buy', '0.2')));
    ok(denied && denied.kind === 'denied');
    match(denied.message, /^POSITION_PCT_EXCEEDS_LIMIT: position=0\.4 limit=0\.25 equity=10000$/);
    equal(denied.numbers['position'], 0.4);
  });

  it('checks the instrument: known symbol, lot grid, minimum and maximum quantity', () => {
    const decisions = decide(
      BASIC,
      input(intent('buy', '0.1', { symbol: 'DOGE/USDT' })),
      input(intent('buy', '0.000015')), // not a multiple of 0.00001
      input(intent('buy', '0.05', { symbol: 'SOL/USDT', refPrice: 200 })), // < 0.1 SOL
      input(intent('buy', '1000.01', { symbol: 'SOL/USDT', refPrice: 0.01 })), // > 1,000 SOL
    );
    equal(codes(decisions).join(' '), 'UNKNOWN_INSTRUMENT QTY_PRECISION BELOW_MIN_QTY QTY_EXCEEDS_MAX');
  });

  it('rounds an exit off the lot grid down to it instead of denying it (a position holding fee dust can be closed)', () => {
    // Binance takes a buy's fee in the base coin: 0.04969 bought leaves 0.04964031.
    const [exit] = decide(
      BASIC,
      input(intent('sell', '0.04964031', { reducesRisk: true, targetQty: 0n }), holding('0.04964031')),
    );
    ok(exit && exit.kind === 'approved', `denied: ${exit?.kind === 'denied' ? exit.message : ''}`);
    equal(exit.order.qty, toUnits('0.04964'));
    equal(exit.order.reducesRisk, true);
  });

  it('throttles risk-increasing orders per rolling minute of event time, not reducing ones', () => {
    const config = { ...BASIC, maxOrdersPerMinute: 2 };
    const at = (t: number, side: 'buy' | 'sell' = 'buy') =>
      input(
        intent(side, '0.01', { tsEvent: t, reducesRisk: side === 'sell' }),
        side === 'sell' ? holding('0.05') : cashPortfolio('10000'),
      );
    const decisions = decide(config, at(0), at(10_000), at(20_000), at(25_000, 'sell'), at(60_001));
    equal(codes(decisions).join(' '), 'ok ok ORDER_RATE_EXCEEDED ok ok');
  });

  it('caps leverage, venue, strategy and sector exposure', () => {
    const withEth = buy(cashPortfolio('10000'), 'ETH/USDT', '1', 2000); // 20 % in L1 on binance
    const decisions = decide(
      { ...BASIC, maxLeverage: 0.3 },
      input(intent('buy', '0.1', {}), withEth), // 20 % + 20 % = 40 % gross > 30 % leverage
    );
    equal(codes(decisions)[0], 'LEVERAGE_EXCEEDS_LIMIT');
    equal(
      codes(decide({ ...BASIC, maxVenuePct: 0.3 }, input(intent('buy', '0.1'), withEth)))[0],
      'VENUE_CONCENTRATION_EXCEEDS_LIMIT',
    );
    equal(
      codes(decide({ ...BASIC, maxStrategyPct: 0.35 }, input(intent('buy', '0.1'), withEth)))[0],
      'STRATEGY_CONCENTRATION_EXCEEDS_LIMIT',
    );
    const sol = intent('buy', '10', { symbol: 'SOL/USDT', refPrice: 250 }); // 25 % in L1 on kraken → L1 45 % > 40 %
    equal(codes(decide(BASIC, input(sol, withEth)))[0], 'SECTOR_CONCENTRATION_EXCEEDS_LIMIT');
  });

  it('lets risk-reducing orders through limits, drawdown, missing market data and Paused (a paused session can always get flat)', () => {
    const big: Portfolio = { ...holding('0.5'), drawdown: 0.5 };
    const sell = intent('sell', '0.5', { reducesRisk: true });
    equal(
      codes(
        decide(
          FULL,
          input(sell, big),
          input(sell, big, 'Reduced'),
          input(sell, big, 'Emergency'),
          input(sell, big, 'Paused'),
        ),
      ).join(' '),
      'ok ok ok ok',
    );
  });

  it('denies new risk in Reduced and Emergency modes', () => {
    equal(
      codes(
        decide(
          BASIC,
          input(intent('buy', '0.01'), cashPortfolio('10000'), 'Reduced'),
          input(intent('buy', '0.01'), cashPortfolio('10000'), 'Emergency'),
        ),
      ).join(' '),
      'MODE_REDUCED_RISK_INCREASING MODE_EMERGENCY',
    );
  });

  it('denies selling more than is held when shorting is off', () => {
    equal(
      codes(
        decide(BASIC, input(intent('sell', '0.2', { reducesRisk: false, targetQty: toUnits('-0.1') }), holding('0.1'))),
      )[0],
      'QTY_EXCEEDS_POSITION',
    );
  });

  describe('market risk', () => {
    it('denies new risk while the volatility it needs is unknown (no estimate is not a zero estimate)', () => {
      const [d] = decide(FULL, input(intent('buy', '0.01'), cashPortfolio('10000'), 'Normal', { stats: stats({}) }));
      ok(d && d.kind === 'denied');
      equal(d.code, 'RISK_DATA_UNAVAILABLE');
      match(d.message, /symbol=BTC\/USDT missing=volatility/);
    });

    it('limits portfolio heat Σ|w|·σ·√L, with L growing when the position is large for the market', () => {
      // 20 % of equity at σ 0.6 → heat 0.12 in a deep market; in a thin one (ADV 10,000 → L = 2000/1000 = 2) 0.17
      const deep = decide(
        { ...FULL, volTarget: null, maxVar: null, maxHeat: 0.15 },
        input(intent('buy', '0.1'), cashPortfolio('10000'), 'Normal', { stats: stats({ 'BTC/USDT': 0.6 }) }),
      );
      equal(codes(deep)[0], 'ok');
      equal(deep[0]!.kind === 'approved' && deep[0]!.numbers['heat'], 0.12);
      const thin = decide(
        { ...FULL, volTarget: null, maxVar: null, maxHeat: 0.15 },
        input(intent('buy', '0.1'), cashPortfolio('10000'), 'Normal', {
          stats: stats({ 'BTC/USDT': 0.6 }, {}, 10_000),
        }),
      );
      ok(thin[0]!.kind === 'denied' && thin[0]!.code === 'PORTFOLIO_HEAT_EXCEEDS_LIMIT');
      ok(Math.abs((thin[0] as { numbers: Record<string, number> }).numbers['heat']! - 0.12 * Math.sqrt(2)) < 1e-6);
    });

    it('refuses to add to a position in a correlated symbol, but allows a hedge', () => {
      const withEth = buy(cashPortfolio('10000'), 'ETH/USDT', '0.5', 2000); // 10 % ETH long
      const market = { stats: stats({ 'BTC/USDT': 0.6, 'ETH/USDT': 0.7 }, { 'BTC/USDT|ETH/USDT': 0.85 }) };
      const config = { ...FULL, volTarget: null, maxVar: null, maxHeat: null, allowShort: true };
      equal(
        codes(decide(config, input(intent('buy', '0.05'), withEth, 'Normal', market)))[0],
        'CORRELATION_EXCEEDS_LIMIT',
      );
      const shortBtc = intent('sell', '0.05', { reducesRisk: false, targetQty: toUnits('-0.05') });
      equal(codes(decide(config, input(shortBtc, withEth, 'Normal', market)))[0], 'ok');
    });

    it('targets portfolio volatility, diversification included', () => {
      const withEth = buy(cashPortfolio('10000'), 'ETH/USDT', '0.5', 2000); // 10 % ETH, σ 0.7
      const config = { ...FULL, maxVar: null, maxHeat: null, maxCorrelation: null };
      // + 10 % BTC σ 0.6: uncorrelated σp = sqrt(0.07² + 0.06²) = 0.0922; perfectly correlated 0.13
      const low = decide(
        config,
        input(intent('buy', '0.05'), withEth, 'Normal', {
          stats: stats({ 'BTC/USDT': 0.6, 'ETH/USDT': 0.7 }, { 'BTC/USDT|ETH/USDT': 0 }),
        }),
      );
      equal(low[0]!.kind === 'approved' && low[0]!.numbers['volatility'], 0.092195);
      const high = decide(
        { ...config, volTarget: 0.12 },
        input(intent('buy', '0.05'), withEth, 'Normal', {
          stats: stats({ 'BTC/USDT': 0.6, 'ETH/USDT': 0.7 }, { 'BTC/USDT|ETH/USDT': 1 }),
        }),
      );
      equal(codes(high)[0], 'VOLATILITY_EXCEEDS_TARGET');
    });

    it('limits the 1-day 99 % VaR, from GARCH estimates when given, else 2.326·σ_daily', () => {
      const config = { ...FULL, volTarget: null, maxHeat: null, maxCorrelation: null };
      const market = (var99?: number): RiskMarket => ({
        stats: stats({ 'BTC/USDT': 0.9 }),
        ...(var99 !== undefined ? { var99: new Map([['BTC/USDT', var99]]) } : {}),
      });
      // 20 % of equity: parametric VaR = 0.2 × 2.326 × 0.9/√365 = 0.0219 → over 2 %
      equal(
        codes(decide(config, input(intent('buy', '0.1'), cashPortfolio('10000'), 'Normal', market())))[0],
        'VAR_EXCEEDS_LIMIT',
      );
      // 5 % at a GARCH VaR of 30 % per unit → 1.5 %: inside
      const small = decide(config, input(intent('buy', '0.025'), cashPortfolio('10000'), 'Normal', market(0.3)));
      equal(small[0]!.kind === 'approved' && small[0]!.numbers['var99'], 0.015);
    });
  });

  it('gives the same client order id for the same strategy and intent, different ones otherwise', () => {
    equal(clientOrderIdFor('s', 'i'), clientOrderIdFor('s', 'i'));
    ok(clientOrderIdFor('s', 'i') !== clientOrderIdFor('s', 'j'));
    ok(clientOrderIdFor('s', 'i') !== clientOrderIdFor('t', 'i'));
    match(clientOrderIdFor('growth-btc', 'BTC/USDT:5m:1606808400000:fused:0'), /^[A-Za-z0-9_-]{1,36}$/);
  });

  it('passes a source error through, completes on empty, stops on unsubscribe, starts each subscription with a clean throttle', () => {
    makeTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = input(intent('buy', '0.01'));
      expectObservable(cold('a#', { a }).pipe(gateRisk(BASIC), verdict)).toBe('a#', { a: 'ok' });
      expectObservable(cold<RiskInput>('--|').pipe(gateRisk(BASIC))).toBe('--|');
      const source = hot('-a-a|', { a });
      expectObservable(source.pipe(gateRisk(BASIC), verdict), '^-!').toBe('-a', { a: 'ok' });
      expectSubscriptions(source.subscriptions).toBe('^-!');
      const throttled = gateRisk({ ...BASIC, maxOrdersPerMinute: 1 });
      expectObservable(cold('aa|', { a }).pipe(throttled, verdict)).toBe('ab|', { a: 'ok', b: 'ORDER_RATE_EXCEEDED' });
      expectObservable(cold('aa|', { a }).pipe(throttled, verdict)).toBe('ab|', { a: 'ok', b: 'ORDER_RATE_EXCEEDED' });
    });
  });

  it('never approves an order that breaches a limit, and the book always reconciles (property over random order flows)', () => {
    const symbols = [BTC_USDT, ETH_USDT, SOL_USDT];
    const step = fc.record({
      symbol: fc.integer({ min: 0, max: 2 }),
      side: fc.constantFrom<'buy' | 'sell'>('buy', 'sell'),
      lots: fc.integer({ min: 1, max: 3000 }),
      move: fc.double({ min: -0.2, max: 0.2, noNaN: true }),
      mode: fc.constantFrom<Mode>('Normal', 'Normal', 'Normal', 'Reduced', 'Paused'),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        let portfolio = cashPortfolio('10000');
        const prices = new Map([
          ['BTC/USDT', 20_000],
          ['ETH/USDT', 2_000],
          ['SOL/USDT', 50],
        ]);
        const market = {
          stats: stats(
            { 'BTC/USDT': 0.6, 'ETH/USDT': 0.7, 'SOL/USDT': 0.9 },
            { 'BTC/USDT|ETH/USDT': 0.5, 'BTC/USDT|SOL/USDT': 0.4, 'ETH/USDT|SOL/USDT': 0.45 },
          ),
        };
        const config: GateRiskConfig = { ...FULL, maxVar: 0.05, volTarget: 0.3, maxHeat: 0.4 };
        const gate = gateRisk(config);
        const inputs: RiskInput[] = [];
        let t = 0;
        const decisions: RiskDecision[] = [];
        // Drive the gate one input at a time, applying each approval as a fill before the next.
        const subject = new (require('rxjs').Subject)() as import('rxjs').Subject<RiskInput>;
        subject.pipe(gate).subscribe((d) => decisions.push(d));
        for (const s of steps) {
          const instrument = symbols[s.symbol]!;
          const price = Math.max(0.01, Math.round(prices.get(instrument.symbol)! * (1 + s.move) * 100) / 100);
          prices.set(instrument.symbol, price);
          portfolio = markToMarket(portfolio, instrument.symbol, price, t);
          const held = portfolio.positions[instrument.symbol]?.qty ?? 0n;
          const qty = instrument.qtyStep * BigInt(s.lots);
          const after = held + (s.side === 'buy' ? qty : -qty);
          const reduces =
            (held > 0n && s.side === 'sell' && after >= 0n) || (held < 0n && s.side === 'buy' && after <= 0n);
          const i = intent(s.side, '0', {
            symbol: instrument.symbol,
            qty,
            refPrice: price,
            tsEvent: t,
            reducesRisk: reduces,
            id: `i${t}`,
            targetQty: after,
          });
          const riskInput = input(i, portfolio, s.mode, market);
          inputs.push(riskInput);
          subject.next(riskInput);
          const d = decisions[decisions.length - 1]!;
          if (d.kind === 'approved') {
            const p = toUnits(price);
            const notional = notionalOf(qty, p);
            const fee = feeOf(notional, 1000n);
            const filled = applyFill(portfolio, {
              kind: 'fill',
              clientOrderId: d.order.clientOrderId,
              signalId: 's',
              symbol: instrument.symbol,
              side: s.side,
              qty,
              price: p,
              notional,
              fee,
              liquidity: 'taker',
              leavesQty: 0n,
              tsEvent: t,
            });
            // Post-trade invariants of every approval.
            if (s.mode === 'Paused' && !reduces) return false;
            if (!reduces) {
              if (s.mode !== 'Normal') return false;
              const equity = filled.equity;
              let gross = 0;
              for (const sym in filled.positions)
                gross += Math.abs(unitsToNumber(filled.positions[sym]!.qty) * filled.positions[sym]!.markPrice);
              const own = Math.abs(unitsToNumber(filled.positions[instrument.symbol]?.qty ?? 0n) * price);
              // Fees move equity by at most 0.1 % of the notional: allow that much slack.
              const slack = 1.002;
              if (own / equity > config.maxPositionPct! * slack) return false;
              if (gross / equity > config.maxStrategyPct! * slack) return false;
            }
            if (filled.cash < 0n) return false;
            if (accountingResidual(filled) !== 0n) return false;
            portfolio = filled;
          }
          t += 1000;
        }
        return decisions.length === inputs.length;
      }),
      { numRuns: 300 },
    );
  });
});
