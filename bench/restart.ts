/**
 * Restart and kill-switch timings of a real live session (issue 7) — measured, never asserted:
 * the `run-pipeline live` CLI in a child process, real ccxt against the local Binance server
 * (test/support) with a simulated spot account that charges Binance's commission in the coin
 * received. On this 5m config a decision happens only when a bar closes, so the next bar is
 * pushed the moment the restarted session has subscribed to the streams.
 *
 *   npm run bench:restart [-- --restarts 5 --presses 3]
 *
 * - restart → first decision: `kill -9` of the running session, a new process, until the decision
 *   on the first live bar is in its journal (process start, module load, lock takeover, journal
 *   recovery, exchange reconciliation, warm-up, streams, the bar's decision);
 * - press → flatten: a position is opened mid-bar (the market buy decided at a bar close fills at
 *   once, after that bar's portfolio), then SIGUSR2; the session logs when the flatten order is
 *   handed to the venue. Each press is on a fresh start after an audited `mode-reset`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import * as path from 'node:path';
import { dustOf } from '../operators/lotGrid';
import { toUnits } from '../operators/money';
import { foldJournal } from '../operators/recoverSession';
import { readJournal } from '../sinks/journal';
import { mountBinanceOrders } from '../test/support/binanceOrders';
import { startBinanceServer, klineAround } from '../test/support/binanceServer';
import { eventually } from '../test/support/eventually';
import { BTC_USDT } from '../test/support/fixtures';
import { tempDir } from '../test/support/tmp';
import { taSessionConfig } from '../test/support/sessionConfig';

const FIVE_MINUTES = 300_000;
const CLI = path.join(__dirname, '..', 'pipelines', 'cli.js');
const API_KEY = 'bench-restart-key-1234567890';
const SECRET = 'bench-restart-secret-abcdefghij';
const CONFIG = taSessionConfig('bench-restart', { onFlat: 'close' });

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${name} must be a whole number ≥ 1, got ${process.argv[i + 1]}`);
  return value;
}

const kline = klineAround;

function percentile(xs: readonly number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const restarts = argument('restarts', 5);
  const presses = argument('presses', 3);
  const tmp = tempDir('bot4-bench-restart-');
  const configFile = path.join(tmp.dir, 'bench.yaml');
  const outDir = path.join(tmp.dir, 'live');
  const journal = path.join(outDir, 'journal.jsonl');
  writeFileSync(configFile, CONFIG);
  const server = await startBinanceServer({});
  const account = mountBinanceOrders(server, {
    apiKey: API_KEY,
    secret: SECRET,
    balances: { USDT: '10000', BTC: '0' },
    prices: { BTCUSDT: '20000' },
    commission: '0.001',
  });
  // Not too close to a 5-minute boundary: the bars pushed must stay ahead of the clock.
  await eventually(
    () => {
      if (Date.now() % FIVE_MINUTES >= FIVE_MINUTES - 100_000) throw new Error('near a 5-minute boundary');
    },
    { timeoutMs: 200_000, intervalMs: 500 },
  );
  const bucket = Math.floor(Date.now() / FIVE_MINUTES) * FIVE_MINUTES;
  server.setKlines(
    'BTCUSDT',
    '5m',
    Array.from({ length: 60 }, (_, i) => kline(bucket - (60 - i) * FIVE_MINUTES, 20_000 + Math.sin(i / 5) * 50)),
  );
  server.setBook('BTCUSDT', { lastUpdateId: 100, bids: [['19999.00', '5']], asks: [['20001.00', '5']] });
  let next = 0;
  /** Pushes the next (rising) bar; returns its decision's signal id. */
  const pushBar = (): string => {
    const openTime = bucket + next * FIVE_MINUTES;
    const price = 20_000 + (next + 1) * 40;
    next++;
    account.setPrice('BTCUSDT', price.toFixed(2));
    server.pushKline('BTCUSDT', '5m', kline(openTime, price), { final: true });
    server.pushKline('BTCUSDT', '5m', kline(openTime + FIVE_MINUTES, price), { final: false });
    return `"id":"BTC/USDT:5m:${openTime + FIVE_MINUTES}:fused"`;
  };
  const decided = (id: string): boolean => existsSync(journal) && readFileSync(journal, 'utf8').includes(id);
  const holding = (): bigint =>
    foldJournal([...readJournal(journal).records], { initialCash: toUnits('10000'), quote: 'USDT' }).portfolio
      .positions['BTC/USDT']?.qty ?? 0n;

  const spawnLive = (): { proc: ChildProcess; text: () => string; exited: Promise<number | null> } => {
    const args = [
      'live',
      '--config',
      configFile,
      '--out',
      outDir,
      '--api-url',
      server.url,
      '--ws-url',
      server.url.replace(/^http/, 'ws'),
      '--warmup-bars',
      '40',
      '--status-every',
      '3600',
      '--kill-switch',
      'signal',
      '--lock-dir',
      path.join(tmp.dir, 'locks'),
      '--ccxt-options',
      '{"fetchCurrencies":false}',
      '--confirm-live',
      '--allow-unsealed',
    ];
    const proc = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, BOT4_API_KEY: API_KEY, BOT4_API_SECRET: SECRET },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    proc.stdout!.on('data', (c: Buffer) => (text += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (text += c.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    return { proc, text: () => text, exited };
  };
  const subscribed = (): boolean =>
    server.subscriberCount('btcusdt@kline_5m') > 0 && server.subscriberCount('btcusdt@trade') > 0;
  const gone = (): Promise<void> =>
    eventually(() => {
      if (server.subscriberCount('btcusdt@kline_5m') + server.subscriberCount('btcusdt@trade') > 0)
        throw new Error('still subscribed');
    });

  const firstDecision: number[] = [];
  const flatten: number[] = [];
  try {
    // The first session: a plain start, then a crash.
    let session = spawnLive();
    for (let r = 0; r <= restarts; r++) {
      const startedAt = performance.now();
      await eventually(
        () => {
          if (session.proc.exitCode !== null) throw new Error(`the session exited: ${session.text()}`);
          if (!subscribed()) throw new Error('not subscribed yet');
        },
        { timeoutMs: 60_000, intervalMs: 2 },
      );
      const id = pushBar();
      await eventually(
        () => {
          if (!decided(id)) throw new Error('not decided yet');
        },
        { timeoutMs: 30_000, intervalMs: 2 },
      );
      if (r > 0) firstDecision.push(performance.now() - startedAt);
      session.proc.kill('SIGKILL');
      await session.exited;
      await gone();
      session = spawnLive();
    }
    for (let p = 0; p < presses; p++) {
      await eventually(
        () => {
          if (!subscribed()) throw new Error('not subscribed yet');
        },
        { timeoutMs: 60_000, intervalMs: 5 },
      );
      // Rising bars until the market buy decided at a bar close has filled: a position opened mid-bar.
      for (let i = 0; i < 12 && dustOf(holding(), BTC_USDT, 20_000) === holding(); i++) {
        const id = pushBar();
        await eventually(
          () => {
            if (!decided(id)) throw new Error('not decided yet');
          },
          { timeoutMs: 30_000 },
        );
        await eventually(
          () => {
            if (dustOf(holding(), BTC_USDT, 20_000) === holding()) throw new Error('no position yet');
          },
          { timeoutMs: 2_000, intervalMs: 5 },
        ).catch(() => undefined);
      }
      if (dustOf(holding(), BTC_USDT, 20_000) === holding()) throw new Error('no position after 12 rising bars');
      session.proc.kill('SIGUSR2');
      const logged = await eventually(
        () => {
          const m = /handed to the venue ([\d.]+) ms after the press/.exec(session.text());
          if (!m) throw new Error('no flatten yet');
          return Number(m[1]);
        },
        { timeoutMs: 10_000 },
      );
      flatten.push(logged);
      session.proc.kill('SIGHUP');
      await session.exited;
      await gone();
      const reset = spawn(
        process.execPath,
        [CLI, 'mode-reset', '--out', outDir, '--reason', `bench press ${p + 1}: checked`],
        {
          stdio: 'ignore',
        },
      );
      await new Promise((resolve) => reset.on('exit', resolve));
      session = spawnLive();
    }
    session.proc.kill('SIGHUP');
    await session.exited;
  } finally {
    await server.close();
    tmp.cleanup();
  }
  const load = `load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`;
  process.stdout.write(
    `restart (kill -9) → first live decision journaled: ${firstDecision.length} restarts, p50 ${(percentile(firstDecision, 0.5) / 1000).toFixed(2)} s, max ${(Math.max(...firstDecision) / 1000).toFixed(2)} s (${load})\n` +
      `press → flatten order handed to the venue, position opened mid-bar: ${flatten.length} presses, p50 ${percentile(flatten, 0.5).toFixed(3)} ms, max ${Math.max(...flatten).toFixed(3)} ms\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:restart failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
