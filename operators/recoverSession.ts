import { Observable, type OperatorFunction } from 'rxjs';
import type { BreakerState } from './circuitBreaker';
import { Bot4Error } from './errors';
import { toUnits, type Units } from './money';
import { applyFill, initialPortfolio } from './trackPortfolio';
import type { Fill, Mode, OrderType, Portfolio, Position, Side, Timestamp } from './types';

/**
 * One record of a session's journal as read back from disk: the event's own fields with amounts
 * as decimal strings (how the journal writes bigints), and its line number for error messages.
 */
export interface JournalEntry {
  readonly kind: string;
  readonly line?: number;
  readonly [key: string]: unknown;
}

/** An order the journal shows sent and not yet finished (filled, canceled, rejected or halted). */
export interface RecoveredOrder {
  readonly clientOrderId: string;
  readonly signalId: string;
  readonly symbol: string;
  readonly side: Side;
  readonly type: OrderType;
  readonly qty: Units;
  /** Quantity filled so far. */
  readonly filled: Units;
  /** `sent`: decided and handed to the venue, no answer journaled; `accepted`; `unknown`: the venue did not confirm. */
  readonly status: 'sent' | 'accepted' | 'unknown';
  readonly reducesRisk: boolean;
  readonly stopPrice?: number;
  readonly limitPrice?: number;
  readonly ocoGroup?: string;
  readonly tsEvent: Timestamp;
}

/** How the previous session in the journal ended. */
export type PreviousEnd = 'none' | 'stopped' | 'crashed';

/** What a restart takes over from the journal. */
export interface RecoveredSession {
  readonly kind: 'recovered';
  /** Sessions the journal holds (headers seen). */
  readonly sessions: number;
  /** How the last of them ended: a stop record, or none (a crash, a power cut, `kill -9`). */
  readonly previousEnd: PreviousEnd;
  /** Sessions that ended without a stop record. */
  readonly crashes: number;
  /** The portfolio after the last fill (its marks are the fill prices; the next bar re-marks it). */
  readonly portfolio: Portfolio;
  /** Orders still open, by client order id. */
  readonly openOrders: Readonly<Record<string, RecoveredOrder>>;
  /** Every client order id the journal shows used: none may be sent again. */
  readonly usedClientOrderIds: ReadonlySet<string>;
  /** The mode at the end of the journal (Emergency stays until an operator's `mode-reset`). */
  readonly mode: Mode;
  /** True when the journal ends in Emergency: the kill switch (or an emergency) is latched. */
  readonly killLatched: boolean;
  /** Why Emergency was entered, when latched. */
  readonly latchReason?: string;
  /** Last state of each circuit breaker. */
  readonly breakers: Readonly<Record<string, BreakerState>>;
  /** `tsEvent` of the newest decision journaled (signal, intent, approval, denial): bars up to it are not decided or journaled again; -Infinity when none. */
  readonly lastSignalTs: number;
  readonly fills: number;
  /** Line of the newest record folded; 0 when none. */
  readonly lastLine: number;
}

export interface RecoverSessionConfig {
  /** Cash the first session started with when its header carries no `start` portfolio (quote units). */
  readonly initialCash: Units;
  /** Quote currency of the account. */
  readonly quote: string;
}

/** A record the fold cannot interpret: the journal and the code disagree, so nothing is guessed. */
export class RecoveryError extends Bot4Error<'JOURNAL_RECORD_INVALID'> {
  constructor(message: string, options?: { readonly cause?: unknown }) {
    super('JOURNAL_RECORD_INVALID', 'recoverSession', message, options);
  }
}

/**
 * Folds a session journal into the state a restart takes over: portfolio, open orders, used
 * client order ids, mode and kill latch, breakers, the newest signal, and how the last session
 * ended. Only records every journal level keeps are read: `session` (headers with the `start`
 * portfolio, stop records), `approved`/`order` (orders sent), `order-accepted`, `order-unknown`,
 * `fill`, `fill-recovered` (a live restart's fill made while no session watched: counted, not
 * applied — the header before it holds it), `order-canceled`, `order-rejected`, `order-halted`, `order-abandoned` (a live restart
 * stops tracking an order whose outcome the adopted exchange account already holds),
 * `mode-changed`, `mode-reset`,
 * `breaker-state-changed`, `signal`; everything else passes untouched.
 *
 * A header with a `start` portfolio resets the portfolio to it (a live session adopts the
 * exchange's account; a paper session writes what it recovered); fills after it are applied with
 * the same `applyFill` the running pipeline uses, so the rebuilt portfolio is exact.
 *
 * ```
 * journal:  --h--a--A--f--m--|    h header · a approved · A accepted · f fill · m mode-changed
 * output:   -----------------(r|) r the recovered state, once the journal is read
 * ```
 *
 * @example
 * ```ts
 * const state = foldJournal(readJournal(file).records, { initialCash: config.initialCash, quote: 'USDT' });
 * ```
 */
export function recoverSession(config: RecoverSessionConfig): OperatorFunction<JournalEntry, RecoveredSession> {
  return (source) =>
    new Observable<RecoveredSession>((subscriber) => {
      const fold = new JournalFold(config);
      return source.subscribe({
        next: (entry) => {
          try {
            fold.add(entry);
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          subscriber.next(fold.result());
          subscriber.complete();
        },
      });
    });
}

/** The same fold over an array (what `recoverSession` emits for these records). */
export function foldJournal(entries: Iterable<JournalEntry>, config: RecoverSessionConfig): RecoveredSession {
  const fold = new JournalFold(config);
  for (const entry of entries) fold.add(entry);
  return fold.result();
}

type MutableOrder = { -readonly [K in keyof RecoveredOrder]: RecoveredOrder[K] };

/** The fold's state; one per subscription (or per `foldJournal` call). */
class JournalFold {
  private sessions = 0;
  private crashes = 0;
  private segmentOpen = false;
  private stopped = false;
  private portfolio: Portfolio;
  private readonly open = new Map<string, MutableOrder>();
  private readonly used = new Set<string>();
  private mode: Mode = 'Normal';
  private latchReason: string | undefined;
  private readonly breakers: Record<string, BreakerState> = {};
  private lastSignalTs = -Infinity;
  private fills = 0;
  private lastLine = 0;

  constructor(config: RecoverSessionConfig) {
    this.portfolio = initialPortfolio({ initialCash: config.initialCash, quote: config.quote });
  }

  add(entry: JournalEntry): void {
    const where = `journal line ${entry.line ?? '?'} (${String(entry.kind)})`;
    if (entry.line !== undefined) this.lastLine = entry.line;
    switch (entry.kind) {
      case 'session':
        if (entry['event'] === 'started') {
          if (this.segmentOpen && !this.stopped) this.crashes++;
          this.sessions++;
          this.segmentOpen = true;
          this.stopped = false;
          if (entry['start'] !== undefined) this.portfolio = parsePortfolio(entry['start'], where);
        } else if (entry['event'] === 'stopped') this.stopped = true;
        return;
      case 'approved': {
        const order = entry['order'];
        if (typeof order !== 'object' || order === null) throw new RecoveryError(`${where}: no order object`);
        this.sent(order as Record<string, unknown>, where);
        const ts = (order as { tsEvent?: unknown }).tsEvent;
        if (typeof ts === 'number' && ts > this.lastSignalTs) this.lastSignalTs = ts;
        return;
      }
      case 'order':
        this.sent(entry, where);
        return;
      case 'order-accepted':
      case 'order-unknown': {
        const id = text(entry, 'clientOrderId', where);
        this.used.add(id);
        const o = this.open.get(id);
        if (o && (entry.kind === 'order-accepted' || o.status === 'sent'))
          o.status = entry.kind === 'order-accepted' ? 'accepted' : 'unknown';
        return;
      }
      case 'fill': {
        const fill = parseFill(entry, where);
        this.portfolio = applyFill(this.portfolio, fill);
        this.fills++;
        this.used.add(fill.clientOrderId);
        const o = this.open.get(fill.clientOrderId);
        if (fill.leavesQty === 0n) this.open.delete(fill.clientOrderId);
        else if (o) o.filled += fill.qty;
        return;
      }
      case 'fill-recovered': {
        // A live restart found this fill on the exchange (made while no session watched): the
        // header before it starts from the exchange's account, which already holds it — counted
        // and traced, never applied twice.
        const fill = parseFill(entry, where);
        this.fills++;
        this.used.add(fill.clientOrderId);
        const o = this.open.get(fill.clientOrderId);
        if (fill.leavesQty === 0n) this.open.delete(fill.clientOrderId);
        else if (o) o.filled += fill.qty;
        return;
      }
      case 'order-canceled':
      case 'order-rejected':
      case 'order-halted':
      case 'order-abandoned':
        this.open.delete(text(entry, 'clientOrderId', where));
        return;
      case 'mode-changed': {
        const to = text(entry, 'to', where);
        if (!MODES.has(to)) throw new RecoveryError(`${where}: unknown mode ${JSON.stringify(to)}`);
        this.mode = to as Mode;
        this.latchReason = to === 'Emergency' ? text(entry, 'reason', where) : undefined;
        return;
      }
      case 'mode-reset':
        // An operator's audited reset (`run-pipeline mode-reset`) between sessions releases the latch.
        if (this.mode === 'Emergency') {
          this.mode = 'Normal';
          this.latchReason = undefined;
        }
        return;
      case 'breaker-state-changed':
        this.breakers[text(entry, 'component', where)] = text(entry, 'to', where) as BreakerState;
        return;
      case 'signal':
      case 'intent':
      case 'denied': {
        // Decisions: at journal levels that drop signals, intents and denials still date them.
        const ts = entry['tsEvent'];
        if (typeof ts === 'number' && ts > this.lastSignalTs) this.lastSignalTs = ts;
        return;
      }
      default:
        return;
    }
  }

  private sent(order: Record<string, unknown>, where: string): void {
    const id = text(order, 'clientOrderId', where);
    this.used.add(id);
    if (this.open.has(id)) return;
    const side = text(order, 'side', where);
    if (side !== 'buy' && side !== 'sell') throw new RecoveryError(`${where}: side ${JSON.stringify(side)}`);
    const recovered: MutableOrder = {
      clientOrderId: id,
      signalId: text(order, 'signalId', where),
      symbol: text(order, 'symbol', where),
      side,
      type: text(order, 'type', where) as OrderType,
      qty: units(order, 'qty', where),
      filled: 0n,
      status: 'sent',
      reducesRisk: order['reducesRisk'] === true,
      tsEvent: num(order, 'tsEvent', where),
    };
    if (typeof order['stopPrice'] === 'number') recovered.stopPrice = order['stopPrice'];
    if (typeof order['limitPrice'] === 'number') recovered.limitPrice = order['limitPrice'];
    if (typeof order['ocoGroup'] === 'string') recovered.ocoGroup = order['ocoGroup'];
    this.open.set(id, recovered);
  }

  result(): RecoveredSession {
    const openOrders: Record<string, RecoveredOrder> = {};
    for (const [id, o] of this.open) openOrders[id] = { ...o };
    return {
      kind: 'recovered',
      sessions: this.sessions,
      previousEnd: this.sessions === 0 ? 'none' : this.stopped ? 'stopped' : 'crashed',
      crashes: this.crashes + (this.segmentOpen && !this.stopped ? 1 : 0),
      portfolio: this.portfolio,
      openOrders,
      usedClientOrderIds: new Set(this.used),
      mode: this.mode,
      killLatched: this.mode === 'Emergency',
      ...(this.latchReason !== undefined ? { latchReason: this.latchReason } : {}),
      breakers: { ...this.breakers },
      lastSignalTs: this.lastSignalTs,
      fills: this.fills,
      lastLine: this.lastLine,
    };
  }
}

const MODES = new Set<string>(['Normal', 'Paused', 'Reduced', 'Emergency']);

function text(record: Record<string, unknown>, key: string, where: string): string {
  const value = record[key];
  if (typeof value !== 'string') throw new RecoveryError(`${where}: ${key}: expected a string, found ${show(value)}`);
  return value;
}

function num(record: Record<string, unknown>, key: string, where: string): number {
  const value = record[key];
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new RecoveryError(`${where}: ${key}: expected a finite number, found ${show(value)}`);
  return value;
}

function units(record: Record<string, unknown>, key: string, where: string): Units {
  const value = record[key];
  if (typeof value !== 'string' && typeof value !== 'number')
    throw new RecoveryError(`${where}: ${key}: expected a decimal amount, found ${show(value)}`);
  try {
    return toUnits(value);
  } catch (err) {
    throw new RecoveryError(`${where}: ${key}: ${(err as Error).message}`, { cause: err });
  }
}

function show(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

function parseFill(entry: JournalEntry, where: string): Fill {
  const side = text(entry, 'side', where);
  if (side !== 'buy' && side !== 'sell') throw new RecoveryError(`${where}: side ${JSON.stringify(side)}`);
  const liquidity = entry['liquidity'] === 'maker' ? 'maker' : 'taker';
  return {
    kind: 'fill',
    clientOrderId: text(entry, 'clientOrderId', where),
    signalId: text(entry, 'signalId', where),
    symbol: text(entry, 'symbol', where),
    side,
    qty: units(entry, 'qty', where),
    price: units(entry, 'price', where),
    notional: units(entry, 'notional', where),
    fee: units(entry, 'fee', where),
    ...(entry['feeBase'] !== undefined ? { feeBase: units(entry, 'feeBase', where) } : {}),
    liquidity,
    leavesQty: units(entry, 'leavesQty', where),
    tsEvent: num(entry, 'tsEvent', where),
  };
}

/** The `start` portfolio of a header: amounts as decimal strings, positions with qty, cost and mark. */
function parsePortfolio(value: unknown, where: string): Portfolio {
  if (typeof value !== 'object' || value === null) throw new RecoveryError(`${where}: start: expected an object`);
  const p = value as Record<string, unknown>;
  const positions: Record<string, Position> = {};
  const raw = p['positions'];
  if (typeof raw !== 'object' || raw === null) throw new RecoveryError(`${where}: start.positions: expected an object`);
  for (const [symbol, pos] of Object.entries(raw as Record<string, Record<string, unknown>>)) {
    const at = `${where} start.positions.${symbol}`;
    positions[symbol] = {
      symbol,
      qty: units(pos, 'qty', at),
      costBasis: units(pos, 'costBasis', at),
      markPrice: num(pos, 'markPrice', at),
    };
  }
  const cash = units(p, 'cash', `${where} start`);
  let equity = Number(cash) / 1e8;
  for (const position of Object.values(positions)) equity += (Number(position.qty) / 1e8) * position.markPrice;
  const peak = typeof p['peakEquity'] === 'number' && p['peakEquity'] > equity ? p['peakEquity'] : equity;
  return {
    kind: 'portfolio',
    quote: text(p, 'quote', `${where} start`),
    initialCash: units(p, 'initialCash', `${where} start`),
    cash,
    positions,
    realizedPnl: units(p, 'realizedPnl', `${where} start`),
    feesPaid: units(p, 'feesPaid', `${where} start`),
    equity,
    peakEquity: peak,
    drawdown: peak > 0 ? Math.max(0, (peak - equity) / peak) : 0,
    tsEvent: typeof p['tsEvent'] === 'number' ? p['tsEvent'] : 0,
  };
}
