/**
 * Indicators by tulind name: the incremental implementation when there is one, otherwise tulind
 * on a rolling window. The single entry point config goes through.
 */
import { createAdx } from './adx';
import { createAroon } from './aroon';
import { createAtr } from './atr';
import { createBbands } from './bbands';
import { createCci } from './cci';
import { createAd, createNvi, createPvi, createWad } from './cumulative';
import { createDema } from './dema';
import { createDi } from './di';
import { createDx } from './dx';
import { createEma } from './ema';
import { resolveInputFields } from './internal';
import { createMacd, createStandardMacd } from './macd';
import { createMfi } from './mfi';
import { createMom } from './mom';
import { createNatr } from './natr';
import { createObv } from './obv';
import { createRoc } from './roc';
import { createRsi } from './rsi';
import { createSma } from './sma';
import { createStddev } from './stddev';
import { createStoch } from './stoch';
import { createTema } from './tema';
import { createTr } from './tr';
import { tulindIndicator, tulindNames } from './tulind';
import { checkWindow, createWindowedIndicator, tulindStart, unknownIndicator } from './tulindWindow';
import { createVwma } from './vwma';
import { createWilders } from './wilders';
import { createWillr } from './willr';
import { createWma } from './wma';
import type { PriceField, StreamingIndicator } from './types';

/** A factory of an incremental indicator; `input` feeds its `real` input when it has one. */
type IncrementalFactory = (options: readonly number[], input: PriceField) => StreamingIndicator;

const INCREMENTAL: Readonly<Record<string, IncrementalFactory>> = Object.freeze({
  ad: createAd,
  adx: createAdx,
  aroon: createAroon,
  atr: createAtr,
  bbands: createBbands,
  cci: createCci,
  dema: createDema,
  di: createDi,
  dx: createDx,
  ema: createEma,
  macd: createMacd,
  mfi: createMfi,
  mom: createMom,
  natr: createNatr,
  nvi: createNvi,
  obv: createObv,
  pvi: createPvi,
  roc: createRoc,
  rsi: createRsi,
  sma: createSma,
  stddev: createStddev,
  stoch: createStoch,
  tema: createTema,
  tr: createTr,
  vwma: createVwma,
  wad: createWad,
  wilders: createWilders,
  willr: createWillr,
  wma: createWma,
});

/**
 * Indicators that are not tulind's, under names tulind does not use. `macd_std` is MACD with the
 * standard EMA weights 2/(n+1) for every period pair; tulind's `macd` replaces them with 0.15 and
 * 0.075 when the periods are 12 and 26 (Appel's original fixed-α variant), so `macd [12, 26, 9]`
 * differs from most charting packages while `macd_std [12, 26, 9]` matches them.
 */
const EXTRA: Readonly<
  Record<string, { readonly like: string; readonly fullName: string; readonly create: IncrementalFactory }>
> = Object.freeze({
  macd_std: {
    like: 'macd',
    fullName: 'Moving Average Convergence/Divergence, standard EMA weights 2/(n+1)',
    create: createStandardMacd,
  },
});

/** The names of the indicators that are ours, not tulind's (`macd_std`). */
export function extraIndicatorNames(): readonly string[] {
  return Object.keys(EXTRA);
}

export interface CreateIndicatorConfig {
  /**
   * Bars per tulind call for indicators without an incremental implementation. Default
   * max(300, 3 · warm-up). Ignored (but still checked) for incremental ones.
   */
  readonly window?: number;
  /**
   * Bar fields for tulind's `real` inputs, in order. Default `['close']` when the indicator has
   * one `real` input; required for two (`crossover`, `add`…); must be absent or empty when it has
   * none (`atr` reads high, low, close itself).
   */
  readonly inputs?: readonly PriceField[];
}

/** tulind's description of an indicator, for validating configs before anything runs. */
export interface IndicatorDescription {
  readonly name: string;
  readonly fullName: string;
  /** tulind's category: overlay, indicator, math, simple or comparative. */
  readonly type: string;
  /** tulind's input names (`real`, `open`, `high`, `low`, `close`, `volume`), in order. */
  readonly inputs: readonly string[];
  /** tulind's option names (`period`, `%k period`…), in order. */
  readonly options: readonly string[];
  /** tulind's output names, in order. */
  readonly outputs: readonly string[];
  /** True when createIndicator updates it in O(1) per bar instead of running tulind. */
  readonly incremental: boolean;
  /**
   * tulind's `start(options)`: bars before the first output; the warm-up is start + 1. Throws
   * IndicatorError 'BAD_OPTIONS' for a wrong option count or non-numeric options.
   */
  start(options: readonly number[]): number;
}

/** True when `name` has an O(1) incremental implementation. */
export function isIncremental(name: string): boolean {
  return Object.hasOwn(INCREMENTAL, name);
}

/** The names with an incremental implementation, sorted. */
export function incrementalNames(): readonly string[] {
  return Object.keys(INCREMENTAL).sort();
}

/** Every indicator name tulind knows (104), sorted. */
export function indicatorNames(): readonly string[] {
  return tulindNames();
}

/**
 * tulind's metadata for `name`. Throws IndicatorError 'UNKNOWN_INDICATOR' (with close matches)
 * for a name tulind does not know.
 */
export function describeIndicator(name: string): IndicatorDescription {
  const extra = typeof name === 'string' && Object.hasOwn(EXTRA, name) ? EXTRA[name] : undefined;
  const info = typeof name === 'string' ? tulindIndicator(extra ? extra.like : name) : undefined;
  if (!info) throw unknownIndicator(name);
  return Object.freeze({
    name: extra ? name : info.name,
    fullName: extra ? extra.fullName : info.full_name,
    type: info.type,
    inputs: Object.freeze(info.input_names.slice()),
    options: Object.freeze(info.option_names.slice()),
    outputs: Object.freeze(info.output_names.slice()),
    incremental: extra !== undefined || isIncremental(info.name),
    start: (options: readonly number[]) => tulindStart(info, options),
  });
}

/**
 * Creates indicator `name` with `options` (tulind's order): the incremental implementation when
 * one exists (see `isIncremental`), otherwise tulind on a rolling window.
 *
 * Everything is validated here, so a bad config fails when the pipeline is built: unknown names
 * throw IndicatorError 'UNKNOWN_INDICATOR' ("did you mean 'ema'?"); a wrong option count, a
 * non-number, a fractional or too-small period, options tulind rejects, a bad window or inputs
 * that do not fit the indicator throw 'BAD_OPTIONS' naming the option as tulind names it.
 *
 * @example
 * const rsi = createIndicator('rsi', [14]);
 * const hlSma = createIndicator('sma', [20], { inputs: ['high'] });
 * const kama = createIndicator('kama', [10], { window: 500 });
 *
 * @param name tulind's indicator name (`rsi`, `macd`, `bbands`…).
 * @param options Option values in tulind's order.
 * @param config Window for tulind-backed indicators, bar fields for `real` inputs.
 */
export function createIndicator(
  name: string,
  options: readonly number[],
  config: CreateIndicatorConfig = {},
): StreamingIndicator {
  const extra = typeof name === 'string' && Object.hasOwn(EXTRA, name) ? EXTRA[name] : undefined;
  const info = typeof name === 'string' ? tulindIndicator(extra ? extra.like : name) : undefined;
  if (!info) throw unknownIndicator(name);
  const factory = extra ? extra.create : isIncremental(info.name) ? INCREMENTAL[info.name] : undefined;
  if (!factory) return createWindowedIndicator(info.name, options, config.window, config.inputs);
  // The factories accept exactly the options tulind accepts (registry tests enumerate them), and
  // the window is checked although unused, so moving an indicator between the two
  // implementations never changes which configs are valid.
  const fields = resolveInputFields(info.name, info.input_names, config.inputs);
  const realIndex = info.input_names.indexOf('real');
  const indicator = factory(options, realIndex >= 0 ? fields[realIndex]! : 'close');
  if (config.window !== undefined) checkWindow(info.name, config.window, indicator.warmup, options);
  return indicator;
}
