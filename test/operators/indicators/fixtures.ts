/**
 * Real data for the indicator tests: the shared candle files as bars and as tulind-ready columns,
 * Tulip's own test vectors, and tulind's batch call as the reference.
 */
import { readFileSync } from 'node:fs';
import { tulindIndicator } from '../../../operators/indicators/tulind';
import type { OhlcvInput, PriceField } from '../../../operators/indicators/types';
import { requireSharedData } from '../../support/sharedData';

/** The four candle files of ../shared/data/candles, largest last. */
export const CANDLE_FILES = [
  'binance_spot_BTCUSDT_1h_nfi.csv',
  'binance_spot_BTCUSDT_5m_2023-04.csv',
  'binance_spot_BTCUSDT_1m_2023-04.csv',
  'binance_spot_BTCUSDT_5m_nfi.csv',
] as const;

/** The file with the longest flat outage (17 identical zero-volume bars): the hardest case. */
export const OUTAGE_FILE = 'binance_spot_BTCUSDT_5m_nfi.csv';

export interface Candles {
  readonly file: string;
  readonly bars: readonly OhlcvInput[];
  /** Plain arrays per field, as tulind wants them. */
  readonly columns: Readonly<Record<PriceField, readonly number[]>>;
}

const candleCache = new Map<string, Candles>();

/** Loads a candle file (cached); marks the test pending when the shared data is absent. */
export function loadCandles(ctx: Mocha.Context, file: string): Candles {
  const cached = candleCache.get(file);
  if (cached) return cached;
  const path = requireSharedData(ctx, `candles/${file}`);
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const columns: Record<PriceField, number[]> = { open: [], high: [], low: [], close: [], volume: [] };
  const bars: OhlcvInput[] = [];
  for (const line of lines.slice(1)) {
    const [, open, high, low, close, volume] = line.split(',').map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    bars.push({ open, high, low, close, volume });
    columns.open.push(open);
    columns.high.push(high);
    columns.low.push(low);
    columns.close.push(close);
    columns.volume.push(volume);
  }
  const candles = { file, bars, columns };
  candleCache.set(file, candles);
  return candles;
}

/**
 * tulind's batch output for the whole series: `outputs[k][i - start]` belongs to bar `i`.
 * `real` inputs read `realFields` in order (default close).
 */
export function tulindBatch(
  name: string,
  options: readonly number[],
  columns: Readonly<Record<PriceField, readonly number[]>>,
  realFields: readonly PriceField[] = ['close'],
): { start: number; outputs: number[][] } {
  const info = tulindIndicator(name);
  if (!info) throw new Error(`tulind has no ${name}`);
  let next = 0;
  const inputs = info.input_names.map(
    (input) => columns[input === 'real' ? realFields[next++]! : (input as PriceField)],
  );
  let outputs: number[][] | null = null;
  info.indicator(inputs, options, (error, result) => {
    if (error !== null) throw new Error(`tulind ${name} ${JSON.stringify(options)}: ${error}`);
    outputs = result;
  });
  if (outputs === null) throw new Error(`tulind ${name} returned nothing`);
  return { start: info.start(options), outputs };
}

/** One labelled case of Tulip's test vectors (see the `.json` files' `conventions`). */
export interface TulipCase {
  readonly indicator: string;
  readonly line: number;
  readonly comments: readonly string[];
  readonly options: readonly { readonly name: string; readonly value: number }[];
  readonly inputs: readonly { readonly name: string; readonly values: readonly number[] }[];
  readonly outputs: readonly { readonly name: string; readonly values: readonly number[] }[];
  readonly input_length: number;
  readonly output_length: number;
}

export interface TulipVectors {
  readonly file: string;
  readonly source: { readonly repo: string; readonly path: string; readonly commit: string };
  readonly cases: readonly TulipCase[];
}

export const VECTOR_FILES = ['tulip_untest', 'tulip_atoz', 'tulip_extra'] as const;
export type VectorFile = (typeof VECTOR_FILES)[number];

/** Tulip's smoke-test tolerance (utils/minctest.h LTEST_FLOAT_TOLERANCE): absolute 0.001. */
export const TULIP_TOLERANCE = 0.001;

/** Reads a vector file, or returns undefined when the shared data is absent. */
export function readVectors(path: string | undefined, file: VectorFile): TulipVectors | undefined {
  if (!path) return undefined;
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as Omit<TulipVectors, 'file'>;
  return { ...parsed, file };
}

/**
 * Vectors from newer Tulip (commit be18abb, tests at the time) whose *inputs* differ from tulind
 * 0.8.4: adx, adxr and dx there read only high and low, because the ATR divides out of
 * DX = |DI+ − DI−| / (DI+ + DI−) = |DM+ − DM−| / (DM+ + DM−). tulind 0.8.4 still reads close (to
 * compute that ATR), so we feed close = (high + low) / 2 — any close gives the same DX as long as
 * the true range is non-zero, which it is on these bars. The tests check tulind itself matches
 * the vector this way, so a real difference would show up as a tulind mismatch, not ours.
 */
export const CLOSE_DROPPED_UPSTREAM: readonly string[] = ['adx', 'adxr', 'dx'];

/**
 * Indicators in newer Tulip's vectors that tulind 0.8.4 does not have at all; their cases cannot
 * run and are reported as such.
 */
export const NOT_IN_TULIND: readonly string[] = ['abands', 'alma', 'ce', 'cmf', 'ikhts', 'rmta'];

/**
 * Turns a vector case into bars. Named inputs fill their field; the `real` inputs fill `close`
 * then `open` (returned as `realFields` to pass as `inputs`); unused fields are 0.
 */
export function caseBars(c: TulipCase): { bars: OhlcvInput[]; realFields: PriceField[] } {
  const n = c.input_length;
  const columns: Record<PriceField, number[]> = {
    open: new Array<number>(n).fill(0),
    high: new Array<number>(n).fill(0),
    low: new Array<number>(n).fill(0),
    close: new Array<number>(n).fill(0),
    volume: new Array<number>(n).fill(0),
  };
  const realSlots: PriceField[] = ['close', 'open'];
  const realFields: PriceField[] = [];
  for (const input of c.inputs) {
    const field = input.name === 'real' ? realSlots[realFields.length]! : (input.name as PriceField);
    if (input.name === 'real') realFields.push(field);
    columns[field] = input.values.slice();
  }
  if (CLOSE_DROPPED_UPSTREAM.includes(c.indicator) && !c.inputs.some((i) => i.name === 'close')) {
    columns.close = columns.high.map((h, i) => (h + columns.low[i]!) / 2);
  }
  const bars = Array.from({ length: n }, (_, i) => ({
    open: columns.open[i]!,
    high: columns.high[i]!,
    low: columns.low[i]!,
    close: columns.close[i]!,
    volume: columns.volume[i]!,
  }));
  return { bars, realFields };
}

/** Index of the first bar of the longest run of flat (high = low), zero-volume bars. */
export function longestFlatRun(bars: readonly OhlcvInput[]): { start: number; length: number } {
  let best = { start: 0, length: 0 };
  let run = 0;
  bars.forEach((bar, i) => {
    run = bar.high === bar.low && bar.volume === 0 ? run + 1 : 0;
    if (run > best.length) best = { start: i - run + 1, length: run };
  });
  return best;
}

/** Feeds bars and collects `values` after every warm update, per output. */
export function collect(
  indicator: { update(bar: OhlcvInput): boolean; readonly values: Float64Array },
  bars: readonly OhlcvInput[],
): number[][] {
  const outputs: number[][] = Array.from({ length: indicator.values.length }, () => []);
  for (const bar of bars) {
    if (!indicator.update(bar)) continue;
    indicator.values.forEach((v, k) => outputs[k]!.push(v));
  }
  return outputs;
}

/** Largest |a − b| over two equally long series (Infinity when lengths differ or NaN meets a number). */
export function maxAbsDiff(actual: readonly number[], expected: readonly number[]): number {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (Number.isNaN(d)) return Infinity;
    if (d > worst) worst = d;
  }
  return worst;
}
