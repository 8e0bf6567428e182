import { Bot4Error } from './errors';
import { Observable, map, startWith, type OperatorFunction } from 'rxjs';
import { GLOBAL_BREAKER, type BreakerStateChanged } from './circuitBreaker';
import type { Mode, ModeChanged, Portfolio, Timestamp } from './types';

/** Command from an operator: set the manual mode (`Normal` lifts a manual pause), or `Emergency` (emergency stop). */
export interface ModeRequest {
  readonly kind: 'mode-request';
  readonly to: Mode;
  readonly reason: string;
  readonly tsEvent: Timestamp;
}

/** Command from an operator: leave a latched `Emergency`. Needs a non-empty reason and the kill switch released. */
export interface ModeReset {
  readonly kind: 'mode-reset';
  readonly reason: string;
  readonly tsEvent: Timestamp;
}

/**
 * The kill switch's state as the hardware reports it. `pressed: true` latches `Emergency`;
 * `pressed: false` only allows a later reset. Wiring maps an error or completion of the GPIO stream
 * to `pressed: true` (fail-closed).
 */
export interface KillSwitchChanged {
  readonly kind: 'kill-switch';
  readonly pressed: boolean;
  readonly reason: string;
  readonly tsEvent: Timestamp;
}

/**
 * What the mode machine listens to: operator commands, the kill switch, the portfolio (for its
 * `drawdown`, 0..1) and breaker changes (only the {@link GLOBAL_BREAKER}'s matter; component
 * breakers guard their own component).
 */
export type ModeInput = ModeRequest | ModeReset | KillSwitchChanged | Portfolio | BreakerStateChanged;

export interface TrackTradingModeConfig {
  /**
   * Mode at subscription, not emitted (the first event is the first change). `Paused`/`Reduced`
   * act as an operator's manual mode; `Emergency` is latched (e.g. restored from the journal after a
   * crash). Default `Normal`.
   */
  readonly initial?: Mode;
  /** Drawdown (fraction of peak equity, 0..1) at or above which the mode is at least `Reduced`. Default 0.15 (spec §1: max drawdown < 15 %). */
  readonly reduceDrawdown?: number;
  /** Drawdown below which `Reduced` (from drawdown) returns to `Normal`; lower than `reduceDrawdown` (hysteresis). Default 0.10. */
  readonly recoverDrawdown?: number;
  /** Drawdown at or above which the mode becomes `Emergency` (latched). Default 0.25. */
  readonly emergencyDrawdown?: number;
}

/** A config that cannot work, found when the operator is built. */
export class ModeConfigError extends Bot4Error<'INVALID_MODE_CONFIG'> {
  constructor(message: string) {
    super('INVALID_MODE_CONFIG', 'trackTradingMode', message);
  }
}

/** An input the mode machine cannot interpret (a broken invariant upstream): goes to the error channel, which halts trading. */
export class ModeInputError extends Bot4Error<'INVALID_MODE_INPUT'> {
  constructor(message: string) {
    super('INVALID_MODE_INPUT', 'trackTradingMode', message);
  }
}

/**
 * Severity, for combining causes: the strictest wins. `Paused` ranks above `Reduced` because it is
 * the stricter gate (gateRisk refuses every new risk when Paused, with no exceptions for small
 * orders; in every mode, reduce-only exits and stops pass: a paused session can always get flat).
 */
export const MODE_SEVERITY: Readonly<Record<Mode, number>> = { Normal: 0, Reduced: 1, Paused: 2, Emergency: 3 };

const MODES: readonly Mode[] = ['Normal', 'Paused', 'Reduced', 'Emergency'];

/**
 * The trading-mode state machine. The mode is the strictest of its causes:
 *
 * | cause | gives | leaves it when |
 * |---|---|---|
 * | kill switch pressed | Emergency, latched | an operator `mode-reset` with a reason, while the switch is reported released |
 * | operator request `Emergency` | Emergency, latched | same |
 * | drawdown ≥ `emergencyDrawdown` (0.25) | Emergency, latched | same (see below) |
 * | global breaker OPEN | Paused | the global breaker reports CLOSED |
 * | drawdown ≥ `reduceDrawdown` (0.15) | Reduced | drawdown < `recoverDrawdown` (0.10) — hysteresis |
 * | operator request `Paused` / `Reduced` | that mode | an operator request for a lower mode |
 *
 * So automatic causes only escalate; each de-escalates only on its own recovery condition, and
 * then to whatever the remaining causes justify (global breaker closes during a drawdown → Reduced).
 * An operator cannot request a mode below what the automatic causes justify (the request is
 * remembered, the mode does not change), and nothing but `mode-reset` leaves Emergency; a reset
 * without a reason, while the switch is pressed, or outside Emergency changes nothing.
 * After a reset with the drawdown still at or above `emergencyDrawdown`, that drawdown counts as
 * acknowledged: the mode is at least Reduced, and Emergency returns if the drawdown deepens beyond
 * the acknowledged level (or falls below the limit and crosses it again).
 *
 * Emits one {@link ModeChanged} per actual change (`from !== to`), stamped with the `tsEvent` of the
 * input that caused it. The initial mode is not emitted: use {@link currentMode} for a mode stream.
 *
 * ```
 * input:  --d---b---c---k-u-r-|    d drawdown 0.16 · b global OPEN · c global CLOSED · k kill pressed · u released · r reset
 * output: --R---P---R---E---R-|    R Reduced · P Paused · E Emergency · R again: the drawdown is still 0.16 after the reset
 * ```
 *
 * @example
 * ```ts
 * const modeChanged$ = merge(operator$, killSwitch$, portfolio$, breakers$).pipe(trackTradingMode({ emergencyDrawdown: 0.2 }));
 * const mode$ = modeChanged$.pipe(currentMode());
 * ```
 * @param config drawdown thresholds (fractions 0..1) and the initial mode; validated here.
 * @throws {ModeConfigError} when the thresholds are not ordered `0 ≤ recover < reduce < emergency ≤ 1`.
 */
export function trackTradingMode(config: TrackTradingModeConfig = {}): OperatorFunction<ModeInput, ModeChanged> {
  const initial = config.initial ?? 'Normal';
  const reduceAt = config.reduceDrawdown ?? 0.15;
  const recoverBelow = config.recoverDrawdown ?? 0.1;
  const emergencyAt = config.emergencyDrawdown ?? 0.25;
  if (!MODES.includes(initial))
    throw new ModeConfigError(`trackTradingMode: initial must be one of ${MODES.join(', ')}, found ${String(initial)}`);
  if (!(recoverBelow >= 0 && recoverBelow < reduceAt && reduceAt < emergencyAt && emergencyAt <= 1)) {
    throw new ModeConfigError(
      `trackTradingMode: drawdown thresholds must satisfy 0 ≤ recoverDrawdown < reduceDrawdown < emergencyDrawdown ≤ 1, found ${recoverBelow}, ${reduceAt}, ${emergencyAt}`,
    );
  }

  return (source) =>
    new Observable<ModeChanged>((subscriber) => {
      let latched = initial === 'Emergency';
      let killPressed = false;
      let manual: Mode = initial === 'Emergency' ? 'Normal' : initial;
      let drawdownLevel: 'Normal' | 'Reduced' = 'Normal';
      let drawdown = 0;
      /** Drawdown accepted by a reset at or above the emergency limit; undefined when none. */
      let acknowledged: number | undefined;
      let globalOpen = false;
      let mode: Mode = initial;

      const justified = (): Mode => {
        if (latched) return 'Emergency';
        let m: Mode = manual;
        if (MODE_SEVERITY[drawdownLevel] > MODE_SEVERITY[m]) m = drawdownLevel;
        if (globalOpen && MODE_SEVERITY.Paused > MODE_SEVERITY[m]) m = 'Paused';
        return m;
      };
      const causes = (): string => {
        const list: string[] = [];
        if (globalOpen) list.push('global breaker open');
        if (drawdownLevel === 'Reduced') list.push(`drawdown ${fmt(drawdown)} not yet < ${recoverBelow}`);
        if (manual !== 'Normal') list.push(`operator ${manual}`);
        return list.join(', ');
      };
      const settle = (reason: string, tsEvent: Timestamp): void => {
        const next = justified();
        if (next === mode) return;
        const from = mode;
        mode = next;
        const still =
          MODE_SEVERITY[next] < MODE_SEVERITY[from] && next !== 'Normal' ? `; still ${next}: ${causes()}` : '';
        subscriber.next({ kind: 'mode-changed', from, to: next, reason: `${reason}${still}`, tsEvent });
      };
      const latch = (reason: string, tsEvent: Timestamp): void => {
        latched = true;
        settle(reason, tsEvent);
      };

      const onInput = (input: ModeInput): void => {
        if (!Number.isFinite(input.tsEvent))
          throw new ModeInputError(
            `${String(input.kind)}: tsEvent must be a finite time in ms, found ${String(input.tsEvent)}`,
          );
        switch (input.kind) {
          case 'kill-switch':
            killPressed = input.pressed;
            if (input.pressed && !latched) latch(`kill switch pressed: ${input.reason}`, input.tsEvent);
            return;
          case 'mode-reset': {
            const reason = typeof input.reason === 'string' ? input.reason.trim() : '';
            if (!latched || killPressed || reason === '') return;
            latched = false;
            if (drawdown >= emergencyAt) acknowledged = drawdown;
            settle(`reset: ${reason}`, input.tsEvent);
            return;
          }
          case 'mode-request':
            if (!MODES.includes(input.to))
              throw new ModeInputError(
                `mode-request: to must be one of ${MODES.join(', ')}, found ${String(input.to)}`,
              );
            if (input.to === 'Emergency') {
              if (!latched) latch(`operator: ${input.reason}`, input.tsEvent);
              return;
            }
            if (latched) return;
            manual = input.to;
            settle(`operator: ${input.reason}`, input.tsEvent);
            return;
          case 'portfolio': {
            const dd = input.drawdown;
            if (!Number.isFinite(dd) || dd < 0)
              throw new ModeInputError(`portfolio: drawdown must be a finite fraction ≥ 0, found ${String(dd)}`);
            drawdown = dd;
            if (acknowledged !== undefined && dd < emergencyAt) acknowledged = undefined;
            if (dd >= emergencyAt && (acknowledged === undefined || dd > acknowledged)) {
              if (drawdownLevel === 'Normal') drawdownLevel = 'Reduced';
              if (!latched) {
                const beyond = acknowledged === undefined ? '' : ` (beyond the acknowledged ${fmt(acknowledged)})`;
                latch(`drawdown ${fmt(dd)} ≥ emergency limit ${emergencyAt}${beyond}`, input.tsEvent);
              }
              return;
            }
            if (drawdownLevel === 'Normal' && dd >= reduceAt) {
              drawdownLevel = 'Reduced';
              settle(`drawdown ${fmt(dd)} ≥ ${reduceAt}`, input.tsEvent);
            } else if (drawdownLevel === 'Reduced' && dd < recoverBelow) {
              drawdownLevel = 'Normal';
              settle(`drawdown ${fmt(dd)} < recovery ${recoverBelow}`, input.tsEvent);
            }
            return;
          }
          case 'breaker-state-changed':
            if (input.component !== GLOBAL_BREAKER) return;
            // Only OPEN pauses: a breaker that is probing (HALF_OPEN) has seen its cooldown pass.
            globalOpen = input.to === 'OPEN';
            settle(`global breaker ${input.to}: ${input.reason}`, input.tsEvent);
            return;
          default: {
            const unknown: never = input;
            throw new ModeInputError(`unknown mode input kind ${JSON.stringify((unknown as { kind?: unknown }).kind)}`);
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

/**
 * The mode as a stream that always has a value: the initial mode at subscription, then each change's `to`.
 *
 * ```
 * changes: ---a---b--|     a Normal→Reduced · b Reduced→Paused
 * mode:    N--R---P--|
 * ```
 * @param initial the same `initial` as {@link trackTradingMode}'s config. Default `Normal`.
 */
export function currentMode(initial: Mode = 'Normal'): OperatorFunction<ModeChanged, Mode> {
  return (changes) =>
    changes.pipe(
      map((change) => change.to),
      startWith(initial),
    );
}

function fmt(fraction: number): string {
  return String(Math.round(fraction * 10_000) / 10_000);
}
