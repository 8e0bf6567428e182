import { createHash } from 'node:crypto';
import { map, type OperatorFunction } from 'rxjs';
import { absUnits, feeOf, formatUnits, notionalOf, toUnits, unitsToNumber } from './money';
import { positionQty } from './trackPortfolio';
import type { Instrument, Mode, Order, OrderDenied, OrderIntent, Portfolio, RiskDecision, RiskDenyCode } from './types';

export interface RiskInput {
  readonly intent: OrderIntent;
  readonly portfolio: Portfolio;
  readonly mode: Mode;
}

export interface GateRiskConfig {
  readonly instrument: Instrument;
  /** Largest position after the order, as a fraction of equity. Default 0.25. */
  readonly maxPositionPct?: number;
  /** Largest notional of one order, in quote currency. Default: no limit. */
  readonly maxOrderNotional?: number;
  /** Drawdown from peak equity (0..1) at which new risk is refused. Default 0.15. */
  readonly maxDrawdown?: number;
  /** Taker fee in basis points, reserved on top of a buy's notional. Default 10. */
  readonly takerFeeBps?: number;
  /** Whether positions may go short. Default false. */
  readonly allowShort?: boolean;
  /** Namespace of client order ids: the strategy/account the orders belong to. */
  readonly strategyId: string;
  /** Hash of the validated config, stamped on every order. */
  readonly configHash: string;
}

/**
 * The pre-trade risk gate (minimal version): trading mode, drawdown halt, order notional,
 * position size as a share of equity, free balance, and the venue's minimum notional.
 * Approval turns the intent into an {@link Order} with a deterministic client order id; a denial
 * is an event with a reason code and the numbers that decided it, never an exception.
 *
 * Orders that only reduce risk (closing or shrinking a position) pass every limit except the
 * `Paused` mode, so a halted strategy can still get flat.
 *
 * ```
 * input:    --a--b--|
 * decision: --A--D--|     A approved · D denied (with code)
 * ```
 */
export function gateRisk(config: GateRiskConfig): OperatorFunction<RiskInput, RiskDecision> {
  const maxPositionPct = config.maxPositionPct ?? 0.25;
  const maxDrawdown = config.maxDrawdown ?? 0.15;
  const feePpm = BigInt(Math.round((config.takerFeeBps ?? 10) * 100));
  const allowShort = config.allowShort ?? false;
  const { instrument } = config;

  return map(({ intent, portfolio, mode }): RiskDecision => {
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

    if (mode === 'Paused') return deny('MODE_PAUSED', { mode });
    if (mode === 'Emergency' && !reduces) return deny('MODE_EMERGENCY', { mode });
    if (mode === 'Reduced' && !reduces) return deny('MODE_REDUCED_RISK_INCREASING', { mode });

    const current = positionQty(portfolio, intent.symbol);
    const signedDelta = intent.side === 'buy' ? intent.qty : -intent.qty;
    const after = current + signedDelta;
    const price = toUnits(intent.refPrice);
    const notional = notionalOf(intent.qty, price);
    const notionalNumber = unitsToNumber(notional);

    if (!reduces) {
      if (portfolio.drawdown >= maxDrawdown) {
        return deny('DRAWDOWN_HALT', { drawdown: round(portfolio.drawdown), limit: maxDrawdown });
      }
      if (config.maxOrderNotional !== undefined && notionalNumber > config.maxOrderNotional) {
        return deny('NOTIONAL_EXCEEDS_LIMIT', { notional: round(notionalNumber), limit: config.maxOrderNotional });
      }
      const positionPct = portfolio.equity > 0 ? (unitsToNumber(absUnits(after)) * intent.refPrice) / portfolio.equity : Infinity;
      if (positionPct > maxPositionPct + 1e-9) {
        return deny('POSITION_PCT_EXCEEDS_LIMIT', { position: round(positionPct), limit: maxPositionPct, equity: round(portfolio.equity) });
      }
      if (notional < instrument.minNotional) {
        return deny('BELOW_MIN_NOTIONAL', { notional: formatUnits(notional), min: formatUnits(instrument.minNotional) });
      }
    }
    if (intent.side === 'buy') {
      const required = notional + feeOf(notional, feePpm);
      if (required > portfolio.cash) {
        return deny('NOTIONAL_EXCEEDS_FREE_BALANCE', { required: formatUnits(required), free: formatUnits(portfolio.cash) });
      }
    } else if (!allowShort && after < 0n) {
      return deny('QTY_EXCEEDS_POSITION', { qty: formatUnits(intent.qty), position: formatUnits(current) });
    }

    const order: Order = {
      kind: 'order',
      clientOrderId: clientOrderIdFor(config.strategyId, intent.id),
      intentId: intent.id,
      signalId: intent.signalId,
      symbol: intent.symbol,
      side: intent.side,
      type: 'market',
      qty: intent.qty,
      refPrice: intent.refPrice,
      reducesRisk: reduces,
      configHash: config.configHash,
      tsEvent: intent.tsEvent,
    };
    return { kind: 'approved', order, tsEvent: intent.tsEvent };
  });
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
