/**
 * Backups against real files and the real CLI: a backup restores byte for byte, a corrupted
 * backup is refused naming the file, a torn journal line is not backed up, a non-empty target is
 * refused, and retention prunes old backups.
 */
import { deepStrictEqual, equal, match, ok } from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { feeOf, notionalOf, toUnits } from '../../operators/money';
import type { Fill, Order } from '../../operators/types';
import { BackupError, runBackup, runRestore, verifyBackup } from '../../pipelines/backup';
import { serializeEvent } from '../../sinks/journal';
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

/** A session journal as a paper session writes it: header, an approved buy, its acceptance and fill. */
function journalText(qty = '0.01'): string {
  const order: Order = {
    kind: 'order',
    clientOrderId: 'b4-1',
    intentId: 'i-1',
    signalId: 'BTC/USDT:5m:1000:fused',
    symbol: 'BTC/USDT',
    side: 'buy',
    type: 'market',
    qty: toUnits(qty),
    refPrice: 20_000,
    reducesRisk: false,
    configHash: 'h',
    tsEvent: 1000,
  };
  const notional = notionalOf(toUnits(qty), toUnits('20000'));
  const fill: Fill = {
    kind: 'fill',
    clientOrderId: 'b4-1',
    signalId: order.signalId,
    symbol: 'BTC/USDT',
    side: 'buy',
    qty: toUnits(qty),
    price: toUnits('20000'),
    notional,
    fee: feeOf(notional, 1000n),
    liquidity: 'taker',
    leavesQty: 0n,
    tsEvent: 2000,
  };
  return [
    {
      kind: 'session',
      event: 'started',
      mode: 'paper',
      start: {
        quote: 'USDT',
        initialCash: toUnits('10000'),
        cash: toUnits('10000'),
        realizedPnl: 0n,
        feesPaid: 0n,
        peakEquity: toUnits('10000'),
        positions: {},
      },
      tsEvent: 1,
    },
    { kind: 'approved', order, numbers: {}, tsEvent: 1000 },
    { kind: 'order-accepted', clientOrderId: 'b4-1', signalId: order.signalId, tsEvent: 1000 },
    fill,
  ]
    .map((e) => `${serializeEvent(e)}\n`)
    .join('');
}

describe('run-pipeline backup / restore', function () {
  this.timeout(60_000);
  const tmp = tempDir('bot4-backup-');
  after(() => tmp.cleanup());
  let n = 0;
  const session = () => {
    const dir = path.join(tmp.dir, `session-${n++}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'journal.jsonl'), journalText());
    writeFileSync(path.join(dir, 'audit.jsonl'), '{"kind":"session","event":"started","mode":"paper","tsEvent":1}\n');
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
    equal(copy, journalText());
  });

  it('restore proves the copy: the restored journal replays to the state the backup recorded, or it is refused', () => {
    const s = session();
    const to = path.join(tmp.dir, 'backups-g');
    const r = runBackup({ session: s, to, now: Date.UTC(2026, 0, 1, 10) });
    deepStrictEqual(r.manifest.state, {
      fills: 1,
      cash: '9799.8',
      positions: { 'BTC/USDT': '0.01' },
      openOrders: [],
      mode: 'Normal',
      killLatched: false,
    });
    const restored = runRestore({ from: r.dir, to: path.join(tmp.dir, 'restored-g') });
    deepStrictEqual(restored.state, r.manifest.state);
    // A journal changed together with its checksum (the manifest rewritten to match) passes the
    // checksums but not the replay: the position it replays to is not the one backed up.
    const journal = path.join(r.dir, 'session', 'journal.jsonl');
    const altered = Buffer.from(journalText('0.02'));
    writeFileSync(journal, altered);
    const manifestFile = path.join(r.dir, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
      files: { path: string; bytes: number; sha256: string }[];
    };
    const entry = manifest.files.find((f) => f.path === 'session/journal.jsonl')!;
    entry.bytes = altered.length;
    entry.sha256 = createHash('sha256').update(altered).digest('hex');
    writeFileSync(manifestFile, JSON.stringify(manifest));
    const e = errorOf(() => runRestore({ from: r.dir, to: path.join(tmp.dir, 'restored-g2') }));
    equal(e.code, 'BACKUP_REPLAY_MISMATCH');
    match(
      e.message,
      /replays to 1 fills, cash 9599\.6, positions BTC\/USDT 0\.02.*the backup recorded 1 fills, cash 9799\.8, positions BTC\/USDT 0\.01/,
    );
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
