/**
 * The keystore against real files and the real CLI: round trip, wrong passphrase, a tampered
 * file, a readable file refused, rotation and its warning, every access audited, and no command
 * ever printing a value.
 */
import { deepStrictEqual, equal, match, ok, throws } from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { loadCredentials } from '../../pipelines/keys';
import { Keystore, KeystoreError } from '../../sinks/keystore';
import { repoRoot } from '../support/sharedData';
import { tempDir } from '../support/tmp';

const PASS = 'correct horse battery staple';
const CLI = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');
const DAY = 86_400_000;

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    ok(err instanceof KeystoreError, String(err));
    return `${err.code}: ${err.message}`;
  }
  return 'no error';
}

describe('sinks/keystore', function () {
  this.timeout(120_000);
  const tmp = tempDir('bot4-keystore-');
  after(() => tmp.cleanup());
  let n = 0;
  const fresh = (now = () => 1_700_000_000_000) => {
    const file = path.join(tmp.dir, `ks-${n++}.json`);
    return { file, store: Keystore.create({ file, passphrase: PASS, scryptN: 1024, now }), now };
  };

  it('round trip: add, reopen with the passphrase, read; the file is 0600 and holds no value in clear', () => {
    const { file, store } = fresh();
    store.add('BOT4_API_KEY', 'key-123-abc');
    store.add('BOT4_API_SECRET', 's3cr3t/+=value');
    equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'utf8');
    ok(!text.includes('key-123-abc') && !text.includes('s3cr3t'));
    const again = Keystore.open({ file, passphrase: PASS });
    equal(again.get('BOT4_API_SECRET'), 's3cr3t/+=value');
    deepStrictEqual(
      again.list().map((e) => e.name),
      ['BOT4_API_KEY', 'BOT4_API_SECRET'],
    );
  });

  it('a wrong passphrase and a tampered file (data, tag or KDF parameters) are refused, and audited', () => {
    const { file, store } = fresh();
    store.add('BOT4_API_KEY', 'key-123-abc');
    match(
      code(() => Keystore.open({ file, passphrase: 'not the passphrase' })),
      /KEYSTORE_BAD_PASSPHRASE: .*wrong passphrase/,
    );
    const original = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> & { kdf: { N: number } };
    const data = Buffer.from(original['data'] as string, 'base64');
    data[0] = data[0]! ^ 1;
    for (const tampered of [
      { ...original, data: data.toString('base64') },
      { ...original, tag: Buffer.alloc(16).toString('base64') },
      { ...original, kdf: { ...original.kdf, N: 2048 } },
    ]) {
      writeFileSync(file, JSON.stringify(tampered), { mode: 0o600 });
      match(
        code(() => Keystore.open({ file, passphrase: PASS })),
        /KEYSTORE_BAD_PASSPHRASE: .*changed since it was written/,
      );
    }
    writeFileSync(file, '{ not json', { mode: 0o600 });
    match(
      code(() => Keystore.open({ file, passphrase: PASS })),
      /KEYSTORE_CORRUPT/,
    );
    const audit = readFileSync(`${file}.audit.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; ok: boolean });
    ok(audit.filter((a) => a.action === 'open' && !a.ok).length >= 5);
  });

  it('refuses a keystore group or others can read, naming the fix', () => {
    const { file } = fresh();
    chmodSync(file, 0o644);
    match(
      code(() => Keystore.open({ file, passphrase: PASS })),
      /KEYSTORE_PERMISSIONS: .*mode 644 .*chmod 600/,
    );
  });

  it('rotation: replaces the value, keeps createdAt, and an entry older than the rotation age is due', () => {
    let t = 1_700_000_000_000;
    const { file, store } = fresh(() => t);
    store.add('BOT4_API_KEY', 'old-value-1');
    t += 100 * DAY;
    deepStrictEqual(
      store.due(90).map((e) => e.name),
      ['BOT4_API_KEY'],
    );
    store.rotate('BOT4_API_KEY', 'new-value-2');
    deepStrictEqual(store.due(90), []);
    const e = Keystore.open({ file, passphrase: PASS, now: () => t }).list()[0]!;
    equal(e.createdAt, 1_700_000_000_000);
    equal(e.rotatedAt, t);
    match(
      code(() => store.rotate('BOT4_API_KEY', 'new-value-2')),
      /the new value is the old one/,
    );
    match(
      code(() => store.add('BOT4_API_KEY', 'x')),
      /KEYSTORE_EXISTS: .*keys rotate BOT4_API_KEY/,
    );
    store.remove('BOT4_API_KEY');
    match(
      code(() => store.get('BOT4_API_KEY')),
      /KEYSTORE_NO_ENTRY/,
    );
  });

  it('every access is audited with who and what, never a value', () => {
    const { file, store } = fresh();
    store.add('BOT4_API_KEY', 'value-never-logged');
    Keystore.open({ file, passphrase: PASS }).get('BOT4_API_KEY');
    const text = readFileSync(`${file}.audit.jsonl`, 'utf8');
    ok(!text.includes('value-never-logged'));
    deepStrictEqual(
      text
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { action: string }).action),
      ['create', 'add', 'open', 'read'],
    );
    equal(statSync(`${file}.audit.jsonl`).mode & 0o777, 0o600);
  });

  it('refuses a short passphrase, a bad entry name and a multi-line value', () => {
    throws(
      () => Keystore.create({ file: path.join(tmp.dir, 'short.json'), passphrase: 'short' }),
      /at least 12 characters/,
    );
    const { store } = fresh();
    match(
      code(() => store.add('bad name', 'v')),
      /entry name: expected letters/,
    );
    match(
      code(() => store.add('OK', 'two\nlines')),
      /non-empty one-line value/,
    );
  });

  it('property: any value round-trips exactly', () => {
    const { file, store } = fresh();
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 200 }).filter((v) => !/[\r\n]/.test(v)),
        (value) => {
          if (store.has('P')) store.remove('P');
          store.add('P', value);
          equal(Keystore.open({ file, passphrase: PASS }).get('P'), value);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('a session takes credentials from the environment first, else from the keystore, and warns when rotation is due', async () => {
    const { file, store } = fresh(() => Date.now() - 200 * DAY);
    store.add('BOT4_API_KEY', 'from-keystore');
    store.add('BOT4_API_SECRET', 'secret-from-keystore');
    const warnings: string[] = [];
    const creds = await loadCredentials({
      env: { BOT4_KEYSTORE: file, BOT4_KEYSTORE_PASSPHRASE: PASS, BOT4_API_KEY: 'from-env' },
      warn: (l) => warnings.push(l),
    });
    deepStrictEqual(creds, { BOT4_API_KEY: 'from-env', BOT4_API_SECRET: 'secret-from-keystore' });
    equal(warnings.length, 1);
    match(warnings[0]!, /BOT4_API_SECRET was last rotated .* over 90 days ago/);
    ok(!warnings[0]!.includes('secret-from-keystore'));
  });

  it('the CLI: add (value from stdin), list, rotate, remove; nothing it prints holds a value', () => {
    const file = path.join(tmp.dir, 'cli', 'keystore.json');
    const env = { ...process.env, BOT4_KEYSTORE: file, BOT4_KEYSTORE_PASSPHRASE: PASS };
    const run = (args: string[], input?: string) =>
      spawnSync(process.execPath, [CLI, 'keys', ...args], {
        env,
        input: input ?? '',
        encoding: 'utf8',
        timeout: 60_000,
      });
    const secrets = ['cli-secret-value-1', 'cli-secret-value-2'];
    const outputs: string[] = [];
    const step = (args: string[], input?: string, status = 0) => {
      const r = run(args, input);
      outputs.push(r.stdout, r.stderr);
      equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
      return r;
    };
    step(['add', 'BOT4_API_SECRET'], `${secrets[0]}\n`);
    equal(statSync(file).mode & 0o777, 0o600);
    match(step(['list']).stdout, /^BOT4_API_SECRET +set \d{4}-\d{2}-\d{2} \(0 days\)$/m);
    step(['rotate', 'BOT4_API_SECRET'], secrets[1]);
    equal(Keystore.open({ file, passphrase: PASS }).get('BOT4_API_SECRET'), secrets[1]);
    const wrong = spawnSync(process.execPath, [CLI, 'keys', 'list'], {
      env: { ...env, BOT4_KEYSTORE_PASSPHRASE: 'wrong passphrase!' },
      encoding: 'utf8',
    });
    equal(wrong.status, 1);
    match(wrong.stderr, /wrong passphrase/);
    step(['remove', 'BOT4_API_SECRET']);
    match(step(['list']).stdout, /no entries/);
    for (const s of secrets) ok(!outputs.join('\n').includes(s), 'a value was printed');
  });
});
