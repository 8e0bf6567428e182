/**
 * Locates `../shared/data` (real market data kept outside the repository). Tests that need it
 * call `sharedDataPath()`; when the folder is absent they are marked pending with the reason,
 * never silently passed.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

function candidates(): string[] {
  const fromEnv = process.env['BOT4_SHARED_DATA'];
  return [...(fromEnv ? [fromEnv] : []), path.resolve(REPO_ROOT, '..', 'shared', 'data'), '/work/shared/data'];
}

/** Absolute path of the shared data folder, or undefined when this machine has none. */
export function sharedDataDir(): string | undefined {
  return candidates().find((dir) => existsSync(path.join(dir, 'MANIFEST.md')));
}

/** Path of a file inside the shared data folder, or undefined when absent. */
export function sharedDataPath(relative: string): string | undefined {
  const dir = sharedDataDir();
  if (!dir) return undefined;
  const file = path.join(dir, relative);
  return existsSync(file) ? file : undefined;
}

/**
 * For use inside a mocha `it`/`before`: returns the file, or marks the test pending with the
 * reason when the shared data is missing (CI sets BOT4_REQUIRE_SHARED_DATA=1 to fail instead).
 */
export function requireSharedData(ctx: Mocha.Context, relative: string): string {
  const file = sharedDataPath(relative);
  if (file) return file;
  const reason = `shared data file ${relative} not found (looked in ${candidates().join(', ')}; set BOT4_SHARED_DATA)`;
  if (process.env['BOT4_REQUIRE_SHARED_DATA'] === '1') throw new Error(reason);
  ctx.skip();
  throw new Error(reason);
}

export const repoRoot = REPO_ROOT;
