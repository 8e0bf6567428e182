import { Bot4Error } from './errors';
import { Observable, type OperatorFunction } from 'rxjs';
import { clientOrderIdFor } from './gateRisk';
import { absUnits, floorToStep, notionalOf, toUnits, type Units } from './money';
import type { CancelAllOrders, Instrument, ModeChanged, Order, Portfolio, Symbol, Timestamp } from './types';

/** What the emergency actions listen to: the mode machine's changes and the portfolio (merged, in event order). */
export type EmergencyInput = ModeChanged | Portfolio;

/** What they command: cancel everything, then reduce-only market orders that flatten each position. */
export type EmergencyCommand = CancelAllOrders | Order;

export interface FlattenOnEmergencyConfig {
  /** Namespace of client order ids (the strategy/account), as in gateRisk. */
  readonly strategyId: string;
  /** Hash of the validated config, stamped on every order. */
  readonly configHash: string;
  /**
   * Event time (ms, from portfolio `tsEvent`s) after which a flattening order that the portfolio
   * still does not reflect no longer counts as covering its position, so the remainder is sent
   * again (reduce-only, with a new client order id). Bounds retries to one per this interval.
   * Default 30 000.
   */
  readonly resendAfterMs?: number;
  /**
   * Lot grid and minimums per symbol (the venue's instruments). A flattening order is rounded down
   * to its symbol's `qtyStep`; what is left below `minQty` or `minNotional` (at the mark) is dust:
   * no order the venue would refuse is sent for it. Symbols not listed are flattened unrounded.
   * Default none.
   */
  readonly instruments?: readonly Instrument[];
}

export class EmergencyConfigError extends Bot4Error<'INVALID_EMERGENCY_CONFIG'> {
  constructor(message: string) {
    super('INVALID_EMERGENCY_CONFIG', 'flattenOnEmergency', message);
  }
}

export class EmergencyInputError extends Bot4Error<'INVALID_EMERGENCY_INPUT'> {
  constructor(message: string) {
    super('INVALID_EMERGENCY_INPUT', 'flattenOnEmergency', message);
  }
}

/** Flattening orders sent for one symbol and not yet seen in the portfolio. */
interface Coverage {
  /** Absolute quantity ordered and not yet reflected as a smaller position. */
  covered: Units;
  /** Position (signed) at the last portfolio seen. */
  lastQty: Units;
  /** Event time the last flattening order for this symbol was sent. */
  sentAt: Timestamp;
}

/**
 * What "Emergency: cancel all open orders, flatten every position, then halt" means as commands.
 *
 * On entering `Emergency` (a {@link ModeChanged} with `to: 'Emergency'` while not already in an
 * emergency): one {@link CancelAllOrders}, then one reduce-only market {@link Order} per open
 * position of the latest portfolio, symbols in sorted order — side opposite to the position,
 * `qty = |position|`, `refPrice` = the position's mark, `signalId = emergency:<tsEvent of the
 * mode change>`, `intentId = <signalId>:<symbol>:<n>` (n counts that symbol's flattening orders) and `clientOrderId = clientOrderIdFor(strategyId,
 * intentId)`, so a replay of the same events gives the same ids. "Halt" is the mode itself: the
 * risk gate and `haltOnKill` refuse new risk; this operator emits nothing for it.
 *
 * No doubling:
 * - a repeated change into Emergency while already in Emergency (duplicate, replay) is ignored;
 * - a flattening order covers its quantity until the portfolio shows the position shrunk by it,
 *   across episodes: after a reset and a new Emergency, only the part of a position that no
 *   in-flight flattening order covers is ordered again (the CancelAllOrders is repeated — harmless).
 *   A cover lapses after `resendAfterMs` of portfolio event time without the position shrinking
 *   (order lost or rejected) or when the position flips sign; the remainder is then re-sent.
 *
 * While in Emergency, every portfolio is checked: exposure that no order covers — no portfolio was
 * known when Emergency began, or a fill that raced the cancel arrived — is flattened at that
 * portfolio's `tsEvent`. Leaving Emergency stops this; covers are kept.
 *
 * ```
 * input:  --p--e------q--|    p portfolio (long 1 BTC, short 2 ETH) · e →Emergency · q a later mark
 * output: -----(cso)-----|    c cancel-all · s sell 1 BTC · o buy 2 ETH; nothing for q (covered)
 * ```
 *
 * @example
 * ```ts
 * const emergency$ = merge(modeChanged$, portfolio$).pipe(flattenOnEmergency({ strategyId, configHash }));
 * ```
 * @param config ids, hash and the resend interval (ms of event time).
 */
export function flattenOnEmergency(
  config: FlattenOnEmergencyConfig,
): OperatorFunction<EmergencyInput, EmergencyCommand> {
  const resendAfterMs = config.resendAfterMs ?? 30_000;
  if (typeof config.strategyId !== 'string' || config.strategyId === '')
    throw new EmergencyConfigError(
      `flattenOnEmergency: strategyId must be a non-empty string, found ${JSON.stringify(config.strategyId)}`,
    );
  if (typeof config.configHash !== 'string')
    throw new EmergencyConfigError(
      `flattenOnEmergency: configHash must be a string, found ${JSON.stringify(config.configHash)}`,
    );
  if (!(Number.isFinite(resendAfterMs) && resendAfterMs > 0))
    throw new EmergencyConfigError(
      `flattenOnEmergency: resendAfterMs must be a finite number > 0, found ${resendAfterMs}`,
    );

  const instruments = new Map((config.instruments ?? []).map((i) => [i.symbol, i]));

  return (source) =>
    new Observable<EmergencyCommand>((subscriber) => {
      let latest: Portfolio | undefined;
      let inEmergency = false;
      let signalId = '';
      const covers = new Map<Symbol, Coverage>();
      /** Orders sent per symbol so far (all episodes): the `<n>` of intent ids, so no two ids repeat. */
      const sequence = new Map<Symbol, number>();

      const flatten = (portfolio: Portfolio, tsEvent: Timestamp): void => {
        const symbols = Object.keys(portfolio.positions).sort();
        for (const symbol of symbols) {
          const position = portfolio.positions[symbol]!;
          const qty = position.qty;
          if (qty === 0n) continue;
          const cover = covers.get(symbol) ?? { covered: 0n, lastQty: qty, sentAt: tsEvent };
          const instrument = instruments.get(symbol);
          // On the lot grid, rounded down: a position holding fee dust (0.04964031 on a 0.00001 grid)
          // is flattened to its dust, never refused for precision at every bar.
          const uncovered = instrument
            ? floorToStep(abs(qty) - cover.covered, instrument.qtyStep)
            : abs(qty) - cover.covered;
          if (uncovered <= 0n) continue;
          // Without a mark the notional is unknown: flatten rather than guess it is dust.
          const mark = position.markPrice > 0 ? toUnits(position.markPrice) : undefined;
          if (
            instrument &&
            (uncovered < instrument.minQty ||
              (mark !== undefined && notionalOf(uncovered, mark) < instrument.minNotional))
          )
            continue;
          const n = sequence.get(symbol) ?? 0;
          sequence.set(symbol, n + 1);
          const intentId = `${signalId}:${symbol}:${n}`;
          covers.set(symbol, { covered: cover.covered + uncovered, lastQty: qty, sentAt: tsEvent });
          subscriber.next({
            kind: 'order',
            clientOrderId: clientOrderIdFor(config.strategyId, intentId),
            intentId,
            signalId,
            symbol,
            side: qty > 0n ? 'sell' : 'buy',
            type: 'market',
            qty: uncovered,
            refPrice: position.markPrice,
            reducesRisk: true,
            configHash: config.configHash,
            tsEvent,
          });
        }
      };

      const observe = (portfolio: Portfolio): void => {
        for (const [symbol, cover] of covers) {
          const qty = portfolio.positions[symbol]?.qty ?? 0n;
          const prev = cover.lastQty;
          if (qty !== 0n && qty > 0n !== prev > 0n)
            cover.covered = 0n; // flipped: the old reduce-only orders cannot act on it
          else {
            const shrunk = abs(prev) - abs(qty);
            if (shrunk > 0n) cover.covered = cover.covered > shrunk ? cover.covered - shrunk : 0n;
          }
          cover.lastQty = qty;
          if (cover.covered > 0n && portfolio.tsEvent - cover.sentAt >= resendAfterMs) cover.covered = 0n;
          if (cover.covered === 0n && qty === 0n) covers.delete(symbol);
        }
        latest = portfolio;
      };

      const onInput = (input: EmergencyInput): void => {
        if (!Number.isFinite(input.tsEvent))
          throw new EmergencyInputError(
            `${String(input.kind)}: tsEvent must be a finite time in ms, found ${String(input.tsEvent)}`,
          );
        switch (input.kind) {
          case 'mode-changed':
            if (input.to !== 'Emergency') {
              inEmergency = false;
              return;
            }
            if (inEmergency) return;
            inEmergency = true;
            signalId = `emergency:${input.tsEvent}`;
            subscriber.next({ kind: 'cancel-all', reason: `emergency: ${input.reason}`, tsEvent: input.tsEvent });
            if (latest) flatten(latest, input.tsEvent);
            return;
          case 'portfolio':
            observe(input);
            if (inEmergency) flatten(input, input.tsEvent);
            return;
          default: {
            const unknown: never = input;
            throw new EmergencyInputError(
              `unknown emergency input kind ${JSON.stringify((unknown as { kind?: unknown }).kind)}`,
            );
          }
        }
      };

      return source.subscribe({
        next: (input) => {
          try {
            onInput(input);
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}

const abs = absUnits;
