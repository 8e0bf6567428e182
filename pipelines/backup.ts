/**
 * `run-pipeline backup` and `restore` (spec §17.1: local only, hourly, retention 24 h / 30 d /
 * 12 w / 12 mo). A backup is a directory `<to>/<UTC time>/` holding a copy of the session
 * directory (journal, audit, reports, state), the config and its model, and `manifest.json` with
 * the size and sha256 of every file. It is written under a temporary name and renamed when
 * complete, so a crash never leaves a half backup that looks whole. Append-only journals are cut
 * at their last complete line (a consistent snapshot of a file being written).
 *
 * `restore` refuses a backup whose files do not match the manifest (naming the file), and a
 * target that is not empty; it copies the session back, then proves the copy: it replays the
 * restored journal and audit with the session's own recovery (`pipelines/recovery.ts`, what a
 * restart does) and checks the state — cash, positions, open orders, fills, mode and kill latch —
 * equals the state the backup replayed when it was taken (`manifest.state`).
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { Bot4Error } from '../operators/errors';
import { backupsToKeep, type RetentionPolicy, SPEC_RETENTION } from '../operators/backupRetention';
import { formatUnits } from '../operators/money';
import type { RecoveredSession } from '../operators/recoverSession';
import type * as RecoveryModule from './recovery';

export type BackupErrorCode =
  | 'BACKUP_NO_SESSION'
  | 'BACKUP_CORRUPT'
  | 'BACKUP_TARGET_NOT_EMPTY'
  | 'BACKUP_BAD_INPUT'
  | 'BACKUP_REPLAY_MISMATCH';

export class BackupError extends Bot4Error<BackupErrorCode> {
  constructor(code: BackupErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(code, 'backup', message, options);
  }
}

export interface ManifestFile {
  /** Path inside the backup: `session/<name>` or `config/<name>`. */
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface BackupManifest {
  readonly format: 'bot4-backup';
  readonly version: 1;
  readonly createdAt: string;
  /** The session directory backed up, as given. */
  readonly session: string;
  readonly files: readonly ManifestFile[];
  /**
   * The session's state replayed from the backed-up journal and audit (what a restart would
   * recover); absent when the session has no journal, `replayError` when it could not be replayed.
   */
  readonly state?: ReplayedState;
  readonly replayError?: string;
}

/** What a replay of the journals recovers, in the journal's decimal notation. */
export interface ReplayedState {
  readonly fills: number;
  readonly cash: string;
  readonly positions: Readonly<Record<string, string>>;
  readonly openOrders: readonly string[];
  readonly mode: string;
  readonly killLatched: boolean;
}

function replayedState(s: RecoveredSession): ReplayedState {
  return {
    fills: s.fills,
    cash: formatUnits(s.portfolio.cash),
    positions: Object.fromEntries(
      Object.entries(s.portfolio.positions)
        .filter(([, p]) => p.qty !== 0n)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([symbol, p]) => [symbol, formatUnits(p.qty)]),
    ),
    openOrders: Object.keys(s.openOrders).sort(),
    mode: s.mode,
    killLatched: s.killLatched,
  };
}

/**
 * Replays `journal.jsonl` and `audit.jsonl` of a directory as a restart would. The cash a
 * journal without a `start` portfolio began with is not known here: 0 is used, the same for the
 * backup and the restore, so the two replays still prove the copy.
 */
function replay(dir: string): ReplayedState | undefined {
  const journal = path.join(dir, 'journal.jsonl');
  try {
    statSync(journal);
  } catch {
    return undefined;
  }
  // Loaded here, not at the top: `run-pipeline --help` must not load rxjs (cliStartup test).
  const { recoverFromJournals } = require('./recovery') as typeof RecoveryModule;
  return replayedState(
    recoverFromJournals(journal, path.join(dir, 'audit.jsonl'), { initialCash: 0n, quote: 'USDT' }).state,
  );
}

/** One line for a replayed state, e.g. `3 fills, cash 9990.1 USDT-units, BTC/USDT 0.01, 0 open orders, mode Normal`. */
export function describeState(s: ReplayedState): string {
  const positions = Object.entries(s.positions);
  return `${s.fills} fills, cash ${s.cash}, positions ${positions.length ? positions.map(([k, v]) => `${k} ${v}`).join(', ') : 'none'}, ${s.openOrders.length} open order(s), mode ${s.mode}${s.killLatched ? ' (kill latch set)' : ''}`;
}

export interface BackupResult {
  readonly dir: string;
  readonly manifest: BackupManifest;
  /** Backups deleted by the retention rules. */
  readonly pruned: readonly string[];
}

/** Backup directory names: UTC time to the second, e.g. 20261202T170000Z. */
const NAME = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function nameOf(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

function timeOf(name: string): number | undefined {
  const m = NAME.exec(name);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : undefined;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Files of a session directory worth keeping (not locks, not temporary files). */
function sessionFiles(session: string): string[] {
  let names: string[];
  try {
    names = readdirSync(session);
  } catch (err) {
    throw new BackupError('BACKUP_NO_SESSION', `--session ${session}: cannot read it (${(err as Error).message})`, {
      cause: err,
    });
  }
  return names
    .filter((n) => !n.endsWith('.lock') && !n.endsWith('.tmp') && !n.startsWith('.'))
    .filter((n) => statSync(path.join(session, n)).isFile())
    .sort();
}

/** A file's content for the backup: journals (.jsonl) cut after their last complete line. */
function snapshot(file: string): Buffer {
  const data = readFileSync(file);
  if (!file.endsWith('.jsonl')) return data;
  const end = data.lastIndexOf(0x0a);
  return data.subarray(0, end + 1);
}

export interface BackupOptions {
  /** The session directory (`--out` of paper/live, or a backtest's out directory). */
  readonly session: string;
  /** Where backups are kept. */
  readonly to: string;
  /** Config files (and any file they name, e.g. models) to include. */
  readonly files?: readonly string[];
  /** The clock, ms; default Date.now. */
  readonly now?: number;
  /** Retention; default the spec's. */
  readonly retention?: RetentionPolicy;
}

/** Writes one backup, then applies the retention rules to `to`. */
export function runBackup(options: BackupOptions): BackupResult {
  const now = options.now ?? Date.now();
  const files = sessionFiles(options.session);
  if (files.length === 0)
    throw new BackupError('BACKUP_NO_SESSION', `--session ${options.session}: no files to back up`);
  mkdirSync(options.to, { recursive: true, mode: 0o700 });
  const name = nameOf(now);
  const final = path.join(options.to, name);
  const tmp = path.join(options.to, `.${name}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(path.join(tmp, 'session'), { recursive: true, mode: 0o700 });
  const manifestFiles: ManifestFile[] = [];
  const put = (inside: string, data: Buffer): void => {
    const target = path.join(tmp, inside);
    mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    writeFileSync(target, data, { mode: 0o600 });
    manifestFiles.push({ path: inside, bytes: data.length, sha256: sha256(data) });
  };
  for (const f of files) put(`session/${f}`, snapshot(path.join(options.session, f)));
  for (const f of options.files ?? []) {
    try {
      put(`config/${path.basename(f)}`, readFileSync(f));
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw new BackupError('BACKUP_BAD_INPUT', `--config ${f}: cannot read it (${(err as Error).message})`, {
        cause: err,
      });
    }
  }
  let replayed: { state?: ReplayedState; replayError?: string } = {};
  try {
    const state = replay(path.join(tmp, 'session'));
    if (state) replayed = { state };
  } catch (err) {
    replayed = { replayError: (err as Error).message };
  }
  const manifest: BackupManifest = {
    format: 'bot4-backup',
    version: 1,
    createdAt: new Date(now).toISOString(),
    session: options.session,
    files: manifestFiles,
    ...replayed,
  };
  writeFileSync(path.join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  chmodSync(final, 0o700);
  return { dir: final, manifest, pruned: pruneBackups(options.to, now, options.retention ?? SPEC_RETENTION) };
}

/** Deletes the backups the retention rules do not keep; returns their names. */
export function pruneBackups(to: string, now: number, retention: RetentionPolicy = SPEC_RETENTION): string[] {
  const backups = readdirSync(to)
    .map((name) => ({ name, time: timeOf(name) }))
    .filter((b): b is { name: string; time: number } => b.time !== undefined);
  const keep = backupsToKeep(
    backups.map((b) => b.time),
    now,
    retention,
  );
  const pruned = backups.filter((b) => !keep.has(b.time)).map((b) => b.name);
  for (const name of pruned) rmSync(path.join(to, name), { recursive: true, force: true });
  return pruned.sort();
}

/** Checks every file of a backup against its manifest; throws `BACKUP_CORRUPT` naming the first bad one. */
export function verifyBackup(dir: string): BackupManifest {
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as BackupManifest;
    if (manifest.format !== 'bot4-backup' || manifest.version !== 1 || !Array.isArray(manifest.files)) {
      throw new Error('not a bot4 backup manifest');
    }
  } catch (err) {
    throw new BackupError('BACKUP_CORRUPT', `${dir}: manifest.json unreadable (${(err as Error).message})`, {
      cause: err,
    });
  }
  for (const f of manifest.files) {
    if (f.path.includes('..') || path.isAbsolute(f.path)) {
      throw new BackupError('BACKUP_CORRUPT', `${dir}: manifest names a path outside the backup: ${f.path}`);
    }
    let data: Buffer;
    try {
      data = readFileSync(path.join(dir, f.path));
    } catch {
      throw new BackupError('BACKUP_CORRUPT', `${dir}: ${f.path} is missing`);
    }
    if (data.length !== f.bytes || sha256(data) !== f.sha256) {
      throw new BackupError(
        'BACKUP_CORRUPT',
        `${dir}: ${f.path} does not match the manifest (${data.length} bytes, expected ${f.bytes}; checksum ${sha256(data) === f.sha256 ? 'equal' : 'differs'}): refusing to restore from it`,
      );
    }
  }
  return manifest;
}

export interface RestoreResult {
  readonly manifest: BackupManifest;
  /** Files written into the target session directory. */
  readonly restored: readonly string[];
  /** The state the restored journals replay to (equal to `manifest.state`), when there is a journal. */
  readonly state?: ReplayedState;
}

/** Verifies a backup and copies its session (and config) into `to`, which must be empty or absent. */
export function runRestore(options: { readonly from: string; readonly to: string }): RestoreResult {
  const manifest = verifyBackup(options.from);
  let existing: string[] = [];
  try {
    existing = readdirSync(options.to);
  } catch {
    // absent: created below
  }
  if (existing.length > 0) {
    throw new BackupError(
      'BACKUP_TARGET_NOT_EMPTY',
      `--to ${options.to}: not empty (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', …' : ''}); restore into a new directory`,
    );
  }
  mkdirSync(options.to, { recursive: true, mode: 0o700 });
  const restored: string[] = [];
  for (const f of manifest.files) {
    const [area, ...rest] = f.path.split('/');
    const target = area === 'session' ? path.join(options.to, ...rest) : path.join(options.to, 'config', ...rest);
    mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    copyFileSync(path.join(options.from, f.path), target);
    chmodSync(target, 0o600);
    restored.push(path.relative(options.to, target));
  }
  // The proof: the restored journals replay to the state the backup recorded.
  if (!manifest.state) return { manifest, restored };
  let state: ReplayedState | undefined;
  try {
    state = replay(options.to);
  } catch (err) {
    throw new BackupError(
      'BACKUP_REPLAY_MISMATCH',
      `${options.to}: the restored journal does not replay (${(err as Error).message}); the backup recorded ${describeState(manifest.state)}`,
      { cause: err },
    );
  }
  if (!state || JSON.stringify(state) !== JSON.stringify(manifest.state)) {
    throw new BackupError(
      'BACKUP_REPLAY_MISMATCH',
      `${options.to}: the restored journal replays to ${state ? describeState(state) : 'nothing (no journal restored)'}, the backup recorded ${describeState(manifest.state)}`,
    );
  }
  return { manifest, restored, state };
}

/** Registers `backup` and `restore`. */
export function registerBackupCommands(program: Command): void {
  program
    .command('backup')
    .description('snapshot a session (journals, audit, state) and its config into a local backup, then apply retention')
    .requiredOption('--session <dir>', 'the session directory (the --out of paper/live or backtest)')
    .requiredOption('--to <dir>', 'where backups are kept (local disk only)')
    .option('-c, --config <file...>', 'config files (and models) to include')
    .action((opts: { session: string; to: string; config?: string[] }) => {
      const r = runBackup({ session: opts.session, to: opts.to, ...(opts.config ? { files: opts.config } : {}) });
      const bytes = r.manifest.files.reduce((s, f) => s + f.bytes, 0);
      process.stdout.write(
        `backup ${r.dir}: ${r.manifest.files.length} files, ${bytes} bytes, sha256 in manifest.json${r.pruned.length ? `; pruned ${r.pruned.join(', ')}` : ''}\n`,
      );
      if (r.manifest.state) process.stdout.write(`journal replays to ${describeState(r.manifest.state)}\n`);
      if (r.manifest.replayError)
        process.stderr.write(
          `warning: the journal could not be replayed (${r.manifest.replayError}); the files are backed up, but a restore cannot prove the state\n`,
        );
    });
  program
    .command('restore')
    .description('verify a backup against its checksums and restore its session into a new directory')
    .requiredOption('--from <dir>', 'one backup directory (<backups>/<UTC time>)')
    .requiredOption('--to <dir>', 'the session directory to create (must be empty or absent)')
    .action((opts: { from: string; to: string }) => {
      const r = runRestore({ from: opts.from, to: opts.to });
      process.stdout.write(
        `restored ${r.restored.length} files from ${opts.from} (taken ${r.manifest.createdAt}) into ${opts.to}\n`,
      );
      if (r.state)
        process.stdout.write(`replayed the restored journal: ${describeState(r.state)} — equal to the backup\n`);
    });
}
