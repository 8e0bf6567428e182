import { createHash } from 'node:crypto';
import { Observable, type OperatorFunction } from 'rxjs';
import { Bot4Error } from './errors';
import { feeOf, floorToStep, formatUnits, notionalOf, toUnits, unitsToNumber, type Units } from './money';
import type { MarketStats } from './trackMarketStats';
import { positionQty } from './trackPortfolio';
import type {
  ExitOrderSpec,
  Instrument,
  Mode,
  Order,
  OrderDenied,
  OrderIntent,
  Portfolio,
  RiskDecision,
  RiskDenyCode,
  Symbol,
} from './types';

/** What the gate knows of the market when an intent arrives. */
export interface RiskMarket {
  /** Rolling volatility, correlation and liquidity (see `trackMarketStats`). */
  readonly stats?: MarketStats;
  /**
   * 1-day 99 % Value-at-Risk per unit of exposure, per symbol (a fraction: 0.08 = a 1-day loss
   * of 8 % of the position is exceeded on 1 day in 100), e.g. from a GARCH-t fit. Where a symbol
   * has none, the gate uses the normal approximation 2.326 · σ_daily from `stats`.
   */
  readonly var99?: ReadonlyMap<Symbol, number>;
}

export interface RiskInput {
  readonly intent: OrderIntent;
  readonly portfolio: Portfolio;
  readonly mode: Mode;
  readonly market?: RiskMarket;
  /** Signed quantity of the symbol's orders still open (sent, not yet filled): counted as held. */
  readonly pending?: Units;
}

/**
 * Limits of the risk gate. Defaults are the spec's (§7.8, §8.2); a market-risk limit set to
 * `null` is switched off (then it needs no market data).
 */
export interface RiskLimits {
  /** Largest position in one symbol after the order, fraction of equity. Default 0.05. */
  readonly maxPositionPct?: number;
  /** Largest exposure on one venue, fraction of equity. Default 0.20. */
  readonly maxVenuePct?: number;
  /** Largest exposure of this strategy (all its positions), fraction of equity. Default 0.30. */
  readonly maxStrategyPct?: number;
  /** Largest exposure in one sector, fraction of equity. Default 0.40. */
  readonly maxSectorPct?: number;
  /** Gross exposure / equity. Default 1 (spot, no leverage). */
  readonly maxLeverage?: number;
  /** Largest notional of one order, quote currency. Default: no limit. */
  readonly maxOrderNotional?: number;
  /** Risk-increasing orders per rolling minute (event time). Default 30. */
  readonly maxOrdersPerMinute?: number;
  /** Drawdown from peak equity at which new risk is refused. Default 0.15. */
  readonly maxDrawdown?: number;
  /**
   * Portfolio heat Σ|wᵢ|·σᵢ·√Lᵢ (w: exposure / equity, σ: annualised volatility, L: liquidity
   * factor ≥ 1, see `exitParticipation`). Default 0.25.
   */
  readonly maxHeat?: number | null;
  /**
   * Largest correlation between the order's symbol and an open position that the order would
   * add to (same direction for a positive correlation, opposite for a negative one). Default 0.7.
   */
  readonly maxCorrelation?: number | null;
  /** Annualised volatility of the portfolio after the order (volatility targeting). Default 0.15. */
  readonly volTarget?: number | null;
  /** 1-day 99 % VaR of the portfolio after the order, fraction of equity. Default 0.02. */
  readonly maxVar?: number | null;
  /**
   * Share of a day's traded value a position may take to exit. The liquidity factor of a position
   * is Lᵢ = max(1, notional / (exitParticipation · ADV)): 1 when it can leave within that share
   * of one day's volume, growing with the days it would need. Default 0.1.
   */
  readonly exitParticipation?: number;
}

export interface GateRiskConfig extends RiskLimits {
  /** Instruments the strategy may trade (precision, minimums, venue, sector). */
  readonly instruments: readonly Instrument[];
  /** Taker fee in basis points, reserved on top of a buy's notional. Default 10. */
  readonly takerFeeBps?: number;
  /** Whether positions may go short. Default false. */
  readonly allowShort?: boolean;
  /** Namespace of client order ids: the strategy/account the orders belong to. */
  readonly strategyId: string;
  /** Hash of the validated config, stamped on every order. */
  readonly configHash: string;
}

const Z99 = 2.326347874;
const MINUTE = 60_000;

/**
 * The pre-trade risk gate: every intent becomes an approval (the order, with a deterministic
 * client order id, and the measures computed) or a denial with a reason code and the numbers.
 *
 * Checks, in order:
 * 1. trading mode — Paused, Reduced and Emergency refuse what adds risk (reduce-only orders pass
 *    in every mode: an outage that pauses the session must not trap it in a position);
 * 2. pre-trade — instrument known, quantity on the lot grid, minimum/maximum quantity,
 *    minimum notional, order notional, free balance (buys reserve the taker fee), held position
 *    (no shorting unless allowed), leverage, order rate;
 * 3. portfolio — drawdown halt, concentration per symbol / venue / strategy / sector, portfolio
 *    heat Σ|wᵢ|·σᵢ·√Lᵢ, correlation with open positions the order adds to, portfolio volatility;
 * 4. market risk — 1-day 99 % VaR of the portfolio after the order, aggregated over symbols with
 *    their correlations (GARCH-t VaR per symbol when given, else 2.326·σ_daily).
 * Orders that only reduce risk skip 2's balance-free checks, 3 and 4: a halted strategy can
 * always get flat. Missing market data for a needed measure denies new risk
 * (`RISK_DATA_UNAVAILABLE`): no estimate is not a zero estimate.
 *
 * ```
 * input:    --a--b--|
 * decision: --A--D--|     A approved · D denied (with code and numbers)
 * ```
 */
export function gateRisk(config: GateRiskConfig): OperatorFunction<RiskInput, RiskDecision> {
  const limits = {
    maxPositionPct: config.maxPositionPct ?? 0.05,
    maxVenuePct: config.maxVenuePct ?? 0.2,
    maxStrategyPct: config.maxStrategyPct ?? 0.3,
    maxSectorPct: config.maxSectorPct ?? 0.4,
    maxLeverage: config.maxLeverage ?? 1,
    maxOrderNotional: config.maxOrderNotional,
    maxOrdersPerMinute: config.maxOrdersPerMinute ?? 30,
    maxDrawdown: config.maxDrawdown ?? 0.15,
    maxHeat: config.maxHeat === undefined ? 0.25 : config.maxHeat,
    maxCorrelation: config.maxCorrelation === undefined ? 0.7 : config.maxCorrelation,
    volTarget: config.volTarget === undefined ? 0.15 : config.volTarget,
    maxVar: config.maxVar === undefined ? 0.02 : config.maxVar,
    exitParticipation: config.exitParticipation ?? 0.1,
  };
  const needsMarket =
    limits.maxHeat !== null || limits.maxCorrelation !== null || limits.volTarget !== null || limits.maxVar !== null;
  const feePpm = BigInt(Math.round((config.takerFeeBps ?? 10) * 100));
  const allowShort = config.allowShort ?? false;
  const instruments = new Map(config.instruments.map((i) => [i.symbol, i]));

  return (source) =>
    new Observable<RiskDecision>((subscriber) => {
      /** Event times of approved risk-increasing orders in the last minute (order-rate throttle). */
      const recent: number[] = [];
      return source.subscribe({
        next: (input) => {
          let decision: RiskDecision;
          try {
            checkInput(input);
            decision = decide(input, recent);
          } catch (err) {
            // An input the gate cannot judge is an invariant break upstream: it halts, loudly.
            subscriber.error(err);
            return;
          }
          if (decision.kind === 'approved' && !decision.order.reducesRisk) recent.push(decision.tsEvent);
          subscriber.next(decision);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });

  function decide({ intent: asked, portfolio, mode, market, pending }: RiskInput, recent: number[]): RiskDecision {
    let intent = asked;
    const deny = (code: RiskDenyCode, numbers: Record<string, number | string>): OrderDenied => ({
      kind: 'denied',
      intent,
      code,
      message: `${code}: ${Object.entries(numbers)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
      numbers,
      tsEvent: intent.tsEvent,
    });
    const reduces = intent.reducesRisk;

    // 1. Trading mode.
    if (mode === 'Paused' && !reduces) return deny('MODE_PAUSED', { mode });
    if (mode === 'Emergency' && !reduces) return deny('MODE_EMERGENCY', { mode });
    if (mode === 'Reduced' && !reduces) return deny('MODE_REDUCED_RISK_INCREASING', { mode });

    // 2. Pre-trade.
    const instrument = instruments.get(intent.symbol);
    if (!instrument) return deny('UNKNOWN_INSTRUMENT', { symbol: intent.symbol });
    if (instrument.qtyStep > 0n && intent.qty % instrument.qtyStep !== 0n) {
      // An exit of a position holding fee dust (Binance takes a buy's fee in the base coin) is
      // rounded down to the lot grid: the remainder stays as dust rather than the exit failing.
      if (!reduces)
        return deny('QTY_PRECISION', { qty: formatUnits(intent.qty), step: formatUnits(instrument.qtyStep) });
      intent = { ...intent, qty: floorToStep(intent.qty, instrument.qtyStep) };
    }
    if (intent.qty < instrument.minQty)
      return deny('BELOW_MIN_QTY', { qty: formatUnits(intent.qty), min: formatUnits(instrument.minQty) });
    if (instrument.maxQty !== undefined && intent.qty > instrument.maxQty) {
      return deny('QTY_EXCEEDS_MAX', { qty: formatUnits(intent.qty), max: formatUnits(instrument.maxQty) });
    }
    const current = positionQty(portfolio, intent.symbol) + (pending ?? 0n);
    const signedDelta = intent.side === 'buy' ? intent.qty : -intent.qty;
    const after = current + signedDelta;
    const notional = notionalOf(intent.qty, toUnits(intent.refPrice));
    const notionalNumber = unitsToNumber(notional);
    if (intent.side === 'buy') {
      const required = notional + feeOf(notional, feePpm);
      if (required > portfolio.cash)
        return deny('NOTIONAL_EXCEEDS_FREE_BALANCE', {
          required: formatUnits(required),
          free: formatUnits(portfolio.cash),
        });
    } else if (!allowShort && after < 0n) {
      return deny('QTY_EXCEEDS_POSITION', { qty: formatUnits(intent.qty), position: formatUnits(current) });
    }
    if (reduces) return approve(intent, { positionAfter: formatUnits(after) });

    if (notional < instrument.minNotional)
      return deny('BELOW_MIN_NOTIONAL', { notional: formatUnits(notional), min: formatUnits(instrument.minNotional) });
    if (limits.maxOrderNotional !== undefined && notionalNumber > limits.maxOrderNotional) {
      return deny('NOTIONAL_EXCEEDS_LIMIT', { notional: round(notionalNumber), limit: limits.maxOrderNotional });
    }
    while (recent.length > 0 && recent[0]! <= intent.tsEvent - MINUTE) recent.shift();
    if (recent.length >= limits.maxOrdersPerMinute) {
      return deny('ORDER_RATE_EXCEEDED', { ordersLastMinute: recent.length, limit: limits.maxOrdersPerMinute });
    }

    // 3. Portfolio.
    if (portfolio.drawdown >= limits.maxDrawdown)
      return deny('DRAWDOWN_HALT', { drawdown: round(portfolio.drawdown), limit: limits.maxDrawdown });
    const equity = portfolio.equity;
    if (!(equity > 0)) return deny('LEVERAGE_EXCEEDS_LIMIT', { equity: round(equity) });
    const exposures = exposuresAfter(portfolio, intent.symbol, unitsToNumber(after) * intent.refPrice);
    let gross = 0;
    const byVenue = new Map<string, number>();
    const bySector = new Map<string, number>();
    for (const [symbol, value] of exposures) {
      const abs = Math.abs(value);
      gross += abs;
      const info = instruments.get(symbol);
      const venue = info?.venue ?? instrument.venue;
      const sector = info?.sector ?? 'unclassified';
      byVenue.set(venue, (byVenue.get(venue) ?? 0) + abs);
      bySector.set(sector, (bySector.get(sector) ?? 0) + abs);
    }
    const leverage = gross / equity;
    if (leverage > limits.maxLeverage + 1e-9)
      return deny('LEVERAGE_EXCEEDS_LIMIT', { leverage: round(leverage), limit: limits.maxLeverage });
    const positionPct = Math.abs(exposures.get(intent.symbol) ?? 0) / equity;
    if (positionPct > limits.maxPositionPct + 1e-9) {
      return deny('POSITION_PCT_EXCEEDS_LIMIT', {
        position: round(positionPct),
        limit: limits.maxPositionPct,
        equity: round(equity),
      });
    }
    const venuePct = (byVenue.get(instrument.venue) ?? 0) / equity;
    if (venuePct > limits.maxVenuePct + 1e-9)
      return deny('VENUE_CONCENTRATION_EXCEEDS_LIMIT', {
        venue: instrument.venue,
        exposure: round(venuePct),
        limit: limits.maxVenuePct,
      });
    if (leverage > limits.maxStrategyPct + 1e-9)
      return deny('STRATEGY_CONCENTRATION_EXCEEDS_LIMIT', { exposure: round(leverage), limit: limits.maxStrategyPct });
    const sector = instrument.sector ?? 'unclassified';
    const sectorPct = (bySector.get(sector) ?? 0) / equity;
    if (sectorPct > limits.maxSectorPct + 1e-9)
      return deny('SECTOR_CONCENTRATION_EXCEEDS_LIMIT', {
        sector,
        exposure: round(sectorPct),
        limit: limits.maxSectorPct,
      });

    const numbers: Record<string, number | string> = {
      positionPct: round(positionPct),
      venuePct: round(venuePct),
      strategyPct: round(leverage),
      sectorPct: round(sectorPct),
    };
    if (!needsMarket) return approve(intent, numbers);

    // Market data for every symbol held after the order.
    const stats = market?.stats;
    const sigma = new Map<Symbol, number>();
    for (const symbol of exposures.keys()) {
      const s = stats?.volatility.get(symbol);
      if (s === undefined || !Number.isFinite(s))
        return deny('RISK_DATA_UNAVAILABLE', { symbol, missing: 'volatility' });
      sigma.set(symbol, s);
    }
    const correlation = (a: Symbol, b: Symbol): number | undefined => (a === b ? 1 : stats?.correlation(a, b));

    if (limits.maxHeat !== null) {
      let heat = 0;
      for (const [symbol, value] of exposures) {
        const adv = stats?.adv.get(symbol) ?? 0;
        const liquidity = adv > 0 ? Math.max(1, Math.abs(value) / (limits.exitParticipation * adv)) : Infinity;
        heat += (Math.abs(value) / equity) * sigma.get(symbol)! * Math.sqrt(liquidity);
      }
      numbers['heat'] = round(heat);
      if (!(heat <= limits.maxHeat + 1e-9))
        return deny('PORTFOLIO_HEAT_EXCEEDS_LIMIT', { heat: round(heat), limit: limits.maxHeat });
    }
    const orderSign = Math.sign(unitsToNumber(signedDelta));
    if (limits.maxCorrelation !== null) {
      for (const [symbol, value] of exposures) {
        if (symbol === intent.symbol || value === 0) continue;
        const rho = correlation(intent.symbol, symbol);
        if (rho === undefined)
          return deny('RISK_DATA_UNAVAILABLE', { symbol: `${intent.symbol}~${symbol}`, missing: 'correlation' });
        // The order adds to the other position's risk when both move together in its direction.
        const adds = rho * orderSign * Math.sign(value) > 0;
        if (adds && Math.abs(rho) > limits.maxCorrelation) {
          return deny('CORRELATION_EXCEEDS_LIMIT', {
            with: symbol,
            correlation: round(rho),
            limit: limits.maxCorrelation,
          });
        }
      }
    }
    if (limits.volTarget !== null || limits.maxVar !== null) {
      // Portfolio σ and VaR from per-symbol terms and their correlations: sqrt(vᵀ R v).
      let variance = 0;
      let varSquared = 0;
      const entries = [...exposures];
      for (const [a, va] of entries) {
        const wa = va / equity;
        const sa = sigma.get(a)!;
        const qa = market?.var99?.get(a) ?? (Z99 * sa) / Math.sqrt(365);
        for (const [b, vb] of entries) {
          const rho = correlation(a, b);
          if (rho === undefined) return deny('RISK_DATA_UNAVAILABLE', { symbol: `${a}~${b}`, missing: 'correlation' });
          const wb = vb / equity;
          const sb = sigma.get(b)!;
          const qb = market?.var99?.get(b) ?? (Z99 * sb) / Math.sqrt(365);
          variance += wa * wb * sa * sb * rho;
          varSquared += wa * qa * wb * qb * rho;
        }
      }
      const vol = Math.sqrt(Math.max(0, variance));
      const var99 = Math.sqrt(Math.max(0, varSquared));
      numbers['volatility'] = round(vol);
      numbers['var99'] = round(var99);
      if (limits.volTarget !== null && vol > limits.volTarget + 1e-9)
        return deny('VOLATILITY_EXCEEDS_TARGET', { volatility: round(vol), target: limits.volTarget });
      if (limits.maxVar !== null && var99 > limits.maxVar + 1e-9)
        return deny('VAR_EXCEEDS_LIMIT', { var99: round(var99), limit: limits.maxVar });
    }
    return approve(intent, numbers);
  }

  function approve(intent: OrderIntent, numbers: Record<string, number | string>): RiskDecision {
    const order: Order = {
      kind: 'order',
      clientOrderId: clientOrderIdFor(config.strategyId, intent.id),
      intentId: intent.id,
      signalId: intent.signalId,
      symbol: intent.symbol,
      side: intent.side,
      type: intent.exit?.type ?? 'market',
      qty: intent.qty,
      refPrice: intent.refPrice,
      ...(intent.exit ? exitFields(intent.exit) : {}),
      reducesRisk: intent.reducesRisk,
      configHash: config.configHash,
      tsEvent: intent.tsEvent,
    };
    return { kind: 'approved', order, numbers, tsEvent: intent.tsEvent };
  }
}

/** The order fields of a resting exit (a bracket's stop or take-profit leg). */
function exitFields(exit: ExitOrderSpec): Pick<Order, 'stopPrice' | 'limitPrice' | 'ocoGroup' | 'timeInForce'> {
  return {
    stopPrice: exit.stopPrice,
    ...(exit.limitPrice !== undefined ? { limitPrice: exit.limitPrice } : {}),
    ...(exit.ocoGroup !== undefined ? { ocoGroup: exit.ocoGroup } : {}),
    timeInForce: 'GTC',
  };
}

/** Raised for an input no decision can be made on (a NaN price, a non-positive quantity…). */
export class RiskInputError extends Bot4Error<'RISK_INPUT_INVALID'> {
  constructor(message: string) {
    super('RISK_INPUT_INVALID', 'gateRisk', message);
  }
}

/** Throws {@link RiskInputError} naming the field when the intent or the portfolio is not judgeable. */
function checkInput({ intent, portfolio }: RiskInput): void {
  const where = `gateRisk: intent ${intent.id} (${intent.symbol})`;
  if (!(Number.isFinite(intent.refPrice) && intent.refPrice > 0))
    throw new RiskInputError(`${where}: refPrice must be a finite price > 0, found ${intent.refPrice}`);
  if (typeof intent.qty !== 'bigint' || intent.qty <= 0n)
    throw new RiskInputError(`${where}: qty must be positive units, found ${String(intent.qty)}`);
  if (!Number.isFinite(intent.tsEvent))
    throw new RiskInputError(`${where}: tsEvent must be finite, found ${intent.tsEvent}`);
  if (!Number.isFinite(portfolio.equity) || !Number.isFinite(portfolio.drawdown))
    throw new RiskInputError(
      `${where}: portfolio equity and drawdown must be finite, found ${portfolio.equity} and ${portfolio.drawdown}`,
    );
  for (const symbol in portfolio.positions) {
    const mark = portfolio.positions[symbol]!.markPrice;
    if (!Number.isFinite(mark)) throw new RiskInputError(`${where}: position ${symbol} has mark price ${mark}`);
  }
}

/** Signed exposure (quote) per symbol after replacing `symbol`'s position value with `valueAfter`. */
function exposuresAfter(portfolio: Portfolio, symbol: Symbol, valueAfter: number): Map<Symbol, number> {
  const out = new Map<Symbol, number>();
  for (const s in portfolio.positions) {
    const p = portfolio.positions[s]!;
    out.set(s, unitsToNumber(p.qty) * p.markPrice);
  }
  if (valueAfter === 0) out.delete(symbol);
  else out.set(symbol, valueAfter);
  return out;
}

/**
 * Deterministic client order id: the same strategy and intent always give the same id, so a
 * resubmission can be recognised by the venue instead of becoming a second order. 27 characters
 * of [A-Za-z0-9_-], inside every major venue's limit (Binance: 36).
 */
export function clientOrderIdFor(strategyId: string, intentId: string): string {
  const digest = createHash('sha256').update(strategyId).update('\u0000').update(intentId).digest('base64url');
  return `b4-${digest.slice(0, 24)}`;
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
