/**
 * What one attempt to place an order came to, decided from what ccxt threw: the exchange refused
 * it before executing anything (`not-placed`, `rate-limited`: send again, same client order id),
 * refused it for good (`rejected`, with our code), says the id is live (`duplicate`), or the
 * outcome is not known (`unknown`: reconcile, never resend blindly).
 */
import * as ccxt from 'ccxt';
import { isOverloadAnswer } from '../../operators/backoff';
import { Bot4Error } from '../../operators/errors';
import type { OrderRejectCode } from '../../operators/types';

/** Our own deadline on an exchange call passed (ccxt's timeout stops at the headers). */
export class WatchdogTimeout extends Bot4Error<'WATCHDOG_TIMEOUT'> {
  constructor(label: string, ms: number) {
    super('WATCHDOG_TIMEOUT', 'ccxtVenue', `${label}: no complete answer within ${ms} ms`);
  }
}

/** The venue was closed (unsubscribed, completed or failed) while a call was on its way. */
export class Closed extends Bot4Error<'VENUE_CLOSED'> {
  constructor() {
    super('VENUE_CLOSED', 'ccxtVenue', 'venue closed');
  }
}

export type SubmitOutcome =
  | { readonly kind: 'placed'; readonly orders: readonly ccxt.Order[] }
  | { readonly kind: 'rejected'; readonly code: OrderRejectCode; readonly message: string }
  | { readonly kind: 'duplicate'; readonly message: string }
  | { readonly kind: 'rate-limited'; readonly message: string }
  | { readonly kind: 'not-placed'; readonly message: string }
  | { readonly kind: 'unknown'; readonly message: string };

/**
 * Classifies a failed order submission. `message` is the text to report (redacted by the caller).
 *
 * - 429/418 (ccxt DDoSProtection / RateLimitExceeded): `rate-limited`;
 * - a nonce/timestamp refusal, or "overloaded" (Binance 503 -1008, which ccxt calls an
 *   ExchangeError): `not-placed` — refused before processing;
 * - "Duplicate order sent.": `duplicate`;
 * - other ExchangeErrors: `rejected` with {@link rejectCodeOf};
 * - network failures, 5xx, our watchdog, anything else: `unknown`.
 */
export function classifySubmitError(error: unknown, message: string): Exclude<SubmitOutcome, { kind: 'placed' }> {
  if (error instanceof WatchdogTimeout) return { kind: 'unknown', message };
  if (!(error instanceof ccxt.BaseError)) return { kind: 'unknown', message };
  if (error instanceof ccxt.DDoSProtection || error instanceof ccxt.RateLimitExceeded)
    return { kind: 'rate-limited', message };
  if (error instanceof ccxt.InvalidNonce) return { kind: 'not-placed', message };
  if (isOverloadAnswer(error)) return { kind: 'not-placed', message };
  if (error instanceof ccxt.DuplicateOrderId || /Duplicate order sent/i.test(error.message))
    return { kind: 'duplicate', message };
  if (error instanceof ccxt.OperationFailed) return { kind: 'unknown', message };
  if (error instanceof ccxt.ExchangeError) return { kind: 'rejected', code: rejectCodeOf(error), message };
  return { kind: 'unknown', message };
}

/** True when a read (or an idempotent call) may simply be tried again. */
export function isTransientReadError(error: unknown): boolean {
  return error instanceof WatchdogTimeout || error instanceof ccxt.OperationFailed || isOverloadAnswer(error);
}

/** Our rejection code for an exchange's final refusal. */
export function rejectCodeOf(error: Error): OrderRejectCode {
  const text = error.message;
  if (error instanceof ccxt.InsufficientFunds) return 'INSUFFICIENT_BALANCE';
  if (error instanceof ccxt.BadSymbol) return 'UNKNOWN_SYMBOL';
  if (/NOTIONAL/.test(text)) return 'BELOW_MIN_NOTIONAL';
  if (/LOT_SIZE/.test(text)) return 'QTY_PRECISION';
  if (/PRICE_FILTER|PERCENT_PRICE/.test(text)) return 'PRICE_PRECISION';
  if (error instanceof ccxt.OrderNotFound) return 'UNKNOWN_ORDER';
  if (error instanceof ccxt.RateLimitExceeded) return 'RATE_LIMITED';
  return 'EXCHANGE_ERROR';
}

/** `binance -2010: Account has insufficient balance…` when the exchange sent a coded error body, else `Class: message`. */
export function exchangeMessage(error: unknown, venue: string): string {
  if (error instanceof Error) {
    const body = /\{\s*"code"\s*:\s*(-?\d+)\s*,\s*"msg"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(error.message);
    if (body) return `${venue} ${body[1]}: ${body[2]!.replace(/\\"/g, '"')}`;
  }
  return describeError(error);
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
