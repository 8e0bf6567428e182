/**
 * A run's output folder, written so that it never lies: the folder is checked (and created) before
 * any work with an error that names the option, the path and what is wrong — never a raw errno,
 * never a hang (Node's recursive mkdir spins forever under /proc) — and the files of a run are
 * written under temporary names and renamed into place only when the run has finished, so an
 * interrupted or failed run leaves the previous run's files as they were.
 */
import { accessSync, constants, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { VirtualTimeScheduler } from 'rxjs';
import { Bot4Error } from '../operators/errors';

export type RunOutputErrorCode = 'OUT_UNUSABLE' | 'INTERRUPTED';

export class RunOutputError extends Bot4Error<RunOutputErrorCode> {
  constructor(code: RunOutputErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(code, 'output', message, options);
  }
}

/**
 * Makes sure `dir` is a folder this process can create files in, creating it (and missing
 * parents) when needed. `option` names the command-line option in messages (`--out`).
 */
export function ensureOutputDir(dir: string, option = '--out'): void {
  const fail = (what: string, cause?: unknown): never => {
    throw new RunOutputError(
      'OUT_UNUSABLE',
      `${option} ${dir}: expected a folder this user can write into, but ${what}`,
      cause === undefined ? undefined : { cause },
    );
  };
  const absolute = path.resolve(dir);
  // Walk up to the deepest part that exists: it must be a folder, and everything below it is made
  // one level at a time (no recursive mkdir: it never returns on some virtual file systems).
  const missing: string[] = [];
  let existing = absolute;
  for (;;) {
    let isDirectory = false;
    try {
      isDirectory = statSync(existing).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        const parent = path.dirname(existing);
        if (parent === existing) fail('its root does not exist', err);
        missing.unshift(existing);
        existing = parent;
        continue;
      }
      if (code === 'ENOTDIR') fail(`a part of the path is a file, not a folder`, err);
      fail(`it cannot be examined (${code ?? (err as Error).message})`, err);
    }
    if (!isDirectory) fail(existing === absolute ? 'it is a file' : `${existing} is a file, not a folder`);
    break;
  }
  try {
    accessSync(existing, constants.W_OK);
  } catch (err) {
    fail(`${existing} is not writable by this user`, err);
  }
  for (const folder of missing) {
    try {
      mkdirSync(folder, { mode: 0o750 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') fail(`${folder} cannot be created (${code ?? (err as Error).message})`, err);
    }
  }
  // Permission bits can say yes where the file system says no (/proc, read-only mounts): try.
  const probe = path.join(absolute, `.bot4-write-test-${process.pid}`);
  try {
    writeFileSync(probe, '');
  } catch (err) {
    fail(`a file cannot be created in it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, err);
  }
  rmSync(probe, { force: true });
}

/**
 * The files of one run in a folder, each written under `<name>.partial-<pid>` and renamed over
 * `<name>` by {@link commit}; {@link discard} removes the temporary files and says what was kept.
 */
export class RunFiles {
  private readonly temporary = new Map<string, string>();

  constructor(
    readonly dir: string,
    readonly names: readonly string[],
  ) {
    for (const name of names) this.temporary.set(name, path.join(dir, `${name}.partial-${process.pid}`));
  }

  /** Where to write `name` while the run goes on. */
  tempPath(name: string): string {
    const temp = this.temporary.get(name);
    if (!temp) throw new RangeError(`RunFiles: ${name} is not one of ${this.names.join(', ')}`);
    return temp;
  }

  /** Where `name` ends up. */
  finalPath(name: string): string {
    return path.join(this.dir, name);
  }

  /** Renames every file into place (in the order given to the constructor). */
  commit(): void {
    for (const name of this.names) renameSync(this.tempPath(name), this.finalPath(name));
  }

  /** Removes the temporary files; returns a sentence saying what the folder still holds. */
  discard(): string {
    for (const temp of this.temporary.values()) rmSync(temp, { force: true });
    const kept = this.names.filter((name) => {
      try {
        return statSync(this.finalPath(name)).isFile();
      } catch {
        return false;
      }
    });
    return kept.length > 0
      ? `the previous run's ${kept.join(' and ')} in ${this.dir} ${kept.length === 1 ? 'is' : 'are'} kept unchanged; this run's partial output was removed`
      : `this run's partial output in ${this.dir} was removed (there was no previous run there)`;
  }
}

/**
 * Runs a virtual-time scheduler to the end in slices of `sliceMs` of virtual time, giving the
 * event loop a turn between slices so that Ctrl-C (an aborted `signal`) is noticed during a long
 * backtest instead of after it. Resolves true when it ran to the end, false when aborted.
 */
export async function flushInSlices(
  scheduler: VirtualTimeScheduler,
  sliceMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const end = scheduler.maxFrames;
  for (;;) {
    if (signal?.aborted) return false;
    const next = scheduler.actions[0];
    if (!next) break;
    scheduler.maxFrames = Math.min(end, next.delay + sliceMs);
    scheduler.flush();
    if (scheduler.maxFrames >= end) break;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  scheduler.maxFrames = end;
  return true;
}
