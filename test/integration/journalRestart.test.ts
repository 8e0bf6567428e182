/**
 * The journal and the lock across crashes, on the real file system: a torn last line is isolated
 * (never glued to the next session's header) and reported; damage in the middle is refused; the
 * session lock refuses a second live holder — in another process — and is taken over at once
 * from a holder killed with `kill -9`.
 */
import { equal, match, ok, throws } from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { lastValueFrom, of } from 'rxjs';
import { appendJournalRecord, JournalReadError, makeJournalSink, readJournal } from '../../sinks/journal';
import { acquireLock, LockError } from '../../sinks/lockFile';
import { eventually } from '../support/eventually';
import { tempDir } from '../support/tmp';

describe('journal and lock across crashes', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('appending after a torn last line starts on a new line; reading reports the torn line and keeps every record', async () => {
    const file = path.join(tmp.dir, 'torn.jsonl');
    writeFileSync(
      file,
      '{"kind":"session","event":"started","tsEvent":1}\n{"kind":"fill","clientOrderId":"a","qty":"0.0',
    );
    await lastValueFrom(
      makeJournalSink({ file, append: true, bufferBytes: 1 })(of({ kind: 'session', event: 'started', tsEvent: 2 })),
    );
    const lines = readFileSync(file, 'utf8').split('\n');
    equal(lines[1], '{"kind":"fill","clientOrderId":"a","qty":"0.0', 'the torn line stays as it was, on its own');
    equal(lines[2], '{"kind":"session","event":"started","tsEvent":2}', 'the header is not glued onto it');
    const read = readJournal(file);
    equal(read.records.length, 2);
    equal(read.torn.length, 1);
    equal(read.torn[0]!.line, 2);
    equal(read.records[1]!['tsEvent'], 2);
    // An operator's record appended after a torn line is isolated the same way.
    writeFileSync(file, '{"kind":"session","event":"started","tsEvent":1}\n{"kind":"mode-cha');
    appendJournalRecord(file, { kind: 'mode-reset', reason: 'x' } as { kind: string });
    equal(readJournal(file).records[1]!.kind, 'mode-reset');
    // The last line torn, nothing after it: reported, the rest read.
    writeFileSync(file, '{"kind":"session","event":"started","tsEvent":1}\n{"kind":"fi');
    equal(readJournal(file).torn.length, 1);
  });

  it('refuses a journal damaged in the middle (a bad line not followed by a new session), naming the line', () => {
    const file = path.join(tmp.dir, 'damaged.jsonl');
    writeFileSync(file, '{"kind":"session","event":"started"}\n{"kind":"fill" garbage\n{"kind":"fill","qty":"1"}\n');
    throws(
      () => readJournal(file),
      (err: unknown) =>
        err instanceof JournalReadError && err.code === 'JOURNAL_CORRUPT' && /damaged.jsonl:2:/.test(err.message),
    );
    equal(readJournal(path.join(tmp.dir, 'missing.jsonl')).records.length, 0);
  });

  it('a lock held by a live process is refused with its pid; a holder killed with kill -9 is taken over at once', async () => {
    const file = path.join(tmp.dir, 'out', 'session.lock');
    const lockModule = require.resolve('../../sinks/lockFile');
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const { acquireLock } = require(${JSON.stringify(lockModule)}); acquireLock(${JSON.stringify(file)}, 'the session folder out', Date.now()); process.stdout.write('held\\n'); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    holder.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise((resolve) => holder.on('exit', resolve));
    try {
      await eventually(() => match(out, /held/), { timeoutMs: 20_000 });
      throws(
        () => acquireLock(file, 'the session folder out', Date.now()),
        (err: unknown) =>
          err instanceof LockError &&
          err.code === 'LOCKED' &&
          err.message.includes(`pid ${holder.pid}`) &&
          /in use by another session/.test(err.message),
      );
    } finally {
      holder.kill('SIGKILL');
      await exited;
    }
    const lock = acquireLock(file, 'the session folder out', Date.now());
    equal(lock.tookOverFrom?.pid, holder.pid);
    // In one process too: a second session on the same folder is refused while the first holds it.
    throws(() => acquireLock(file, 'the session folder out', Date.now()), LockError);
    lock.release();
    const again = acquireLock(file, 'the session folder out', Date.now());
    ok(again.tookOverFrom === undefined, 'a released lock is free, not stale');
    again.release();
  });
});
