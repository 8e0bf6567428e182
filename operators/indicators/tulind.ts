/**
 * The typed face of tulind's native binding (Tulip Indicators 0.8.4 compiled into tulind 0.8.20):
 * the metadata of its 104 indicators and the batch call. tulind ships no TypeScript types; this is
 * the subset bot4 uses. The binding is loaded on first use, so code that only needs the
 * incremental indicators never loads native code.
 */
import { TULIND_META, TULIND_VERSION } from './tulindMeta';

/** One indicator as tulind describes it (names exactly as tulind spells them). */
export interface TulindIndicator {
  readonly name: string;
  readonly full_name: string;
  readonly type: 'overlay' | 'indicator' | 'math' | 'simple' | 'comparative';
  readonly inputs: number;
  readonly options: number;
  readonly outputs: number;
  /** `real`, `open`, `high`, `low`, `close`, `volume`. */
  readonly input_names: readonly string[];
  readonly option_names: readonly string[];
  readonly output_names: readonly string[];
  /**
   * Runs the indicator over whole arrays (plain `Array`s, not typed arrays: the binding checks
   * `IsArray`). With a callback the call is synchronous: the callback runs before it returns.
   * Outputs are aligned to the end of the inputs and `start(options)` bars shorter.
   */
  indicator(
    inputs: readonly (readonly number[])[],
    options: readonly number[],
    callback: (error: string | null, outputs: number[][] | null) => void,
  ): void;
  /** Index of the first input that has an output (the lookback); negative for invalid options. */
  start(options: readonly number[]): number;
}

export interface TulindBinding {
  readonly version: string;
  readonly indicators: Readonly<Record<string, TulindIndicator>>;
}

let binding: TulindBinding | undefined;

function load(): TulindBinding {
  if (!binding) {
    // tulind ships no types, so it is required and described by TulindIndicator above.
    binding = require('tulind') as TulindBinding;
  }
  return binding;
}

/**
 * tulind's indicators from its metadata table (`tulindMeta.ts`), each with `indicator` and `start`
 * calling into the binding, which loads on the first call: a config is validated without loading
 * native code, and a pipeline of incremental indicators never loads it.
 */
let described: Readonly<Record<string, TulindIndicator>> | undefined;

function indicators(): Readonly<Record<string, TulindIndicator>> {
  if (!described) {
    const byName: Record<string, TulindIndicator> = {};
    for (const [name, fullName, type, inputNames, optionNames, outputNames] of TULIND_META) {
      byName[name] = Object.freeze({
        name,
        full_name: fullName,
        type,
        inputs: inputNames.length,
        options: optionNames.length,
        outputs: outputNames.length,
        input_names: inputNames,
        option_names: optionNames,
        output_names: outputNames,
        indicator: (inputs, options, callback) => native(name).indicator(inputs, options, callback),
        start: (options) => native(name).start(options),
      } satisfies TulindIndicator);
    }
    described = Object.freeze(byName);
  }
  return described;
}

/** The binding's own indicator `name` (loads tulind). */
function native(name: string): TulindIndicator {
  return load().indicators[name]!;
}

/** tulind's indicator `name`, or undefined when tulind has none by that name. */
export function tulindIndicator(name: string): TulindIndicator | undefined {
  const all = indicators();
  return Object.hasOwn(all, name) ? all[name] : undefined;
}

/** Every tulind indicator name, in tulind's (alphabetical) order. */
export function tulindNames(): readonly string[] {
  return Object.keys(indicators());
}

/** The Tulip Indicators C version inside tulind (`0.8.4`), from the metadata table. */
export function tulindVersion(): string {
  return TULIND_VERSION;
}

/** The loaded binding's version and metadata, for the test that checks the table against it. */
export function loadedTulind(): TulindBinding {
  return load();
}

/** Names within a small edit distance of `name` (or sharing a prefix with it), closest first. */
export function closeNames(name: string, candidates: readonly string[], limit = 3): string[] {
  const query = name.trim().toLowerCase();
  const scored: { name: string; score: number }[] = [];
  for (const candidate of candidates) {
    const distance = editDistance(query, candidate);
    const prefix = query.length >= 3 && (candidate.startsWith(query) || query.startsWith(candidate));
    const near = distance <= Math.max(1, Math.floor(Math.max(query.length, candidate.length) / 3));
    if (near || prefix) scored.push({ name: candidate, score: prefix ? Math.min(distance, 1.5) : distance });
  }
  scored.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name));
  return scored.slice(0, limit).map((s) => s.name);
}

/** Levenshtein distance with adjacent transpositions counted as one edit. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[(i - 2) * cols + j - 2]! + 1);
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1]!;
}
