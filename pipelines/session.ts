/**
 * Paper and live sessions: the trading pipeline on live market data from ccxt.pro, against the
 * paper exchange simulator (paper) or the exchange itself through ccxt (live).
 *
 * A session:
 * 1. validates the config and, for live, that keys came from the environment and the operator
 *    confirmed; loads the ML model;
 * 2. subscribes to the live bars first, then replays recent history over REST so indicators,
 *    statistics and the model are warm — those bars are never traded (`tradeFrom`) — and hands
 *    over to the live bars without a hole or a repeat;
 * 3. for live, starts from the balances and positions the exchange reports;
 * 4. watches the kill switch (a GPIO button and/or a process signal) and drives the status LEDs;
 * 5. writes every event to an append-only journal and every mode change, press and halted order
 *    to an audit journal (fsynced), feeds the circuit breakers from the feeds and the venue;
 * 6. on stop (Ctrl-C / SIGTERM / the `stop` option) ends the bar stream, lets what is in flight
 *    settle, flushes the journals and switches the LEDs off.
 */
import { Bot4Error } from '../operators/errors';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import {
  EMPTY,
  NEVER,
  Observable,
  Subject,
  asapScheduler,
  asyncScheduler,
  concat,
  connectable,
  defer,
  distinctUntilChanged,
  filter,
  finalize,
  firstValueFrom,
  lastValueFrom,
  map,
  merge,
  observeOn,
  of,
  ReplaySubject,
  share,
  switchMap,
  takeUntil,
  tap,
  timeout,
  toArray,
  type SchedulerLike,
  Subscription,
} from 'rxjs';
import type { ComponentOutcome } from '../operators/circuitBreaker';
import type { CompiledModel } from '../operators/mlModel';
import { formatUnits, notionalOf, toUnits, unitsToNumber } from '../operators/money';
import { applyFill } from '../operators/trackPortfolio';
import type { Bar, Instrument, Mode, OrderBook, Portfolio, Position, Timeframe, TradeTick } from '../operators/types';
import { dustOf } from '../operators/lotGrid';
import { timeframeMs } from '../operators/types';
import {
  makeKillSwitchSource,
  makeSignalKillSwitchSource,
  readKillSwitchPin,
  type KillSwitchEvent,
  type SignalEmitter,
} from '../hardware/killSwitch';
import { makeLedFrameSink, type StatusLedConfig } from '../hardware/statusLeds';
import { showLedPattern } from '../operators/ledPattern';
import { trackLedStatus, type FeedHealth, type WarmedUp } from '../operators/trackLedStatus';
import { makeCcxtVenue, asVenue, type CcxtVenueEvent, type VenueAccountSnapshot } from '../sinks/ccxtVenue';
import { appendJournalRecord, makeJournalSink, type Journaled } from '../sinks/journal';
import { acquireLock, type HeldLock } from '../sinks/lockFile';
import { paperExchangeFor } from './paperVenue';
import { makeCcxtOhlcvSource, makeCcxtOrderBookSource, makeCcxtTradeSource } from '../sources/ccxtMarketData';
import { feedOutcomeOf, type FeedEvent } from '../sources/ccxtFeed';
import { makeOhlcvHistorySource } from '../sources/ohlcvHistory';
import { alignBars } from '../operators/alignBars';
import { aggregateBars } from '../operators/aggregateBars';
import { mergeByEventTime } from './backtest';
import { buildLayout } from '../operators/computeFeatures';
import { loadConfig, type PipelineConfig } from './config';
import { loadModelFor } from './model';
import { describeRecovery, portfolioRecord, recoverFromJournals, type Recovery } from './recovery';
import { startObservability } from './observability';
import { startTelemetry, type Telemetry } from './telemetry';
import { acceptingBooks, tradingPipeline, type PipelineEvent, type PipelineVenue } from './tradingPipeline';
import { makeIntelFeed } from './intelChain';

export type SessionMode = 'paper' | 'live';
export type KillSwitchKind = 'gpio' | 'signal' | 'both' | 'none';

export interface SessionCredentials {
  readonly apiKey: string;
  readonly secret: string;
  readonly password?: string;
}

export interface SessionOptions {
  readonly mode: SessionMode;
  readonly configFile: string;
  /** Folder for journal.jsonl and audit.jsonl. Default `out/<config name>/<mode>`. */
  readonly outDir?: string;
  /** REST origin replacing the exchange's (testnet, proxy). */
  readonly apiUrl?: string;
  /** WebSocket origin replacing the exchange's. */
  readonly wsUrl?: string;
  /** Recent bars replayed to warm up before trading. Default: what the config needs (indicators, statistics, GARCH), at least 300. */
  readonly warmupBars?: number;
  /** Kill switch: GPIO button (BCM17), process signal (SIGUSR2), both, or none. Default `signal`. */
  readonly killSwitch?: KillSwitchKind;
  /** Drive the status LEDs (BCM22/23/24). Default false. */
  readonly leds?: boolean;
  /** The LEDs' rpio (a wrapper in tests), mock board and pins. Default: the real rpio, BCM22/23/24. */
  readonly gpio?: StatusLedConfig;
  /** Live only: from the environment, never from a file or the command line. */
  readonly credentials?: SessionCredentials;
  /** Live only: the operator's explicit confirmation that real orders will be sent. */
  readonly confirmLive?: boolean;
  /** Ends the session gracefully when it emits or completes. */
  readonly stop$?: Observable<unknown>;
  /** Where progress and status lines go. */
  readonly log: Writable;
  /** Status line period, ms. Default 60 000. */
  readonly statusEveryMs?: number;
  /** Clock and timers. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Process-like emitter for the signal kill switch (tests). Default `process`. */
  readonly signalEmitter?: SignalEmitter;
  /** Extra ccxt options for the sources and the venue (tests: `{ fetchCurrencies: false }`). */
  readonly ccxtOptions?: Record<string, unknown>;
  /**
   * Folder of the per-account locks (live: one session per exchange account, named by a hash of
   * the venue and API key). Default `<os tmpdir>/bot4-locks`.
   */
  readonly lockDir?: string;
  /** Serve Prometheus `/metrics` on this port (0: a free one) on `metricsHost` (default 127.0.0.1). */
  readonly metricsPort?: number;
  readonly metricsHost?: string;
  /** Serve the read-only dashboard of this session on this port (0: a free one), on 127.0.0.1. */
  readonly dashboardPort?: number;
  /** Environment with INFLUX_* for the InfluxDB sink. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface SessionSummary {
  readonly mode: SessionMode;
  readonly config: { readonly name: string; readonly hash: string };
  readonly warmupBars: number;
  readonly liveBars: number;
  readonly orders: number;
  readonly fills: number;
  readonly denied: number;
  readonly finalMode: Mode;
  readonly equity: number;
  readonly positions: Readonly<Record<string, string>>;
  /**
   * The part of each position that is dust — off the lot grid, or below the minimum quantity or
   * notional at the last price (e.g. what a fee taken in the base asset leaves after a sell): it
   * stays in the account and can never be sold on its own. Only symbols with dust.
   */
  readonly dust: Readonly<Record<string, string>>;
  readonly journal: string;
  readonly audit: string;
  /** How the session before this one ended, as its journal shows. */
  readonly previous: 'none' | 'stopped' | 'crashed';
  /** `feed.bars: trades`: bars compared with the exchange's klines, and how many differed. */
  readonly barCrossCheck?: { readonly compared: number; readonly mismatches: number };
  /** Milliseconds from the start of `runSession` to the first decision on a live bar; undefined when none was made. */
  readonly restartToFirstDecisionMs?: number;
  /** Milliseconds from the kill-switch press to the flatten orders handed to the venue; undefined when none. */
  readonly pressToFlattenMs?: number;
}

export type SessionErrorCode =
  | 'LIVE_NOT_CONFIRMED'
  | 'MISSING_CREDENTIALS'
  | 'WARMUP_FAILED'
  | 'ACCOUNT_FAILED'
  | 'JOURNAL_MISMATCH'
  | 'UNIVERSE_NOT_SUPPORTED';

export class SessionError extends Bot4Error<SessionErrorCode> {
  constructor(code: SessionErrorCode, message: string) {
    super(code, 'session', message);
  }
}

/** Mode changes, kill-switch presses and orders stopped by it: the audit trail. */
const AUDIT_KINDS = new Set([
  'session',
  // Only journaled when the account differed (trades adopted, balances drifted).
  'venue-reconciled',
  'mode-changed',
  'order-halted',
  'kill-switch',
  'cancel-all',
  'breaker-state-changed',
  'portfolio-adopted',
  'order-abandoned',
  'fill-recovered',
]);

export async function runSession(options: SessionOptions): Promise<SessionSummary> {
  const began = performance.now();
  const scheduler = options.scheduler ?? asyncScheduler;
  const print = (line: string): void => {
    options.log.write(`${line}\n`);
  };
  /** Structured logs and traces, once the session has started them; until then lines are only printed. */
  const telemetryRef: { current?: Telemetry } = {};
  const log = (line: string, fields?: Readonly<Record<string, unknown>>): void => {
    if (telemetryRef.current) telemetryRef.current.line(line, fields);
    else print(line);
  };
  const config = loadConfig(options.configFile);
  if (options.mode === 'live') {
    if (!options.confirmLive) {
      throw new SessionError(
        'LIVE_NOT_CONFIRMED',
        'live trading sends real orders with real money: pass --confirm-live to confirm (and try `run-pipeline paper` first)',
      );
    }
    if (!options.credentials?.apiKey || !options.credentials.secret) {
      throw new SessionError(
        'MISSING_CREDENTIALS',
        'live trading needs API keys in the environment: BOT4_API_KEY and BOT4_API_SECRET (BOT4_API_PASSWORD where the exchange has a passphrase)',
      );
    }
  }
  const exchange = sessionExchange(config);

  // The kill switch is armed before anything slow happens: a press during start-up or warm-up is
  // latched here and the session starts in Emergency (cancel, flatten, audit), never a bare exit.
  const kills: Observable<KillSwitchEvent>[] = [];
  const kind = options.killSwitch ?? 'signal';
  if (kind === 'gpio' || kind === 'both') kills.push(makeKillSwitchSource({ scheduler }));
  if (kind === 'signal' || kind === 'both')
    kills.push(
      makeSignalKillSwitchSource({ scheduler, ...(options.signalEmitter ? { emitter: options.signalEmitter } : {}) }),
    );
  // Latched here for the whole session; the watchers (pin poll, signal listener) end with it.
  const armedKill$ = kills.length > 0 ? new ReplaySubject<KillSwitchEvent>(1) : undefined;
  let pressedAt: number | undefined;
  const killLog = armedKill$?.subscribe({
    next: (press) => {
      pressedAt ??= performance.now();
      log(`KILL SWITCH: ${press.reason} — mode Emergency, cancelling and flattening`);
    },
    // The pipeline counts a failed switch as pressed (fail-closed); here it is only logged.
    error: (err: unknown) => {
      pressedAt ??= performance.now();
      log(`KILL SWITCH: the switch failed (${(err as Error).message}) — treated as pressed`);
    },
  });
  const killWatch = armedKill$ ? merge(...kills).subscribe(armedKill$) : undefined;

  const outDir = options.outDir ?? path.join('out', config.name, options.mode);
  mkdirSync(outDir, { recursive: true, mode: 0o750 });
  const locks: HeldLock[] = [];
  try {
    // One session per journal folder, and (live) one per exchange account.
    const outLock = acquireLock(path.join(outDir, 'session.lock'), `the session folder ${outDir}`, scheduler.now());
    locks.push(outLock);
    if (outLock.tookOverFrom)
      log(`lock: took over ${outLock.file} from pid ${outLock.tookOverFrom.pid}, which no longer runs`);
    if (options.mode === 'live') {
      const account = createHash('sha256')
        .update(`${exchange}\n${options.credentials!.apiKey}`)
        .digest('hex')
        .slice(0, 16);
      locks.push(
        acquireLock(
          path.join(options.lockDir ?? path.join(tmpdir(), 'bot4-locks'), `${exchange}-${account}.lock`),
          `the ${exchange} account (key hash ${account})`,
          scheduler.now(),
        ),
      );
    }
    return await runLocked(options, config, outDir, {
      scheduler,
      log,
      print,
      telemetryRef,
      began,
      armedKill$,
      pressedAt: () => pressedAt,
    });
  } finally {
    killWatch?.unsubscribe();
    killLog?.unsubscribe();
    for (const lock of locks.reverse()) lock.release();
  }
}

interface SessionContext {
  readonly scheduler: SchedulerLike;
  readonly log: (line: string, fields?: Readonly<Record<string, unknown>>) => void;
  /** Prints a line without logging it (the telemetry's own human output). */
  readonly print: (line: string) => void;
  /** Where the session puts its telemetry once started: `log` goes through it from then on. */
  readonly telemetryRef: { current?: Telemetry };
  readonly began: number;
  readonly armedKill$: Observable<KillSwitchEvent> | undefined;
  readonly pressedAt: () => number | undefined;
}

async function runLocked(
  options: SessionOptions,
  config: PipelineConfig,
  outDir: string,
  ctx: SessionContext,
): Promise<SessionSummary> {
  const { scheduler, log } = ctx;
  const model: CompiledModel | undefined = config.signals.ml ? loadModelFor(config) : undefined;
  const instrument = config.instrument;
  const exchange = instrument.venue;
  const symbols = config.instruments.map((i) => i.symbol);
  const endpoints = {
    ...(options.apiUrl !== undefined ? { apiUrl: options.apiUrl } : {}),
    ...(options.wsUrl !== undefined ? { wsUrl: options.wsUrl } : {}),
    ...(options.ccxtOptions !== undefined ? { ccxtOptions: options.ccxtOptions } : {}),
  };
  const tf = timeframeMs(config.timeframe);
  const warmupBars = options.warmupBars ?? defaultWarmup(config);
  const journalFile = path.join(outDir, 'journal.jsonl');
  const auditFile = path.join(outDir, 'audit.jsonl');
  const startedAt = scheduler.now();
  log(
    `${options.mode} session ${config.name} (config ${config.hash}) on ${exchange} ${symbols.join(', ')} ${config.timeframe}; journal ${journalFile}`,
  );

  // The journal is the source of truth: what the earlier sessions did is where this one starts.
  const recovery: Recovery = recoverFromJournals(journalFile, auditFile, {
    initialCash: config.initialCash,
    quote: instrument.quote,
  });
  const recovered = recovery.state;
  log(describeRecovery(recovery));
  if (recovered.sessions > 0 && recovered.portfolio.quote !== instrument.quote) {
    throw new SessionError(
      'JOURNAL_MISMATCH',
      `${journalFile} holds a ${recovered.portfolio.quote} account, the config trades in ${instrument.quote}: use another --out`,
    );
  }

  // Live bars first (buffered), so that nothing closes unseen while the history loads.
  const feedEvents$ = new Subject<FeedEvent>();
  const historyConfig = (symbol: string, since: number, until: number) => ({
    exchange,
    symbol,
    timeframe: config.timeframe,
    since,
    until,
    ...(options.apiUrl !== undefined ? { apiUrl: options.apiUrl } : {}),
  });
  // One handover per symbol: each series is continued from its own history without a hole.
  const handovers = new Map(
    symbols.map((symbol) => [
      symbol,
      new BarHandover((from, until) =>
        makeOhlcvHistorySource(historyConfig(symbol, from, until), { scheduler }).pipe(map((page) => page.bars)),
      ),
    ]),
  );
  // The trade stream, shared: after the warm-up it marks the portfolio and fills at the venue;
  // with `feed.bars: trades` it also builds the bars, from the start.
  const barsFromTrades = config.feed?.bars === 'trades';
  const trades$ = makeCcxtTradeSource({ exchange, symbols, ...endpoints }, { scheduler }).pipe(share());
  const crossCheck = new BarCrossCheck(log);
  // The exchange's own lot sizes, ticks and minimums, from the markets the kline feed loads.
  const marketsLoaded = deferred<readonly Instrument[]>();
  const liveSubscription = new Subscription();
  const endLive = {
    error: (err: unknown) => handovers.forEach((h) => h.fail(err)),
    complete: () => handovers.forEach((h) => h.end()),
  };
  liveSubscription.add(
    makeCcxtOhlcvSource({ exchange, symbols, timeframes: [config.timeframe], ...endpoints }, { scheduler }).subscribe({
      next: (e) => {
        if (e.kind === 'bar') {
          if (e.timeframe !== config.timeframe) return;
          if (barsFromTrades) crossCheck.fromExchange(e);
          else handovers.get(e.symbol)?.live(e);
        } else if (e.kind !== 'dead-letter') {
          if (e.kind === 'feed-markets-loaded') marketsLoaded.resolve(e.instruments);
          feedEvents$.next(e);
        }
      },
      // With bars from trades the kline stream is only the cross-check: its end ends nothing.
      error: (err: unknown) => {
        if (barsFromTrades) log(`bar cross-check: the kline stream failed: ${(err as Error).message}`);
        else endLive.error(err);
      },
      complete: () => {
        if (!barsFromTrades) endLive.complete();
      },
    }),
  );
  if (barsFromTrades)
    liveSubscription.add(
      trades$
        .pipe(
          filter((e): e is TradeTick => e.kind === 'trade'),
          // Event time; the bar a session joins mid-way is partial and never passed on.
          aggregateBars({ timeframes: [config.timeframe as Timeframe], partialFirstBar: 'drop', scheduler }),
        )
        .subscribe({
          next: (e) => {
            if (e.kind !== 'bar') return;
            crossCheck.fromTrades(e);
            handovers.get(e.symbol)?.live(e);
          },
          error: endLive.error,
          complete: endLive.complete,
        }),
    );

  /** The warm-up history of each symbol. */
  const histories = new Map<string, Bar[]>();
  let warmup: Bar[];
  let initial: Portfolio | undefined = recovered.sessions > 0 ? recovered.portfolio : undefined;
  let venue: PipelineVenue;
  const venueSide$ = new Subject<CcxtVenueEvent>();
  /** Records for the journal and the audit trail right after the header (adoptions, lost orders). */
  const restartRecords: (Journaled & Record<string, unknown>)[] = [];
  try {
    // Recent history: indicators, statistics and the model warm up on it; it is never traded.
    const firstOpen = Math.floor(startedAt / tf) * tf - warmupBars * tf;
    for (const symbol of symbols) {
      const bars = (
        await lastValueFrom(
          makeOhlcvHistorySource(historyConfig(symbol, firstOpen, Math.floor(startedAt / tf) * tf), {
            scheduler,
          }).pipe(
            tap((page) =>
              log(
                `warm-up${symbols.length > 1 ? ` ${symbol}` : ''}: ${page.progress.barsFetched} bars, up to ${new Date(page.bars[page.bars.length - 1]!.tsEvent).toISOString()}`,
              ),
            ),
            map((page) => page.bars),
            toArray(),
          ),
        )
      ).flat();
      if (bars.length === 0) throw new Error(`the exchange returned no ${symbol} bars`);
      histories.set(symbol, bars);
    }
    // In event time across symbols, in the config's order at equal times: as a backtest replays them.
    warmup = mergeByEventTime(symbols.map((s) => histories.get(s)!));
  } catch (err) {
    liveSubscription.unsubscribe();
    throw new SessionError(
      'WARMUP_FAILED',
      `warm-up history could not be loaded from ${exchange}: ${(err as Error).message}`,
    );
  }
  /** Each symbol's last warm-up close: what a holding the exchange reports is valued at. */
  const lastCloses = Object.fromEntries(symbols.map((s) => [s, histories.get(s)!.at(-1)!.close]));
  // Orders go on the exchange's grid: its precision and minimums replace the config's.
  const fromExchange = await Promise.race([
    marketsLoaded.promise,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 30_000).unref()),
  ]);
  if (!fromExchange)
    log(`markets: ${exchange} did not report its markets in 30 s; lot sizes and minimums from the config`);
  const traded = fromExchange ? withExchangeInstruments(config, fromExchange, log) : config;

  if (options.mode === 'live') {
    const venueConfig = {
      exchange,
      apiKey: options.credentials!.apiKey,
      secret: options.credentials!.secret,
      ...(options.credentials!.password ? { password: options.credentials!.password } : {}),
      symbols,
      ...(options.apiUrl !== undefined ? { apiUrl: options.apiUrl } : {}),
      ...(options.ccxtOptions !== undefined ? { ccxtOptions: options.ccxtOptions } : {}),
    };
    // The orders the journal shows unsettled: the snapshot looks them up and brings back, as
    // fills, what they executed while no session watched.
    const recoverOrders = Object.values(recovered.openOrders)
      .filter((o) => o.symbol === instrument.symbol)
      .map((o) => ({
        clientOrderId: o.clientOrderId,
        signalId: o.signalId,
        symbol: o.symbol,
        side: o.side,
        filled: o.filled,
        sentAt: o.tsEvent,
      }));
    let snapshot: VenueAccountSnapshot;
    try {
      snapshot = await accountSnapshot(makeCcxtVenue({ ...venueConfig, recoverOrders }, { scheduler }));
    } catch (err) {
      liveSubscription.unsubscribe();
      throw err;
    }
    // The exchange holds the money: its account is where the portfolio starts. What the journal
    // rebuilt is compared with it; a difference is adopted, and audited.
    const fromExchange = portfolioFromAccount(snapshot, instrument.quote, lastCloses, startedAt);
    // Fills made while the session was down are fills (price, fee, signal), not a balance difference.
    let journalView = recovered.portfolio;
    for (const fill of snapshot.recoveredFills) {
      journalView = applyFill(journalView, fill);
      log(
        `recovered fill: ${fill.side} ${formatUnits(fill.qty)} ${fill.symbol} @ ${formatUnits(fill.price)} (order ${fill.clientOrderId}, signal ${fill.signalId || 'unknown'}) executed while no session watched`,
      );
      restartRecords.push({
        ...fill,
        kind: 'fill-recovered',
        reason:
          'RESTART: executed on the exchange while no session watched (found by looking the unsettled order up); already in the account this session starts from',
      });
    }
    initial = recovered.sessions > 0 ? reconcileWithAccount(journalView, fromExchange) : fromExchange;
    if (recovered.sessions > 0) {
      // Orders the journal shows unanswered: whatever they did is in the account just read. The
      // venue reports those still open on the exchange (and their later fills) from its snapshot.
      for (const o of Object.values(recovered.openOrders))
        restartRecords.push({
          kind: 'order-abandoned',
          clientOrderId: o.clientOrderId,
          signalId: o.signalId,
          status: o.status,
          reason:
            'RESTART: the previous session ended before this order was settled; what it executed is in the exchange account adopted at this start',
          tsEvent: startedAt,
        });
      const differences = portfolioDifferences(journalView, fromExchange);
      if (differences.length > 0) {
        log(`account differs from the journal: ${differences.join('; ')} — the exchange's account is adopted`);
        restartRecords.push({
          kind: 'portfolio-adopted',
          reason: `the exchange account differs from the portfolio rebuilt from the journal${snapshot.recoveredFills.length > 0 ? ` and ${snapshot.recoveredFills.length} recovered fill(s)` : ''}`,
          differences,
          journal: portfolioRecord(journalView),
          exchange: portfolioRecord(fromExchange),
          tsEvent: startedAt,
        });
      }
    }
    log(
      `account: ${
        Object.entries(snapshot.balances)
          .map(([asset, b]) => `${asset} ${formatUnits(b.total)}`)
          .join(', ') || 'empty'
      }; equity ${initial.equity.toFixed(2)} ${instrument.quote}`,
    );
    venue = acceptingBooks(asVenue(makeCcxtVenue(venueConfig, { scheduler }), (event) => venueSide$.next(event)));
  } else {
    // The simulated exchange died with the previous process: it restarts holding what the
    // journal says the account holds, and refuses every client order id already used. Orders
    // it had not finished are gone with it; they are reported canceled so the books balance.
    const lost = Object.values(recovered.openOrders);
    if (lost.length > 0) {
      log(
        `${lost.length} order(s) open at the previous session's end were lost with its paper exchange: reported canceled`,
      );
      for (const o of lost)
        restartRecords.push({
          kind: 'order-canceled',
          clientOrderId: o.clientOrderId,
          signalId: o.signalId,
          reason: 'RESTART: the paper exchange ended with the previous session before finishing the order',
          tsEvent: startedAt,
        });
    }
    venue = paperExchangeFor(traded, scheduler, {
      ...(initial ? { startLedger: initial } : {}),
      usedClientOrderIds: recovered.usedClientOrderIds,
    });
  }

  // Observability (InfluxDB, Prometheus) when the config or options turn it on: taps, one close.
  const observe = await startObservability(config, {
    run: options.mode,
    outDir,
    log,
    ...(options.metricsPort !== undefined ? { metricsPort: options.metricsPort } : {}),
    ...(options.metricsHost !== undefined ? { metricsHost: options.metricsHost } : {}),
    ...(options.dashboardPort !== undefined ? { dashboardPort: options.dashboardPort } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
  }).catch((err: unknown) => {
    liveSubscription.unsubscribe();
    throw err;
  });

  // Structured logs and order-flow traces when the config turns them on (README "Logs and traces").
  const telemetry = await startTelemetry(config, {
    run: options.mode,
    human: ctx.print,
    ...(options.env !== undefined ? { env: options.env } : {}),
    secrets: [options.credentials?.apiKey, options.credentials?.secret, options.credentials?.password].filter(
      (s): s is string => typeof s === 'string',
    ),
  }).catch(async (err: unknown) => {
    liveSubscription.unsubscribe();
    await observe.close();
    throw err;
  });
  ctx.telemetryRef.current = telemetry;
  if (telemetry.tracesUrl) log(`traces: one per signal, exported over OTLP/HTTP to ${telemetry.tracesUrl}`);

  const stopped$ = new Subject<void>();
  let stopReason = 'the bar stream ended';
  const stopSubscription = (options.stop$ ?? NEVER).subscribe({
    next: () => {
      stopReason = 'stop requested';
      stopped$.next();
    },
    complete: () => {
      stopReason = 'stop requested';
      stopped$.next();
    },
    // A stop signal that fails still means stop.
    error: (err: unknown) => {
      stopReason = `the stop signal failed (${(err as Error).message})`;
      stopped$.next();
    },
  });
  const warmedUp$ = new Subject<void>();
  const bars$ = warmedUpBars(warmup, symbols, handovers, tf, scheduler, () => {
    const cpu = process.cpuUsage();
    log(
      `warm-up done (${warmup.length} bars); trading on live bars from ${new Date(startedAt).toISOString()} — ready ${((performance.now() - ctx.began) / 1000).toFixed(2)} s after the session started (process: up ${process.uptime().toFixed(2)} s, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU)`,
    );
    warmedUp$.next();
    warmedUp$.complete();
  }).pipe(observe.bars, takeUntil(stopped$));

  // Market data for the venue after warm-up: trades (fills, marks, emulated stops), and books for the simulator.
  const books$ =
    options.mode === 'paper'
      ? makeCcxtOrderBookSource({ exchange, symbols, depth: 20, ...endpoints }, { scheduler })
      : EMPTY;
  const market$ = warmedUp$.pipe(
    // Building bars, the trade stream is already connected: its feed events are those of that
    // subscription, which the later one would miss (connected) or repeat.
    switchMap(() => merge(barsFromTrades ? trades$.pipe(filter((e) => e.kind !== 'feed-connected')) : trades$, books$)),
    filter((e): e is TradeTick | OrderBook => {
      if (e.kind === 'trade') return true;
      // A book with an empty side (a snapshot before any depth) says nothing about where the
      // market is: the simulator would cancel every market order against it.
      if (e.kind === 'book') return e.bids.length > 0 && e.asks.length > 0;
      if (e.kind !== 'dead-letter') feedEvents$.next(e as FeedEvent);
      return false;
    }),
  );

  // The kill switch as the pipeline sees it: the latch the journal kept (a press in an earlier
  // session not yet reset with `run-pipeline mode-reset`), then the switch armed at start. Both
  // reach the pipeline asynchronously (asap), after it has wired every consumer of the mode: a
  // press latched during start-up must also reach the emergency flattening.
  const restoredLatch$ = recovered.killLatched
    ? of({
        reason: `kill switch latched in an earlier session (${recovered.latchReason ?? 'Emergency'}); reset it with run-pipeline mode-reset`,
      })
    : EMPTY;
  if (recovered.killLatched)
    log(`kill latch restored from the journal: starting in Emergency (${recovered.latchReason ?? 'Emergency'})`);
  const pipelineKill$ =
    recovered.killLatched || ctx.armedKill$
      ? concat(restoredLatch$, ctx.armedKill$ ? ctx.armedKill$.pipe(observe.events) : NEVER).pipe(
          observeOn(asapScheduler),
        )
      : undefined;

  // Circuit breakers: every feed and venue event is an outcome of its component.
  const outcomes$ = merge(
    // Data flowing (feed-healthy) is a success too: a connected feed closes its breaker.
    feedEvents$.pipe(map(feedOutcomeOf)),
    venueSide$.pipe(
      map((e): ComponentOutcome | undefined =>
        e.kind === 'venue-throttled'
          ? { component: 'venue', ok: false, tsEvent: scheduler.now() }
          : e.kind === 'venue-resumed'
            ? { component: 'venue', ok: true, tsEvent: scheduler.now() }
            : e.kind === 'venue-reconciled'
              ? // The account differed from what the session reported: adopted, and the venue breaker trips.
                e.differences === 0
                ? { component: 'venue', ok: true, tsEvent: e.tsEvent }
                : {
                    component: 'venue',
                    ok: false,
                    trip: true,
                    reason: `reconciliation adopted ${e.adoptedTrades} trades, ${e.drifts} balance drifts`,
                    tsEvent: e.tsEvent,
                  }
              : undefined,
      ),
    ),
  ).pipe(filter((o): o is ComponentOutcome => o !== undefined));

  // The venue as the pipeline sees it, timing the first emergency order it is handed after a
  // press: the press-to-flatten latency the session reports.
  let flattenMs: number | undefined;
  const measured: PipelineVenue = (input$) =>
    venue(
      input$.pipe(
        tap((command) => {
          const pressed = ctx.pressedAt();
          if (flattenMs !== undefined || pressed === undefined || command.kind !== 'order') return;
          if (!command.signalId.startsWith('emergency:')) return;
          flattenMs = performance.now() - pressed;
          log(
            `flatten: ${command.side} ${formatUnits(command.qty)} ${command.symbol} handed to the venue ${flattenMs.toFixed(3)} ms after the press`,
          );
        }),
      ),
    );
  // Bars an earlier session already decided on are never decided again, even when they reach
  // this one as live bars (a gap refetched after the restart): a decision repeated on a bar whose
  // order has filled would send its client order id again, which Binance accepts once it is free.
  const tradeFrom = Math.max(startedAt, recovered.lastSignalTs + 1);
  // Intelligence providers of the config, polled live (none without intelligence.providers).
  const intel$ = makeIntelFeed(config, {
    scheduler,
    onProblem: (p) => log(`intelligence ${p.provider} ${p.code}: ${p.detail}`, { ...p }),
  });
  const pipeline = tradingPipeline(traded, {
    venue: measured,
    scheduler,
    releaseScheduler: asapScheduler,
    // A restart does not forget an outage: breakers the journal left open start open.
    restoredBreakers: recovered.breakers,
    ...(model ? { model } : {}),
    ...(initial ? { initialPortfolio: initial } : {}),
    ...(observe.pipeline ? { observe: observe.pipeline } : {}),
  });

  // One root, connected once every consumer is subscribed: the warm-up replays synchronously.
  const events$ = connectable(
    pipeline({
      bars$,
      market$,
      tradeFrom,
      outcomes$,
      ...(pipelineKill$ ? { kill$: pipelineKill$ } : {}),
      ...(intel$ ? { intel$ } : {}),
    }).pipe(
      finalize(() => {
        feedEvents$.complete();
        venueSide$.complete();
      }),
    ),
    { connector: () => new Subject<PipelineEvent>(), resetOnDisconnect: false },
  );

  let orders = 0;
  let fills = 0;
  let denied = 0;
  let finalMode: Mode = config.modes?.initial ?? 'Normal';
  let firstDecisionMs: number | undefined;
  /** The portfolio as it is now: the last bar's, with every fill since applied. */
  let portfolio: Portfolio | undefined = initial;
  const statusTimer = scheduler.schedule(function () {
    if (portfolio) {
      const status = statusOf(portfolio, finalMode, config.instruments);
      log(statusLine(status), status);
    }
    this.schedule(undefined, options.statusEveryMs ?? 60_000);
  }, options.statusEveryMs ?? 60_000);

  const journalEvents$ = connectable(
    merge(events$, feedEvents$, venueSide$).pipe(
      observe.events,
      telemetry.events,
      tap((e) => {
        switch (e.kind) {
          case 'portfolio':
            portfolio = e as Portfolio;
            break;
          case 'order-accepted':
            orders++;
            break;
          case 'fill': {
            fills++;
            const fill = e as Extract<PipelineEvent, { kind: 'fill' }>;
            if (portfolio) portfolio = applyFill(portfolio, fill);
            log(`fill: ${fill.side} ${formatUnits(fill.qty)} ${fill.symbol} @ ${formatUnits(fill.price)}`);
            break;
          }
          case 'denied':
            denied++;
            break;
          case 'signal':
            if (firstDecisionMs === undefined && (e as { tsEvent: number }).tsEvent >= tradeFrom)
              firstDecisionMs = performance.now() - ctx.began;
            break;
          case 'mode-changed': {
            const change = e as { from: Mode; to: Mode; reason: string };
            finalMode = change.to;
            log(`mode ${change.from} → ${change.to}: ${change.reason}`);
            break;
          }
          default:
            break;
        }
      }),
      // Health beats and clean reconciliation passes feed the breakers; their state changes are
      // journaled, the beats are not. Signals up to the newest one already journaled (the warm-up
      // replays them) are not written again.
      filter(
        (e) =>
          e.kind !== 'portfolio' &&
          e.kind !== 'feed-healthy' &&
          !(e.kind === 'venue-reconciled' && (e as { differences?: number }).differences === 0) &&
          !(e.kind === 'signal' && (e as { tsEvent: number }).tsEvent <= recovered.lastSignalTs),
      ),
      map((e): Journaled => e),
    ),
    { connector: () => new Subject<Journaled>(), resetOnDisconnect: false },
  );
  const header: Journaled & Record<string, unknown> = {
    kind: 'session',
    event: 'started',
    mode: options.mode,
    config: { name: config.name, hash: config.hash },
    venue: exchange,
    symbol: instrument.symbol,
    ...(symbols.length > 1 ? { symbols } : {}),
    pid: process.pid,
    previous: recovered.previousEnd,
    ...(recovered.killLatched ? { killLatched: true } : {}),
    ...(initial ? { start: portfolioRecord(initial) } : {}),
    // Where the dashboard's PnL counts from.
    initialEquity: initial?.equity ?? unitsToNumber(config.initialCash),
    tsEvent: startedAt,
  };
  const stopRecord = defer(() =>
    of<Journaled & Record<string, unknown>>({
      kind: 'session',
      event: 'stopped',
      reason: stopReason,
      mode: finalMode,
      ...(portfolio ? { portfolio: portfolioRecord(portfolio) } : {}),
      tsEvent: scheduler.now(),
    }),
  );
  const journal = lastValueFrom(
    makeJournalSink({
      file: journalFile,
      append: true,
      bufferBytes: 1,
      syncEachFlush: options.mode === 'live',
      syncTiming: 'turn',
      level: config.journal?.level ?? 'decisions',
    })(concat(of(header), of(...restartRecords), journalEvents$, stopRecord)),
  );
  const audit = lastValueFrom(
    makeJournalSink({ file: auditFile, append: true, bufferBytes: 1, syncEachFlush: true, syncTiming: 'turn' })(
      concat(
        of(header),
        of(...restartRecords.filter((r) => AUDIT_KINDS.has(r.kind))),
        journalEvents$.pipe(filter((e) => AUDIT_KINDS.has(e.kind))),
        stopRecord,
      ),
    ),
  );
  // Status LEDs show the session's status (README "The appliance"): mode, kill latch, and whether
  // it trades (warm-up done, every feed up); blinking and the heartbeat run on the scheduler.
  const ledSubscription = options.leds
    ? makeLedFrameSink(options.gpio ?? {})(
        merge(
          events$.pipe(filter((e): e is Extract<PipelineEvent, { kind: 'mode-changed' }> => e.kind === 'mode-changed')),
          warmedUp$.pipe(map((): WarmedUp => ({ kind: 'warmed-up' }))),
          feedEvents$.pipe(
            filter(
              (e): e is Extract<FeedEvent, { kind: FeedHealth['kind'] }> =>
                e.kind === 'feed-disconnected' || e.kind === 'feed-connected' || e.kind === 'feed-healthy',
            ),
          ),
        ).pipe(trackLedStatus(config.modes?.initial ?? 'Normal'), showLedPattern({ scheduler })),
      )
        .pipe(
          distinctUntilChanged((a, b) => a.pattern === b.pattern),
          tap((shown) => log(`status LEDs: ${shown.pattern ?? 'off'}`)),
        )
        .subscribe({ error: (err: unknown) => log(`status LEDs: ${(err as Error).message}`) })
    : undefined;
  const journalConnection = journalEvents$.connect();
  const connection = events$.connect();

  try {
    await Promise.all([journal, audit]);
  } finally {
    connection.unsubscribe();
    journalConnection.unsubscribe();
    liveSubscription.unsubscribe();
    statusTimer.unsubscribe();
    stopSubscription.unsubscribe();
    ledSubscription?.unsubscribe();
    venueSide$.complete();
    feedEvents$.complete();
    await observe.close();
    await telemetry.close();
  }
  const positions = Object.fromEntries(
    Object.entries(portfolio?.positions ?? {}).map(([symbol, p]) => [symbol, formatUnits(p.qty)]),
  );
  const dust = Object.fromEntries(
    Object.values(portfolio?.positions ?? {})
      .filter((p) => p.symbol === instrument.symbol)
      .map((p) => [p.symbol, dustOf(p.qty, instrument, p.markPrice)] as const)
      .filter(([, d]) => d !== 0n)
      .map(([symbol, d]) => [symbol, formatUnits(d)]),
  );
  if (Object.keys(positions).length > 0)
    log(
      `open positions at stop: ${Object.entries(positions)
        .map(([s, q]) => `${s} ${q}${dust[s] !== undefined ? ` (dust ${dust[s]})` : ''}`)
        .join(', ')}`,
    );
  return {
    mode: options.mode,
    config: { name: config.name, hash: config.hash },
    warmupBars: warmup.length,
    liveBars: [...handovers.values()].reduce((n, h) => n + h.liveCount, 0),
    ...(barsFromTrades ? { barCrossCheck: { compared: crossCheck.compared, mismatches: crossCheck.mismatches } } : {}),
    orders,
    fills,
    denied,
    finalMode,
    equity: portfolio?.equity ?? unitsToNumber(config.initialCash),
    positions,
    dust,
    journal: journalFile,
    audit: auditFile,
    previous: recovered.previousEnd,
    ...(firstDecisionMs !== undefined ? { restartToFirstDecisionMs: firstDecisionMs } : {}),
    ...(flattenMs !== undefined ? { pressToFlattenMs: flattenMs } : {}),
  };
}

/** A promise with its resolve function. */
function deferred<T>(): { readonly promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve: (value) => resolve(value) };
}

/**
 * The config with each instrument's lot size, tick and minimums as the exchange reports them
 * (sector and the rest from the config); every difference is logged. An instrument the exchange
 * gives no usable grid for keeps the config's.
 */
export function withExchangeInstruments(
  config: PipelineConfig,
  fromExchange: readonly Instrument[],
  log: (line: string) => void,
): PipelineConfig {
  const bySymbol = new Map(fromExchange.map((i) => [i.symbol, i]));
  const merged = (i: Instrument): Instrument => {
    const x = bySymbol.get(i.symbol);
    if (!x || x.qtyStep <= 0n || !(x.priceTick > 0)) return i;
    const out: Instrument = {
      ...i,
      qtyStep: x.qtyStep,
      priceTick: x.priceTick,
      minQty: x.minQty,
      minNotional: x.minNotional,
    };
    const changed = [
      i.qtyStep !== x.qtyStep ? `qtyStep ${formatUnits(x.qtyStep)} (config ${formatUnits(i.qtyStep)})` : '',
      i.priceTick !== x.priceTick ? `priceTick ${x.priceTick} (config ${i.priceTick})` : '',
      i.minQty !== x.minQty ? `minQty ${formatUnits(x.minQty)} (config ${formatUnits(i.minQty)})` : '',
      i.minNotional !== x.minNotional
        ? `minNotional ${formatUnits(x.minNotional)} (config ${formatUnits(i.minNotional)})`
        : '',
    ].filter((d) => d !== '');
    if (changed.length > 0) log(`markets: ${i.symbol} from the exchange: ${changed.join(', ')}`);
    return out;
  };
  const universe = config.universe.map((m) => ({ ...m, instrument: merged(m.instrument) }));
  const instruments = universe.map((m) => m.instrument);
  return { ...config, instrument: instruments[0]!, instruments, universe };
}

/**
 * `feed.bars: trades`: compares each bar built from the trade stream with the exchange's kline of
 * the same symbol and open (prices exact on the grid; volume within 1e-6 relative, the trades'
 * quantities being rounded one by one) and logs every disagreement.
 */
class BarCrossCheck {
  private readonly waiting = new Map<string, { readonly bar: Bar; readonly from: 'trades' | 'exchange' }>();
  mismatches = 0;
  compared = 0;

  constructor(private readonly log: (line: string) => void) {}

  fromTrades(bar: Bar): void {
    this.meet(bar, 'trades');
  }

  fromExchange(bar: Bar): void {
    this.meet(bar, 'exchange');
  }

  private meet(bar: Bar, from: 'trades' | 'exchange'): void {
    const key = `${bar.symbol}|${bar.tsOpen}`;
    const other = this.waiting.get(key);
    if (!other || other.from === from) {
      this.waiting.set(key, { bar, from });
      // Bounded: a bar one side never sends (the partial first one) is forgotten after a while.
      if (this.waiting.size > 1_000) this.waiting.delete(this.waiting.keys().next().value!);
      return;
    }
    this.waiting.delete(key);
    this.compared++;
    const [trades, exchange] = from === 'trades' ? [bar, other.bar] : [other.bar, bar];
    const differs = (['open', 'high', 'low', 'close'] as const).filter((k) => trades[k] !== exchange[k]);
    if (Math.abs(trades.volume - exchange.volume) > 1e-6 * Math.max(1, exchange.volume))
      differs.push('volume' as never);
    if (differs.length === 0) return;
    this.mismatches++;
    this.log(
      `bar cross-check: ${bar.symbol} ${bar.timeframe} ${new Date(bar.tsOpen).toISOString()}: ${differs
        .map((k) => `${k} ${trades[k as 'open']} from trades, ${exchange[k as 'open']} from the exchange`)
        .join('; ')}`,
    );
  }
}

/**
 * Hands over from the warm-up history to the live bars: live bars arriving while the history
 * loads are held, then everything is passed on in order, each bar once. When the first live bar
 * does not follow the last history bar (the stream started mid-way, or a bar closed while the
 * history loaded), the bars between are fetched over REST first — the handover leaves no hole.
 */
class BarHandover {
  private readonly held: Bar[] = [];
  private target: { next(bar: Bar): void; error(err: unknown): void; complete(): void } | undefined;
  private last = -Infinity;
  private step = 0;
  private failure: { error: unknown } | undefined;
  private ended = false;
  private filling: Subscription | undefined;
  private checkedFirst = false;
  liveCount = 0;

  constructor(private readonly fill: (fromOpen: number, untilOpen: number) => Observable<readonly Bar[]>) {}

  live(bar: Bar): void {
    if (this.target && !this.filling) this.passLive(bar);
    else this.held.push(bar);
  }

  fail(err: unknown): void {
    if (this.target) this.target.error(err);
    else this.failure = { error: err };
  }

  end(): void {
    if (this.target && !this.filling) this.target.complete();
    else this.ended = true;
  }

  /**
   * The bar stream: history first, then the held and further live bars. With `replay: false` the
   * history only sets where the live bars continue from (the caller emits it).
   */
  bars(history: readonly Bar[], step: number, onLive: () => void, options: { replay?: boolean } = {}): Observable<Bar> {
    this.step = step;
    return new Observable<Bar>((subscriber) => {
      for (const bar of history) this.pass(bar, false, options.replay === false ? NOWHERE : subscriber);
      this.target = subscriber;
      onLive();
      this.drain();
      return () => {
        this.target = undefined;
        this.filling?.unsubscribe();
      };
    });
  }

  private drain(): void {
    while (this.held.length > 0 && !this.filling) this.passLive(this.held.shift()!);
    if (this.filling) return;
    if (this.failure) this.target?.error(this.failure.error);
    else if (this.ended) this.target?.complete();
  }

  private passLive(bar: Bar): void {
    if (!this.checkedFirst && this.last > -Infinity && bar.tsOpen > this.last + this.step) {
      this.checkedFirst = true;
      this.held.unshift(bar);
      const fromOpen = this.last + this.step;
      this.filling = this.fill(fromOpen, bar.tsOpen).subscribe({
        next: (bars) => {
          for (const b of bars) if (b.tsOpen < bar.tsOpen) this.pass(b, true);
        },
        error: () => this.resume(),
        complete: () => this.resume(),
      });
      return;
    }
    this.checkedFirst = true;
    this.pass(bar, true);
  }

  private resume(): void {
    this.filling = undefined;
    this.drain();
  }

  private pass(bar: Bar, live: boolean, to: { next(bar: Bar): void } | undefined = this.target): void {
    if (!to || bar.tsOpen <= this.last) return;
    this.last = bar.tsOpen;
    if (live) this.liveCount++;
    to.next(bar);
  }
}

/** A target that drops what it is given: history whose bars are emitted elsewhere. */
const NOWHERE = { next: (): void => undefined };

/** The account snapshot a live venue reports when it starts (then it is closed). */
async function accountSnapshot(venue: ReturnType<typeof makeCcxtVenue>): Promise<VenueAccountSnapshot> {
  try {
    return await firstValueFrom(
      venue(NEVER).pipe(
        filter((e): e is VenueAccountSnapshot => e.kind === 'venue-account'),
        timeout({ first: 60_000 }),
      ),
    );
  } catch (err) {
    throw new SessionError('ACCOUNT_FAILED', `could not read the account from the exchange: ${(err as Error).message}`);
  }
}

/** The portfolio an exchange account amounts to: quote cash, and holdings valued at `price`. */
export function portfolioFromAccount(
  snapshot: VenueAccountSnapshot,
  quote: string,
  prices: Readonly<Record<string, number>>,
  tsEvent: number,
): Portfolio {
  const cash = snapshot.balances[quote]?.total ?? 0n;
  const positions: Record<string, Position> = {};
  let cost = 0n;
  for (const [symbol, qty] of Object.entries(snapshot.positions)) {
    if (qty === 0n) continue;
    const price = prices[symbol];
    if (price === undefined) continue;
    const costBasis = notionalOf(qty, toUnits(price));
    cost += costBasis;
    positions[symbol] = { symbol, qty, costBasis, markPrice: price };
  }
  let equity = unitsToNumber(cash);
  for (const p of Object.values(positions)) equity += unitsToNumber(p.qty) * p.markPrice;
  return {
    kind: 'portfolio',
    quote,
    // Held positions enter at their value now: PnL is counted from the session's start.
    initialCash: cash + cost,
    cash,
    positions,
    realizedPnl: 0n,
    feesPaid: 0n,
    equity,
    peakEquity: equity,
    drawdown: 0,
    tsEvent,
  };
}

/** Bars needed before every indicator, statistic and the GARCH window are warm. */
function defaultWarmup(config: PipelineConfig): number {
  const indicators = buildLayout(config.features).warmup;
  const stats = (config.risk?.marketStats?.minReturns ?? 50) + 1;
  const garch = config.risk?.garch
    ? (config.risk.garch.minReturns ?? Math.min(500, config.risk.garch.windowBars ?? 2000)) + 1
    : 0;
  return Math.max(300, indicators + 1, stats, garch);
}

/** The periodic status as an event: logged as it is, and printed as `statusLine`. */
type SessionStatus = {
  readonly event: 'status';
  readonly time: string;
  readonly mode: Mode;
  readonly equity: number;
  readonly quote: string;
  readonly drawdown: number;
  /** Open positions, as decimals. */
  readonly positions: Readonly<Record<string, string>>;
  /** The dust in each position (off the lot grid or below the minimums; never sellable on its own), as decimals; only non-zero. */
  readonly dust: Readonly<Record<string, string>>;
};

function statusOf(p: Portfolio, mode: Mode, instruments: readonly Instrument[]): SessionStatus {
  const held = Object.entries(p.positions).filter(([, pos]) => pos.qty !== 0n);
  const bySymbol = new Map(instruments.map((i) => [i.symbol, i]));
  return {
    event: 'status',
    time: new Date(p.tsEvent).toISOString(),
    mode,
    equity: p.equity,
    quote: p.quote,
    drawdown: p.drawdown,
    positions: Object.fromEntries(held.map(([symbol, pos]) => [symbol, formatUnits(pos.qty)])),
    dust: Object.fromEntries(
      held
        .filter(([symbol]) => bySymbol.has(symbol))
        .map(([symbol, pos]) => [symbol, dustOf(pos.qty, bySymbol.get(symbol)!, pos.markPrice)] as const)
        .filter(([, d]) => d !== 0n)
        .map(([symbol, d]) => [symbol, formatUnits(d)]),
    ),
  };
}

function statusLine(s: SessionStatus): string {
  const held = Object.entries(s.positions).map(([symbol, qty]) => {
    const dust = s.dust[symbol];
    return dust === qty
      ? `${symbol} ${qty} (all dust: flat for trading)`
      : `${symbol} ${qty}${dust !== undefined ? ` (dust ${dust})` : ''}`;
  });
  return `status: ${s.time} mode ${s.mode}, equity ${s.equity.toFixed(2)} ${s.quote}, drawdown ${(s.drawdown * 100).toFixed(2)} %, ${
    held.length > 0 ? held.join(', ') : 'flat'
  }`;
}

/** A status line for the current portfolio, with the dust of each position named. */
export function statusLineOf(p: Portfolio, mode: Mode, instruments: readonly Instrument[]): string {
  return statusLine(statusOf(p, mode, instruments));
}

/**
 * The exchange a session trades on: every instrument of the universe must be on it (one feed,
 * one venue connection); several venues are for backtests so far.
 */
function sessionExchange(config: PipelineConfig): string {
  const exchange = config.instrument.venue;
  const elsewhere = config.instruments.filter((i) => i.venue !== exchange);
  if (elsewhere.length > 0)
    throw new SessionError(
      'UNIVERSE_NOT_SUPPORTED',
      `${config.file}: a paper or live session trades on one exchange; the universe has ${exchange} (${config.instrument.symbol}) and ${elsewhere.map((i) => `${i.venue} (${i.symbol})`).join(', ')}: give every instrument the venue ${exchange}, or backtest it`,
    );
  return exchange;
}

/**
 * The session's bar stream: the warm-up history of every symbol in event time, then each
 * symbol's live bars (through its handover, without hole or repeat) aligned by close time in the
 * universe's order — the sequence a backtest over the same bars replays.
 */
function warmedUpBars(
  warmup: readonly Bar[],
  symbols: readonly string[],
  handovers: ReadonlyMap<string, BarHandover>,
  step: number,
  scheduler: SchedulerLike,
  onLive: () => void,
): Observable<Bar> {
  return new Observable<Bar>((subscriber) => {
    for (const bar of warmup) subscriber.next(bar);
    const live$ = merge(
      ...symbols.map((symbol) =>
        handovers.get(symbol)!.bars(
          warmup.filter((b) => b.symbol === symbol),
          step,
          () => undefined,
          { replay: false },
        ),
      ),
    );
    const subscription = (symbols.length > 1 ? live$.pipe(alignBars({ symbols, scheduler })) : live$).subscribe(
      subscriber,
    );
    onLive();
    return subscription;
  });
}

/**
 * The portfolio a live restart starts from: the exchange's balances and holdings, with the cost
 * basis, realized PnL and fees the journal kept for a holding the exchange confirms unchanged
 * (so PnL keeps counting from the first session); a holding that differs is taken at the
 * exchange's quantity and valued now.
 */
export function reconcileWithAccount(fromJournal: Portfolio, fromExchange: Portfolio): Portfolio {
  const positions: Record<string, Position> = {};
  let sameHoldings = true;
  for (const [symbol, p] of Object.entries(fromExchange.positions)) {
    const kept = fromJournal.positions[symbol];
    if (kept && kept.qty === p.qty) positions[symbol] = { ...kept, markPrice: p.markPrice };
    else {
      positions[symbol] = p;
      sameHoldings = false;
    }
  }
  for (const symbol of Object.keys(fromJournal.positions)) if (!fromExchange.positions[symbol]) sameHoldings = false;
  if (!sameHoldings || fromJournal.cash !== fromExchange.cash) {
    // Something happened that the journal does not explain: start the accounting again from the
    // exchange's account (the identity cash = initial + realized − fees − Σ cost must hold).
    let cost = 0n;
    for (const p of Object.values(positions)) cost += p.costBasis;
    return { ...fromExchange, positions, initialCash: fromExchange.cash + cost };
  }
  return {
    ...fromJournal,
    positions,
    equity: fromExchange.equity,
    peakEquity: Math.max(fromJournal.peakEquity, fromExchange.equity),
    drawdown:
      Math.max(fromJournal.peakEquity, fromExchange.equity) > 0
        ? Math.max(0, 1 - fromExchange.equity / Math.max(fromJournal.peakEquity, fromExchange.equity))
        : 0,
    tsEvent: fromExchange.tsEvent,
  };
}

/** What differs between the journal's portfolio and the exchange's: quote cash and each holding. */
export function portfolioDifferences(fromJournal: Portfolio, fromExchange: Portfolio): string[] {
  const out: string[] = [];
  if (fromJournal.cash !== fromExchange.cash)
    out.push(
      `${fromExchange.quote}: journal ${formatUnits(fromJournal.cash)}, exchange ${formatUnits(fromExchange.cash)}`,
    );
  const symbols = new Set([...Object.keys(fromJournal.positions), ...Object.keys(fromExchange.positions)]);
  for (const symbol of [...symbols].sort()) {
    const j = fromJournal.positions[symbol]?.qty ?? 0n;
    const x = fromExchange.positions[symbol]?.qty ?? 0n;
    if (j !== x) out.push(`${symbol}: journal ${formatUnits(j)}, exchange ${formatUnits(x)}`);
  }
  return out;
}

export interface ModeResetOptions {
  /** The session folder (`--out` of the session). */
  readonly outDir: string;
  /** Why trading may resume: required, written to the audit journal. */
  readonly reason: string;
  /** The switch that must read released: `gpio`/`both` read BCM17; `signal`/`none` have no state to read. Default `signal`. */
  readonly killSwitch?: KillSwitchKind;
  /** Reads the button (tests). Default: {@link readKillSwitchPin}. */
  readonly readPin?: () => 'pressed' | 'released';
  /** Time of the reset, ms. Default now. */
  readonly now?: number;
}

export type ModeResetErrorCode = 'RESET_REASON_MISSING' | 'RESET_SWITCH_PRESSED' | 'RESET_NOT_LATCHED';

export class ModeResetError extends Bot4Error<ModeResetErrorCode> {
  constructor(code: ModeResetErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(code, 'mode-reset', message, options);
  }
}

/**
 * The operator's audited reset of a latched Emergency (`run-pipeline mode-reset`): checks that a
 * reason is given, that no session runs on the folder (its lock), that the journal is latched and
 * that the kill switch reads released; then appends a `mode-reset` record (reason, user, host,
 * pid, what was latched) to the audit journal and the journal, fsynced. The next session starts in
 * Normal. A reset cannot happen by accident: without it every restart starts in Emergency.
 */
export function resetMode(options: ModeResetOptions): { readonly message: string } {
  const reason = options.reason.trim();
  if (reason.length < 3)
    throw new ModeResetError(
      'RESET_REASON_MISSING',
      `--reason: say why trading may resume (found ${JSON.stringify(options.reason)})`,
    );
  const now = options.now ?? Date.now();
  const lock = acquireLock(path.join(options.outDir, 'session.lock'), `the session folder ${options.outDir}`, now);
  try {
    const journalFile = path.join(options.outDir, 'journal.jsonl');
    const auditFile = path.join(options.outDir, 'audit.jsonl');
    const recovery = recoverFromJournals(journalFile, auditFile, { initialCash: 0n, quote: '' });
    if (!recovery.state.killLatched) {
      throw new ModeResetError(
        'RESET_NOT_LATCHED',
        `${options.outDir}: nothing to reset — the journal ends in mode ${recovery.state.mode}, not a latched Emergency${recovery.state.sessions === 0 ? ' (no session has run there)' : ''}`,
      );
    }
    const kind = options.killSwitch ?? 'signal';
    if (kind === 'gpio' || kind === 'both') {
      let level: 'pressed' | 'released';
      try {
        level = (options.readPin ?? (() => readKillSwitchPin()))();
      } catch (err) {
        throw new ModeResetError(
          'RESET_SWITCH_PRESSED',
          `the kill switch cannot be read (${(err as Error).message}): it counts as pressed; nothing was reset`,
          { cause: err },
        );
      }
      if (level === 'pressed')
        throw new ModeResetError(
          'RESET_SWITCH_PRESSED',
          'the kill switch is still pressed (BCM17 reads LOW): release it first; nothing was reset',
        );
    }
    let user = 'unknown';
    try {
      user = userInfo().username;
    } catch {
      // no passwd entry (containers): the pid and host still say where it came from
    }
    const record = {
      kind: 'mode-reset',
      reason,
      latched: recovery.state.latchReason ?? 'Emergency',
      user,
      host: hostname(),
      pid: process.pid,
      tsEvent: now,
    };
    for (const file of [auditFile, journalFile]) appendJournalRecord(file, record);
    return {
      message: `kill latch reset in ${options.outDir} (was: ${record.latched}); reason "${reason}" audited in ${auditFile}. The next session starts in Normal.`,
    };
  } finally {
    lock.release();
  }
}
