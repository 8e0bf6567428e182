/**
 * Building blocks shared by the incremental indicators: option checks that name tulind's options,
 * the O(1) state containers (Tulip's `ti_buffer`, a plain ring, a monotonic deque) and the two
 * bar formulas Tulip writes as macros (true range, directional movement).
 *
 * Everything here reproduces Tulip's floating-point operation order; do not "simplify" an
 * expression without re-running the parity tests.
 */
import { IndicatorError, type PriceField } from './types';

/** The largest period we accept. Each bar of a period costs 8 bytes of ring buffer. */
export const MAX_PERIOD = 1_000_000;

const PRICE_FIELDS: readonly PriceField[] = ['open', 'high', 'low', 'close', 'volume'];

export function isPriceField(value: unknown): value is PriceField {
  return typeof value === 'string' && (PRICE_FIELDS as readonly string[]).includes(value);
}

/** How one option is checked. Tulip truncates periods with `(int)`; we refuse fractions instead. */
export interface OptionRule {
  /** tulind's option name (`period`, `%k period`…). */
  readonly name: string;
  /** Smallest accepted value (Tulip's own TI_INVALID_OPTION bound). */
  readonly min?: number;
  /** True for bar counts: must be a whole number ≤ MAX_PERIOD. */
  readonly integer: boolean;
}

/** One value as text for messages: numbers as JS prints them (NaN stays NaN), the rest as JSON. */
export function formatValue(value: unknown): string {
  if (typeof value === 'number' || value === undefined || typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? String(value);
}

/** `[14, 3]` as text, for messages. */
export function formatOptions(options: readonly unknown[]): string {
  return `[${options.map(formatValue).join(', ')}]`;
}

function describeRule(rule: OptionRule): string {
  if (rule.integer) return `a whole number of bars from ${rule.min ?? 0} to ${MAX_PERIOD}`;
  return rule.min === undefined ? 'a finite number' : `a finite number ≥ ${rule.min}`;
}

/**
 * Checks count, type and bounds of `options` against `rules`; returns them as a frozen copy.
 * Throws IndicatorError 'BAD_OPTIONS' naming the indicator, the option and what was found.
 */
export function checkOptions(
  indicator: string,
  options: readonly number[],
  rules: readonly OptionRule[],
): readonly number[] {
  const names = rules.map((r) => r.name).join(', ');
  if (!Array.isArray(options)) {
    throw new IndicatorError(
      'BAD_OPTIONS',
      `${indicator}: options must be an array (${names || 'none'}), found ${typeof options}`,
    );
  }
  if (options.length !== rules.length) {
    const expected =
      rules.length === 0 ? 'no options' : `${rules.length} option${rules.length > 1 ? 's' : ''} (${names})`;
    throw new IndicatorError(
      'BAD_OPTIONS',
      `${indicator} takes ${expected}, found ${options.length}: ${formatOptions(options)}`,
    );
  }
  rules.forEach((rule, i) => {
    const value: unknown = options[i];
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (!rule.integer || (Number.isInteger(value) && value <= MAX_PERIOD)) &&
      (rule.min === undefined || value >= rule.min);
    if (!ok) {
      throw new IndicatorError(
        'BAD_OPTIONS',
        `${indicator}: option '${rule.name}' must be ${describeRule(rule)}, found ${formatValue(value)} in ${formatOptions(options)}`,
      );
    }
  });
  return Object.freeze(options.slice());
}

/** The rule of a period option: a whole number of bars ≥ `min`, named as tulind names it. */
export function periodRule(min = 1, name = 'period'): OptionRule {
  return { name, min, integer: true };
}

/** Checks the field that feeds a single `real` input. */
export function checkField(indicator: string, field: PriceField): PriceField {
  if (!isPriceField(field)) {
    throw new IndicatorError(
      'BAD_OPTIONS',
      `${indicator}: input field must be one of ${PRICE_FIELDS.join(', ')}, found ${formatValue(field)}`,
    );
  }
  return field;
}

/**
 * Tulip's `ti_buffer`: a ring of `size` values plus a running sum that subtracts the value being
 * overwritten *before* adding the new one (the order matters for the last bits of the sum).
 */
export class TiBuffer {
  readonly vals: Float64Array;
  sum = 0;
  private pushes = 0;
  private index = 0;

  constructor(readonly size: number) {
    this.vals = new Float64Array(size);
  }

  push(value: number): void {
    if (this.pushes >= this.size) this.sum -= this.vals[this.index]!;
    this.sum += value;
    this.vals[this.index] = value;
    this.pushes += 1;
    this.index += 1;
    if (this.index >= this.size) this.index = 0;
  }
}

/**
 * The last `size` values, oldest first out. `shift(v)` stores `v` and returns the value it
 * replaces — the input `size` bars ago (0 while fewer than `size` values were stored).
 */
export class Ring {
  private readonly vals: Float64Array;
  private index = 0;

  constructor(readonly size: number) {
    this.vals = new Float64Array(size);
  }

  shift(value: number): number {
    const old = this.vals[this.index]!;
    this.vals[this.index] = value;
    this.index += 1;
    if (this.index >= this.size) this.index = 0;
    return old;
  }

  /** The value `size` bars before the next one to be stored. */
  oldest(): number {
    return this.vals[this.index]!;
  }
}

/**
 * Sliding-window maximum (or minimum) with the index where it occurred, O(1) amortised per bar.
 * On ties the most recent bar wins, as in Tulip's rescans (`>=` / `<=`), which matters for aroon.
 */
export class MonotonicDeque {
  private readonly vals: Float64Array;
  private readonly idx: Float64Array;
  private head = 0;
  private length = 0;

  /** `capacity`: bars in the window. `max`: true for a maximum, false for a minimum. */
  constructor(
    private readonly capacity: number,
    private readonly max: boolean,
  ) {
    this.vals = new Float64Array(capacity);
    this.idx = new Float64Array(capacity);
  }

  /** Adds bar `index` (consecutive integers) and drops bars older than `oldest`. */
  push(value: number, index: number, oldest: number): void {
    const cap = this.capacity;
    while (this.length > 0 && this.idx[this.head]! < oldest) {
      this.head = this.head + 1 === cap ? 0 : this.head + 1;
      this.length -= 1;
    }
    while (this.length > 0) {
      const back = (this.head + this.length - 1) % cap;
      const v = this.vals[back]!;
      if (this.max ? v <= value : v >= value) this.length -= 1;
      else break;
    }
    const slot = (this.head + this.length) % cap;
    this.vals[slot] = value;
    this.idx[slot] = index;
    this.length += 1;
  }

  /** The extreme value of the window. */
  value(): number {
    return this.vals[this.head]!;
  }

  /** The bar index of the extreme (the latest one on ties). */
  index(): number {
    return this.idx[this.head]!;
  }
}

/** Tulip's CALC_TRUERANGE: max(high − low, |high − prevClose|, |low − prevClose|), in its order. */
export function trueRange(high: number, low: number, prevClose: number): number {
  const ych = Math.abs(high - prevClose);
  const ycl = Math.abs(low - prevClose);
  let v = high - low;
  if (ych > v) v = ych;
  if (ycl > v) v = ycl;
  return v;
}

/**
 * Tulip's CALC_DIRECTION: +DM and −DM of one bar, written into `out[0]`, `out[1]` (a caller-owned
 * pair, so no allocation per bar).
 */
export function directionalMovement(
  high: number,
  low: number,
  prevHigh: number,
  prevLow: number,
  out: Float64Array,
): void {
  let dp = high - prevHigh;
  let dm = prevLow - low;
  if (dp < 0) dp = 0;
  else if (dp > dm) dm = 0;
  if (dm < 0) dm = 0;
  else if (dm > dp) dp = 0;
  out[0] = dp;
  out[1] = dm;
}

/**
 * The smoothed true range and directional movement shared by Tulip's `di.c`, `dx.c` and `adx.c`:
 * bars 1…period−1 are summed, later bars smoothed as `s = s · (period−1)/period + v` (Wilder's
 * smoothing in its running-sum form). Bar 0 only provides the previous high, low and close.
 */
export class DirectionalState {
  atr = 0;
  dmUp = 0;
  dmDown = 0;
  private readonly per: number;
  private readonly dm = new Float64Array(2);
  private prevHigh = 0;
  private prevLow = 0;
  private prevClose = 0;
  private bars = 0;

  constructor(private readonly period: number) {
    this.per = (period - 1) / period;
  }

  /** Adds a bar; returns its index (0 for the first bar). */
  update(high: number, low: number, close: number): number {
    const i = this.bars;
    this.bars += 1;
    if (i > 0) {
      const tr = trueRange(high, low, this.prevClose);
      directionalMovement(high, low, this.prevHigh, this.prevLow, this.dm);
      if (i < this.period) {
        this.atr += tr;
        this.dmUp += this.dm[0]!;
        this.dmDown += this.dm[1]!;
      } else {
        this.atr = this.atr * this.per + tr;
        this.dmUp = this.dmUp * this.per + this.dm[0]!;
        this.dmDown = this.dmDown * this.per + this.dm[1]!;
      }
    }
    this.prevHigh = high;
    this.prevLow = low;
    this.prevClose = close;
    return i;
  }

  /**
   * Tulip's DX: `|di+ − di−| / (di+ + di−) · 100` with di± = dm± / atr. Where Tulip divides 0 by
   * 0 (no movement and no range since the start) it yields NaN; we return 0 (no trend).
   */
  dx(): number {
    const diUp = this.dmUp / this.atr;
    const diDown = this.dmDown / this.atr;
    const dmDiff = Math.abs(diUp - diDown);
    const dmSum = diUp + diDown;
    return dmSum > 0 ? (dmDiff / dmSum) * 100 : 0;
  }
}

/**
 * Maps tulind's input names to bar fields: `open`…`volume` map to themselves; each `real` takes
 * the next field of `inputs` (default `['close']` when there is exactly one `real`). Throws
 * BAD_OPTIONS when `inputs` does not fit the indicator's `real` inputs.
 */
export function resolveInputFields(
  indicator: string,
  inputNames: readonly string[],
  inputs: readonly PriceField[] | undefined,
): PriceField[] {
  const reals = inputNames.filter((n) => n === 'real').length;
  const given = inputs ?? [];
  if (!Array.isArray(given)) {
    throw new IndicatorError(
      'BAD_OPTIONS',
      `${indicator}: inputs must be an array of bar fields, found ${typeof given}`,
    );
  }
  if (reals === 0 && given.length > 0) {
    throw new IndicatorError(
      'BAD_OPTIONS',
      `${indicator} reads ${inputNames.join(', ')} and has no 'real' input to choose a field for, found inputs ${JSON.stringify(given)}`,
    );
  }
  if (reals === 1 && given.length > 1) {
    throw new IndicatorError(
      'BAD_OPTIONS',
      `${indicator} has one 'real' input, found ${given.length} fields in inputs ${JSON.stringify(given)}`,
    );
  }
  if (reals > 1 && given.length !== reals) {
    throw new IndicatorError(
      'BAD_OPTIONS',
      `${indicator} takes ${reals} 'real' inputs (${inputNames.join(', ')}); give their bar fields in order, e.g. inputs: ['close', 'open'], found ${JSON.stringify(given)}`,
    );
  }
  const fields = reals === 1 && given.length === 0 ? (['close'] as const) : given;
  let next = 0;
  return inputNames.map((name) => {
    if (name === 'real') return checkField(indicator, fields[next++]!);
    if (isPriceField(name)) return name;
    // Every tulind 0.8.4 input is one of the five fields or `real`; a newer tulind might differ.
    throw new IndicatorError('BAD_OPTIONS', `${indicator}: tulind input '${name}' has no bar field`);
  });
}
