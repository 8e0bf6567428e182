/**
 * Any of tulind's 104 indicators as a StreamingIndicator: tulind's batch function run on a
 * rolling window of the last bars, emitting the output of the newest bar.
 */
import { MAX_PERIOD, formatOptions, formatValue, resolveInputFields } from './internal';
import { closeNames, tulindIndicator, tulindNames, type TulindIndicator } from './tulind';
import { IndicatorError, type OhlcvInput, type PriceField, type StreamingIndicator } from './types';

/** A windowed indicator also tells its window and which bar field feeds each tulind input. */
export interface WindowedIndicator extends StreamingIndicator {
  /** Bars handed to tulind on every update (once that many have arrived). */
  readonly window: number;
  /** Bar field per tulind input, in tulind's input order. */
  readonly inputFields: readonly PriceField[];
}

/** The default window: at least 300 bars, and at least three warm-ups. */
export function defaultWindow(warmup: number): number {
  return Math.max(300, 3 * warmup);
}

/** IndicatorError 'UNKNOWN_INDICATOR' listing tulind's closest names. */
export function unknownIndicator(name: unknown): IndicatorError {
  const text = typeof name === 'string' ? name : String(name);
  const names = tulindNames();
  const close = closeNames(text, names);
  const hint =
    close.length === 0
      ? 'see describeIndicator() or tulind.indicators for the list'
      : `did you mean ${close
          .map((n) => `'${n}'`)
          .join(close.length > 2 ? ', ' : ' or ')
          .replace(/, ('[^']+')$/, ' or $1')}?`;
  return new IndicatorError('UNKNOWN_INDICATOR', `unknown indicator '${text}' (tulind has ${names.length}); ${hint}`);
}

/**
 * Checks options against tulind's metadata and returns tulind's start (lookback) for them:
 * the count must match (the message lists tulind's option names), every option must be a finite
 * number, options named `… period` whole numbers, and tulind's start must not be negative.
 */
export function tulindStart(info: TulindIndicator, options: readonly number[]): number {
  const names = info.option_names;
  const listed =
    names.length === 0 ? 'no options' : `${names.length} option${names.length > 1 ? 's' : ''} (${names.join(', ')})`;
  if (!Array.isArray(options)) {
    throw new IndicatorError(
      'BAD_OPTIONS',
      `${info.name}: options must be an array of ${listed}, found ${typeof options}`,
    );
  }
  if (options.length !== names.length) {
    throw new IndicatorError(
      'BAD_OPTIONS',
      `${info.name} takes ${listed}, found ${options.length}: ${formatOptions(options)}`,
    );
  }
  names.forEach((optionName, i) => {
    const value: unknown = options[i];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new IndicatorError(
        'BAD_OPTIONS',
        `${info.name}: option '${optionName}' must be a finite number, found ${formatValue(value)} in ${formatOptions(options)}`,
      );
    }
    // Tulip truncates periods with (int); a fractional period in a config is a mistake, not a
    // wish. Negative ones are never valid, and some start() functions overflow on them (hma).
    if (/period/.test(optionName) && !(Number.isInteger(value) && value >= 0 && value <= MAX_PERIOD)) {
      throw new IndicatorError(
        'BAD_OPTIONS',
        `${info.name}: option '${optionName}' must be a whole number of bars from 0 to ${MAX_PERIOD}, found ${value} in ${formatOptions(options)}`,
      );
    }
  });
  const start = info.start(options);
  if (!(start >= 0 && start <= 4 * MAX_PERIOD)) {
    throw new IndicatorError(
      'BAD_OPTIONS',
      `${info.name}: options ${namedOptions(names, options)} give tulind a lookback of ${start} bars; periods must be ≥ 1`,
    );
  }
  return start;
}

/** `'short period' = 26, 'long period' = 12`, for messages. */
function namedOptions(names: readonly string[], options: readonly number[]): string {
  return names.map((n, i) => `'${n}' = ${String(options[i])}`).join(', ');
}

/** Throws BAD_OPTIONS unless `window` is a whole number of bars ≥ `warmup`. */
export function checkWindow(name: string, window: unknown, warmup: number, options: readonly number[]): void {
  if (typeof window !== 'number' || !Number.isInteger(window) || window < warmup) {
    throw new IndicatorError(
      'BAD_OPTIONS',
      `${name}: window must be a whole number of bars ≥ the warm-up (${warmup} for options ${formatOptions(options)}), found ${formatValue(window)}`,
    );
  }
}

/**
 * Wraps tulind's indicator `name` as a StreamingIndicator that keeps the last `window` bars and,
 * on each bar once warm, runs tulind's batch function over them and publishes the last output.
 *
 * ```
 * bars:   b0 b1 … b(w−1) bw …
 * tulind:        [b0 … b(w−1)] → last output;  [b1 … bw] → last output; …
 * ```
 *
 * Recursive indicators (EMA, RSI, MACD…) restart from the window's first bar on every call, so
 * their values differ from a full-history computation unless the window is long compared to the
 * period; the incremental implementations (see registry) have no such limit and are ~100× cheaper.
 *
 * Cost per bar: O(window) — shifting the window plus tulind's conversion of every input to C and
 * its outputs back. The window arrays, the options and the callback are allocated once; tulind
 * itself allocates its output arrays on every call.
 *
 * @example
 * const kama = createWindowedIndicator('kama', [10]);
 * const cross = createWindowedIndicator('crossover', [], 50, ['close', 'open']);
 *
 * @param name tulind's indicator name.
 * @param options Option values in tulind's order (see describeIndicator).
 * @param window Bars per tulind call, ≥ the warm-up (start + 1). Default max(300, 3 · warm-up).
 * @param inputs Bar fields for tulind's `real` inputs, in order. Default `['close']` for
 *   indicators with one `real` input; required for those with two (add, sub, mul, div,
 *   crossover, crossany); must be empty for those without.
 */
export function createWindowedIndicator(
  name: string,
  options: readonly number[],
  window?: number,
  inputs?: readonly PriceField[],
): WindowedIndicator {
  const info = typeof name === 'string' ? tulindIndicator(name) : undefined;
  if (!info) throw unknownIndicator(name);
  const start = tulindStart(info, options);
  const warmup = start + 1;
  const size = window ?? defaultWindow(warmup);
  checkWindow(info.name, size, warmup, options);
  const fields = resolveInputFields(info.name, info.input_names, inputs);
  const indicator = new TulindWindow(info, Object.freeze(options.slice()), warmup, size, Object.freeze(fields));
  indicator.probe();
  return indicator;
}

class TulindWindow implements WindowedIndicator {
  readonly name: string;
  readonly outputs: readonly string[];
  readonly values: Float64Array;
  /** One plain array per tulind input (tulind rejects typed arrays), oldest bar first. */
  private readonly series: number[][];
  private bars = 0;
  private error: string | null = null;
  private result: number[][] | null = null;
  private readonly onResult = (error: string | null, outputs: number[][] | null): void => {
    this.error = error;
    this.result = outputs;
  };

  constructor(
    private readonly info: TulindIndicator,
    readonly options: readonly number[],
    readonly warmup: number,
    readonly window: number,
    readonly inputFields: readonly PriceField[],
  ) {
    this.name = info.name;
    this.outputs = Object.freeze(info.output_names.slice());
    this.values = new Float64Array(info.outputs);
    this.series = inputFields.map(() => []);
  }

  /**
   * Runs tulind once on `warmup` synthetic bars so that options tulind refuses (TI_INVALID_OPTION,
   * e.g. macd with long < short) fail here, at configuration time, not on the first warm bar.
   */
  probe(): void {
    const n = this.warmup;
    const probe = this.inputFields.map(() => Array.from({ length: n }, (_, i) => 100 + (i % 7)));
    this.info.indicator(probe, this.options, this.onResult);
    const error = this.error;
    this.error = null;
    this.result = null;
    if (error !== null) {
      throw new IndicatorError(
        'BAD_OPTIONS',
        `${this.name}: tulind rejects ${namedOptions(this.info.option_names, this.options)} as invalid ("${error}": a period too small or options out of order)`,
      );
    }
  }

  update(bar: OhlcvInput): boolean {
    const full = this.bars >= this.window;
    const last = this.window - 1;
    for (let k = 0; k < this.series.length; k++) {
      const series = this.series[k]!;
      const x = bar[this.inputFields[k]!];
      if (full) {
        // A plain loop: V8's Array#copyWithin takes a generic path, ~40× slower on 300 doubles.
        for (let j = 0; j < last; j++) series[j] = series[j + 1]!;
        series[last] = x;
      } else {
        series.push(x);
      }
    }
    this.bars += 1;
    if (this.bars < this.warmup) return false;
    this.info.indicator(this.series, this.options, this.onResult);
    const result = this.result;
    if (this.error !== null || result === null) {
      // Options were probed at construction, so this is tulind misbehaving: an invariant break.
      throw new Error(`${this.name}: tulind failed on a validated window: ${this.error ?? 'no output'}`);
    }
    let finite = true;
    for (let k = 0; k < this.values.length; k++) {
      const out = result[k]!;
      const value = out[out.length - 1]!;
      this.values[k] = value;
      if (!Number.isFinite(value)) finite = false;
    }
    this.result = null;
    // Where tulind's formula has no value (ultosc, cmo… on flat candles: 0/0) the bar has no
    // output: the indicator says so (false → the feature publishes null, "unavailable") rather than
    // handing NaN to a rule, where every comparison is false and it would pass for a neutral vote.
    return finite;
  }
}
