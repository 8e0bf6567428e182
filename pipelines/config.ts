/**
 * Loads a pipeline config (YAML or JSON) once: parse, validate against the schema, check what the
 * schema alone cannot (indicator names and options against tulind, feature references, the model
 * file), resolve paths, hash, freeze. Every failure is a ConfigError naming the file, the line,
 * the key, what was expected and what was found — before anything subscribes.
 */
import { PATTERN_NAMES, patternFeature } from '../operators/candlePatterns';
import { timeframeFeatureNames } from '../operators/confirmTimeframes';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SEALED_SUFFIX, sealKeyFrom, unsealConfigFile } from './seal';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, stringify as stringifyYaml, type Document } from 'yaml';
import type { z } from 'zod';
import { type instrumentSchema, pipelineConfigSchema, type PipelineConfigFile } from '../config/schema';
import { buildLayout } from '../operators/computeFeatures';
import { IndicatorError } from '../operators/indicators/types';
import { toUnits, type Units } from '../operators/money';
import { BAR_FIELDS, ruleRefs } from '../operators/taSignal';
import { isTimeframe, timeframeMs, type Instrument, type Timeframe } from '../operators/types';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly stage = 'config';
  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(`${file}: invalid config\n${problems.map((p) => `  ${formatProblem(file, p)}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface ConfigProblem {
  /** Dotted key path, e.g. `sizing.kellyFraction` or `features[3].options`. */
  readonly key: string;
  readonly expected: string;
  readonly found: string;
  readonly line?: number;
  readonly column?: number;
  /** The file the key was found in, when it is not the config itself (a file it `extends`). */
  readonly file?: string;
}

function formatProblem(file: string, p: ConfigProblem): string {
  const where = p.line !== undefined ? `${path.basename(p.file ?? file)}:${p.line}:${p.column ?? 1} ` : '';
  return `${where}key "${p.key || '(top level)'}": expected ${p.expected}, found ${p.found}`;
}

/** One symbol of the universe: its instrument and the features and signals it runs. */
export interface UniverseMember {
  readonly instrument: Instrument;
  readonly features: PipelineConfigFile['features'];
  readonly signals: PipelineConfigFile['signals'];
}

/** A validated config with everything resolved: amounts as units, paths absolute, a hash. */
export interface PipelineConfig extends Omit<PipelineConfigFile, 'instrument' | 'universe' | 'capital' | 'timeframe'> {
  readonly file: string;
  /** sha256 of the canonical JSON of the validated config, first 16 hex chars. */
  readonly hash: string;
  readonly timeframe: Timeframe;
  /** The first (for a one-symbol config, the only) instrument of the universe. */
  readonly instrument: Instrument;
  /** Every instrument traded, in config order. */
  readonly instruments: readonly Instrument[];
  /** Every symbol with its features and signals, in config order. */
  readonly universe: readonly UniverseMember[];
  readonly initialCash: Units;
  /** Absolute path of the ML model file, when the config uses one. */
  readonly modelPath?: string;
  /**
   * What is worth knowing but not wrong, for `validate`: per-bar parameters written as plain
   * counts, with the span they cover at this timeframe.
   */
  readonly notes: readonly string[];
}

export function loadConfig(file: string): PipelineConfig {
  const absolute = path.resolve(file);
  if (absolute.endsWith(SEALED_SUFFIX)) {
    // A sealed config (pipelines/seal.ts): authenticated, past its cooldown, validated as its clear self.
    const { text, virtualPath } = unsealConfigFile(absolute, sealKeyFrom(), Date.now());
    return parseConfig(text, virtualPath, { allowExtends: false });
  }
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    throw new ConfigError(absolute, [
      { key: '', expected: 'a readable YAML or JSON file', found: (err as Error).message },
    ]);
  }
  return parseConfig(text, absolute);
}

/** Validates config text as if read from `file` (relative paths resolve against its folder). */
export function parseConfig(
  text: string,
  file: string,
  options: { readonly allowExtends?: boolean } = {},
): PipelineConfig {
  const { raw, locate } = readLayers(text, file, [], options.allowExtends ?? true);
  // Every problem at once: a duration that does not convert and the schema's problems elsewhere
  // are reported together (the unconverted duration itself only once, as a duration).
  const notes: string[] = [];
  const durationProblems = convertDurations(raw, notes).map((p) => ({ ...p, ...locate(p.keyPath) }));
  const parsed = pipelineConfigSchema.safeParse(raw);
  if (!parsed.success || durationProblems.length > 0) {
    const durationKeys = new Set(durationProblems.map((p) => p.key));
    const schemaProblems = parsed.success
      ? []
      : parsed.error.issues.map((issue) => problemOf(issue, raw, locate)).filter((p) => !durationKeys.has(p.key));
    throw new ConfigError(file, [...durationProblems.map(({ keyPath: _, ...p }) => p), ...schemaProblems]);
  }
  const config = parsed.data;
  const problems = semanticProblems(config).map((p) => ({ ...p, ...locate(p.keyPath) }));
  if (problems.length > 0) throw new ConfigError(file, problems);

  const universe = (config.universe?.instruments ?? (config.instrument ? [config.instrument] : [])).map(
    (member): UniverseMember => {
      const { features, signals, ...spec } = member as typeof member &
        Partial<Pick<UniverseMember, 'features' | 'signals'>>;
      return {
        instrument: instrumentOf(spec),
        features: features ?? config.features,
        signals: signals ?? config.signals,
      };
    },
  );
  const instruments = universe.map((m) => m.instrument);
  const hash = createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
  // Relative to the file that names the model (a config it extends may be in another folder).
  const modelPath = config.signals.ml
    ? path.resolve(path.dirname(locate(['signals', 'ml', 'model']).file ?? file), config.signals.ml.model)
    : undefined;
  return deepFreeze({
    ...config,
    file,
    hash,
    timeframe: config.timeframe as Timeframe,
    instrument: instruments[0]!,
    instruments,
    universe,
    initialCash: toUnits(config.capital.initial),
    ...(modelPath ? { modelPath } : {}),
    notes,
  });
}

/** One parsed file of an `extends` chain. */
interface Layer {
  readonly file: string;
  readonly doc: Document;
  readonly lineCounter: LineCounter;
}

type Locate = (keyPath: readonly PropertyKey[]) => { line?: number; column?: number; file?: string };

/**
 * Parses `text` and, when it `extends` another config, that one first (recursively): the child's
 * mappings are merged key by key into the base's, anything else (lists, scalars, null) replaces
 * the base's value. Problems are located in the file that wrote the key.
 */
function readLayers(
  text: string,
  file: string,
  chain: readonly string[],
  allowExtends: boolean,
): { raw: unknown; locate: Locate } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return {
          key: '',
          expected: 'valid YAML/JSON',
          found: e.message.split('\n')[0] ?? e.message,
          ...(pos ? { line: pos.line, column: pos.col } : {}),
        };
      }),
    );
  }
  const layer: Layer = { file, doc, lineCounter };
  const raw: unknown = doc.toJS();
  const own: Locate = (keyPath) => locateKey(doc, lineCounter, keyPath);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw) || !('extends' in raw)) return { raw, locate: own };
  const base = (raw as Record<string, unknown>)['extends'];
  delete (raw as Record<string, unknown>)['extends'];
  const problem = (expected: string, found: string): ConfigError =>
    new ConfigError(file, [{ key: 'extends', expected, found, ...own(['extends']) }]);
  if (!allowExtends)
    throw problem(
      'no extends in a sealed config (seal the flattened config: `run-pipeline seal` does it)',
      describe(base),
    );
  if (typeof base !== 'string' || base.trim() === '')
    throw problem('the path of the config this one builds on, relative to this file', describe(base));
  const basePath = path.resolve(path.dirname(file), base);
  const chainHere = [...chain, path.resolve(file)];
  if (chainHere.includes(basePath))
    throw problem(
      'a config that does not extend itself',
      `a cycle: ${[...chainHere, basePath].map((f) => path.basename(f)).join(' → ')}`,
    );
  let baseText: string;
  try {
    baseText = readFileSync(basePath, 'utf8');
  } catch (err) {
    throw problem(
      'a readable config file (a path relative to this file)',
      `${JSON.stringify(base)}: ${(err as Error).message}`,
    );
  }
  const parent = readLayers(baseText, basePath, chainHere, true);
  const merged = mergeConfig(parent.raw, raw) as Record<string, unknown>;
  // A config has an instrument or a universe: writing one replaces the base's other.
  if ('universe' in raw) delete merged['instrument'];
  if ('instrument' in raw) delete merged['universe'];
  const locate: Locate = (keyPath) =>
    keyPath.length === 0 || layer.doc.hasIn(keyPath as unknown[])
      ? own(keyPath)
      : (() => {
          const inParent = parent.locate(keyPath);
          return inParent.line !== undefined ? { ...inParent, file: inParent.file ?? basePath } : own(keyPath);
        })();
  return { raw: merged, locate };
}

/** The child's mappings merged into the base's, key by key; anything else replaces. */
export function mergeConfig(base: unknown, child: unknown): unknown {
  const isMapping = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  if (!isMapping(base) || !isMapping(child)) return child;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(child)) out[key] = key in base ? mergeConfig(base[key], value) : value;
  return out;
}

/**
 * The text to seal: the file as it is, or, when it `extends` another config, the chain merged
 * into one YAML document (a sealed config must not depend on a clear file beside it). Validated
 * first.
 */
export function flattenConfig(file: string): { readonly text: string; readonly flattened: boolean } {
  const absolute = path.resolve(file);
  const config = loadConfig(absolute);
  const text = readFileSync(absolute, 'utf8');
  const own: unknown = parseDocument(text).toJS();
  if (!own || typeof own !== 'object' || !('extends' in own)) return { text, flattened: false };
  const { raw } = readLayers(text, absolute, [], true);
  const ml = (raw as { signals?: { ml?: { model?: string } } }).signals?.ml;
  if (ml && config.modelPath) ml.model = path.relative(path.dirname(absolute), config.modelPath);
  return {
    text: `# ${path.basename(absolute)} with its extends chain merged (run-pipeline seal)\n${stringifyYaml(raw)}`,
    flattened: true,
  };
}

function instrumentOf(spec: z.output<typeof instrumentSchema>): Instrument {
  return {
    venue: spec.venue,
    symbol: spec.symbol,
    base: spec.symbol.split('/')[0]!,
    quote: spec.symbol.split('/')[1]!.split(':')[0]!,
    qtyStep: toUnits(spec.qtyStep),
    priceTick: spec.priceTick,
    minQty: toUnits(spec.minQty ?? spec.qtyStep),
    minNotional: toUnits(spec.minNotional ?? 0),
    ...(spec.maxQty !== undefined ? { maxQty: toUnits(spec.maxQty) } : {}),
    ...(spec.sector !== undefined ? { sector: spec.sector } : {}),
  };
}

interface LocatedProblem extends ConfigProblem {
  readonly keyPath: readonly PropertyKey[];
}

/**
 * Parameters counted in bars may be written as durations, converted for the config's timeframe,
 * so that a config copied to another timeframe keeps its meaning (a 7-day GARCH window stays 7
 * days, not 2016 bars of whatever size). Counts must come out whole; `lambda` takes a half-life.
 * Converts in place; returns what could not be converted.
 */
const BAR_COUNT_PATHS = [
  ['risk', 'garch', 'windowBars'],
  ['risk', 'garch', 'refitEveryBars'],
  ['risk', 'garch', 'minReturns'],
  ['risk', 'marketStats', 'minReturns'],
] as const;
const HALF_LIFE_PATHS = [['risk', 'marketStats', 'lambda']] as const;
const DURATION = /^(\d+(?:\.\d+)?)\s*(m|h|d|w)$/;
const DURATION_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Longest span a per-bar parameter may cover: beyond it, a count was surely meant for a shorter timeframe. */
const MAX_SPAN_MS = 730 * 86_400_000;

/** `336 days`, `11.5 hours`, `45 minutes`. */
function span(ms: number): string {
  const [unit, size] =
    ms >= 2 * 86_400_000 ? ['days', 86_400_000] : ms >= 2 * 3_600_000 ? ['hours', 3_600_000] : ['minutes', 60_000];
  return `${Number((ms / (size as number)).toPrecision(3))} ${unit}`;
}

function convertDurations(raw: unknown, notes: string[] = []): LocatedProblem[] {
  const problems: LocatedProblem[] = [];
  if (!raw || typeof raw !== 'object') return problems;
  const tfText = (raw as Record<string, unknown>)['timeframe'];
  const tfMs = typeof tfText === 'string' && isTimeframe(tfText) ? timeframeMs(tfText) : undefined;
  const visit = (keyPath: readonly string[], halfLife: boolean): void => {
    const parent = valueAt(raw, keyPath.slice(0, -1));
    const key = keyPath[keyPath.length - 1]!;
    if (!parent || typeof parent !== 'object') return;
    const value = (parent as Record<string, unknown>)[key];
    if (typeof value === 'number' && Number.isFinite(value) && tfMs !== undefined) {
      // A plain count (or decay) means bars of this timeframe: say how long that is, and refuse
      // a span no per-bar statistic here is meant to cover (a count copied from a finer timeframe).
      const bars = halfLife ? (value > 0 && value < 1 ? Math.log(0.5) / Math.log(value) : Number.NaN) : value;
      if (!(bars > 0)) return; // the schema names the bad value
      const where = { keyPath, key: dotted(keyPath) };
      const what = halfLife ? `a decay of ${value} per ${tfText} bar is a half-life of` : `${value} ${tfText} bars are`;
      if (bars * tfMs > MAX_SPAN_MS) {
        problems.push({
          ...where,
          expected: `a span of at most ${span(MAX_SPAN_MS)} (${halfLife ? 'a half-life' : 'bars'} of the ${tfText} timeframe; write a duration such as "7d" so a copy to another timeframe keeps its meaning)`,
          found: `number ${value}: ${what} ${span(bars * tfMs)}`,
        });
        return;
      }
      notes.push(
        `${dotted(keyPath)}: ${what} ${span(bars * tfMs)}; a duration (e.g. "${halfLife ? '12h' : '7d'}") keeps its meaning on another timeframe`,
      );
      return;
    }
    if (typeof value !== 'string') return;
    const match = DURATION.exec(value.trim());
    const where = { keyPath, key: dotted(keyPath) };
    if (!match) {
      problems.push({
        ...where,
        expected: `${halfLife ? 'a decay per bar in (0, 1)' : 'a whole number of bars'} or a duration such as "12h", "7d"`,
        found: describe(value),
      });
      return;
    }
    if (tfMs === undefined) return; // the timeframe's own problem is reported by the schema
    const bars = (Number(match[1]) * DURATION_MS[match[2]!]!) / tfMs;
    if (bars * tfMs > MAX_SPAN_MS) {
      problems.push({ ...where, expected: `a span of at most ${span(MAX_SPAN_MS)}`, found: describe(value) });
      return;
    }
    if (halfLife) {
      if (!(bars >= 1)) {
        problems.push({ ...where, expected: `a half-life of at least one ${tfText} bar`, found: describe(value) });
        return;
      }
      (parent as Record<string, unknown>)[key] = 0.5 ** (1 / bars);
    } else {
      if (!Number.isInteger(bars) || bars < 1) {
        problems.push({
          ...where,
          expected: `a duration that is a whole number of ${tfText} bars`,
          found: `${describe(value)} (${Number(bars.toPrecision(6))} bars)`,
        });
        return;
      }
      (parent as Record<string, unknown>)[key] = bars;
    }
  };
  for (const keyPath of BAR_COUNT_PATHS) visit(keyPath, false);
  for (const keyPath of HALF_LIFE_PATHS) visit(keyPath, true);
  return problems;
}

/** Checks across keys: each names the key it points at, what it must be relative to the other. */
function crossFieldProblems(config: PipelineConfigFile): LocatedProblem[] {
  const problems: LocatedProblem[] = [];
  const add = (keyPath: PropertyKey[], expected: string, found: string): void => {
    problems.push({ keyPath, key: dotted(keyPath), expected, found });
  };
  const symbols = (config.universe?.instruments ?? (config.instrument ? [config.instrument] : [])).map((i) => i.symbol);
  const spotSymbol = symbols.find((symbol) => !symbol.includes(':'));
  const leverage = config.risk?.maxLeverage;
  if (spotSymbol !== undefined && leverage !== undefined && leverage > 1)
    add(
      ['risk', 'maxLeverage'],
      `at most 1 for a spot instrument (${spotSymbol}: spot cannot borrow; a perpetual is written BASE/QUOTE:SETTLE)`,
      `number ${leverage}`,
    );
  const modes = config.modes;
  const recover = modes?.recoverDrawdown ?? 0.1;
  const reduce = modes?.reduceDrawdown ?? 0.15;
  const emergency = modes?.emergencyDrawdown ?? 0.25;
  if (!(recover < reduce))
    add(
      modes?.recoverDrawdown !== undefined ? ['modes', 'recoverDrawdown'] : ['modes', 'reduceDrawdown'],
      `recoverDrawdown < reduceDrawdown (hysteresis: back to Normal below where Reduced starts)`,
      `recoverDrawdown ${recover}, reduceDrawdown ${reduce}`,
    );
  if (!(reduce < emergency))
    add(
      modes?.emergencyDrawdown !== undefined ? ['modes', 'emergencyDrawdown'] : ['modes', 'reduceDrawdown'],
      'reduceDrawdown < emergencyDrawdown (Reduced comes before Emergency)',
      `reduceDrawdown ${reduce}, emergencyDrawdown ${emergency}`,
    );
  const breakers = config.breakers;
  if (breakers?.tripErrorRate !== undefined && breakers.closeErrorRate !== undefined)
    if (!(breakers.closeErrorRate < breakers.tripErrorRate))
      add(
        ['breakers', 'closeErrorRate'],
        `closeErrorRate < tripErrorRate (${breakers.tripErrorRate})`,
        `number ${breakers.closeErrorRate}`,
      );
  if (breakers?.cooldownMs !== undefined && breakers.maxCooldownMs !== undefined)
    if (breakers.maxCooldownMs < breakers.cooldownMs)
      add(
        ['breakers', 'maxCooldownMs'],
        `maxCooldownMs ≥ cooldownMs (${breakers.cooldownMs})`,
        `number ${breakers.maxCooldownMs}`,
      );
  const garch = config.risk?.garch;
  if (garch?.minReturns !== undefined && garch.minReturns > (garch.windowBars ?? 2000))
    add(
      ['risk', 'garch', 'minReturns'],
      `at most windowBars (${garch.windowBars ?? 2000}): a fit never sees more returns than its window`,
      `number ${garch.minReturns}`,
    );
  config.signals.ta?.rules.forEach((rule, i) => {
    if (rule.kind === 'level' && !(rule.low < rule.high))
      add(['signals', 'ta', 'rules', i, 'low'], `low < high (${rule.high})`, `number ${rule.low}`);
  });
  return problems;
}

/** What the schema cannot see: tulind names/options, references between sections. */
function semanticProblems(config: PipelineConfigFile): LocatedProblem[] {
  const problems = [...crossFieldProblems(config), ...sectionProblems(config, ['features'], ['signals'])];
  const members = config.universe?.instruments ?? [];
  if (config.instrument && config.universe) {
    problems.push({
      keyPath: ['universe'],
      key: 'universe',
      expected: 'either instrument (one symbol) or universe (several), not both',
      found: 'both',
    });
  } else if (!config.instrument && !config.universe) {
    problems.push({
      keyPath: [],
      key: 'instrument',
      expected: 'an instrument (one symbol) or a universe (several) (required)',
      found: 'neither',
    });
  }
  const seen = new Map<string, number>();
  const quote = members[0]?.symbol.split('/')[1];
  members.forEach((member, i) => {
    const at = ['universe', 'instruments', i];
    const first = seen.get(member.symbol);
    if (first !== undefined) {
      problems.push({
        keyPath: [...at, 'symbol'],
        key: dotted([...at, 'symbol']),
        expected: `each symbol once (one portfolio position per symbol)`,
        found: `${JSON.stringify(member.symbol)} again (first at universe.instruments[${first}])`,
      });
    } else seen.set(member.symbol, i);
    const memberQuote = member.symbol.split('/')[1];
    if (memberQuote !== quote) {
      problems.push({
        keyPath: [...at, 'symbol'],
        key: dotted([...at, 'symbol']),
        expected: `a symbol quoted in ${quote} (one portfolio in one quote currency)`,
        found: JSON.stringify(member.symbol),
      });
    }
    if (member.signals?.ml) {
      problems.push({
        keyPath: [...at, 'signals', 'ml'],
        key: dotted([...at, 'signals', 'ml']),
        expected: 'no per-symbol ML model (the model is configured once, under signals.ml)',
        found: 'signals.ml',
      });
    }
    if (member.features || member.signals) {
      problems.push(
        ...sectionProblems(
          {
            features: member.features ?? config.features,
            signals: member.signals ?? config.signals,
            timeframe: config.timeframe,
            ...(config.sizing ? { sizing: config.sizing } : {}),
          },
          member.features ? [...at, 'features'] : ['features'],
          member.signals ? [...at, 'signals'] : ['signals'],
        ).filter((p) => p.keyPath[0] === 'universe'),
      );
    }
  });
  return problems;
}

/** Problems of one symbol's features and signals, with key paths under the given roots. */
function sectionProblems(
  config: Pick<PipelineConfigFile, 'features' | 'signals' | 'timeframe' | 'sizing'>,
  featuresAt: readonly PropertyKey[],
  signalsAt: readonly PropertyKey[],
): LocatedProblem[] {
  const problems: LocatedProblem[] = [];
  let published: readonly string[] = [];
  config.features.forEach((feature, i) => {
    try {
      buildLayout([feature]);
    } catch (err) {
      if (!(err instanceof IndicatorError)) throw err;
      const key = err.code === 'UNKNOWN_INDICATOR' ? 'indicator' : 'options';
      problems.push({
        keyPath: [...featuresAt, i, key],
        key: dotted([...featuresAt, i, key]),
        expected: err.code === 'UNKNOWN_INDICATOR' ? 'a tulind indicator name' : 'options tulind accepts',
        found: err.message,
      });
    }
  });
  if (problems.length === 0) {
    try {
      published = buildLayout(config.features).names;
    } catch (err) {
      problems.push({
        keyPath: featuresAt,
        key: dotted(featuresAt),
        expected: 'unique feature ids',
        found: (err as Error).message,
      });
    }
  }
  const known = new Set([
    ...published,
    ...BAR_FIELDS,
    ...(config.signals.patterns ? PATTERN_NAMES.map(patternFeature) : []),
    ...higherTimeframeNames(config, problems),
  ]);
  const checkRef = (ref: string, keyPath: PropertyKey[]): void => {
    if (problems.length > 0 && published.length === 0) return;
    if (!known.has(ref)) {
      const suggestion = closest(ref, [...known]);
      problems.push({
        keyPath,
        key: dotted(keyPath),
        expected: `a published feature or bar field${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
        found: JSON.stringify(ref),
      });
    }
  };
  config.signals.ta?.rules.forEach((rule, i) => {
    const fields =
      rule.kind === 'cross' ? ['fast', 'slow'] : rule.kind === 'band' ? ['lower', 'upper', 'price'] : ['feature'];
    const refs = ruleRefs(rule);
    refs.forEach((ref, j) => checkRef(ref, [...signalsAt, 'ta', 'rules', i, fields[j] ?? 'feature']));
  });
  if (config.signals.ta?.strengthFilter)
    checkRef(config.signals.ta.strengthFilter.feature, [...signalsAt, 'ta', 'strengthFilter', 'feature']);
  const weights = config.signals.fuse.weights;
  if ((weights.ta ?? 0) > 0 && !config.signals.ta) {
    problems.push({
      keyPath: [...signalsAt, 'fuse', 'weights', 'ta'],
      key: dotted([...signalsAt, 'fuse', 'weights', 'ta']),
      expected: 'a signals.ta section for a weighted ta source',
      found: 'no signals.ta',
    });
  }
  if ((weights.ml ?? 0) > 0 && !config.signals.ml) {
    problems.push({
      keyPath: [...signalsAt, 'fuse', 'weights', 'ml'],
      key: dotted([...signalsAt, 'fuse', 'weights', 'ml']),
      expected: 'a signals.ml section for a weighted ml source',
      found: 'no signals.ml',
    });
  }
  for (const source of ['sentiment', 'onchain', 'macro', 'news'] as const) {
    if ((weights[source] ?? 0) > 0) {
      problems.push({
        keyPath: [...signalsAt, 'fuse', 'weights', source],
        key: dotted([...signalsAt, 'fuse', 'weights', source]),
        expected: 'a source this version provides (ta, ml)',
        found: `${source} (intelligence sources are not built yet)`,
      });
    }
  }
  if (config.sizing?.edge && !config.signals.forecast) {
    problems.push({
      keyPath: ['sizing', 'edge'],
      key: 'sizing.edge',
      expected: 'a signals.forecast section (edge decisions trade on forecasts)',
      found: 'no signals.forecast',
    });
  }
  if (config.sizing?.brackets) {
    if (!config.sizing.edge)
      problems.push({
        keyPath: ['sizing', 'brackets'],
        key: 'sizing.brackets',
        expected: 'a sizing.edge section (brackets belong to edge decisions)',
        found: 'no sizing.edge',
      });
    checkRef(config.sizing.brackets.atr, ['sizing', 'brackets', 'atr']);
    if (config.sizing.brackets.support !== undefined)
      checkRef(config.sizing.brackets.support, ['sizing', 'brackets', 'support']);
    if (config.sizing.brackets.resistance !== undefined)
      checkRef(config.sizing.brackets.resistance, ['sizing', 'brackets', 'resistance']);
  }
  config.signals.ml?.training?.inputs.forEach((input, i) => {
    checkRef(input.ref, [...signalsAt, 'ml', 'training', 'inputs', i, 'ref']);
    if (input.relativeTo !== undefined)
      checkRef(input.relativeTo, [...signalsAt, 'ml', 'training', 'inputs', i, 'relativeTo']);
  });
  return problems;
}

/** What `signals.timeframes` publishes; a timeframe that is not a multiple of the base one is a problem. */
function higherTimeframeNames(
  config: Pick<PipelineConfigFile, 'signals' | 'timeframe'>,
  problems: LocatedProblem[],
): string[] {
  const timeframes = config.signals.timeframes ?? [];
  const base = timeframeMs(config.timeframe as Timeframe);
  timeframes.forEach((tf, i) => {
    const ms = timeframeMs(tf.timeframe as Timeframe);
    if (!(ms > base) || ms % base !== 0)
      problems.push({
        keyPath: ['signals', 'timeframes', i, 'timeframe'],
        key: `signals.timeframes[${i}].timeframe`,
        expected: `a whole multiple of the base timeframe ${config.timeframe}`,
        found: tf.timeframe,
      });
  });
  try {
    return timeframeFeatureNames(
      timeframes.map((tf) => ({ ...tf, timeframe: tf.timeframe as Timeframe, features: tf.features })),
    );
  } catch (err) {
    problems.push({
      keyPath: ['signals', 'timeframes'],
      key: 'signals.timeframes',
      expected: 'features tulind accepts, with unique ids',
      found: (err as Error).message,
    });
    return [];
  }
}

function problemOf(
  issue: z.core.$ZodIssue,
  raw: unknown,
  locate: (p: readonly PropertyKey[]) => { line?: number; column?: number },
): ConfigProblem {
  const keyPath = issue.path;
  const value = valueAt(raw, keyPath);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const parentKeys = allowedKeys(keyPath);
      const unknown = issue.keys[0] ?? '';
      const childPath = [...keyPath, unknown];
      const suggestion = closest(unknown, parentKeys);
      return {
        key: dotted(childPath),
        expected: `one of the known keys${parentKeys.length ? ` (${parentKeys.join(', ')})` : ''}${suggestion ? `; did you mean "${suggestion}"?` : ''}`,
        found: `unknown key${issue.keys.length > 1 ? `s ${issue.keys.map((k) => `"${k}"`).join(', ')}` : ` "${unknown}"`}`,
        ...locate(childPath),
      };
    }
    case 'invalid_type':
      return {
        key: dotted(keyPath),
        expected: value === undefined ? `${issue.expected} (required)` : issue.expected,
        found: describe(value),
        ...locate(keyPath),
      };
    case 'invalid_value':
      return {
        key: dotted(keyPath),
        expected: `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
        found: describe(value),
        ...locate(keyPath),
      };
    case 'invalid_union': {
      if ('discriminator' in issue && issue.discriminator) {
        const options = (issue as unknown as { options?: unknown[] }).options ?? [];
        return {
          key: dotted(keyPath),
          expected: `one of ${options.map((o) => JSON.stringify(o)).join(', ')}`,
          found: describe(value),
          ...locate(keyPath),
        };
      }
      const expected = issue.errors
        .map((branch) => branch.map((e) => (e.code === 'invalid_type' ? e.expected : e.message)).join(' and '))
        .join(' or ');
      return {
        key: dotted(keyPath),
        expected: expected || 'a valid value',
        found: describe(value),
        ...locate(keyPath),
      };
    }
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const relation = issue.code === 'too_small' ? (issue.inclusive ? '≥' : '>') : issue.inclusive ? '≤' : '<';
      const what = issue.origin === 'array' ? 'number of items' : issue.origin === 'string' ? 'length' : 'a number';
      return {
        key: dotted(keyPath),
        expected: `${what} ${relation} ${String(bound)}`,
        found: describe(value),
        ...locate(keyPath),
      };
    }
    case 'invalid_format':
      return { key: dotted(keyPath), expected: issue.message, found: describe(value), ...locate(keyPath) };
    default:
      return { key: dotted(keyPath), expected: issue.message, found: describe(value), ...locate(keyPath) };
  }
}

/** Known keys of the object schema at a path, for "did you mean" hints. */
function allowedKeys(keyPath: readonly PropertyKey[]): string[] {
  let schema: unknown = pipelineConfigSchema;
  for (const key of keyPath) {
    schema = unwrap(schema);
    if (schema && typeof schema === 'object' && 'shape' in schema)
      schema = (schema as { shape: Record<string, unknown> }).shape[String(key)];
    else if (schema && typeof schema === 'object' && 'element' in schema)
      schema = (schema as { element: unknown }).element;
    else return [];
  }
  schema = unwrap(schema);
  return schema && typeof schema === 'object' && 'shape' in schema
    ? Object.keys((schema as { shape: object }).shape)
    : [];
}

function unwrap(schema: unknown): unknown {
  let current = schema;
  for (
    let i = 0;
    i < 5 && current && typeof current === 'object' && 'unwrap' in current && !('shape' in current);
    i++
  ) {
    current = (current as { unwrap(): unknown }).unwrap();
  }
  return current;
}

function locateKey(
  doc: Document,
  lineCounter: LineCounter,
  keyPath: readonly PropertyKey[],
): { line?: number; column?: number } {
  // Find the deepest node that exists on the path; point at its key when there is one.
  for (let depth = keyPath.length; depth >= 0; depth--) {
    const parentPath = keyPath.slice(0, depth - 1) as unknown[];
    const last = keyPath[depth - 1];
    const parent = depth === 0 ? doc.contents : parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
    if (depth > 0 && isMap(parent)) {
      const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === last);
      const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
      if (range) {
        const pos = lineCounter.linePos(range[0]);
        return { line: pos.line, column: pos.col };
      }
    } else if (depth > 0 && isSeq(parent) && typeof last === 'number') {
      const item = parent.items[last] as { range?: [number, number, number] } | undefined;
      if (item?.range) {
        const pos = lineCounter.linePos(item.range[0]);
        return { line: pos.line, column: pos.col };
      }
    } else if (depth === 0) {
      const range = (doc.contents as { range?: [number, number, number] } | null)?.range;
      if (range) {
        const pos = lineCounter.linePos(range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
  }
  return {};
}

function valueAt(raw: unknown, keyPath: readonly PropertyKey[]): unknown {
  let current = raw;
  for (const key of keyPath) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function dotted(keyPath: readonly PropertyKey[]): string {
  return keyPath.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    '',
  );
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return `a list of ${value.length}`;
  return 'a mapping';
}

/**
 * The candidate within edit distance 2 (or a third of the length); failing that, the candidate
 * that contains the word's last dotted part (`macd.histogram` → `macd.macd_histogram`).
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best) return best;
  const last = word.toLowerCase().split('.').pop() ?? '';
  return last.length >= 3 ? candidates.find((c) => c.toLowerCase().includes(last)) : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** JSON with object keys sorted, so equal configs hash equal whatever the key order in the file. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as object)) deepFreeze(child);
  }
  return value;
}
