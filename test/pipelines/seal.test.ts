/**
 * Sealed live configs: round trip, the cooldown, tampering (data, the activation time), a wrong
 * key, and the CLI: seal validates first, live refuses an unsealed config.
 */
import { deepStrictEqual, equal, match, ok, throws } from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildCli } from '../../pipelines/cli';
import { loadConfig } from '../../pipelines/config';
import { sealConfigText, unsealConfigFile } from '../../pipelines/seal';
import { repoRoot } from '../support/sharedData';
import { tempDir } from '../support/tmp';

const KEY = 'a long seal passphrase';
const CLI = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');
const H = 3_600_000;

describe('sealed configs (spec §3.6)', function () {
  this.timeout(120_000);
  const tmp = tempDir('bot4-seal-');
  after(() => tmp.cleanup());
  const clear = path.join(tmp.dir, 'survival.yaml');
  before(() => copyFileSync(path.join(repoRoot, 'config', 'survival.yaml'), clear));
  const sealAt = (now: number, cooldownMs = 24 * H, out = `${clear}.sealed`) =>
    sealConfigText({
      text: readFileSync(clear, 'utf8'),
      configFile: clear,
      out,
      key: KEY,
      now,
      cooldownMs,
      scryptN: 1024,
    });

  it('round trip: the unsealed config is the clear one, once the cooldown has passed; the file is 0600, not readable', () => {
    const t0 = Date.UTC(2026, 11, 1, 12);
    const header = sealAt(t0);
    equal(header.activeFrom, '2026-12-02T12:00:00.000Z');
    const file = `${clear}.sealed`;
    equal(statSync(file).mode & 0o777, 0o600);
    ok(!readFileSync(file, 'utf8').includes('kellyFraction'), 'the clear text is not in the sealed file');
    const { text } = unsealConfigFile(file, KEY, t0 + 24 * H);
    equal(text, readFileSync(clear, 'utf8'));
    throws(
      () => unsealConfigFile(file, KEY, t0 + 23 * H),
      /sealed at 2026-12-01T12:00:00\.000Z; it takes effect at 2026-12-02T12:00:00\.000Z \(cooldown\)/,
    );
  });

  it('refuses a tampered file (data, or an activation moved earlier) and a wrong key', () => {
    const file = path.join(tmp.dir, 'tamper.sealed');
    sealAt(0, 24 * H, file);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    writeFileSync(file, JSON.stringify({ ...stored, activeFrom: new Date(0).toISOString() }));
    throws(() => unsealConfigFile(file, KEY, 1), /the seal is broken/);
    const data = Buffer.from(stored['data']!, 'base64');
    data[3] = data[3]! ^ 1;
    writeFileSync(file, JSON.stringify({ ...stored, data: data.toString('base64') }));
    throws(() => unsealConfigFile(file, KEY, 25 * H), /the seal is broken/);
    writeFileSync(file, JSON.stringify(stored));
    throws(() => unsealConfigFile(file, 'another long passphrase', 25 * H), /not the key it was sealed with/);
    equal(unsealConfigFile(file, KEY, 25 * H).text.length > 0, true);
  });

  it('every seal is audited with the previous and new checksums', () => {
    const out = path.join(tmp.dir, 'audited.sealed');
    const first = sealAt(0, 0, out);
    const second = sealAt(H, 0, out);
    const lines = readFileSync(`${out}.audit.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { previous: string | null; sha256: string });
    equal(lines.length, 2);
    equal(lines[0]!.previous, null);
    equal(lines[1]!.previous, first.sha256);
    equal(lines[1]!.sha256, second.sha256);
  });

  it('loadConfig reads a sealed config with BOT4_SEAL_KEY as its clear self (same config hash)', () => {
    const out = path.join(tmp.dir, 'load.yaml.sealed');
    sealConfigText({
      text: readFileSync(clear, 'utf8'),
      configFile: clear,
      out,
      key: KEY,
      now: Date.now() - H,
      cooldownMs: 0,
      scryptN: 1024,
    });
    const before = process.env['BOT4_SEAL_KEY'];
    process.env['BOT4_SEAL_KEY'] = KEY;
    try {
      deepStrictEqual(loadConfig(out), loadConfig(clear));
    } finally {
      if (before === undefined) delete process.env['BOT4_SEAL_KEY'];
      else process.env['BOT4_SEAL_KEY'] = before;
    }
  });

  it('the CLI: seal validates first and needs the key; live refuses an unsealed config unless --allow-unsealed', () => {
    const env = { ...process.env, BOT4_SEAL_KEY: KEY };
    const broken = path.join(tmp.dir, 'broken.yaml');
    writeFileSync(broken, 'name: x\n');
    const bad = spawnSync(process.execPath, [CLI, 'seal', broken], { env, encoding: 'utf8' });
    equal(bad.status, 1);
    match(bad.stderr, /broken\.yaml/);
    const noKey = spawnSync(process.execPath, [CLI, 'seal', clear], {
      env: { ...process.env, BOT4_SEAL_KEY: '' },
      encoding: 'utf8',
    });
    equal(noKey.status, 1);
    match(noKey.stderr, /BOT4_SEAL_KEY: expected a passphrase of at least 12 characters/);
    const good = spawnSync(
      process.execPath,
      [CLI, 'seal', clear, '--out', path.join(tmp.dir, 'cli.sealed'), '--cooldown', '2h'],
      {
        env,
        encoding: 'utf8',
      },
    );
    equal(good.status, 0, good.stderr);
    match(good.stdout, /sealed .* → .*cli\.sealed \(sha256 [0-9a-f]{16}…\); in force from \d{4}-/);
    const live = spawnSync(process.execPath, [CLI, 'live', '--config', clear, '--confirm-live'], {
      env,
      encoding: 'utf8',
    });
    equal(live.status, 1);
    match(live.stderr, /live sessions run sealed configs only — seal it with `run-pipeline seal/);
  });

  it('no command places or closes an order by hand', () => {
    const names = buildCli()
      .commands.map((c) => c.name())
      .sort();
    for (const n of names)
      ok(!/order|buy|sell|close|flatten|trade$/.test(n), `command "${n}" looks like a manual order`);
  });
});
