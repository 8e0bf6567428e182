/**
 * Loads a pipeline config (YAML or JSON) once: parse, validate against the schema, check what the
 * schema alone cannot (indicator names and options against tulind, feature references, the model
 * file), resolve paths, hash, freeze. Every failure is a ConfigError naming the file, the line,
 * the key, what was expected and what was found — before anything subscribes.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SEALED_SUFFIX, sealKeyFrom, unsealConfigFile } from './seal';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { pipelineConfigSchema, type PipelineConfigFile } from '../config/schema';
import { buildLayout } from '../operators/computeFeatures';
import { IndicatorError } from '../operators/indicators/types';
import { toUnits, type Units } from '../operators/money';
import { BAR_FIELDS, ruleRefs } from '../operators/taSignal';
import type { Instrument, Timeframe } from '../operators/types';

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
}

function formatProblem(file: string, p: ConfigProblem): string {
  const where = p.line !== undefined ? `${path.basename(file)}:${p.line}:${p.column ?? 1} ` : '';
  return `${where}key "${p.key || '(top level)'}": expected ${p.expected}, found ${p.found}`;
}

/** A validated config with everything resolved: amounts as units, paths absolute, a hash. */
export interface PipelineConfig extends Omit<PipelineConfigFile, 'instrument' | 'capital' | 'timeframe'> {
  readonly file: string;
  /** sha256 of the canonical JSON of the validated config, first 16 hex chars. */
  readonly hash: string;
  readonly timeframe: Timeframe;
  readonly instrument: Instrument;
  readonly initialCash: Units;
  /** Absolute path of the ML model file, when the config uses one. */
  readonly modelPath?: string;
}

export function loadConfig(file: string): PipelineConfig {
  const absolute = path.resolve(file);
  if (absolute.endsWith(SEALED_SUFFIX)) {
    // A sealed config (pipelines/seal.ts): authenticated, past its cooldown, validated as its clear self.
    const { text, virtualPath } = unsealConfigFile(absolute, sealKeyFrom(), Date.now());
    return parseConfig(text, virtualPath);
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
export function parseConfig(text: string, file: string): PipelineConfig {
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
  const raw: unknown = doc.toJS();
  const locate = (keyPath: readonly PropertyKey[]): { line?: number; column?: number } =>
    locateKey(doc, lineCounter, keyPath);

  const parsed = pipelineConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      file,
      parsed.error.issues.map((issue) => problemOf(issue, raw, locate)),
    );
  }
  const config = parsed.data;
  const problems = semanticProblems(config).map((p) => ({ ...p, ...locate(p.keyPath) }));
  if (problems.length > 0) throw new ConfigError(file, problems);

  const instrument: Instrument = {
    venue: config.instrument.venue,
    symbol: config.instrument.symbol,
    base: config.instrument.symbol.split('/')[0]!,
    quote: config.instrument.symbol.split('/')[1]!,
    qtyStep: toUnits(config.instrument.qtyStep),
    priceTick: config.instrument.priceTick,
    minQty: toUnits(config.instrument.minQty ?? config.instrument.qtyStep),
    minNotional: toUnits(config.instrument.minNotional ?? 0),
    ...(config.instrument.maxQty !== undefined ? { maxQty: toUnits(config.instrument.maxQty) } : {}),
    ...(config.instrument.sector !== undefined ? { sector: config.instrument.sector } : {}),
  };
  const hash = createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
  const modelPath = config.signals.ml ? path.resolve(path.dirname(file), config.signals.ml.model) : undefined;
  return deepFreeze({
    ...config,
    file,
    hash,
    timeframe: config.timeframe as Timeframe,
    instrument,
    initialCash: toUnits(config.capital.initial),
    ...(modelPath ? { modelPath } : {}),
  });
}

interface LocatedProblem extends ConfigProblem {
  readonly keyPath: readonly PropertyKey[];
}

/** What the schema cannot see: tulind names/options, references between sections. */
function semanticProblems(config: PipelineConfigFile): LocatedProblem[] {
  const problems: LocatedProblem[] = [];
  let published: readonly string[] = [];
  config.features.forEach((feature, i) => {
    try {
      buildLayout([feature]);
    } catch (err) {
      if (!(err instanceof IndicatorError)) throw err;
      const key = err.code === 'UNKNOWN_INDICATOR' ? 'indicator' : 'options';
      problems.push({
        keyPath: ['features', i, key],
        key: `features[${i}].${key}`,
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
        keyPath: ['features'],
        key: 'features',
        expected: 'unique feature ids',
        found: (err as Error).message,
      });
    }
  }
  const known = new Set([...published, ...BAR_FIELDS]);
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
    refs.forEach((ref, j) => checkRef(ref, ['signals', 'ta', 'rules', i, fields[j] ?? 'feature']));
  });
  if (config.signals.ta?.strengthFilter)
    checkRef(config.signals.ta.strengthFilter.feature, ['signals', 'ta', 'strengthFilter', 'feature']);
  const weights = config.signals.fuse.weights;
  if ((weights.ta ?? 0) > 0 && !config.signals.ta) {
    problems.push({
      keyPath: ['signals', 'fuse', 'weights', 'ta'],
      key: 'signals.fuse.weights.ta',
      expected: 'a signals.ta section for a weighted ta source',
      found: 'no signals.ta',
    });
  }
  if ((weights.ml ?? 0) > 0 && !config.signals.ml) {
    problems.push({
      keyPath: ['signals', 'fuse', 'weights', 'ml'],
      key: 'signals.fuse.weights.ml',
      expected: 'a signals.ml section for a weighted ml source',
      found: 'no signals.ml',
    });
  }
  for (const source of ['sentiment', 'onchain', 'macro', 'news'] as const) {
    if ((weights[source] ?? 0) > 0) {
      problems.push({
        keyPath: ['signals', 'fuse', 'weights', source],
        key: `signals.fuse.weights.${source}`,
        expected: 'a source this version provides (ta, ml)',
        found: `${source} (intelligence sources are not built yet)`,
      });
    }
  }
  config.signals.ml?.training?.inputs.forEach((input, i) => {
    checkRef(input.ref, ['signals', 'ml', 'training', 'inputs', i, 'ref']);
    if (input.relativeTo !== undefined)
      checkRef(input.relativeTo, ['signals', 'ml', 'training', 'inputs', i, 'relativeTo']);
  });
  return problems;
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
