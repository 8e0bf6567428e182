/**
 * An exclusive lock held by one process, as a file: at most one session writes a journal folder,
 * and at most one session trades an exchange account, at a time.
 *
 * The lock file is created complete or not at all (written to a private temporary file, then
 * hard-linked to the lock's name, which fails if the name exists), and names its holder: pid,
 * host, what it is for and since when. A lock whose holder process no longer exists on this host
 * (it crashed, or was killed with `kill -9`) is stale and taken over at once — no timeout to wait
 * out after a crash. A lock held by a live process, or by another host (which this host cannot
 * check), is refused with a message naming the holder.
 *
 * Why not proper-lockfile: its staleness is an mtime older than `stale` (≥ 2 s, refreshed by a
 * timer), so a restart after `kill -9` must wait that long, and a process stalled longer than
 * `stale` loses its lock while it still runs; a pid check is exact on one host.
 */
import { hostname } from 'node:os';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Bot4Error } from '../operators/errors';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** What the lock guards, for the message a second process gets (`session journal out/x`). */
  readonly purpose: string;
  /** When it was taken, ms since the epoch. */
  readonly since: number;
}

export class LockError extends Bot4Error<'LOCKED' | 'LOCK_FAILED'> {
  constructor(
    code: 'LOCKED' | 'LOCK_FAILED',
    message: string,
    readonly holder?: LockHolder,
  ) {
    super(code, 'lock', message);
  }
}

export interface HeldLock {
  readonly file: string;
  /** Whether a stale lock of a dead process was taken over (the previous holder crashed). */
  readonly tookOverFrom?: LockHolder;
  /** Removes the lock file if it is still this process's. Idempotent. */
  release(): void;
}

/**
 * Takes the lock `file` for this process, or throws a {@link LockError} `LOCKED` naming the live
 * holder. `now` stamps `since` (the caller's clock).
 */
export function acquireLock(file: string, purpose: string, now: number): HeldLock {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const me: LockHolder = { pid: process.pid, host: hostname(), purpose, since: now };
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(temp, `${JSON.stringify(me)}\n`, { flag: 'wx' });
  let tookOverFrom: LockHolder | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(temp, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new LockError('LOCK_FAILED', `cannot create the lock ${file}: ${(err as Error).message}`);
        }
      }
      const holder = readHolder(file);
      if (holder && holder.host !== me.host) {
        throw new LockError(
          'LOCKED',
          `${holder.purpose} is locked by pid ${holder.pid} on host ${holder.host} since ${new Date(holder.since).toISOString()} (${file}); this host cannot check that process: stop it, or remove the lock file if it is gone`,
          holder,
        );
      }
      const live = holder && (holder.pid === process.pid ? heldHere.has(path.resolve(file)) : alive(holder.pid));
      if (holder && live) {
        throw new LockError(
          'LOCKED',
          `${holder.purpose} is in use by another session (pid ${holder.pid}, since ${new Date(holder.since).toISOString()}): stop it first (lock ${file})`,
          holder,
        );
      }
      if (attempt >= 3) throw new LockError('LOCK_FAILED', `cannot take the lock ${file}: it keeps changing`);
      // Stale (its process is gone), ours from an earlier run with a reused pid, or unreadable.
      if (holder) tookOverFrom = holder;
      try {
        unlinkSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  } finally {
    unlinkSync(temp);
  }
  heldHere.add(path.resolve(file));
  let released = false;
  return {
    file,
    ...(tookOverFrom ? { tookOverFrom } : {}),
    release: () => {
      if (released) return;
      released = true;
      heldHere.delete(path.resolve(file));
      const holder = readHolder(file);
      if (holder && holder.pid === me.pid && holder.since === me.since && holder.host === me.host) {
        try {
          unlinkSync(file);
        } catch {
          // already gone
        }
      }
    },
  };
}

/** Locks this process holds now: a lock file naming this pid but not in here is a dead process's whose pid was reused. */
const heldHere = new Set<string>();

/** The holder a lock file names, or undefined when it is missing or unreadable. */
export function readHolder(file: string): LockHolder | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    if (typeof value.pid !== 'number' || typeof value.host !== 'string') return undefined;
    return {
      pid: value.pid,
      host: value.host,
      purpose: typeof value.purpose === 'string' ? value.purpose : file,
      since: typeof value.since === 'number' ? value.since : 0,
    };
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
