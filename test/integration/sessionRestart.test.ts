/**
 * Restarts of paper sessions (`runSession` in this process, real ccxt.pro against the local
 * Binance server): the journal is the source of truth — a restart takes over the position instead
 * of buying again, never journals the warm-up signals twice, records clean stops; one session per
 * `--out`; the kill latch survives restarts until an audited `mode-reset`; a press during the
 * warm-up starts the session in Emergency; at a press the position opened since the last bar is
 * flattened at once, and status lines show it.
 */
import { equal, match, ok, rejects, throws } from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { Subject } from 'rxjs';
import { formatUnits, toUnits } from '../../operators/money';
import { foldJournal } from '../../operators/recoverSession';
import { ModeResetError, resetMode, runSession, type SessionSummary } from '../../pipelines/session';
import type { RpioLike } from '../../hardware/killSwitch';
import { readJournal } from '../../sinks/journal';
import { LockError } from '../../sinks/lockFile';
import { startBinanceServer, type BinanceServer, klineAround } from '../support/binanceServer';
import { eventually } from '../support/eventually';
import { tempDir } from '../support/tmp';
import { mockRpio, rpioWith } from '../support/rpio';
import { taSessionConfig } from '../support/sessionConfig';

const FIVE_MINUTES = 300_000;

const CONFIG = taSessionConfig('restart-test', { extra: 'journal: { level: all }' });

const kline = klineAround;

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
}

/** rpio in mock mode, wrapped to record every level written to the status LEDs (BCM22/23/24). */
function recordingLeds(): { io: RpioLike; writes: { pin: number; level: number }[] } {
  const rpio = mockRpio();
  const writes: { pin: number; level: number }[] = [];
  const io = rpioWith({
    write: (pin, level) => {
      writes.push({ pin, level });
      rpio.write(pin, level);
    },
  });
  return { io, writes };
}
const GREEN = 22;
const RED = 24;

type Rec = { kind: string; [k: string]: unknown };
const recordsOf = (file: string): Rec[] => [...readJournal(file).records];
const START = { initialCash: toUnits('10000'), quote: 'USDT' };

describe('paper sessions across restarts', function () {
  this.timeout(120_000);
  let server: BinanceServer;
  const tmp = tempDir();
  const configFile = path.join(tmp.dir, 'restart.yaml');
  let bucket = 0;
  let next = 0;

  before(async () => {
    // Structured logs on (README "Logs and traces"): JSON lines to a file beside the sessions.
    writeFileSync(
      configFile,
      `${CONFIG}monitoring:\n  logs: { enabled: true, stdout: false, file: { path: ${JSON.stringify(path.join(tmp.dir, 'logs', 'bot4.log'))} } }\n`,
    );
    server = await startBinanceServer({});
    await eventually(() => ok(Date.now() % FIVE_MINUTES < FIVE_MINUTES - 60_000, 'too close to a 5-minute boundary'), {
      timeoutMs: 70_000,
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
  /** Sessions still running: a failed test must not leave one behind for the next. */
  const live = new Set<Running>();
  afterEach(async () => {
    for (const session of [...live]) {
      session.stop$.next();
      await session.done.catch(() => undefined);
    }
  });
  after(async () => {
    await server.close();
    tmp.cleanup();
  });

  interface Running {
    readonly log: ReturnType<typeof collect>;
    readonly stop$: Subject<void>;
    readonly signals: EventEmitter;
    readonly done: Promise<SessionSummary>;
    readonly journal: string;
  }

  function start(outDir: string, options: { statusEveryMs?: number; leds?: RpioLike } = {}): Running {
    const log = collect();
    const stop$ = new Subject<void>();
    const signals = new EventEmitter();
    const done = runSession({
      mode: 'paper',
      configFile,
      outDir,
      apiUrl: server.url,
      wsUrl: server.url.replace(/^http/, 'ws'),
      warmupBars: 40,
      killSwitch: 'signal',
      signalEmitter: signals as unknown as NodeJS.Process,
      log: log.stream,
      stop$,
      ...(options.statusEveryMs ? { statusEveryMs: options.statusEveryMs } : {}),
      ...(options.leds ? { leds: true, gpio: { rpio: options.leds, mock: 'raspi-3' as const } } : {}),
    });
    done.catch(() => undefined);
    const session = { log, stop$, signals, done, journal: path.join(outDir, 'journal.jsonl') };
    live.add(session);
    void done.finally(() => live.delete(session)).catch(() => undefined);
    return session;
  }

  async function ready(session: Running): Promise<void> {
    await eventually(() => match(session.log.text(), /warm-up done/), { timeoutMs: 30_000 });
    await eventually(
      () => ok(server.subscriberCount('btcusdt@trade') > 0 && server.subscriberCount('btcusdt@kline_5m') > 0),
      { timeoutMs: 30_000 },
    );
  }

  async function stop(session: Running): Promise<SessionSummary> {
    session.stop$.next();
    const summary = await session.done;
    await eventually(
      () => equal(server.subscriberCount('btcusdt@trade') + server.subscriberCount('btcusdt@kline_5m'), 0),
      {
        timeoutMs: 10_000,
      },
    );
    return summary;
  }

  /** Rising bars, each decided before the next; then (optionally) a trade after its close, at which the simulator fills. */
  async function rally(session: Running, count: number, options: { trade?: boolean } = {}): Promise<number> {
    let price = 0;
    for (let i = 0; i < count; i++) {
      const openTime = bucket + next * FIVE_MINUTES;
      price = 20_000 + (next + 1) * 40;
      next++;
      server.pushKline('BTCUSDT', '5m', kline(openTime, price), { final: true });
      server.pushKline('BTCUSDT', '5m', kline(openTime + FIVE_MINUTES, price), { final: false });
      await eventually(
        () => ok(readFileSync(session.journal, 'utf8').includes(`"id":"BTC/USDT:5m:${openTime + FIVE_MINUTES}:fused"`)),
        { timeoutMs: 20_000 },
      );
      if (options.trade !== false) trade(price, openTime + FIVE_MINUTES + 1);
    }
    return price;
  }

  function trade(price: number, time: number): void {
    const book = server.book('BTCUSDT');
    server.pushDepth('BTCUSDT', {
      b: [...book.bids.map(([p]) => [p, '0'] as const), [(price - 1).toFixed(2), '5']],
      a: [...book.asks.map(([p]) => [p, '0'] as const), [(price + 1).toFixed(2), '5']],
    });
    server.pushTrade('BTCUSDT', { price: price.toFixed(2), qty: '0.01', buyerIsMaker: false, time });
  }

  const held = (journal: string): bigint =>
    foldJournal(recordsOf(journal), START).portfolio.positions['BTC/USDT']?.qty ?? 0n;

  it('a restart takes over the position instead of buying it again, journals no warm-up signal twice, and records the clean stop', async () => {
    const outDir = path.join(tmp.dir, 'takeover');
    const first = start(outDir);
    await ready(first);
    await rally(first, 8);
    await eventually(() => ok(held(first.journal) > 0n, 'no position yet'), { timeoutMs: 20_000 });
    const firstSummary = await stop(first);
    const position = held(first.journal);
    equal(firstSummary.positions['BTC/USDT'], formatUnits(position));

    const second = start(outDir);
    await ready(second);
    match(second.log.text(), /1 earlier session\(s\), the last one stopped cleanly/);
    match(second.log.text(), new RegExp(`positions BTC/USDT ${formatUnits(position).replace('.', '\\.')}`));
    await rally(second, 4);
    const summary = await stop(second);
    equal(summary.previous, 'stopped');

    const records = recordsOf(second.journal);
    const headers = records.filter((r) => r.kind === 'session' && r['event'] === 'started');
    equal(headers.length, 2);
    equal(headers[1]!['previous'], 'stopped');
    const start2 = headers[1]!['start'] as { positions: Record<string, { qty: string }> };
    equal(start2.positions['BTC/USDT']!.qty, formatUnits(position));
    equal(records.filter((r) => r.kind === 'session' && r['event'] === 'stopped').length, 2);
    // The second session held what the first bought: it did not buy a second 10 % on top.
    const state = foldJournal(records, START);
    const value = (Number(state.portfolio.positions['BTC/USDT']?.qty ?? 0n) / 1e8) * 20_500;
    ok(value < 0.15 * 10_000, `holding ${value.toFixed(0)} USDT of BTC: bought again after the restart`);
    // Each decision journaled once, though the second warm-up replayed the first session's bars.
    const ids = records.filter((r) => r.kind === 'signal').map((r) => String(r['id']));
    equal(new Set(ids).size, ids.length, 'a signal was journaled twice');
  });

  it('refuses a second session on the same --out while one runs', async () => {
    const outDir = path.join(tmp.dir, 'locked');
    const first = start(outDir);
    try {
      await ready(first);
      const second = start(outDir);
      await rejects(
        second.done,
        (err: unknown) =>
          err instanceof LockError && err.code === 'LOCKED' && /in use by another session/.test(err.message),
      );
    } finally {
      await stop(first);
    }
  });

  it('flattens the position opened since the last bar at the press, shows it in the status line, and keeps the latch across restarts until an audited reset', async () => {
    const outDir = path.join(tmp.dir, 'latch');
    const first = start(outDir, { statusEveryMs: 50 });
    await ready(first);
    // Bars one at a time, each followed by a trade, until the first buy fills — on the trade after
    // the last bar: the position opens mid-bar, after the last bar's portfolio (which is flat).
    for (let i = 0; i < 16 && held(first.journal) === 0n; i++) {
      await rally(first, 1);
      await eventually(() => ok(held(first.journal) > 0n), { timeoutMs: 1_500, intervalMs: 20 }).catch(() => undefined);
    }
    const position = held(first.journal);
    ok(position > 0n, 'no position after 16 rising bars');
    const lastBar = recordsOf(first.journal)
      .filter((r) => r.kind === 'signal')
      .pop()!;
    const buy = recordsOf(first.journal).find((r) => r.kind === 'fill')!;
    ok((buy['tsEvent'] as number) >= (lastBar['tsEvent'] as number), 'the fill is not after the last bar');
    await eventually(
      () => match(first.log.text(), new RegExp(`status: .*BTC/USDT ${formatUnits(position).replace('.', '\\.')}`)),
      {
        timeoutMs: 10_000,
      },
    );
    first.signals.emit('SIGUSR2');
    // At the press — no bar in between — the sell of the whole position is handed to the venue.
    const flatten = await eventually(() => {
      const m = /flatten: sell ([\d.]+) BTC\/USDT handed to the venue ([\d.]+) ms after the press/.exec(
        first.log.text(),
      );
      ok(m, 'no flatten at the press');
      return m;
    });
    equal(flatten[1], formatUnits(position));
    process.stderr.write(
      `      press → flatten order handed to the venue: ${flatten[2]} ms (position opened mid-bar)\n`,
    );
    trade(30_000, bucket + (next + 1) * FIVE_MINUTES);
    await eventually(() => equal(held(first.journal), 0n), { timeoutMs: 10_000 });
    const firstSummary = await stop(first);
    equal(firstSummary.finalMode, 'Emergency');
    // The structured log holds the same status lines as events (fields + the printed text), the
    // fill and the mode change, each with its ids.
    const logged = readdirSync(path.join(tmp.dir, 'logs'))
      .flatMap((f) =>
        readFileSync(path.join(tmp.dir, 'logs', f), 'utf8')
          .trim()
          .split('\n'),
      )
      .map((l) => JSON.parse(l) as Rec);
    const statusLines = first.log
      .text()
      .split('\n')
      .filter((l) => l.startsWith('status: '));
    const statusEvents = logged.filter((l) => l['event'] === 'status');
    ok(statusEvents.length > 0, 'no status event logged');
    for (const e of statusEvents) {
      ok(statusLines.includes(e['msg'] as string), `a status event whose text was not printed: ${String(e['msg'])}`);
      equal(e['component'], 'session');
      equal(typeof e['equity'], 'number');
    }
    ok(statusEvents.some((e) => (e['positions'] as Record<string, string>)['BTC/USDT'] === formatUnits(position)));
    ok(logged.some((l) => l['event'] === 'fill' && l['clientOrderId'] === buy['clientOrderId'] && l['traceId']));
    ok(logged.some((l) => l['event'] === 'mode-changed' && l['to'] === 'Emergency' && l['level'] === 'warn'));
    equal(Object.keys(firstSummary.positions).length, 0, 'the exit summary shows the current portfolio');

    // Restart (as the service does, with the status LEDs): still latched — it starts in
    // Emergency, trades nothing, and the red LED blinks (on, off, on…) with green and yellow off.
    const secondLeds = recordingLeds();
    const second = start(outDir, { leds: secondLeds.io });
    await ready(second);
    match(second.log.text(), /kill latch restored/);
    await eventually(() => match(second.log.text(), /mode Normal → Emergency/));
    await eventually(() => match(second.log.text(), /status LEDs: blink-red/));
    await eventually(
      () => {
        const afterLatch = secondLeds.writes.slice(secondLeds.writes.findIndex((w) => w.pin === RED && w.level === 1));
        const red = afterLatch.filter((w) => w.pin === RED).map((w) => w.level);
        ok(red.length >= 4, `red LED written ${red.length} times since it lit`);
        ok(
          red.every((level, i) => level === (i % 2 === 0 ? 1 : 0)),
          `red LED does not blink: ${red.join('')}`,
        );
        ok(
          afterLatch.every((w) => w.pin === RED || w.level === 0),
          'another LED lit while latched',
        );
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    // No reset while a session runs on the folder.
    throws(() => resetMode({ outDir, reason: 'checked the account' }), LockError);
    await rally(second, 2);
    const secondSummary = await stop(second);
    equal(secondSummary.finalMode, 'Emergency');
    const all = recordsOf(second.journal);
    const secondStart = all.map((r) => r.kind === 'session' && r['event'] === 'started').lastIndexOf(true);
    ok(
      !all
        .slice(secondStart)
        .some((r) => r.kind === 'approved' && (r['order'] as { reducesRisk: boolean }).reducesRisk === false),
      'a risk-increasing order was approved while latched',
    );

    // The reset: refused without a reason, or with the button still pressed; then audited.
    throws(
      () => resetMode({ outDir, reason: ' ' }),
      (err: unknown) => err instanceof ModeResetError && err.code === 'RESET_REASON_MISSING',
    );
    throws(
      () => resetMode({ outDir, reason: 'checked', killSwitch: 'gpio', readPin: () => 'pressed' }),
      (err: unknown) => err instanceof ModeResetError && err.code === 'RESET_SWITCH_PRESSED',
    );
    const reset = resetMode({ outDir, reason: 'checked the account and the feed' });
    match(reset.message, /kill latch reset/);
    const audit = recordsOf(path.join(outDir, 'audit.jsonl'));
    const record = audit[audit.length - 1]!;
    equal(record.kind, 'mode-reset');
    equal(record['reason'], 'checked the account and the feed');
    throws(
      () => resetMode({ outDir, reason: 'again' }),
      (err: unknown) => err instanceof ModeResetError && err.code === 'RESET_NOT_LATCHED',
    );

    const thirdLeds = recordingLeds();
    const third = start(outDir, { leds: thirdLeds.io });
    await ready(third);
    ok(!/kill latch restored/.test(third.log.text()));
    // After the audited reset the service comes up Normal: green steady once trading.
    await eventually(() => match(third.log.text(), /status LEDs: steady-green/));
    equal(thirdLeds.writes.filter((w) => w.pin === GREEN && w.level === 1).length >= 1, true);
    const thirdSummary = await stop(third);
    equal(thirdSummary.finalMode, 'Normal');
  });

  it('a restart restores the breakers the journal left open: the session starts Paused (fail-closed), the restored changes journaled', async () => {
    const outDir = path.join(tmp.dir, 'breakers');
    const first = start(outDir);
    await ready(first);
    await stop(first);
    // The earlier session's last word on its breakers: two feeds OPEN, and so the global breaker
    // (as a session journals them during an outage).
    const now = Date.now();
    const change = (component: string): string =>
      `${JSON.stringify({ kind: 'breaker-state-changed', component, from: 'CLOSED', to: 'OPEN', reason: '5 consecutive errors ≥ 5; cooldown 30000 ms', numbers: { errorsInRow: 5 }, tsEvent: now })}\n`;
    writeFileSync(
      first.journal,
      readFileSync(first.journal, 'utf8') + change('feed:ohlcv') + change('feed:trades') + change('global'),
    );

    const second = start(outDir);
    await ready(second);
    match(
      second.log.text(),
      /breakers not closed at the end: feed:ohlcv OPEN, feed:trades OPEN, global OPEN \(restored/,
    );
    await eventually(() => match(second.log.text(), /mode Normal → Paused/), { timeoutMs: 10_000 });
    const restored = recordsOf(second.journal).filter(
      (r) => r.kind === 'breaker-state-changed' && /^restored from the journal/.test(String(r['reason'])),
    );
    equal(restored.map((r) => `${r['component']}:${r['to']}`).join(' '), 'feed:ohlcv:OPEN feed:trades:OPEN');
    const summary = await stop(second);
    equal(summary.finalMode, 'Paused');
  });

  it('a press during the warm-up starts the session in Emergency, audited', async () => {
    const outDir = path.join(tmp.dir, 'early');
    const session = start(outDir);
    // runSession has armed the switch synchronously; the warm-up has not finished.
    ok(!/warm-up done/.test(session.log.text()));
    session.signals.emit('SIGUSR2');
    await ready(session);
    await eventually(() => match(session.log.text(), /mode Normal → Emergency: .*SIGUSR2/));
    const summary = await stop(session);
    equal(summary.finalMode, 'Emergency');
    ok(recordsOf(summary.audit).some((r) => r.kind === 'mode-changed' && r['to'] === 'Emergency'));
  });
});
