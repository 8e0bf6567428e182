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
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import {
  EMPTY,
  NEVER,
  Observable,
  Subject,
  asyncScheduler,
  concat,
  connectable,
  filter,
  finalize,
  firstValueFrom,
  lastValueFrom,
  map,
  merge,
  of,
  share,
  startWith,
  switchMap,
  takeUntil,
  tap,
  timeout,
  toArray,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import type { ComponentOutcome } from '../operators/circuitBreaker';
import type { CompiledModel } from '../operators/mlModel';
import { formatUnits, notionalOf, toUnits, unitsToNumber } from '../operators/money';
import type { Bar, Mode, OrderBook, Portfolio, Position, TradeTick } from '../operators/types';
import { timeframeMs } from '../operators/types';
import {
  makeKillSwitchSource,
  makeSignalKillSwitchSource,
  type KillSwitchEvent,
  type SignalEmitter,
} from '../hardware/killSwitch';
import { makeStatusLedSink } from '../hardware/statusLeds';
import { makeCcxtVenue, asVenue, type CcxtVenueEvent, type VenueAccountSnapshot } from '../sinks/ccxtVenue';
import { makeJournalSink, type Journaled } from '../sinks/journal';
import { makePaperExchange } from '../sinks/paperExchange';
import { makeCcxtOhlcvSource, makeCcxtOrderBookSource, makeCcxtTradeSource } from '../sources/ccxtMarketData';
import { feedOutcomeOf, type FeedEvent } from '../sources/ccxtFeed';
import { makeOhlcvHistorySource } from '../sources/ohlcvHistory';
import { buildLayout } from '../operators/computeFeatures';
import { loadConfig, type PipelineConfig } from './config';
import { loadModelFor } from './model';
import { acceptingBooks, tradingPipeline, type PipelineEvent, type PipelineVenue } from './tradingPipeline';

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
  readonly journal: string;
  readonly audit: string;
}

export type SessionErrorCode = 'LIVE_NOT_CONFIRMED' | 'MISSING_CREDENTIALS' | 'WARMUP_FAILED' | 'ACCOUNT_FAILED';

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
]);

export async function runSession(options: SessionOptions): Promise<SessionSummary> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const log = (line: string): void => {
    options.log.write(`${line}\n`);
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
  const model: CompiledModel | undefined = config.signals.ml ? loadModelFor(config) : undefined;
  const instrument = config.instrument;
  const exchange = instrument.venue;
  const endpoints = {
    ...(options.apiUrl !== undefined ? { apiUrl: options.apiUrl } : {}),
    ...(options.wsUrl !== undefined ? { wsUrl: options.wsUrl } : {}),
    ...(options.ccxtOptions !== undefined ? { ccxtOptions: options.ccxtOptions } : {}),
  };
  const tf = timeframeMs(config.timeframe);
  const warmupBars = options.warmupBars ?? defaultWarmup(config);
  const outDir = options.outDir ?? path.join('out', config.name, options.mode);
  mkdirSync(outDir, { recursive: true });
  const journalFile = path.join(outDir, 'journal.jsonl');
  const auditFile = path.join(outDir, 'audit.jsonl');
  const startedAt = scheduler.now();
  log(
    `${options.mode} session ${config.name} (config ${config.hash}) on ${exchange} ${instrument.symbol} ${config.timeframe}; journal ${journalFile}`,
  );

  // Live bars first (buffered), so that nothing closes unseen while the history loads.
  const feedEvents$ = new Subject<FeedEvent>();
  const historyConfig = (since: number, until: number) => ({
    exchange,
    symbol: instrument.symbol,
    timeframe: config.timeframe,
    since,
    until,
    ...(options.apiUrl !== undefined ? { apiUrl: options.apiUrl } : {}),
  });
  const handover = new BarHandover((from, until) =>
    makeOhlcvHistorySource(historyConfig(from, until), { scheduler }).pipe(map((page) => page.bars)),
  );
  const liveSubscription = makeCcxtOhlcvSource(
    { exchange, symbols: [instrument.symbol], timeframes: [config.timeframe], ...endpoints },
    { scheduler },
  ).subscribe({
    next: (e) => {
      if (e.kind === 'bar') {
        if (e.symbol === instrument.symbol && e.timeframe === config.timeframe) handover.live(e);
      } else if (e.kind !== 'dead-letter') feedEvents$.next(e);
    },
    error: (err: unknown) => handover.fail(err),
    complete: () => handover.end(),
  });

  let warmup: Bar[];
  let initial: Portfolio | undefined;
  let venue: PipelineVenue;
  const venueSide$ = new Subject<CcxtVenueEvent>();
  try {
    // Recent history: indicators, statistics and the model warm up on it; it is never traded.
    const firstOpen = Math.floor(startedAt / tf) * tf - warmupBars * tf;
    warmup = (
      await lastValueFrom(
        makeOhlcvHistorySource(historyConfig(firstOpen, Math.floor(startedAt / tf) * tf), { scheduler }).pipe(
          tap((page) =>
            log(
              `warm-up: ${page.progress.barsFetched} bars, up to ${new Date(page.bars[page.bars.length - 1]!.tsEvent).toISOString()}`,
            ),
          ),
          map((page) => page.bars),
          toArray(),
        ),
      )
    ).flat();
    if (warmup.length === 0) throw new Error('the exchange returned no bars');
  } catch (err) {
    liveSubscription.unsubscribe();
    throw new SessionError(
      'WARMUP_FAILED',
      `warm-up history could not be loaded from ${exchange}: ${(err as Error).message}`,
    );
  }
  const lastClose = warmup[warmup.length - 1]!.close;

  if (options.mode === 'live') {
    const venueConfig = {
      exchange,
      apiKey: options.credentials!.apiKey,
      secret: options.credentials!.secret,
      ...(options.credentials!.password ? { password: options.credentials!.password } : {}),
      symbols: [instrument.symbol],
      ...(options.apiUrl !== undefined ? { apiUrl: options.apiUrl } : {}),
      ...(options.ccxtOptions !== undefined ? { ccxtOptions: options.ccxtOptions } : {}),
    };
    let snapshot: VenueAccountSnapshot;
    try {
      snapshot = await accountSnapshot(makeCcxtVenue(venueConfig, { scheduler }));
    } catch (err) {
      liveSubscription.unsubscribe();
      throw err;
    }
    // The account as the exchange has it is where the portfolio starts.
    initial = portfolioFromAccount(snapshot, instrument.quote, { [instrument.symbol]: lastClose }, startedAt);
    log(
      `account: ${
        Object.entries(snapshot.balances)
          .map(([asset, b]) => `${asset} ${formatUnits(b.total)}`)
          .join(', ') || 'empty'
      }; equity ${initial.equity.toFixed(2)} ${instrument.quote}`,
    );
    venue = acceptingBooks(asVenue(makeCcxtVenue(venueConfig, { scheduler }), (event) => venueSide$.next(event)));
  } else {
    venue = makePaperExchange({
      instruments: [instrument],
      initialCash: config.initialCash,
      quote: instrument.quote,
      ...(config.execution.takerFeeBps !== undefined ? { takerFeeBps: config.execution.takerFeeBps } : {}),
      ...(config.execution.slippageBps !== undefined ? { slippageBps: config.execution.slippageBps } : {}),
      allowShort: config.sizing?.allowShort ?? false,
      scheduler,
    });
  }

  const stopped$ = new Subject<void>();
  const stopSubscription = (options.stop$ ?? NEVER).subscribe({
    next: () => stopped$.next(),
    complete: () => stopped$.next(),
  });
  const warmedUp$ = new Subject<void>();
  const bars$ = handover
    .bars(warmup, tf, () => {
      log(`warm-up done (${warmup.length} bars); trading on live bars from ${new Date(startedAt).toISOString()}`);
      warmedUp$.next();
      warmedUp$.complete();
    })
    .pipe(takeUntil(stopped$));

  // Market data for the venue after warm-up: trades (fills, marks, emulated stops), and books for the simulator.
  const trades$ = makeCcxtTradeSource({ exchange, symbols: [instrument.symbol], ...endpoints }, { scheduler });
  const books$ =
    options.mode === 'paper'
      ? makeCcxtOrderBookSource({ exchange, symbols: [instrument.symbol], depth: 20, ...endpoints }, { scheduler })
      : EMPTY;
  const market$ = warmedUp$.pipe(
    switchMap(() => merge(trades$, books$)),
    filter((e): e is TradeTick | OrderBook => {
      if (e.kind === 'trade' || e.kind === 'book') return true;
      if (e.kind !== 'dead-letter') feedEvents$.next(e as FeedEvent);
      return false;
    }),
  );

  // The kill switch: a button, a signal, or both — any of them latches.
  const kills: Observable<KillSwitchEvent>[] = [];
  const kind = options.killSwitch ?? 'signal';
  if (kind === 'gpio' || kind === 'both') kills.push(makeKillSwitchSource({ scheduler }));
  if (kind === 'signal' || kind === 'both')
    kills.push(
      makeSignalKillSwitchSource({ scheduler, ...(options.signalEmitter ? { emitter: options.signalEmitter } : {}) }),
    );
  const kill$ = kills.length > 0 ? merge(...kills).pipe(share()) : undefined;
  const killLog = kill$?.subscribe((press) =>
    log(`KILL SWITCH: ${press.reason} — mode Emergency, cancelling and flattening`),
  );

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

  const pipeline = tradingPipeline(config, {
    venue,
    scheduler,
    ...(model ? { model } : {}),
    ...(initial ? { initialPortfolio: initial } : {}),
  });

  // One root, connected once every consumer is subscribed: the warm-up replays synchronously.
  const events$ = connectable(
    pipeline({
      bars$,
      market$,
      tradeFrom: startedAt,
      outcomes$,
      ...(kill$ ? { kill$ } : {}),
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
  let portfolio: Portfolio | undefined;
  const statusTimer = scheduler.schedule(function () {
    if (portfolio) log(statusLine(portfolio, finalMode, instrument.symbol));
    this.schedule(undefined, options.statusEveryMs ?? 60_000);
  }, options.statusEveryMs ?? 60_000);

  const journalEvents$ = connectable(
    merge(events$, feedEvents$, venueSide$).pipe(
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
            const fill = e as { side: string; qty: bigint; price: bigint };
            log(`fill: ${fill.side} ${formatUnits(fill.qty)} ${instrument.symbol} @ ${formatUnits(fill.price)}`);
            break;
          }
          case 'denied':
            denied++;
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
      // journaled, the beats are not.
      filter(
        (e) =>
          e.kind !== 'portfolio' &&
          e.kind !== 'feed-healthy' &&
          !(e.kind === 'venue-reconciled' && (e as { differences?: number }).differences === 0),
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
    tsEvent: startedAt,
  };
  const journal = lastValueFrom(
    makeJournalSink({ file: journalFile, append: true, bufferBytes: 1, syncEachFlush: options.mode === 'live' })(
      concat(of(header), journalEvents$),
    ),
  );
  const audit = lastValueFrom(
    makeJournalSink({ file: auditFile, append: true, bufferBytes: 1, syncEachFlush: true })(
      concat(of(header), journalEvents$.pipe(filter((e) => AUDIT_KINDS.has(e.kind)))),
    ),
  );
  // Status LEDs follow the mode.
  const ledSubscription = options.leds
    ? makeStatusLedSink({})(
        events$.pipe(
          filter((e): e is Extract<PipelineEvent, { kind: 'mode-changed' }> => e.kind === 'mode-changed'),
          map((e) => e.to),
          startWith<Mode>(config.modes?.initial ?? 'Normal'),
        ),
      ).subscribe({ error: (err: unknown) => log(`status LEDs: ${(err as Error).message}`) })
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
    killLog?.unsubscribe();
    ledSubscription?.unsubscribe();
    venueSide$.complete();
    feedEvents$.complete();
  }
  const positions = Object.fromEntries(
    Object.entries(portfolio?.positions ?? {}).map(([symbol, p]) => [symbol, formatUnits(p.qty)]),
  );
  if (Object.keys(positions).length > 0)
    log(
      `open positions at stop: ${Object.entries(positions)
        .map(([s, q]) => `${s} ${q}`)
        .join(', ')}`,
    );
  return {
    mode: options.mode,
    config: { name: config.name, hash: config.hash },
    warmupBars: warmup.length,
    liveBars: handover.liveCount,
    orders,
    fills,
    denied,
    finalMode,
    equity: portfolio?.equity ?? unitsToNumber(config.initialCash),
    positions,
    journal: journalFile,
    audit: auditFile,
  };
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

  /** The bar stream: history first, then the held and further live bars. */
  bars(history: readonly Bar[], step: number, onLive: () => void): Observable<Bar> {
    this.step = step;
    return new Observable<Bar>((subscriber) => {
      for (const bar of history) this.pass(bar, false, subscriber);
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

function statusLine(p: Portfolio, mode: Mode, symbol: string): string {
  const position = p.positions[symbol];
  return `status: ${new Date(p.tsEvent).toISOString()} mode ${mode}, equity ${p.equity.toFixed(2)} ${p.quote}, drawdown ${(p.drawdown * 100).toFixed(2)} %, ${
    position ? `${symbol} ${formatUnits(position.qty)}` : 'flat'
  }`;
}
