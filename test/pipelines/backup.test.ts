/**
 * Backups against real files and the real CLI: a backup restores byte for byte, a corrupted
 * backup is refused naming the file, a torn journal line is not backed up, a non-empty target is
 * refused, and retention prunes old backups.
 */
import { deepStrictEqual, equal, match, ok } from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BackupError, runBackup, runRestore, verifyBackup } from '../../pipelines/backup';
import { repoRoot } from '../support/sharedData';
import { tempDir } from '../support/tmp';

const CLI = path.join(repoRoot, 'dist', 'pipelines', 'cli.js');
const HOUR = 3_600_000;

function errorOf(fn: () => unknown): BackupError {
  try {
    fn();
  } catch (err) {
    ok(err instanceof BackupError, String(err));
    return err;
  }
  throw new Error('no error');
}

describe('run-pipeline backup / restore', function () {
  this.timeout(60_000);
  const tmp = tempDir('bot4-backup-');
  after(() => tmp.cleanup());
  let n = 0;
  const session = () => {
    const dir = path.join(tmp.dir, `session-${n++}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'journal.jsonl'), '{"kind":"run-started"}\n{"kind":"fill","qty":"0.01"}\n');
    writeFileSync(path.join(dir, 'audit.jsonl'), '{"kind":"session-started"}\n');
    writeFileSync(path.join(dir, 'session.lock'), `${process.pid}\n`);
    return dir;
  };

  it('backs up the session and config, restores them byte for byte, private to the owner', () => {
    const s = session();
    const to = path.join(tmp.dir, 'backups-a');
    const r = runBackup({
      session: s,
      to,
      files: [path.join(repoRoot, 'config', 'growth.yaml')],
      now: Date.UTC(2026, 0, 1, 10),
    });
    equal(path.basename(r.dir), '20260101T100000Z');
    deepStrictEqual(
      r.manifest.files.map((f) => f.path),
      ['session/audit.jsonl', 'session/journal.jsonl', 'config/growth.yaml'],
    );
    equal(statSync(r.dir).mode & 0o777, 0o700);
    const target = path.join(tmp.dir, 'restored-a');
    const restored = runRestore({ from: r.dir, to: target });
    deepStrictEqual([...restored.restored].sort(), ['audit.jsonl', 'config/growth.yaml', 'journal.jsonl']);
    equal(
      readFileSync(path.join(target, 'journal.jsonl'), 'utf8'),
      readFileSync(path.join(s, 'journal.jsonl'), 'utf8'),
    );
    equal(statSync(path.join(target, 'journal.jsonl')).mode & 0o777, 0o600);
  });

  it('a journal being written is cut at its last complete line (a torn line is not backed up)', () => {
    const s = session();
    appendFileSync(path.join(s, 'journal.jsonl'), '{"kind":"fill","qt');
    const r = runBackup({ session: s, to: path.join(tmp.dir, 'backups-b'), now: Date.UTC(2026, 0, 1, 10) });
    const copy = readFileSync(path.join(r.dir, 'session', 'journal.jsonl'), 'utf8');
    ok(copy.endsWith('"qty":"0.01"}\n'));
  });

  it('a corrupted backup (a flipped byte, a missing file, a broken manifest) is refused, naming what is wrong', () => {
    const s = session();
    const to = path.join(tmp.dir, 'backups-c');
    const one = runBackup({ session: s, to, now: Date.UTC(2026, 0, 1, 10) });
    const journal = path.join(one.dir, 'session', 'journal.jsonl');
    const bytes = readFileSync(journal);
    bytes[5] = bytes[5]! ^ 0x20;
    writeFileSync(journal, bytes);
    const e = errorOf(() => runRestore({ from: one.dir, to: path.join(tmp.dir, 'never') }));
    equal(e.code, 'BACKUP_CORRUPT');
    match(e.message, /session\/journal\.jsonl does not match the manifest .*checksum differs.*refusing/);
    ok(!readdirSync(tmp.dir).includes('never'), 'nothing restored from a corrupt backup');
    writeFileSync(path.join(one.dir, 'manifest.json'), '{');
    match(errorOf(() => verifyBackup(one.dir)).message, /manifest\.json unreadable/);
  });

  it('refuses to restore over a directory that is not empty', () => {
    const s = session();
    const r = runBackup({ session: s, to: path.join(tmp.dir, 'backups-d'), now: Date.UTC(2026, 0, 1, 10) });
    const e = errorOf(() => runRestore({ from: r.dir, to: s }));
    equal(e.code, 'BACKUP_TARGET_NOT_EMPTY');
    match(e.message, /not empty \(audit\.jsonl, journal\.jsonl, session\.lock\)/);
  });

  it('applies retention after each backup: 30 hourly backups keep the last 24 hours, the oldest pruned one by one', () => {
    const s = session();
    const to = path.join(tmp.dir, 'backups-e');
    const start = Date.UTC(2026, 0, 1, 0);
    let pruned: readonly string[] = [];
    for (let h = 0; h < 30; h++) pruned = runBackup({ session: s, to, now: start + h * HOUR }).pruned;
    const left = readdirSync(to).sort();
    // now = Jan 2 05:00: the 24 hourly slots from Jan 1 06:00 on; Jan 1's newest (23:00), the
    // week's and the month's newest are among them; 00:00–05:00 of Jan 1 were pruned one by one.
    equal(left.length, 24);
    equal(left[0], '20260101T060000Z');
    deepStrictEqual(pruned, ['20260101T050000Z']);
  });

  it('the CLI: backup prints what it wrote; restore of a corrupt backup exits 1 with the file named', () => {
    const s = session();
    const to = path.join(tmp.dir, 'backups-f');
    const b = spawnSync(
      process.execPath,
      [CLI, 'backup', '--session', s, '--to', to, '--config', 'config/growth.yaml'],
      {
        cwd: repoRoot,
        encoding: 'utf8',
      },
    );
    equal(b.status, 0, b.stderr);
    match(b.stdout, /^backup .*: 3 files, \d+ bytes, sha256 in manifest\.json$/m);
    const dir = path.join(to, readdirSync(to)[0]!);
    writeFileSync(path.join(dir, 'config', 'growth.yaml'), 'tampered');
    const r = spawnSync(process.execPath, [CLI, 'restore', '--from', dir, '--to', path.join(tmp.dir, 'cli-restore')], {
      encoding: 'utf8',
    });
    equal(r.status, 1);
    match(r.stderr, /config\/growth\.yaml does not match the manifest/);
    const missing = spawnSync(process.execPath, [CLI, 'backup', '--session', path.join(tmp.dir, 'nope'), '--to', to], {
      encoding: 'utf8',
    });
    equal(missing.status, 1);
    match(missing.stderr, /--session .*nope: cannot read it/);
  });
});
