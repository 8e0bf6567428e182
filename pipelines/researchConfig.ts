/**
 * Config variants for research: a config file with some keys set to other values, validated by
 * the same schema as any config (a bad key or value fails naming it) and hashed anew.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { parseConfig, type PipelineConfig } from './config';

/** Dotted config key → value (a number, string, boolean, or any YAML-able value such as a list of rules). */
export type Overrides = Readonly<Record<string, unknown>>;

export class ParamSpecError extends Error {
  readonly code = 'RESEARCH_BAD_PARAM';
  readonly stage = 'research';
}

function keyPath(key: string): (string | number)[] {
  return key.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function parseValue(raw: string): number | string | boolean {
  if (raw === 'true' || raw === 'false') return raw === 'true';
  const n = Number(raw);
  return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
}

/** Loads `file` with `overrides` applied (dotted keys, numeric parts index arrays: `signals.ta.rules.0.weight`). */
export function loadConfigWith(file: string, overrides: Overrides): PipelineConfig {
  const absolute = path.resolve(file);
  const doc = parseDocument(readFileSync(absolute, 'utf8'));
  for (const [key, value] of Object.entries(overrides)) {
    const parts = keyPath(key);
    if (parts.length > 1 && !doc.hasIn(parts.slice(0, -1)))
      throw new ParamSpecError(`${file}: cannot set "${key}": "${parts.slice(0, -1).join('.')}" is not in the config`);
    doc.setIn(parts, typeof value === 'object' && value !== null ? doc.createNode(value) : value);
  }
  return parseConfig(doc.toString(), absolute);
}

/**
 * `--param key=v1,v2,…` specs → the grid of every combination (in the order given; the first
 * value of every key is candidate 0). A spec without `=` or without values is refused.
 */
export function parameterGrid(specs: readonly string[]): Overrides[] {
  let grid: Record<string, number | string | boolean>[] = [{}];
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new ParamSpecError(`--param: expected key=value1,value2,…, found "${spec}"`);
    const key = spec.slice(0, eq).trim();
    const values = spec
      .slice(eq + 1)
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    if (values.length === 0) throw new ParamSpecError(`--param ${key}: no values`);
    grid = grid.flatMap((g) => values.map((v) => ({ ...g, [key]: parseValue(v) })));
  }
  return grid;
}
