/**
 * The shipped systemd unit: systemd's own checker accepts it (and rejects a broken copy, so the
 * check can fail), every variable its command line uses is in the example environment file, and
 * every option it passes is one `run-pipeline` knows.
 */
import { equal, notEqual, ok } from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../support/sharedData';
import { tempDir } from '../support/tmp';

const UNIT = path.join(repoRoot, 'config', 'systemd', 'bot4.service');
const ENV = path.join(repoRoot, 'config', 'systemd', 'bot4.env.example');

function verify(file: string): { status: number | null; out: string } {
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  if (r.error) throw new Error(`systemd-analyze is needed for this test (apt-get install systemd): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

describe('config/systemd/bot4.service', () => {
  const tmp = tempDir('bot4-unit-');
  after(() => tmp.cleanup());
  const unit = readFileSync(UNIT, 'utf8');

  it('passes systemd-analyze verify with nothing to say, as do the hourly backup service and timer', () => {
    for (const file of [
      UNIT,
      path.join(path.dirname(UNIT), 'bot4-backup.service'),
      path.join(path.dirname(UNIT), 'bot4-backup.timer'),
    ]) {
      const r = verify(file);
      equal(r.status, 0, r.out);
      equal(r.out, '', `${file}: ${r.out}`);
    }
  });

  it('a broken copy (bad restart value, misspelt key) makes systemd-analyze complain', () => {
    const bad = path.join(tmp.dir, 'bot4.service');
    writeFileSync(bad, unit.replace('Restart=on-failure', 'Restart=sometimes').replace('KillMode=', 'KilMode='));
    const r = verify(bad);
    notEqual(r.out, '');
  });

  it('restarts on failure, stops gracefully with SIGTERM, logs to journald, has the watchdog and reads keys from an env file', () => {
    for (const line of [
      'Restart=on-failure',
      'KillSignal=SIGTERM',
      'StandardOutput=journal',
      'EnvironmentFile=/etc/bot4/bot4.env',
      'SupplementaryGroups=gpio',
    ]) {
      ok(unit.split('\n').includes(line), `missing ${line}`);
    }
    ok(/^Environment=BOT4_WATCHDOG_MS=\d+$/m.test(unit));
  });

  it('every variable of its command line is in the example env file, and every option is one run-pipeline knows', () => {
    const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
    const vars = [...exec.matchAll(/\$\{?(\w+)\}?/g)].map((m) => m[1]!);
    const env = readFileSync(ENV, 'utf8');
    for (const v of vars) ok(new RegExp(`^${v}=`, 'm').test(env), `${v} not in ${path.basename(ENV)}`);
    const help = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'pipelines', 'cli.js'), 'paper', '--help'], {
      encoding: 'utf8',
    }).stdout;
    for (const option of exec.match(/--[a-z-]+/g) ?? [])
      ok(help.includes(option), `run-pipeline paper has no ${option}`);
  });
});
