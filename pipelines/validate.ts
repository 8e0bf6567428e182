/**
 * `run-pipeline validate <config...>`: loads each config the way a run would (extends chain,
 * schema, cross-field and tulind checks, sealed configs with BOT4_SEAL_KEY) and reports every
 * problem of every file at once — file:line:column, the key, what was expected, what was found —
 * without running anything.
 */
import * as path from 'node:path';
import { ConfigError, loadConfig } from './config';
import { SealError } from './seal';

export interface ValidationProblem {
  /** The file that wrote the key (a config it extends, or the config itself). */
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  /** Dotted key path, `''` for the file as a whole. */
  readonly key: string;
  readonly expected: string;
  readonly found: string;
}

export interface ValidationResult {
  readonly file: string;
  readonly ok: boolean;
  readonly name?: string;
  readonly tier?: string;
  /** The config hash stamped on every order of a run of it. */
  readonly hash?: string;
  readonly symbols?: readonly string[];
  readonly problems: readonly ValidationProblem[];
  /** Not wrong, worth knowing: per-bar parameters written as counts, and the span they cover. */
  readonly notes: readonly string[];
}

export function validateConfig(file: string): ValidationResult {
  try {
    const config = loadConfig(file);
    return {
      file,
      ok: true,
      name: config.name,
      tier: config.tier,
      hash: config.hash,
      symbols: config.instruments.map((i) => i.symbol),
      problems: [],
      notes: config.notes,
    };
  } catch (err) {
    if (err instanceof ConfigError) {
      return {
        file,
        ok: false,
        notes: [],
        problems: err.problems.map((p) => ({
          file: p.file ?? err.file,
          ...(p.line !== undefined ? { line: p.line } : {}),
          ...(p.column !== undefined ? { column: p.column } : {}),
          key: p.key,
          expected: p.expected,
          found: p.found,
        })),
      };
    }
    if (err instanceof SealError) {
      return {
        file,
        ok: false,
        notes: [],
        problems: [{ file: err.file, key: '', expected: 'a sealed config that opens now', found: err.message }],
      };
    }
    throw err;
  }
}

export function validateConfigs(files: readonly string[]): ValidationResult[] {
  return files.map(validateConfig);
}

export function formatValidation(results: readonly ValidationResult[]): string {
  return results
    .map((r) => {
      if (r.ok)
        return [
          `ok       ${r.file}: ${r.name} (${r.tier}; ${r.symbols?.join(', ')}), config hash ${r.hash}`,
          ...r.notes.map((n) => `  note: ${n}`),
        ].join('\n');
      const lines = r.problems.map((p) => {
        const where = `${path.relative(process.cwd(), path.resolve(p.file)) || p.file}${p.line !== undefined ? `:${p.line}:${p.column ?? 1}` : ''}`;
        return `  ${where}  key "${p.key || '(top level)'}": expected ${p.expected}, found ${p.found}`;
      });
      return `invalid  ${r.file}: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}\n${lines.join('\n')}`;
    })
    .join('\n');
}
