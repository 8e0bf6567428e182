/**
 * A local, encrypted keystore for exchange API keys (spec §13.2: a local vault, no remote
 * servers, rotation, access control). One file:
 *
 * ```json
 * { "format": "bot4-keystore", "version": 1,
 *   "kdf": { "name": "scrypt", "N": 32768, "r": 8, "p": 1, "salt": "<base64>" },
 *   "cipher": "aes-256-gcm", "iv": "<base64>", "tag": "<base64>", "data": "<base64>" }
 * ```
 *
 * `data` is the AES-256-GCM encryption of `{"entries": {name: {value, createdAt, rotatedAt}}}`
 * under a key derived with scrypt from a passphrase; the header is authenticated too (GCM's
 * additional data), so a changed KDF parameter or a flipped byte anywhere is detected. The file is
 * written 0600 through a temporary file and a rename (a crash never leaves half a keystore), and
 * a keystore that group or others can read is refused, as ssh refuses a readable private key.
 * Every access — open, read of a value, add, rotate, remove, a wrong passphrase — is appended to
 * `<file>.audit.jsonl` (0600): who (pid, user), what, which entry, never a value.
 */
import { appendFileSync, closeSync, fsyncSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import * as path from 'node:path';
import { Bot4Error } from '../operators/errors';
import { deriveKey, newScryptParams, type ScryptParams, seal, unseal } from './sealedBox';

export type KeystoreErrorCode =
  | 'KEYSTORE_NOT_FOUND'
  | 'KEYSTORE_PERMISSIONS'
  | 'KEYSTORE_CORRUPT'
  | 'KEYSTORE_BAD_PASSPHRASE'
  | 'KEYSTORE_NO_ENTRY'
  | 'KEYSTORE_EXISTS'
  | 'KEYSTORE_BAD_INPUT';

export class KeystoreError extends Bot4Error<KeystoreErrorCode> {
  constructor(code: KeystoreErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(code, 'secrets', message, options);
  }
}

export interface KeyEntryInfo {
  readonly name: string;
  /** When the entry was added, ms since the epoch. */
  readonly createdAt: number;
  /** When its value was last set (added or rotated), ms since the epoch. */
  readonly rotatedAt: number;
}

interface Entry {
  readonly value: string;
  readonly createdAt: number;
  readonly rotatedAt: number;
}

interface Header {
  readonly format: 'bot4-keystore';
  readonly version: 1;
  readonly kdf: ScryptParams;
  readonly cipher: 'aes-256-gcm';
}

interface StoredFile extends Header {
  readonly iv: string;
  readonly tag: string;
  readonly data: string;
}

export interface KeystoreOptions {
  /** The keystore file. */
  readonly file: string;
  /** The passphrase the key is derived from. */
  readonly passphrase: string;
  /** The clock for createdAt/rotatedAt and the audit, ms; default Date.now. */
  readonly now?: () => number;
  /** scrypt cost N (power of two); default 32768. Lower only in tests. */
  readonly scryptN?: number;
}

/** Entry names: letters, digits, `_`, `-`, `.` (e.g. BOT4_API_KEY, binance.secret). */
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The keystore opened with its passphrase: values are decrypted only when asked for. */
export class Keystore {
  private constructor(
    private readonly options: KeystoreOptions,
    private readonly header: Header,
    private entries: Record<string, Entry>,
  ) {}

  /** Creates an empty keystore; refuses to overwrite an existing file. */
  static create(options: KeystoreOptions): Keystore {
    if (exists(options.file)) {
      throw new KeystoreError(
        'KEYSTORE_EXISTS',
        `${options.file}: a keystore is already there (use it, or remove the file)`,
      );
    }
    checkPassphrase(options.passphrase);
    const header: Header = {
      format: 'bot4-keystore',
      version: 1,
      kdf: newScryptParams(options.scryptN),
      cipher: 'aes-256-gcm',
    };
    const store = new Keystore(options, header, {});
    store.save();
    store.audit('create', null, true);
    return store;
  }

  /** Opens an existing keystore: checks its permissions, authenticates and decrypts it. */
  static open(options: KeystoreOptions): Keystore {
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(options.file);
    } catch (err) {
      throw new KeystoreError(
        'KEYSTORE_NOT_FOUND',
        `${options.file}: no keystore (create one with run-pipeline keys add)`,
        {
          cause: err,
        },
      );
    }
    if ((stat.mode & 0o077) !== 0) {
      throw new KeystoreError(
        'KEYSTORE_PERMISSIONS',
        `${options.file}: mode ${(stat.mode & 0o777).toString(8)} lets others read it; run chmod 600 ${options.file}`,
      );
    }
    let stored: StoredFile;
    try {
      stored = JSON.parse(readFileSync(options.file, 'utf8')) as StoredFile;
      if (stored.format !== 'bot4-keystore' || stored.version !== 1 || stored.cipher !== 'aes-256-gcm')
        throw new Error('not a bot4 keystore');
      if (stored.kdf?.name !== 'scrypt' || ![stored.kdf.N, stored.kdf.r, stored.kdf.p].every(Number.isInteger))
        throw new Error('bad KDF parameters');
    } catch (err) {
      auditTo(options, 'open', null, false, 'corrupt');
      throw new KeystoreError('KEYSTORE_CORRUPT', `${options.file}: not a readable bot4 keystore (${messageOf(err)})`, {
        cause: err,
      });
    }
    const header: Header = { format: stored.format, version: stored.version, kdf: stored.kdf, cipher: stored.cipher };
    let plain: string;
    try {
      plain = unseal(deriveKey(options.passphrase, header.kdf), header, stored);
    } catch (err) {
      auditTo(options, 'open', null, false, 'authentication failed');
      throw new KeystoreError(
        'KEYSTORE_BAD_PASSPHRASE',
        `${options.file}: wrong passphrase, or the file was changed since it was written (authentication failed)`,
        { cause: err },
      );
    }
    const store = new Keystore(options, header, (JSON.parse(plain) as { entries: Record<string, Entry> }).entries);
    store.audit('open', null, true);
    return store;
  }

  /** Names and ages, never values. */
  list(): KeyEntryInfo[] {
    return Object.entries(this.entries)
      .map(([name, e]) => ({ name, createdAt: e.createdAt, rotatedAt: e.rotatedAt }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  has(name: string): boolean {
    return Object.hasOwn(this.entries, name);
  }

  /** The value of `name` (audited). */
  get(name: string): string {
    const entry = this.entries[name];
    if (!entry || !this.has(name)) {
      this.audit('read', name, false);
      throw new KeystoreError('KEYSTORE_NO_ENTRY', `${this.options.file}: no entry "${name}"`);
    }
    this.audit('read', name, true);
    return entry.value;
  }

  /** Adds a new entry; refuses an existing name (rotate it instead). */
  add(name: string, value: string): void {
    checkEntry(name, value);
    if (this.has(name))
      throw new KeystoreError('KEYSTORE_EXISTS', `entry "${name}" exists: use run-pipeline keys rotate ${name}`);
    const now = this.now();
    this.entries = { ...this.entries, [name]: { value, createdAt: now, rotatedAt: now } };
    this.save();
    this.audit('add', name, true);
  }

  /** Replaces the value of an existing entry. */
  rotate(name: string, value: string): void {
    checkEntry(name, value);
    const entry = this.entries[name];
    if (!entry || !this.has(name))
      throw new KeystoreError('KEYSTORE_NO_ENTRY', `no entry "${name}" to rotate (add it first)`);
    if (entry.value === value)
      throw new KeystoreError('KEYSTORE_BAD_INPUT', `rotate ${name}: the new value is the old one`);
    this.entries = { ...this.entries, [name]: { ...entry, value, rotatedAt: this.now() } };
    this.save();
    this.audit('rotate', name, true);
  }

  remove(name: string): void {
    if (!this.has(name)) throw new KeystoreError('KEYSTORE_NO_ENTRY', `no entry "${name}" to remove`);
    const { [name]: _removed, ...rest } = this.entries;
    this.entries = rest;
    this.save();
    this.audit('remove', name, true);
  }

  /** Entries whose value is older than `maxAgeDays` (rotation due). */
  due(maxAgeDays: number): KeyEntryInfo[] {
    const limit = this.now() - maxAgeDays * 86_400_000;
    return this.list().filter((e) => e.rotatedAt < limit);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private audit(action: string, name: string | null, ok: boolean): void {
    auditTo(this.options, action, name, ok);
  }

  /** Encrypts with a fresh IV and replaces the file atomically, 0600. */
  private save(): void {
    const stored: StoredFile = {
      ...this.header,
      ...seal(
        deriveKey(this.options.passphrase, this.header.kdf),
        this.header,
        JSON.stringify({ entries: this.entries }),
      ),
    };
    const tmp = path.join(path.dirname(this.options.file), `.${path.basename(this.options.file)}.${process.pid}.tmp`);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(stored, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.options.file);
  }
}

function auditTo(options: KeystoreOptions, action: string, name: string | null, ok: boolean, reason?: string): void {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // a container without a passwd entry: the pid still says who
  }
  const line = JSON.stringify({
    ts: new Date((options.now ?? Date.now)()).toISOString(),
    kind: 'keystore-access',
    action,
    ...(name !== null ? { name } : {}),
    ok,
    ...(reason ? { reason } : {}),
    pid: process.pid,
    user,
  });
  appendFileSync(`${options.file}.audit.jsonl`, `${line}\n`, { mode: 0o600 });
}

function checkPassphrase(passphrase: string): void {
  if (passphrase.length < 12) {
    throw new KeystoreError(
      'KEYSTORE_BAD_INPUT',
      `keystore passphrase: expected at least 12 characters, found ${passphrase.length}`,
    );
  }
}

function checkEntry(name: string, value: string): void {
  if (!NAME.test(name)) {
    throw new KeystoreError(
      'KEYSTORE_BAD_INPUT',
      `entry name: expected letters, digits, _ - . (1–64), found ${JSON.stringify(name)}`,
    );
  }
  if (value.length === 0 || /[\r\n]/.test(value)) {
    throw new KeystoreError('KEYSTORE_BAD_INPUT', `entry ${name}: expected a non-empty one-line value`);
  }
}

function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
