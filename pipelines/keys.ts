/**
 * `run-pipeline keys add|list|rotate|remove`: the encrypted keystore (`sinks/keystore.ts`) from
 * the command line, and the keys a session reads from it. Values are read from standard input
 * (piped, or typed with echo off), never from arguments (which `ps` shows), and never printed.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import { Keystore, KeystoreError } from '../sinks/keystore';

/** Environment variables a session takes its exchange credentials from, and the keystore's entry names. */
export const CREDENTIAL_NAMES = ['BOT4_API_KEY', 'BOT4_API_SECRET', 'BOT4_API_PASSWORD'] as const;

export const DEFAULT_MAX_AGE_DAYS = 90;

export function defaultKeystorePath(env: NodeJS.ProcessEnv = process.env): string {
  return env['BOT4_KEYSTORE'] ?? path.join(homedir(), '.bot4', 'keystore.json');
}

export interface PassphraseSource {
  readonly env?: NodeJS.ProcessEnv;
  readonly passphraseFile?: string;
}

/** The passphrase: a file (first line), else BOT4_KEYSTORE_PASSPHRASE, else typed on the terminal. */
export async function readPassphrase(source: PassphraseSource, prompt: string): Promise<string> {
  if (source.passphraseFile !== undefined) return readFileSync(source.passphraseFile, 'utf8').split(/\r?\n/)[0] ?? '';
  const fromEnv = (source.env ?? process.env)['BOT4_KEYSTORE_PASSPHRASE'];
  if (fromEnv !== undefined) return fromEnv;
  if (!process.stdin.isTTY) {
    throw new KeystoreError(
      'KEYSTORE_BAD_INPUT',
      'keystore passphrase: no terminal to ask on; set BOT4_KEYSTORE_PASSPHRASE or pass --passphrase-file',
    );
  }
  return readHidden(prompt);
}

/** A secret value: standard input when piped, else typed with echo off. */
async function readValue(name: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  return readHidden(`value for ${name} (not shown): `);
}

function readHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const done = (err?: Error): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (data: Buffer): void => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          return;
        }
        if (ch === '\u0003') {
          done(new Error('interrupted'));
          return;
        }
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/**
 * The credentials for a session: each from its environment variable when set (that source
 * stays supported), else from the keystore when one is configured (BOT4_KEYSTORE or --keystore).
 * Warns (through `warn`) about keys due for rotation; never returns or logs anything else.
 */
export async function loadCredentials(options: {
  readonly env?: NodeJS.ProcessEnv;
  readonly keystore?: string;
  readonly passphraseFile?: string;
  readonly maxAgeDays?: number;
  readonly warn?: (line: string) => void;
}): Promise<Partial<Record<(typeof CREDENTIAL_NAMES)[number], string>>> {
  const env = options.env ?? process.env;
  const out: Partial<Record<(typeof CREDENTIAL_NAMES)[number], string>> = {};
  const missing = CREDENTIAL_NAMES.filter((name) => {
    const v = env[name];
    if (v) out[name] = v;
    return !v;
  });
  const file = options.keystore ?? env['BOT4_KEYSTORE'];
  if (file === undefined || missing.length === 0) return out;
  const store = Keystore.open({
    file,
    passphrase: await readPassphrase(
      { env, ...(options.passphraseFile !== undefined ? { passphraseFile: options.passphraseFile } : {}) },
      `passphrase for ${file}: `,
    ),
  });
  for (const name of missing) if (store.has(name)) out[name] = store.get(name);
  const maxAge = options.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS;
  for (const e of store.due(maxAge)) {
    if (missing.includes(e.name as (typeof CREDENTIAL_NAMES)[number])) {
      options.warn?.(
        `keystore: ${e.name} was last rotated ${new Date(e.rotatedAt).toISOString().slice(0, 10)}, over ${maxAge} days ago — rotate it at the exchange, then run-pipeline keys rotate ${e.name}`,
      );
    }
  }
  return out;
}

/** Registers `keys` and its subcommands. */
export function registerKeysCommand(program: Command): void {
  const keys = program
    .command('keys')
    .description('the encrypted local keystore for API keys: add, list, rotate, remove (values never printed)');
  const common = (c: Command): Command =>
    c
      .option('--keystore <file>', 'keystore file (default: $BOT4_KEYSTORE, else ~/.bot4/keystore.json)')
      .option(
        '--passphrase-file <file>',
        'read the passphrase from this file (else $BOT4_KEYSTORE_PASSPHRASE, else asked)',
      );
  type Opts = { keystore?: string; passphraseFile?: string; maxAgeDays?: string };
  const open = async (opts: Opts, create: boolean): Promise<Keystore> => {
    const file = opts.keystore ?? defaultKeystorePath();
    const source = { ...(opts.passphraseFile !== undefined ? { passphraseFile: opts.passphraseFile } : {}) };
    const passphrase = await readPassphrase(source, `passphrase for ${file}: `);
    try {
      return Keystore.open({ file, passphrase });
    } catch (err) {
      if (!(create && err instanceof KeystoreError && err.code === 'KEYSTORE_NOT_FOUND')) throw err;
      const { mkdirSync } = await import('node:fs');
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      process.stderr.write(`creating keystore ${file} (mode 0600)\n`);
      return Keystore.create({ file, passphrase });
    }
  };

  common(
    keys.command('add <name>').description('add an entry; its value is read from standard input (or typed, not shown)'),
  ).action(async (name: string, opts: Opts) => {
    const store = await open(opts, true);
    store.add(name, await readValue(name));
    process.stdout.write(`added ${name}\n`);
  });
  common(keys.command('list').description('entry names with their age (never values); flags the ones due for rotation'))
    .option('--max-age-days <n>', 'rotation age', String(DEFAULT_MAX_AGE_DAYS))
    .action(async (opts: Opts) => {
      const store = await open(opts, false);
      const maxAge = Number(opts.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS);
      const due = new Set(store.due(maxAge).map((e) => e.name));
      const rows = store.list();
      if (rows.length === 0) process.stdout.write('no entries\n');
      for (const e of rows) {
        const age = Math.floor((Date.now() - e.rotatedAt) / 86_400_000);
        process.stdout.write(
          `${e.name.padEnd(24)} set ${new Date(e.rotatedAt).toISOString().slice(0, 10)} (${age} days)${due.has(e.name) ? `  ROTATE: older than ${maxAge} days` : ''}\n`,
        );
      }
    });
  common(keys.command('rotate <name>').description('replace an entry’s value (read from standard input)')).action(
    async (name: string, opts: Opts) => {
      const store = await open(opts, false);
      store.rotate(name, await readValue(name));
      process.stdout.write(`rotated ${name}\n`);
    },
  );
  common(keys.command('remove <name>').description('remove an entry')).action(async (name: string, opts: Opts) => {
    const store = await open(opts, false);
    store.remove(name);
    process.stdout.write(`removed ${name}\n`);
  });
}
