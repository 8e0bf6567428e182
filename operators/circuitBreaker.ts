import { Bot4Error } from './errors';
import { Observable, Subscription, asyncScheduler, type OperatorFunction, type SchedulerLike } from 'rxjs';
import type { Timestamp } from './types';

/** A breaker's state: CLOSED lets calls through, OPEN blocks them, HALF_OPEN lets probes through. */
export type BreakerState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

/** Name of the breaker that aggregates all components (spec §6.3: global as well as per component). */
export const GLOBAL_BREAKER = 'global';

/** The result of one call a component made: an exchange request, a feed message, a model run. */
export interface ComponentOutcome {
  /** Who made the call, e.g. `exchange:binance`, `feed:binance`, `model`. Not `global`. */
  readonly component: string;
  /** True when the call succeeded. */
  readonly ok: boolean;
  /** When the call finished (event time, ms since the epoch). */
  readonly tsEvent: Timestamp;
  /**
   * A failure that must not wait for a rate or a streak (an invariant break: the exchange holds
   * what the session did not account for): opens a CLOSED or HALF_OPEN breaker at once. Only with
   * `ok: false`. Default false.
   */
  readonly trip?: boolean;
  /** Why, for the breaker's reason when `trip` opens it. */
  readonly reason?: string;
}

/** Event: one breaker (a component's or the global one) changed state. */
export interface BreakerStateChanged {
  readonly kind: 'breaker-state-changed';
  /** The component's name, or {@link GLOBAL_BREAKER}. */
  readonly component: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  /** Why, with the numbers: `error rate 0.62 ≥ 0.5 over 40 calls in 60000 ms`. */
  readonly reason: string;
  /** The same numbers, machine-readable (for dashboards and the journal). */
  readonly numbers: Readonly<Record<string, number | string>>;
  readonly tsEvent: Timestamp;
}

export interface TrackBreakersConfig {
  /** Length of the rolling window the error rate is measured over, in ms of event time. Default 60 000. */
  readonly windowMs?: number;
  /** Fewest calls in the window before the error rate may trip a breaker (a rate over 3 calls means nothing). Default 20. */
  readonly minCalls?: number;
  /** Error rate (errors / calls in the window, 0..1) at or above which a CLOSED breaker trips. Default 0.5 (spec §6.3). */
  readonly tripErrorRate?: number;
  /**
   * Hysteresis: error rate over the window at or below which a HALF_OPEN breaker may close again.
   * Must be lower than `tripErrorRate`, so a component hovering at the trip rate does not flap. Default 0.25.
   */
  readonly closeErrorRate?: number;
  /** Errors in a row that trip a CLOSED breaker whatever the window holds. Default 5. */
  readonly consecutiveErrors?: number;
  /** Time an OPEN breaker waits before it lets probes through (HALF_OPEN), in ms. Default 30 000. */
  readonly cooldownMs?: number;
  /** Each reopen from HALF_OPEN multiplies the cooldown by this factor (≥ 1). Default 2. */
  readonly cooldownBackoff?: number;
  /** Upper bound of the backed-off cooldown, in ms (≥ cooldownMs). Default 300 000. */
  readonly maxCooldownMs?: number;
  /** Successes in a row a HALF_OPEN breaker needs (with the rate at or below `closeErrorRate`) to close. Default 3. */
  readonly halfOpenSuccesses?: number;
  /** Number of components OPEN at the same time that opens the global breaker. Default 2. */
  readonly globalOpenComponents?: number;
  /** Clock of the cooldown timers. Default `asyncScheduler`; backtests pass their virtual scheduler. */
  readonly scheduler?: SchedulerLike;
  /**
   * The breakers' states at the end of an earlier session (a restart: the journal's last
   * `breaker-state-changed` per component). A component restored OPEN or HALF_OPEN starts in that
   * state — fail-closed, a restart does not forget an outage — announced as a change from CLOSED
   * with the reason `restored from the journal`, one scheduler tick after subscription (so that
   * every consumer of the changes is wired); an OPEN one cools down from then on. The global
   * breaker is derived from the components, never restored by name. Default: all CLOSED.
   */
  readonly restore?: Readonly<Record<string, BreakerState>>;
}

/** A config that cannot work, found when the operator is built (before anything subscribes). */
export class BreakerConfigError extends Bot4Error<'INVALID_BREAKER_CONFIG'> {
  constructor(message: string) {
    super('INVALID_BREAKER_CONFIG', 'trackBreakers', message);
  }
}

/** An outcome the breakers cannot account for (a broken invariant upstream): goes to the error channel. */
export class BreakerInputError extends Bot4Error<'INVALID_COMPONENT_OUTCOME'> {
  constructor(message: string) {
    super('INVALID_COMPONENT_OUTCOME', 'trackBreakers', message);
  }
}

interface Resolved {
  readonly windowMs: number;
  readonly minCalls: number;
  readonly tripErrorRate: number;
  readonly closeErrorRate: number;
  readonly consecutiveErrors: number;
  readonly cooldownMs: number;
  readonly cooldownBackoff: number;
  readonly maxCooldownMs: number;
  readonly halfOpenSuccesses: number;
  readonly globalOpenComponents: number;
  readonly scheduler: SchedulerLike;
  readonly restore: Readonly<Record<string, BreakerState>>;
}

interface Breaker {
  state: BreakerState;
  /** Calls in the window, oldest first, from `head` on. */
  readonly calls: { ts: Timestamp; ok: boolean }[];
  head: number;
  errorsInWindow: number;
  errorsInRow: number;
  successesInHalfOpen: number;
  /** Reopens from HALF_OPEN since the breaker was last CLOSED: the backoff exponent. */
  reopens: number;
  /** Event time the breaker opened, and the cooldown that applies. */
  openedAt: Timestamp;
  cooldown: number;
  timer: Subscription | undefined;
}

/**
 * Circuit breakers per component and a global one, as a fold over call outcomes.
 *
 * Per component:
 * - CLOSED → OPEN when, over the last `windowMs` of event time, the error rate reaches
 *   `tripErrorRate` with at least `minCalls` calls, or after `consecutiveErrors` errors in a row;
 * - OPEN → HALF_OPEN after the cooldown, by a timer on the scheduler (so it happens with no
 *   outcome arriving), or as soon as an outcome's `tsEvent` shows the cooldown is over, whichever
 *   comes first — the event then carries `tsEvent = opened + cooldown` in both cases;
 * - HALF_OPEN → CLOSED after `halfOpenSuccesses` successes in a row *and* the window's error rate at
 *   or below `closeErrorRate` (< `tripErrorRate`: hysteresis — the errors that tripped it are still in
 *   the window, so it closes only once they are outweighed or have aged out);
 * - HALF_OPEN → OPEN on any error, with the cooldown multiplied by `cooldownBackoff` per reopen,
 *   bounded by `maxCooldownMs`; closing resets the backoff.
 * - CLOSED or HALF_OPEN → OPEN at once on a failure marked `trip` (an invariant break).
 * Outcomes that arrive while OPEN are recorded in the window but change nothing.
 *
 * Global (CLOSED/OPEN only): opens when `globalOpenComponents` components are OPEN at once; closes
 * when fewer than that many are OPEN. A HALF_OPEN component is not open: it is probing because its
 * cooldown is over, and holding the global breaker (and so the trading mode) open on it would keep
 * the session paused after the outage ended until enough probes happen to arrive — a quiet feed
 * might never send them. If the probe fails the component reopens and, with enough others, so
 * does the global breaker. A global change follows, in the same instant, the component change
 * that caused it.
 *
 * What counts as a success is the caller's choice; for a feed it should be data flowing (see
 * `feed-healthy` in sources/ccxtFeed.ts), not only a (re)connect, or a connected feed never
 * accumulates the successes that close its breaker.
 *
 * Every change is one {@link BreakerStateChanged} with the numbers in `reason` and `numbers`.
 * The output completes with the source, cancelling pending cooldowns.
 *
 * ```
 * outcomes: -e-e-e-------------s-s-s-|     (consecutiveErrors 3, cooldownMs 10, windowMs 5, halfOpenSuccesses 3)
 * changes:  -----O---------H-------C-|     O CLOSED→OPEN · H OPEN→HALF_OPEN (timer) · C →CLOSED
 * ```
 *
 * @example
 * ```ts
 * const breakers$ = outcomes$.pipe(trackBreakers({ cooldownMs: 30_000, scheduler }));
 * ```
 * @param config thresholds, with units; see {@link TrackBreakersConfig}. Validated here.
 * @throws {BreakerConfigError} when a threshold is out of range.
 */
export function trackBreakers(
  config: TrackBreakersConfig = {},
): OperatorFunction<ComponentOutcome, BreakerStateChanged> {
  const c = resolve(config);

  return (source) =>
    new Observable<BreakerStateChanged>((subscriber) => {
      const breakers = new Map<string, Breaker>();
      let globalOpen = false;
      const timers = new Subscription();

      const emit = (
        component: string,
        from: BreakerState,
        to: BreakerState,
        reason: string,
        numbers: Record<string, number | string>,
        tsEvent: Timestamp,
      ): void => {
        subscriber.next({ kind: 'breaker-state-changed', component, from, to, reason, numbers, tsEvent });
      };

      const evaluateGlobal = (tsEvent: Timestamp): void => {
        const open: string[] = [];
        for (const [name, b] of breakers) if (b.state === 'OPEN') open.push(name);
        if (!globalOpen && open.length >= c.globalOpenComponents) {
          globalOpen = true;
          emit(
            GLOBAL_BREAKER,
            'CLOSED',
            'OPEN',
            `${open.length} components open ≥ ${c.globalOpenComponents}: ${open.join(', ')}`,
            { open: open.length, limit: c.globalOpenComponents, components: open.join(',') },
            tsEvent,
          );
        } else if (globalOpen && open.length < c.globalOpenComponents) {
          globalOpen = false;
          const which = open.length > 0 ? `: ${open.join(', ')}` : '';
          emit(
            GLOBAL_BREAKER,
            'OPEN',
            'CLOSED',
            `${open.length} components open < ${c.globalOpenComponents}${which}`,
            { open: open.length, limit: c.globalOpenComponents, components: open.join(',') },
            tsEvent,
          );
        }
      };

      const cancelTimer = (b: Breaker): void => {
        if (b.timer) {
          timers.remove(b.timer);
          b.timer.unsubscribe();
          b.timer = undefined;
        }
      };

      const toHalfOpen = (name: string, b: Breaker): void => {
        cancelTimer(b);
        b.state = 'HALF_OPEN';
        b.successesInHalfOpen = 0;
        b.errorsInRow = 0;
        const tsEvent = b.openedAt + b.cooldown;
        emit(name, 'OPEN', 'HALF_OPEN', `cooldown ${b.cooldown} ms elapsed`, { cooldownMs: b.cooldown }, tsEvent);
        evaluateGlobal(tsEvent);
      };

      const open = (
        name: string,
        b: Breaker,
        from: BreakerState,
        reason: string,
        numbers: Record<string, number | string>,
        tsEvent: Timestamp,
      ): void => {
        b.state = 'OPEN';
        b.openedAt = tsEvent;
        b.cooldown = Math.min(c.cooldownMs * c.cooldownBackoff ** b.reopens, c.maxCooldownMs);
        cancelTimer(b);
        const timer = c.scheduler.schedule(() => {
          if (b.timer === timer) {
            try {
              toHalfOpen(name, b);
            } catch (err) {
              subscriber.error(err);
            }
          }
        }, b.cooldown);
        b.timer = timer;
        timers.add(timer);
        emit(
          name,
          from,
          'OPEN',
          `${reason}; cooldown ${b.cooldown} ms`,
          { ...numbers, cooldownMs: b.cooldown },
          tsEvent,
        );
        evaluateGlobal(tsEvent);
      };

      const onOutcome = (outcome: ComponentOutcome): void => {
        const { component: name, ok, tsEvent } = outcome;
        if (typeof name !== 'string' || name === '' || name === GLOBAL_BREAKER)
          throw new BreakerInputError(
            `component must be a non-empty name other than "${GLOBAL_BREAKER}", got ${JSON.stringify(name)}`,
          );
        if (typeof ok !== 'boolean')
          throw new BreakerInputError(`outcome of ${name}: ok must be a boolean, got ${JSON.stringify(ok)}`);
        if (!Number.isFinite(tsEvent))
          throw new BreakerInputError(
            `outcome of ${name}: tsEvent must be a finite time in ms, got ${String(tsEvent)}`,
          );

        let b = breakers.get(name);
        if (!b) {
          b = fresh();
          breakers.set(name, b);
        }
        // Event time may run ahead of the scheduler (a fast replay): the cooldown is over either way.
        if (b.state === 'OPEN' && tsEvent >= b.openedAt + b.cooldown) toHalfOpen(name, b);

        record(b, ok, tsEvent, c.windowMs);
        const calls = b.calls.length - b.head;
        const rate = calls > 0 ? b.errorsInWindow / calls : 0;
        const windowNumbers = { errorRate: round(rate), calls, windowMs: c.windowMs };

        if (!ok && outcome.trip === true && b.state !== 'OPEN') {
          if (b.state === 'HALF_OPEN') b.reopens += 1;
          open(name, b, b.state, `tripped: ${outcome.reason ?? 'an invariant break'}`, { tripped: 1 }, tsEvent);
          return;
        }
        if (b.state === 'CLOSED') {
          if (calls >= c.minCalls && rate >= c.tripErrorRate) {
            open(
              name,
              b,
              'CLOSED',
              `error rate ${rate.toFixed(2)} ≥ ${c.tripErrorRate} over ${calls} calls in ${c.windowMs} ms`,
              { ...windowNumbers, tripErrorRate: c.tripErrorRate },
              tsEvent,
            );
          } else if (b.errorsInRow >= c.consecutiveErrors) {
            open(
              name,
              b,
              'CLOSED',
              `${b.errorsInRow} consecutive errors ≥ ${c.consecutiveErrors}`,
              { errorsInRow: b.errorsInRow, consecutiveErrors: c.consecutiveErrors },
              tsEvent,
            );
          }
        } else if (b.state === 'HALF_OPEN') {
          if (!ok) {
            b.reopens += 1;
            open(
              name,
              b,
              'HALF_OPEN',
              `error in half-open (reopen ${b.reopens}, backoff ×${c.cooldownBackoff}, max ${c.maxCooldownMs} ms)`,
              { reopens: b.reopens },
              tsEvent,
            );
          } else {
            b.successesInHalfOpen += 1;
            if (b.successesInHalfOpen >= c.halfOpenSuccesses && rate <= c.closeErrorRate) {
              b.state = 'CLOSED';
              b.reopens = 0;
              b.errorsInRow = 0;
              emit(
                name,
                'HALF_OPEN',
                'CLOSED',
                `${b.successesInHalfOpen} successes in half-open ≥ ${c.halfOpenSuccesses}, error rate ${rate.toFixed(2)} ≤ ${c.closeErrorRate} over ${calls} calls in ${c.windowMs} ms`,
                {
                  successes: b.successesInHalfOpen,
                  halfOpenSuccesses: c.halfOpenSuccesses,
                  ...windowNumbers,
                  closeErrorRate: c.closeErrorRate,
                },
                tsEvent,
              );
              evaluateGlobal(tsEvent);
            }
          }
        }
      };

      // A restart: components the earlier session left OPEN or HALF_OPEN start so (see `restore`).
      const restored = Object.entries(c.restore).filter(
        ([name, state]) => name !== GLOBAL_BREAKER && state !== 'CLOSED',
      );
      if (restored.length > 0) {
        timers.add(
          c.scheduler.schedule(() => {
            try {
              const now = c.scheduler.now();
              for (const [name, state] of restored) {
                const b = breakers.get(name) ?? fresh();
                breakers.set(name, b);
                if (b.state !== 'CLOSED') continue;
                if (state === 'OPEN') open(name, b, 'CLOSED', 'restored from the journal', { restored: 1 }, now);
                else {
                  b.state = 'HALF_OPEN';
                  emit(name, 'CLOSED', 'HALF_OPEN', 'restored from the journal', { restored: 1 }, now);
                  evaluateGlobal(now);
                }
              }
            } catch (err) {
              subscriber.error(err);
            }
          }),
        );
      }

      const subscription = source.subscribe({
        next: (outcome) => {
          try {
            onOutcome(outcome);
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      return () => {
        subscription.unsubscribe();
        timers.unsubscribe();
      };
    });
}

function fresh(): Breaker {
  return {
    state: 'CLOSED',
    calls: [],
    head: 0,
    errorsInWindow: 0,
    errorsInRow: 0,
    successesInHalfOpen: 0,
    reopens: 0,
    openedAt: 0,
    cooldown: 0,
    timer: undefined,
  };
}

/** True for the global breaker's changes (the ones the trading mode reacts to). */
export function isGlobalBreakerChange(change: BreakerStateChanged): boolean {
  return change.component === GLOBAL_BREAKER;
}

function record(b: Breaker, ok: boolean, ts: Timestamp, windowMs: number): void {
  b.calls.push({ ts, ok });
  if (ok) b.errorsInRow = 0;
  else {
    b.errorsInRow += 1;
    b.errorsInWindow += 1;
  }
  // The window is (ts − windowMs, ts]: a call exactly windowMs old has left it.
  while (b.head < b.calls.length && b.calls[b.head]!.ts <= ts - windowMs) {
    if (!b.calls[b.head]!.ok) b.errorsInWindow -= 1;
    b.head += 1;
  }
  if (b.head > 1024 && b.head * 2 > b.calls.length) {
    b.calls.splice(0, b.head);
    b.head = 0;
  }
}

function resolve(config: TrackBreakersConfig): Resolved {
  const r: Resolved = {
    windowMs: config.windowMs ?? 60_000,
    minCalls: config.minCalls ?? 20,
    tripErrorRate: config.tripErrorRate ?? 0.5,
    closeErrorRate: config.closeErrorRate ?? 0.25,
    consecutiveErrors: config.consecutiveErrors ?? 5,
    cooldownMs: config.cooldownMs ?? 30_000,
    cooldownBackoff: config.cooldownBackoff ?? 2,
    maxCooldownMs: config.maxCooldownMs ?? 300_000,
    halfOpenSuccesses: config.halfOpenSuccesses ?? 3,
    globalOpenComponents: config.globalOpenComponents ?? 2,
    scheduler: config.scheduler ?? asyncScheduler,
    restore: config.restore ?? {},
  };
  const fail = (key: keyof TrackBreakersConfig, expected: string, found: unknown): never => {
    throw new BreakerConfigError(`trackBreakers: ${key} must be ${expected}, found ${String(found)}`);
  };
  const positive = (key: keyof TrackBreakersConfig & keyof Resolved): void => {
    const v = r[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(key, 'a finite number > 0', v);
  };
  const count = (key: keyof TrackBreakersConfig & keyof Resolved): void => {
    const v = r[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(key, 'an integer ≥ 1', v);
  };
  positive('windowMs');
  positive('cooldownMs');
  count('minCalls');
  count('consecutiveErrors');
  count('halfOpenSuccesses');
  count('globalOpenComponents');
  if (!(r.tripErrorRate > 0 && r.tripErrorRate <= 1)) fail('tripErrorRate', 'in (0, 1]', r.tripErrorRate);
  if (!(r.closeErrorRate >= 0 && r.closeErrorRate < r.tripErrorRate))
    fail('closeErrorRate', `in [0, tripErrorRate = ${r.tripErrorRate})`, r.closeErrorRate);
  if (!(Number.isFinite(r.cooldownBackoff) && r.cooldownBackoff >= 1))
    fail('cooldownBackoff', 'a finite number ≥ 1', r.cooldownBackoff);
  if (!(Number.isFinite(r.maxCooldownMs) && r.maxCooldownMs >= r.cooldownMs))
    fail('maxCooldownMs', `a finite number ≥ cooldownMs = ${r.cooldownMs}`, r.maxCooldownMs);
  for (const [name, state] of Object.entries(r.restore))
    if (state !== 'CLOSED' && state !== 'OPEN' && state !== 'HALF_OPEN')
      throw new BreakerConfigError(
        `trackBreakers: restore.${name} must be CLOSED, OPEN or HALF_OPEN, found ${JSON.stringify(state)}`,
      );
  return r;
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
