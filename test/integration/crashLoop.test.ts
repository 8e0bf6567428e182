/**
 * The seeded crash loop (issue 7): a real paper session and a real live session — the
 * `run-pipeline` CLI in a child process, real ccxt against the local Binance server — killed with
 * `kill -9` at seeded points (during start-up, between decision and order, between an order and
 * its response, after a fill, after a kill-switch press, idle) and restarted each time. After each
 * restart: no order was sent twice, no fill is missing from the portfolio, the portfolio equals the
 * exchange's (live) or the sum of the journaled fills (paper), the kill latch is kept until an
 * audited `mode-reset`, and at the end the position can be flattened.
 *
 * The live account charges Binance's commission in the asset received (0.1 %), so every buy
 * leaves an off-grid position: exits and flattens are rounded down to the lot grid and the rest is
 * dust — "flat" means holding nothing but dust, and the journal's dust equals the exchange's.
 *
 * `BOT4_CRASH_POINTS` sets the number of kills per mode: default 26 (52 kills in all, the issue's
 * ≥ 50; every kill point several times per mode; the server is shared by every point and both
 * modes). `BOT4_CRASH_SEED` sets the seed. Start-to-ready times (process start to warm-up done,
 * wall and CPU) and press-to-flatten times are printed.
 */
import { equal, ok } from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import * as path from 'node:path';
import { dustOf } from '../../operators/lotGrid';
import { formatUnits, toUnits } from '../../operators/money';
import { foldJournal, type RecoveredSession } from '../../operators/recoverSession';
import { mulberry32 } from '../../operators/random';
import { readJournal } from '../../sinks/journal';
import { mountBinanceOrders, type BinanceOrders } from '../support/binanceOrders';
import { startBinanceServer, type BinanceServer, klineAround } from '../support/binanceServer';
import { eventually } from '../support/eventually';
import { BTC_USDT } from '../support/fixtures';
import { tempDir } from '../support/tmp';
import { taSessionConfig } from '../support/sessionConfig';

const FIVE_MINUTES = 300_000;
const CLI = path.join(__dirname, '..', '..', 'pipelines', 'cli.js');
const POINTS = Number(process.env['BOT4_CRASH_POINTS'] ?? 26);
const SEED = Number(process.env['BOT4_CRASH_SEED'] ?? 7);
const API_KEY = 'crash-loop-key-1234567890';
const SECRET = 'crash-loop-secret-abcdefghij';

const CONFIG = taSessionConfig('crash-loop', { onFlat: 'close' });

type Point = 'startup' | 'decision' | 'order-response' | 'accepted' | 'fill' | 'press' | 'idle';

const kline = klineAround;

/** Closes of the live bars: up 6 bars, down 6 bars, again — the strategy buys, then sells. */
function priceAt(i: number): number {
  const cycle = i % 12;
  const base = 20_000 + Math.floor(i / 12) * 20;
  return cycle < 6 ? base + (cycle + 1) * 40 : base + (12 - cycle) * 40 - 20;
}

class Session {
  readonly proc: ChildProcess;
  text = '';
  readonly startedAt = performance.now();
  readyAt: number | undefined;
  /** CPU seconds the process had used when it was ready (from its log). */
  readyCpu(): number | undefined {
    const m = /ready [\d.]+ s after the session started \(process: up [\d.]+ s, ([\d.]+) s CPU\)/.exec(this.text);
    return m ? Number(m[1]) : undefined;
  }
  readonly exited: Promise<number | null>;

  constructor(args: readonly string[], env: NodeJS.ProcessEnv) {
    this.proc = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stderr!.on('data', (chunk: Buffer) => {
      this.text += chunk.toString();
      if (this.readyAt === undefined && this.text.includes('warm-up done')) this.readyAt = performance.now();
    });
    this.proc.stdout!.on('data', (chunk: Buffer) => (this.text += chunk.toString()));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  /** Press-to-flatten times the session logged, ms. */
  flattenMs(): number[] {
    return [...this.text.matchAll(/handed to the venue ([\d.]+) ms after the press/g)].map((m) => Number(m[1]));
  }

  async kill9(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.exited;
  }
}

function records(file: string): { kind: string; [k: string]: unknown }[] {
  return [...readJournal(file).records];
}

function percentile(xs: readonly number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Flat for trading: nothing, or only dust (off the lot grid, below the minimum quantity or notional). */
function flatButDust(qty: bigint, price: number): boolean {
  return qty >= 0n && dustOf(qty, BTC_USDT, price) === qty;
}

describe('crash loop: kill -9 at seeded points, restart, nothing doubled, lost or forgotten', function () {
  // 26 kills per mode: each a process start (≈ 2 s CPU); generous for a loaded shared machine.
  this.timeout(1_800_000);
  let server: BinanceServer;
  let account: BinanceOrders;
  const tmp = tempDir();
  const configFile = path.join(tmp.dir, 'crash.yaml');
  let bucket = 0;
  /** Next live bar index (shared by both modes: the market only moves forward). */
  let nextBar = 0;
  const readyTimes: number[] = [];
  const readyCpu: number[] = [];
  const flattenTimes: number[] = [];

  before(async () => {
    writeFileSync(configFile, CONFIG);
    server = await startBinanceServer({});
    account = mountBinanceOrders(server, {
      apiKey: API_KEY,
      secret: SECRET,
      balances: { USDT: '10000', BTC: '0' },
      prices: { BTCUSDT: '20000' },
      // Binance's commission: 0.1 % of what is received, so a buy leaves an off-grid BTC position
      // (fee in base) — every exit and flatten must round to the lot grid and leave dust behind.
      commission: '0.001',
    });
    await eventually(() => ok(Date.now() % FIVE_MINUTES < FIVE_MINUTES - 100_000, 'too close to a 5-minute boundary'), {
      timeoutMs: 200_000,
      intervalMs: 500,
    });
    bucket = Math.floor(Date.now() / FIVE_MINUTES) * FIVE_MINUTES;
    server.setKlines(
      'BTCUSDT',
      '5m',
      Array.from({ length: 60 }, (_, i) => kline(bucket - (60 - i) * FIVE_MINUTES, 20_000 + Math.sin(i / 5) * 50)),
    );
    server.setBook('BTCUSDT', { lastUpdateId: 100, bids: [['19999.00', '5']], asks: [['20001.00', '5']] });
  });

  after(async () => {
    await server.close();
    tmp.cleanup();
    if (flattenTimes.length > 0)
      process.stderr.write(
        `      crash loop: kill-switch press → flatten order handed to the venue: ${flattenTimes.length} presses, p50 ${percentile(flattenTimes, 0.5).toFixed(3)} ms, max ${Math.max(...flattenTimes).toFixed(3)} ms\n`,
      );
    if (readyTimes.length > 0)
      process.stderr.write(
        `      crash loop: ${readyTimes.length} starts, process start → trading (warm-up done): p50 ${(percentile(readyTimes, 0.5) / 1000).toFixed(2)} s, max ${(Math.max(...readyTimes) / 1000).toFixed(2)} s wall` +
          (readyCpu.length > 0
            ? `; ${(percentile(readyCpu, 0.5) / 1000).toFixed(2)} s CPU p50, ${(Math.max(...readyCpu) / 1000).toFixed(2)} s max`
            : '') +
          ` (load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores)\n`,
      );
  });

  function start(mode: 'paper' | 'live', outDir: string, killSwitch = 'signal'): Session {
    const args = [
      mode,
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
      killSwitch,
      '--lock-dir',
      path.join(tmp.dir, 'locks'),
      '--ccxt-options',
      '{"fetchCurrencies":false}',
    ];
    if (mode === 'live') args.push('--confirm-live', '--allow-unsealed');
    return new Session(args, { ...process.env, BOT4_API_KEY: API_KEY, BOT4_API_SECRET: SECRET });
  }

  async function ready(session: Session): Promise<void> {
    await eventually(
      () => {
        ok(
          session.proc.exitCode === null && session.proc.signalCode === null,
          `the session exited (${session.proc.exitCode ?? session.proc.signalCode}): ${session.text}`,
        );
        ok(session.readyAt !== undefined, 'not warmed up yet');
        ok(server.subscriberCount('btcusdt@kline_5m') > 0 && server.subscriberCount('btcusdt@trade') > 0);
      },
      { timeoutMs: 30_000, intervalMs: 5 },
    );
    readyTimes.push(session.readyAt! - session.startedAt);
    const cpu = session.readyCpu();
    if (cpu !== undefined) readyCpu.push(cpu * 1000);
  }

  async function gone(): Promise<void> {
    await eventually(
      () => equal(server.subscriberCount('btcusdt@kline_5m') + server.subscriberCount('btcusdt@trade'), 0),
      {
        timeoutMs: 10_000,
      },
    );
  }

  /** Pushes the next live bar (closed by the next one's first update); returns its decision's signal id. */
  function pushBar(mode: 'paper' | 'live'): { id: string; price: number } {
    const i = nextBar++;
    const openTime = bucket + i * FIVE_MINUTES;
    const price = priceAt(i);
    if (mode === 'live') account.setPrice('BTCUSDT', price.toFixed(2));
    server.pushKline('BTCUSDT', '5m', kline(openTime, price), { final: true });
    server.pushKline('BTCUSDT', '5m', kline(openTime + FIVE_MINUTES, price), { final: false });
    return { id: `"id":"BTC/USDT:5m:${openTime + FIVE_MINUTES}:fused"`, price };
  }

  /** A book around `price` and a trade just after the bar: the simulator fills at it. */
  function pushTrade(price: number): void {
    const openTime = bucket + (nextBar - 1) * FIVE_MINUTES;
    const book = server.book('BTCUSDT');
    server.pushDepth('BTCUSDT', {
      b: [...book.bids.map(([p]) => [p, '0'] as const), [(price - 1).toFixed(2), '5']],
      a: [...book.asks.map(([p]) => [p, '0'] as const), [(price + 1).toFixed(2), '5']],
    });
    server.pushTrade('BTCUSDT', {
      price: price.toFixed(2),
      qty: '0.01',
      buyerIsMaker: false,
      time: openTime + FIVE_MINUTES + 1,
    });
  }

  function count(file: string, pred: (r: { kind: string; [k: string]: unknown }) => boolean): number {
    return existsSync(file) ? records(file).filter(pred).length : 0;
  }

  /**
   * The invariants, checked on the journal after every kill and every restart. `restarted`: a
   * session has started since the last kill and taken over the exchange's account (live), so the
   * journal's portfolio must equal it; right after a kill it may lag (a fill the dead process never
   * journaled), and the next start must adopt it.
   */
  function check(mode: 'paper' | 'live', outDir: string, latched: boolean, restarted: boolean): RecoveredSession {
    const journalFile = path.join(outDir, 'journal.jsonl');
    const all = records(journalFile);
    // No order sent twice: each client order id accepted at most once, and never refused as a duplicate.
    const accepted = new Map<string, number>();
    for (const r of all.filter((x) => x.kind === 'order-accepted'))
      accepted.set(String(r['clientOrderId']), (accepted.get(String(r['clientOrderId'])) ?? 0) + 1);
    for (const [id, n] of accepted) equal(n, 1, `order ${id} accepted ${n} times`);
    ok(
      !all.some((r) => r.kind === 'order-rejected' && r['code'] === 'DUPLICATE_CLIENT_ORDER_ID'),
      'an order was sent again with a used client order id',
    );
    const state = foldJournal(all, { initialCash: toUnits('10000'), quote: 'USDT' });
    const held = state.portfolio.positions['BTC/USDT']?.qty ?? 0n;
    if (mode === 'live') {
      const exchangeIds = new Map<string, number>();
      for (const o of account.orders()) exchangeIds.set(o.clientOrderId, (exchangeIds.get(o.clientOrderId) ?? 0) + 1);
      for (const [id, n] of exchangeIds) equal(n, 1, `the exchange holds ${n} orders with client id ${id}`);
      if (restarted) {
        // The portfolio the restarted session works with is the exchange's account.
        equal(
          formatUnits(held),
          formatUnits(toUnits(account.balance('BTC').free) + toUnits(account.balance('BTC').locked)),
          'BTC: journal vs exchange after the restart',
        );
        equal(
          formatUnits(state.portfolio.cash),
          formatUnits(toUnits(account.balance('USDT').free) + toUnits(account.balance('USDT').locked)),
          'USDT: journal vs exchange after the restart',
        );
      }
    } else {
      // Paper: the account is the journal's fills, folded from the config's cash: spot, never short, never overdrawn.
      ok(held >= 0n, `short ${formatUnits(held)} BTC on a spot account`);
      ok(state.portfolio.cash >= 0n, `cash ${formatUnits(state.portfolio.cash)}`);
    }
    // Never more than the risk limit (20 % of equity) because a restart forgot what it held.
    const value = (Number(held) / 1e8) * 21_000;
    ok(
      value <= 0.21 * 10_000 * 1.05,
      `holding ${formatUnits(held)} BTC (${value.toFixed(0)} USDT): more than the limit allows`,
    );
    equal(
      state.killLatched,
      latched,
      `kill latch ${state.killLatched ? 'set' : 'not set'}, expected ${latched ? 'set' : 'not set'}`,
    );
    return state;
  }

  async function loop(mode: 'paper' | 'live'): Promise<void> {
    const outDir = path.join(tmp.dir, mode);
    const journalFile = path.join(outDir, 'journal.jsonl');
    const random = mulberry32(SEED + (mode === 'live' ? 1000 : 0));
    const points: Point[] =
      mode === 'live'
        ? ['startup', 'decision', 'order-response', 'accepted', 'fill', 'press', 'idle']
        : ['startup', 'decision', 'accepted', 'fill', 'press', 'idle'];
    let latched = false;
    const seen: Record<string, number> = {};
    // Every point in every round of len(points) kills, in a seeded order.
    let round: Point[] = [];
    for (let k = 0; k < POINTS; k++) {
      if (round.length === 0) {
        round = [...points];
        for (let i = round.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [round[i], round[j]] = [round[j]!, round[i]!];
        }
      }
      const point = round.pop()!;
      seen[point] = (seen[point] ?? 0) + 1;
      const session = start(mode, outDir);
      if (point === 'startup') {
        // Anywhere from loading the modules to the middle of the warm-up.
        const upTo = random() < 0.5 ? 'session ' : 'journal:';
        await eventually(() => ok(session.text.includes(upTo) || session.proc.exitCode !== null), {
          timeoutMs: 30_000,
          intervalMs: 5,
        });
        await session.kill9();
        await gone();
        check(mode, outDir, latched, false);
        continue;
      }
      await ready(session);
      if (latched) ok(session.text.includes('kill latch restored'), `the latch was not restored: ${session.text}`);
      check(mode, outDir, latched, true);

      const lose = point === 'order-response';
      const ordersBefore = account.orders().length;
      if (lose) account.faultNext('POST', '/api/v3/order', { kind: 'lose' });
      const fillsBefore = count(journalFile, (r) => r.kind === 'fill');
      const acceptedBefore = count(journalFile, (r) => r.kind === 'order-accepted' || r.kind === 'order-unknown');
      const bar = pushBar(mode);
      const decided = (): boolean => readFileSync(journalFile, 'utf8').includes(bar.id);
      if (point === 'decision') {
        await eventually(() => ok(decided()), { timeoutMs: 20_000, intervalMs: 5 });
      } else if (lose) {
        await eventually(() => ok(decided()), { timeoutMs: 20_000, intervalMs: 5 });
        // An order decided on this bar reaches the exchange, which executes it and never answers.
        await eventually(() => ok(account.orders().length > ordersBefore), { timeoutMs: 3_000, intervalMs: 5 }).catch(
          () => undefined,
        );
      } else {
        await eventually(() => ok(decided()), { timeoutMs: 20_000, intervalMs: 5 });
        if (point === 'accepted') {
          await eventually(
            () =>
              ok(count(journalFile, (r) => r.kind === 'order-accepted' || r.kind === 'order-unknown') > acceptedBefore),
            { timeoutMs: 3_000, intervalMs: 5 },
          ).catch(() => undefined);
        } else {
          pushTrade(bar.price);
          if (point === 'fill') {
            await eventually(() => ok(count(journalFile, (r) => r.kind === 'fill') > fillsBefore), {
              timeoutMs: 3_000,
              intervalMs: 5,
            }).catch(() => undefined);
          } else if (point === 'press') {
            session.proc.kill('SIGUSR2');
            await eventually(() => ok(/→ Emergency/.test(session.text)), { timeoutMs: 10_000, intervalMs: 5 });
            latched = true;
            // The flatten order (if any) fills on the next trade.
            pushTrade(bar.price);
            await eventually(
              () => {
                const s = foldJournal(records(journalFile), { initialCash: toUnits('10000'), quote: 'USDT' });
                ok(flatButDust(s.portfolio.positions['BTC/USDT']?.qty ?? 0n, bar.price));
              },
              { timeoutMs: 10_000, intervalMs: 5 },
            ).catch(() => undefined);
          } else {
            // idle: let everything settle
            await eventually(() => ok(session.text.length > 0), { timeoutMs: 1_000 });
          }
        }
      }
      await session.kill9();
      flattenTimes.push(...session.flattenMs());
      await gone();
      // Every few latched rounds, the operator resets the latch (audited), and the next start trades again.
      if (latched && random() < 0.3) {
        const reset = new Session(
          ['mode-reset', '--out', outDir, '--reason', `crash loop round ${k}: checked`],
          process.env,
        );
        equal(await reset.exited, 0, reset.text);
        ok(/kill latch reset/.test(reset.text), reset.text);
        latched = false;
      }
      check(mode, outDir, latched, false);
    }

    // Finally: the session starts again and the kill switch gets it flat.
    const last = start(mode, outDir);
    await ready(last);
    check(mode, outDir, latched, true);
    // Hold something first (a rally), so that there is a position to flatten.
    const holding = (): bigint =>
      foldJournal(records(journalFile), { initialCash: toUnits('10000'), quote: 'USDT' }).portfolio.positions[
        'BTC/USDT'
      ]?.qty ?? 0n;
    if (!latched) {
      while (priceAt(nextBar) < priceAt(nextBar - 1)) nextBar++;
      const tradeable = (): boolean => !flatButDust(holding(), priceAt(nextBar - 1));
      for (let i = 0; i < 6 && !tradeable(); i++) {
        const b = pushBar(mode);
        await eventually(() => ok(readFileSync(journalFile, 'utf8').includes(b.id)), { timeoutMs: 20_000 });
        pushTrade(b.price);
        await eventually(() => ok(tradeable()), { timeoutMs: 2_000, intervalMs: 20 }).catch(() => undefined);
      }
      ok(tradeable(), 'no position to flatten after a rally');
    }
    last.proc.kill('SIGUSR2');
    await eventually(() => ok(/Emergency/.test(last.text)), { timeoutMs: 10_000 });
    const b = pushBar(mode);
    await eventually(() => ok(readFileSync(journalFile, 'utf8').includes(b.id)), { timeoutMs: 20_000 });
    pushTrade(b.price);
    await eventually(
      () => {
        const s = foldJournal(records(journalFile), { initialCash: toUnits('10000'), quote: 'USDT' });
        const qty = s.portfolio.positions['BTC/USDT']?.qty ?? 0n;
        ok(flatButDust(qty, b.price), `not flat after the press: holding ${formatUnits(qty)} BTC, more than dust`);
        if (mode === 'live') {
          // What is left is the exchange's dust, to the unit, and the journal knows it.
          equal(account.balance('BTC').locked, '0');
          equal(formatUnits(toUnits(account.balance('BTC').free)), formatUnits(qty), 'BTC dust: journal vs exchange');
        }
      },
      { timeoutMs: 15_000 },
    );
    // SIGHUP is the graceful stop too: orders settle, the journals get their stop record.
    last.proc.kill('SIGHUP');
    equal(await last.exited, 0, last.text);
    // The exit summary names what is left as dust.
    const left = foldJournal(records(journalFile), { initialCash: toUnits('10000'), quote: 'USDT' }).portfolio
      .positions['BTC/USDT']?.qty;
    if (left !== undefined && left > 0n)
      ok(
        last.text.includes(`positions BTC/USDT ${formatUnits(left)} (dust ${formatUnits(left)})`),
        `the exit summary does not show the dust: ${last.text.slice(-600)}`,
      );
    flattenTimes.push(...last.flattenMs());
    const final = records(journalFile);
    const stop = final[final.length - 1]!;
    equal(stop.kind, 'session');
    equal(stop['event'], 'stopped');
    const adopted = final.filter((r) => r.kind === 'portfolio-adopted').length;
    const recoveredFills = final.filter((r) => r.kind === 'fill-recovered').length;
    const abandoned = final.filter((r) => r.kind === 'order-abandoned').length;
    const crashes = final.filter((r) => r.kind === 'session' && r['previous'] === 'crashed').length;
    process.stderr.write(
      `      ${mode}: ${POINTS} kills at ${JSON.stringify(seen)}; ${crashes} starts after a crash; ${recoveredFills} fills made while down recovered as fills, ${adopted} account adoptions, ${abandoned} unsettled orders closed at a restart\n`,
    );
  }

  it('paper: restarts from the journal after every kill -9', async () => {
    await loop('paper');
  });

  it('live: restarts from the journal and the exchange account after every kill -9', async () => {
    await loop('live');
  });

  it('signals: with --kill-switch none SIGUSR2 is ignored, not fatal; a SIGUSR2 during start-up starts the session in Emergency; SIGHUP stops gracefully', async () => {
    const noSwitch = start('paper', path.join(tmp.dir, 'no-switch'), 'none');
    await eventually(() => ok(noSwitch.text.includes('paper session')), { timeoutMs: 30_000 });
    noSwitch.proc.kill('SIGUSR2');
    await eventually(() => ok(noSwitch.text.includes('SIGUSR2 ignored: --kill-switch none')), { timeoutMs: 10_000 });
    await ready(noSwitch);
    equal(noSwitch.proc.signalCode, null, 'SIGUSR2 killed the process');
    ok(!/Emergency/.test(noSwitch.text));
    noSwitch.proc.kill('SIGHUP');
    equal(await noSwitch.exited, 0, noSwitch.text);
    const stopRecord = records(path.join(tmp.dir, 'no-switch', 'journal.jsonl')).pop()!;
    equal(stopRecord['event'], 'stopped');
    await gone();

    // The press arrives while the session is still loading its modules (before its first line).
    const early = start('paper', path.join(tmp.dir, 'early-press'));
    // As soon as the process catches SIGUSR2 (Linux: bit 12 of SigCgt in /proc/<pid>/status),
    // which the CLI arms before loading anything slow.
    await eventually(
      () => {
        const status = readFileSync(`/proc/${early.proc.pid}/status`, 'utf8');
        const caught = BigInt(`0x${/SigCgt:\s*([0-9a-f]+)/.exec(status)![1]}`);
        ok((caught >> 11n) & 1n, 'SIGUSR2 not caught yet');
      },
      { timeoutMs: 20_000, intervalMs: 1 },
    );
    const loadedBefore = early.text.includes('paper session');
    ok(!loadedBefore, 'SIGUSR2 was caught only once the session had started: not armed from process start');
    early.proc.kill('SIGUSR2');
    await ready(early);
    await eventually(() => ok(/mode Normal → Emergency: .*SIGUSR2/.test(early.text)), { timeoutMs: 10_000 });
    early.proc.kill('SIGHUP');
    equal(await early.exited, 0, early.text);
    await gone();
  });
});
