/**
 * The watchdog against real processes: a child whose event loop hangs is aborted, one that keeps
 * running is left alone, and a stopped watchdog never fires.
 */
import { equal, match } from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { startWatchdog } from '../../hardware/watchdog';
import { repoRoot } from '../support/sharedData';

const MODULE = path.join(repoRoot, 'dist', 'hardware', 'watchdog.js');

function runChild(body: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-e', `const { startWatchdog } = require(${JSON.stringify(MODULE)});\n${body}`],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stderr });
    });
  });
}

describe('hardware/watchdog', function () {
  this.timeout(90_000);

  it('aborts a process whose event loop hangs, saying why on stderr', async () => {
    const r = await runChild('startWatchdog({ timeoutMs: 500 }); setTimeout(() => { for (;;) {} }, 200);');
    equal(r.signal, 'SIGABRT', `exit ${r.code} ${r.signal}: ${r.stderr}`);
    match(r.stderr, /bot4 watchdog: the event loop has not run for \d+ ms \(limit 500 ms\): aborting with SIGABRT/);
  });

  it('leaves a process alone while its event loop runs (busy with short tasks), and does not keep it alive', async () => {
    const r = await runChild(
      'startWatchdog({ timeoutMs: 2000 }); let n = 0; const t = setInterval(() => { const end = Date.now() + 50; while (Date.now() < end) {} if (++n === 30) clearInterval(t); }, 10);',
    );
    equal(r.signal, null, r.stderr);
    equal(r.code, 0, r.stderr);
  });

  it('never fires once stopped, even if the loop then blocks for longer than the timeout', async () => {
    const r = await runChild(
      'const w = startWatchdog({ timeoutMs: 300 }); setTimeout(async () => { await w.stop(); const end = Date.now() + 1200; while (Date.now() < end) {} process.exit(0); }, 100);',
    );
    equal(r.signal, null, r.stderr);
    equal(r.code, 0, r.stderr);
  });

  it('refuses a timeout that is not positive and a beat not shorter than the timeout, naming the key', async () => {
    for (const [config, message] of [
      [{ timeoutMs: 0 }, /watchdog\.timeoutMs: expected a positive number of ms, found 0/],
      [
        { timeoutMs: 100, beatMs: 100 },
        /watchdog\.beatMs: expected a positive number of ms below timeoutMs \(100\), found 100/,
      ],
    ] as const) {
      let thrown: unknown;
      try {
        await startWatchdog(config).stop();
      } catch (err) {
        thrown = err;
      }
      match(String(thrown), message);
    }
  });
});
